//! Ending a credential that ThoughtSpot has already ended — expired, revoked out of band, its
//! session logged out — is success: `revoke`, `logout` and `revoke_user` return `Ok`, forget it,
//! and count it in `AuthStats::already_ended`. Real failures (5xx, network) are still reported.
//! Both front doors, on tokio's paused clock.

mod common;

use std::time::Duration;

use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, MockUser};
use thoughtspot_auth::{ActAs, ApiVersion, ErrorKind, ThoughtSpotAuthLayer};

use common::front::{Call, Client, Front};

const TOKEN_REVOKE: &str = "/api/rest/2.0/auth/token/revoke";

fn builder(ts: &MockThoughtSpot) -> thoughtspot_auth::AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

async fn revoking_an_expired_token_is_success(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    // Past the token's 300 s, with no request to refresh it.
    tokio::time::advance(Duration::from_secs(301)).await;
    handle
        .revoke()
        .await
        .expect("an expired token is already ended");
    let stats = handle.stats();
    assert_eq!((stats.already_ended, stats.cached_credentials), (1, 0));
    assert_eq!(ts.count(TOKEN_REVOKE), 1, "ThoughtSpot was asked");
    // The next request logs in again.
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    assert_eq!(ts.logins(), 2);
}

async fn revoking_a_token_revoked_out_of_band_is_success(front: Front) {
    for api in [ApiVersion::V2, ApiVersion::Beta] {
        let ts = MockThoughtSpot::start().await.unwrap();
        let (client, handle) = Client::build(front, builder(&ts).api(api));
        let call = match api {
            ApiVersion::Beta => Call::beta(&ts.base_url()),
            _ => Call::search(&ts.base_url()),
        };
        assert_eq!(client.status(call).await, 200);
        assert_eq!(ts.revoke_all_tokens(), 1);
        handle
            .revoke()
            .await
            .expect("a revoked token is already ended");
        let stats = handle.stats();
        assert_eq!(
            (stats.already_ended, stats.cached_credentials),
            (1, 0),
            "{api:?}"
        );
    }
}

async fn logging_out_of_an_ended_session_is_success(front: Front) {
    for api in [ApiVersion::V2, ApiVersion::Beta] {
        let ts = MockThoughtSpot::start().await.unwrap();
        let (client, handle) = Client::build(front, builder(&ts).api(api).cookie_session());
        let call = match api {
            ApiVersion::Beta => Call::beta(&ts.base_url()),
            _ => Call::search(&ts.base_url()),
        };
        assert_eq!(client.status(call).await, 200);
        assert_eq!(ts.end_all_sessions(), 1);
        handle.logout().await.expect("an ended session is ended");
        assert_eq!(handle.stats().cached_credentials, 0, "{api:?}");
    }
}

async fn revoking_a_users_tokens_revoked_out_of_band_is_success(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    for user in ["alice", "bob"] {
        ts.add_user(MockUser::new(user, "unused"));
    }
    let (client, handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url()).act_as_users(mock::DEFAULT_SECRET_KEY),
    );
    for user in ["alice", "bob"] {
        let call = Call::search(&ts.base_url()).acting_as(ActAs::user(user));
        assert_eq!(client.status(call).await, 200);
    }
    assert_eq!(ts.revoke_tokens_of("alice"), 1);
    handle
        .revoke_user("alice")
        .await
        .expect("alice's token is already ended");
    assert_eq!(handle.stats().already_ended, 1);
    assert!(handle.user_stats("alice").cached_orgs.is_empty());
    assert_eq!(
        handle.user_stats("bob").cached_orgs,
        vec![None],
        "bob kept his"
    );
    handle.revoke_user("bob").await.expect("bob's live token");
    assert_eq!(
        handle.stats().already_ended,
        1,
        "bob's was ended by the call"
    );
}

/// ThoughtSpot unavailable is a real failure: reported, and the credential forgotten anyway
/// (nothing the layer holds may be used after a revoke).
async fn a_revocation_that_fails_for_real_is_reported(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    ts.inject(
        TOKEN_REVOKE,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let error = handle.revoke().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let stats = handle.stats();
    assert_eq!((stats.already_ended, stats.cached_credentials), (0, 0));
}

both_fronts!(
    revoking_an_expired_token_is_success,
    revoking_a_token_revoked_out_of_band_is_success,
    logging_out_of_an_ended_session_is_success,
    revoking_a_users_tokens_revoked_out_of_band_is_success,
    a_revocation_that_fails_for_real_is_reported,
);
