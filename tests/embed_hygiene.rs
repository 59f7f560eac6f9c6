//! No secret in the token endpoint's logs or failure answers, with TRACE captured. A binary of
//! its own: a thread-local capturing subscriber sees every log line only while no other test of
//! the same process races it to register the callsites.

mod common;
// Only some of the shared helpers are used here.
#[allow(dead_code)]
#[path = "embed/support.rs"]
mod support;

use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot};

use support::{builder, call_as, send};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

#[tokio::test(start_paused = true)]
async fn nothing_secret_reaches_the_logs_or_the_answers_of_failures() {
    let (logs, _guard) = common::LogCapture::install();
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(send(&service, call_as(Some(mock::ANALYST_USER))).await.body);
    }
    let mut failures = String::new();
    ts.lock_user(mock::DEFAULT_USER);
    failures.push_str(&send(&service, call_as(Some(mock::DEFAULT_USER))).await.body);
    ts.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    failures.push_str(&send(&service, call_as(Some("someone"))).await.body);
    service.revoke_user(mock::ANALYST_USER).await.unwrap();
    let mut secrets = tokens.clone();
    secrets.push(mock::DEFAULT_SECRET_KEY.to_owned());
    let text = logs.text();
    assert!(text.contains("token/full"), "the mints were logged");
    common::assert_no_secret("the log", &text, &secrets);
    common::assert_no_secret("the failures' answers", &failures, &secrets);
    common::assert_no_secret("the stats", &format!("{:?}", service.stats()), &secrets);
}
