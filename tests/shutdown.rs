//! Shutdown: after `AuthHandle::revoke()` nothing the layer made is still alive at ThoughtSpot,
//! in any mode and any org it used; after `logout()` no cookie session is. Through both front
//! doors. (Dropping the layer mid-login is in `layer.rs`; the soak checks the same at scale.)

mod common;

use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::{ApiVersion, AuthBuilder, ThoughtSpotAuthLayer};

use common::front::{Call, Client, FRONTS, Front};

/// Every mode that makes credentials, and whether its data endpoint is the beta one.
fn modes(ts: &MockThoughtSpot) -> Vec<(&'static str, AuthBuilder, bool)> {
    let base = ts.base_url();
    let password = || {
        ThoughtSpotAuthLayer::builder(&base).password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
    };
    let secret_key = || {
        ThoughtSpotAuthLayer::builder(&base)
            .secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
    };
    vec![
        ("v2.0 password token", password(), false),
        ("v2.0 secret-key token", secret_key(), false),
        (
            "v2.0 password cookie session",
            password().cookie_session(),
            false,
        ),
        (
            "beta password token",
            password().api(ApiVersion::Beta),
            true,
        ),
        (
            "beta password cookie session",
            password().api(ApiVersion::Beta).cookie_session(),
            true,
        ),
    ]
}

/// The modes whose login goes through an intermediate token (secret key -> token -> session).
fn token_to_session_modes(ts: &MockThoughtSpot) -> Vec<(&'static str, AuthBuilder, bool)> {
    let base = ts.base_url();
    let secret_key = || {
        ThoughtSpotAuthLayer::builder(&base)
            .secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
    };
    vec![
        (
            "v2.0 secret-key cookie session",
            secret_key().cookie_session(),
            false,
        ),
        (
            "beta secret-key cookie session",
            secret_key().api(ApiVersion::Beta).cookie_session(),
            true,
        ),
    ]
}

fn call(ts: &MockThoughtSpot, beta: bool) -> Call {
    if beta {
        Call::beta(&ts.base_url())
    } else {
        Call::search(&ts.base_url())
    }
}

/// Uses a mode in three orgs (the current one, a switch, and a per-request override), then
/// revokes: no token or session is left alive.
async fn revoke_leaves_nothing_alive(
    front: Front,
    name: &str,
    builder: AuthBuilder,
    beta: bool,
    ts: &MockThoughtSpot,
) {
    let (client, handle) = Client::build(front, builder.org(0));
    assert_eq!(client.status(call(ts, beta)).await, 200, "{front:?} {name}");
    handle.switch_org(1).await.unwrap();
    assert_eq!(client.status(call(ts, beta)).await, 200, "{front:?} {name}");
    assert_eq!(
        client.status(call(ts, beta).in_org(2)).await,
        200,
        "{front:?} {name}"
    );
    assert!(
        ts.live_tokens() + ts.live_sessions() >= 3,
        "{front:?} {name}"
    );
    assert_eq!(handle.stats().cached_credentials, 3, "{front:?} {name}");

    handle.revoke().await.unwrap();
    assert_eq!(
        (ts.live_tokens(), ts.live_sessions()),
        (0, 0),
        "{front:?} {name}: revoke() left live credentials at ThoughtSpot"
    );
    assert_eq!(handle.stats().cached_credentials, 0, "{front:?} {name}");
    // The layer is still usable: the next request logs in again.
    assert_eq!(client.status(call(ts, beta)).await, 200, "{front:?} {name}");
    handle.revoke().await.unwrap();
    assert_eq!(
        (ts.live_tokens(), ts.live_sessions()),
        (0, 0),
        "{front:?} {name}"
    );
}

#[tokio::test(start_paused = true)]
async fn revoke_leaves_no_live_credential_in_any_mode() {
    for front in FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        for (name, builder, beta) in modes(&ts) {
            revoke_leaves_nothing_alive(front, name, builder, beta, &ts).await;
        }
        // A static token: revoke() revokes the token it was given.
        let token = mint(&ts).await;
        let (client, handle) = Client::build(
            front,
            ThoughtSpotAuthLayer::builder(ts.base_url()).token(token),
        );
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
        assert_eq!(ts.live_tokens(), 1);
        handle.revoke().await.unwrap();
        assert_eq!(ts.live_tokens(), 0, "{front:?} static token");
    }
}

/// Trusted authentication with cookie sessions logs in through a token (`token/full` or
/// `gettoken`, then a session login with it). The intermediate token is revoked as soon as the
/// session exists, so after `revoke()` nothing is alive at ThoughtSpot.
#[tokio::test(start_paused = true)]
async fn secret_key_cookie_sessions_leave_no_intermediate_token_alive() {
    for front in FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        for (name, builder, beta) in token_to_session_modes(&ts) {
            revoke_leaves_nothing_alive(front, name, builder, beta, &ts).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn logout_ends_every_cookie_session() {
    for front in FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        ts.add_user(MockUser::new("svc", "svc-password").orgs([0, 1, 2]));
        let builders = [
            ThoughtSpotAuthLayer::builder(ts.base_url())
                .password("svc", "svc-password")
                .cookie_session(),
            ThoughtSpotAuthLayer::builder(ts.base_url())
                .password("svc", "svc-password")
                .api(ApiVersion::Beta)
                .cookie_session(),
        ];
        for (i, builder) in builders.into_iter().enumerate() {
            let beta = i == 1;
            let (client, handle) = Client::build(front, builder.org(0));
            assert_eq!(client.status(call(&ts, beta)).await, 200);
            assert_eq!(client.status(call(&ts, beta).in_org(1)).await, 200);
            assert_eq!(client.status(call(&ts, beta).in_org(2)).await, 200);
            assert_eq!(ts.live_sessions(), 3, "{front:?} beta={beta}");
            handle.logout().await.unwrap();
            assert_eq!(
                ts.live_sessions(),
                0,
                "{front:?} beta={beta}: logout ended them all"
            );
        }
    }
}

async fn mint(ts: &MockThoughtSpot) -> String {
    let login = common::session_for(ts)
        .v2()
        .token_full(&thoughtspot_auth::session::TokenRequest::password(
            mock::DEFAULT_USER,
            mock::DEFAULT_PASSWORD,
        ))
        .await
        .unwrap();
    secrecy::ExposeSecret::expose_secret(login.credential.token().unwrap()).to_owned()
}
