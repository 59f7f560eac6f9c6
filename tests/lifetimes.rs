//! A credential's lifetime is counted from when its login was sent, not from when the answer
//! came: an answer slow on its way back (the mock mints at once and answers late) must not make
//! the layer present a token past the server's expiry. Both front doors, on tokio's paused clock.

mod common;

use std::time::Duration;

use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot};
use thoughtspot_auth::{ApiVersion, ThoughtSpotAuthLayer};
use tokio::time::Instant;

use common::front::{Call, Client, FRONTS};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const GET_TOKEN: &str = "/tspublic/rest/v2/session/gettoken";
/// How late the login's answer comes back.
const LATE: Duration = Duration::from_secs(20);

/// Moves the paused clock on and lets the life timers it woke run.
async fn jump(by: Duration) {
    tokio::time::advance(by).await;
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// A 300 s token whose answer takes 20 s to come back is hard-expired 295 s after its login was
/// sent: at 296 s a request waits for a new token. Counted from the answer, the old token would
/// still look good until 315 s and be sent.
#[tokio::test(start_paused = true)]
async fn the_lifetime_counts_from_when_the_login_was_sent() {
    for beta in [false, true] {
        for front in FRONTS {
            let ts = MockThoughtSpot::start().await.unwrap();
            let mut builder = ThoughtSpotAuthLayer::builder(ts.base_url())
                .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD);
            let (login_path, call): (_, fn(&str) -> Call) = if beta {
                builder = builder.api(ApiVersion::Beta);
                (GET_TOKEN, Call::beta)
            } else {
                (TOKEN_FULL, Call::search)
            };
            let (client, handle) = Client::build(front, builder);
            ts.inject(login_path, Fault::DelayAfter(LATE), 1);

            let sent = Instant::now();
            assert_eq!(client.status(call(&ts.base_url())).await, 200);
            assert_eq!(
                sent.elapsed(),
                LATE,
                "{front:?} beta={beta}: the answer was late"
            );
            let data_path = call("").url;
            let last_data_request = || {
                ts.requests()
                    .into_iter()
                    .rfind(|r| r.path == data_path)
                    .expect("a data request")
                    .credential
            };
            let first = last_data_request().serial();

            jump(Duration::from_secs(296) - sent.elapsed()).await;
            assert_eq!(client.status(call(&ts.base_url())).await, 200);
            let presented = last_data_request();
            assert!(presented.is_valid(), "{front:?} beta={beta}: {presented:?}");
            assert_ne!(
                presented.serial(),
                first,
                "{front:?} beta={beta}: the token past its hard deadline (295 s after the login \
                 was sent) was presented"
            );
            assert_eq!(ts.logins(), 2, "{front:?} beta={beta}");
            let stats = handle.stats();
            assert_eq!(stats.rejected_responses, 0, "{front:?} beta={beta}");
        }
    }
}
