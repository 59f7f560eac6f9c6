//! Secret hygiene over a credential's whole life, with everything logged at TRACE captured:
//! the first login, a soft refresh in the background, a hard refresh that requests wait for, a
//! rejection with its relogin and replay, and a wrong password with its backoff refusals — for
//! every mode, through both front doors, with no credential store. No password, secret key,
//! token or cookie value may appear in any log line or formatted value, and the log must show
//! that each of those paths ran.

mod common;

use std::time::Duration;

use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{ApiVersion, AuthBuilder, ThoughtSpotAuthLayer};

use common::front::{Call, FRONTS, Front};
use common::spy::Spy;
use common::{LogCapture, assert_no_secret};

type Body = http_body_util::Full<bytes::Bytes>;

const LIFETIME: Duration = Duration::from_secs(300);
const WRONG: &str = "a-wrong-password-in-the-lifecycle";

/// One front door with the spy under the layer.
#[derive(Clone)]
enum Stack {
    Tower(tower::util::BoxCloneService<http::Request<Body>, http::StatusCode, tower::BoxError>),
    Reqwest(reqwest_middleware::ClientWithMiddleware),
}

impl Stack {
    fn build(
        front: Front,
        builder: AuthBuilder,
        spy: &Spy,
    ) -> (Self, thoughtspot_auth::AuthHandle) {
        match front {
            Front::Tower => {
                let layer = builder.build().unwrap();
                let handle = layer.handle();
                let spy = spy.clone();
                let service = tower::ServiceBuilder::new()
                    .map_response(|r: http::Response<_>| r.status())
                    .layer(layer)
                    .map_request(move |request: http::Request<Body>| {
                        spy.note(request.headers());
                        request
                    })
                    .service(common::hyper_client());
                (
                    Self::Tower(tower::util::BoxCloneService::new(service)),
                    handle,
                )
            }
            Front::Reqwest => {
                let plain = reqwest::Client::new();
                let auth = builder.build_middleware(plain.clone()).unwrap();
                let handle = auth.handle();
                let client = reqwest_middleware::ClientBuilder::new(plain)
                    .with(auth)
                    .with(spy.clone())
                    .build();
                (Self::Reqwest(client), handle)
            }
        }
    }

    /// Sends `call`: its status, or the crate's error, formatted every way.
    async fn send(&self, call: Call) -> Result<http::StatusCode, String> {
        use tower::ServiceExt;
        match self {
            Self::Tower(service) => {
                let request = http::Request::builder()
                    .method(call.method)
                    .uri(call.url)
                    .body(Body::default())
                    .unwrap();
                service.clone().oneshot(request).await.map_err(|error| {
                    let typed = error.downcast_ref::<thoughtspot_auth::Error>();
                    format!(
                        "{error} {error:?} {typed:?} {:?}",
                        typed.map(|e| e.not_tried_until())
                    )
                })
            }
            Self::Reqwest(client) => match client.request(call.method, call.url).send().await {
                Ok(response) => Ok(response.status()),
                Err(error) => Err(format!("{error} {error:?}")),
            },
        }
    }
}

/// Moves the paused clock on and lets the tasks it woke (life timers, refreshes) run.
async fn jump(by: Duration) {
    tokio::time::advance(by).await;
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn every_path_of_a_credentials_life_leaks_nothing_at_trace() {
    let (logs, _guard) = LogCapture::install();
    let ts = MockThoughtSpot::builder()
        .session_validity(LIFETIME)
        .start()
        .await
        .unwrap();
    let base = ts.base_url();
    let spy = Spy::default();
    let mut out: Vec<String> = Vec::new();
    let password = || {
        ThoughtSpotAuthLayer::builder(&base)
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .session_lifetime(LIFETIME)
    };
    let secret_key = || {
        ThoughtSpotAuthLayer::builder(&base)
            .secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
            .session_lifetime(LIFETIME)
    };
    for front in FRONTS {
        let modes: Vec<(&str, AuthBuilder, bool)> = vec![
            ("v2.0 password token", password().org(1), false),
            ("v2.0 secret-key token", secret_key(), false),
            (
                "v2.0 password cookie",
                password().cookie_session().org(2),
                false,
            ),
            (
                "v2.0 secret-key cookie",
                secret_key().cookie_session(),
                false,
            ),
            ("beta token", password().api(ApiVersion::Beta).org(1), true),
            (
                "beta cookie",
                password().api(ApiVersion::Beta).cookie_session(),
                true,
            ),
        ];
        for (name, builder, beta) in modes {
            let call = || {
                if beta {
                    Call::beta(&base)
                } else {
                    Call::search(&base)
                }
            };
            out.push(format!("{front:?} {name} {builder:?}"));
            let (stack, handle) = Stack::build(front, builder, &spy);
            let mut ok = |result: Result<http::StatusCode, String>, what: &str| {
                assert_eq!(
                    result.as_ref().ok(),
                    Some(&http::StatusCode::OK),
                    "{front:?} {name}: {what}"
                );
                out.push(format!("{result:?}"));
            };
            ok(stack.send(call()).await, "the first login");
            // Soft: the request is served at once and wakes one refresh in the background.
            jump(LIFETIME - Duration::from_secs(20)).await;
            ok(stack.send(call()).await, "in the soft window");
            jump(Duration::from_secs(1)).await;
            // Hard: the request waits for the login.
            jump(LIFETIME).await;
            ok(stack.send(call()).await, "past the hard deadline");
            // Rejected behind the layer's back: relogin and replay.
            ts.revoke_all_tokens();
            ts.end_all_sessions();
            ok(stack.send(call()).await, "after a revocation");
            let stats = handle.stats();
            assert_eq!(
                (stats.logins, stats.refreshes, stats.replays),
                (4, 2, 1),
                "{front:?} {name}: the first login, a soft and a hard refresh, a relogin after \
                 the rejection and one replay: {stats:?}"
            );
            out.push(format!("{stats:?} {handle:?}"));
        }

        // A wrong password: the rejection, then refusals inside the backoff window.
        let (stack, handle) = Stack::build(
            front,
            ThoughtSpotAuthLayer::builder(&base).password(mock::DEFAULT_USER, WRONG),
            &spy,
        );
        for _ in 0..3 {
            let failure = stack.send(Call::search(&base)).await.unwrap_err();
            out.push(failure);
        }
        assert_eq!(handle.stats().refused_by_backoff, 2, "{front:?}");
        out.push(format!(
            "{:?}",
            handle.refresh().await.map_err(|e| format!("{e} {e:?}"))
        ));
        jump(Duration::from_secs(3600)).await;
    }
    out.push(format!("{ts:?} {:?}", ts.requests()));

    let mut secrets = spy.seen();
    assert!(
        secrets.len() > 50,
        "the spy saw the credentials sent: {}",
        secrets.len()
    );
    secrets.extend([
        mock::DEFAULT_PASSWORD.to_owned(),
        mock::DEFAULT_SECRET_KEY.to_owned(),
        WRONG.to_owned(),
    ]);
    secrets.sort();
    secrets.dedup();
    let text = logs.text();
    // Each path ran and was logged, so what the log holds is what these paths write.
    for line in [
        "credential near expiry: refreshing in the background",
        "logged in to ThoughtSpot",
        "ThoughtSpot credential invalidated",
        "replaying a request with a new ThoughtSpot credential",
        "ThoughtSpot login failed permanently",
        "TRACE",
    ] {
        assert!(text.contains(line), "the log lacks {line:?}");
    }
    assert_eq!(
        text.matches("credential near expiry: refreshing in the background")
            .count(),
        12,
        "one soft refresh per mode and front door"
    );
    assert_no_secret("formatted values and errors", &out.join("\n"), &secrets);
    assert_no_secret("the TRACE log", &text, &secrets);
}
