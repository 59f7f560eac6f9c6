//! A caller refused inside a permanent failure's backoff window: it can tell that nothing was
//! sent and when a login may be tried again, its error keeps the kind of the failure that opened
//! the window, and `stats().refused_by_backoff` counts it once — however many callers share one
//! refused login. Both front doors, on tokio's paused clock.

mod common;

use std::time::Duration;

use futures_util::future::join_all;
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{ErrorKind, ThoughtSpotAuthLayer};
use tokio::time::Instant;

use common::front::{Call, Client, Front};

const WRONG: &str = "a-wrong-password-for-backoff";
const WINDOW: Duration = Duration::from_secs(60);

fn wrong_password(ts: &MockThoughtSpot) -> thoughtspot_auth::AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, WRONG)
        .permanent_failure_backoff(WINDOW, Duration::from_secs(600))
}

async fn refused_callers_are_counted_once_each(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, wrong_password(&ts));
    let opened = client.send(Call::search(&ts.base_url())).await.unwrap_err();
    assert_eq!(opened.kind(), Some(ErrorKind::Unauthorized));
    assert_eq!(ts.logins(), 1);
    assert_eq!(handle.stats().refused_by_backoff, 0, "that one was tried");

    // 20 callers at once: however many flights they make between them, 20 refusals.
    for round in 1..=3 {
        let results = join_all((0..20).map(|_| client.send(Call::search(&ts.base_url())))).await;
        for result in results {
            let error = result.unwrap_err().error.expect("the crate's error");
            assert_eq!(error.kind(), ErrorKind::Unauthorized);
            assert!(error.is_refused_by_backoff(), "{error}");
        }
        assert_eq!(handle.stats().refused_by_backoff, 20 * round);
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    // The handle's own callers count too, once each.
    assert_eq!(
        handle.refresh().await.unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    assert_eq!(handle.stats().refused_by_backoff, 61);
    assert_eq!(ts.logins(), 1, "nothing was sent in the window");
}

async fn a_refused_caller_is_told_nothing_was_sent_and_until_when(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, _) = Client::build(front, wrong_password(&ts));
    let opened = client
        .send(Call::search(&ts.base_url()))
        .await
        .unwrap_err()
        .error
        .unwrap();
    let opened_at = Instant::now();
    assert!(!opened.is_refused_by_backoff());
    assert_eq!(opened.not_tried_until(), None, "that login was tried");

    tokio::time::advance(Duration::from_secs(20)).await;
    let refused = client
        .send(Call::search(&ts.base_url()))
        .await
        .unwrap_err()
        .error
        .unwrap();
    // The same kind, status and ThoughtSpot detail as the rejection that opened the window.
    assert_eq!(refused.kind(), opened.kind());
    assert_eq!(refused.status(), opened.status());
    assert_eq!(
        refused.api_failure().and_then(|f| f.code()),
        opened.api_failure().and_then(|f| f.code())
    );
    assert!(refused.is_permanent());
    let until = refused
        .not_tried_until()
        .expect("when a login may be tried");
    assert!(
        until > Instant::now()
            && until <= opened_at + WINDOW
            && until + WINDOW / 10 >= opened_at + WINDOW,
        "the window ends about {WINDOW:?} after it opened: {:?} after",
        until - opened_at
    );
    let text = refused.to_string();
    assert!(text.contains("not sent"), "{text}");
    assert!(text.contains("backoff window"), "{text}");
    assert!(text.contains(&opened.to_string()), "{text}");
    assert_ne!(text, opened.to_string());
    assert!(!text.contains(WRONG) && !format!("{refused:?}").contains(WRONG));

    // When the window has ended, the next caller is tried again.
    tokio::time::advance(until - Instant::now()).await;
    let again = client
        .send(Call::search(&ts.base_url()))
        .await
        .unwrap_err()
        .error
        .unwrap();
    assert!(!again.is_refused_by_backoff());
    assert_eq!(ts.logins(), 2);
}

both_fronts!(
    refused_callers_are_counted_once_each,
    a_refused_caller_is_told_nothing_was_sent_and_until_when,
);
