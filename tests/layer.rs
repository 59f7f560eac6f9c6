//! ThoughtSpotAuthLayer against MockThoughtSpot, with tokio's paused clock: lazy single-flight
//! login, soft and hard expiry, rejection and replay, login failures and backoff, org switching,
//! foreign origins, shutdown.

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Full, StreamBody};
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, PresentedCredential};
use thoughtspot_auth::{
    ApiVersion, AuthBuilder, Error, ErrorKind, OrgOverride, ThoughtSpotAuthLayer,
};
use tokio::time::Instant;

use common::{layered, search_request, send};

const SEARCH: &str = "/api/rest/2.0/metadata/search";
const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

/// Moves the paused clock on and lets the timer tasks it woke run: the layer's hot path reads no
/// clock, a timer task moves each credential from fresh to soft to hard.
async fn jump(by: Duration) {
    tokio::time::advance(by).await;
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

fn builder(ts: &MockThoughtSpot) -> AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

async fn fan_out(service: &common::AuthService, base: &str, n: usize) -> Vec<http::StatusCode> {
    join_all((0..n).map(|_| send(service, search_request(base))))
        .await
        .into_iter()
        .map(|r| r.expect("request succeeds"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_thousand_concurrent_first_requests_make_one_login() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).org(1));
    let statuses = fan_out(&service, &ts.base_url(), 1000).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(ts.logins(), 1);
    assert_eq!(handle.stats().logins, 1);
    let searches: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == SEARCH)
        .collect();
    assert_eq!(searches.len(), 1000);
    assert!(searches.iter().all(|r| matches!(
        r.credential,
        PresentedCredential::Token {
            valid: true,
            org: 1,
            ..
        }
    )));
}

#[tokio::test(start_paused = true)]
async fn across_a_soft_expiry_one_refresh_and_nobody_waits() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    // Into the soft window (300 s token: refresh from 255-270 s, hard at 295 s).
    jump(Duration::from_secs(280)).await;
    // The refresh takes 10 s at the server: anyone who waited for it would see that.
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(10)), 1);
    let started = Instant::now();
    let statuses = fan_out(&service, &ts.base_url(), 1000).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no request waited for the refresh"
    );
    assert!(statuses.iter().all(|s| *s == 200));
    // Let the background refresh finish.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(ts.logins(), 2);
    let stats = handle.stats();
    assert_eq!((stats.logins, stats.refreshes), (2, 1));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    assert_eq!(ts.logins(), 2);
}

#[tokio::test(start_paused = true)]
async fn across_a_hard_expiry_one_refresh_and_all_succeed() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    jump(Duration::from_secs(301)).await;
    let statuses = fan_out(&service, &ts.base_url(), 1000).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().refreshes, 1);
    assert_eq!(
        handle.stats().rejected_responses,
        0,
        "the expired token was never sent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_revoked_token_means_one_login_and_a_successful_replay() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    ts.revoke_all_tokens();
    let statuses = fan_out(&service, &ts.base_url(), 50).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(ts.logins(), 2);
    let stats = handle.stats();
    assert_eq!(stats.invalidations, 1);
    assert_eq!(stats.replays, stats.rejected_responses);
    assert!(stats.replays >= 1);
}

#[tokio::test(start_paused = true)]
async fn a_stale_401_does_not_evict_a_newer_credential() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    ts.revoke_all_tokens();
    // A is held 5 s at the server before it is judged; B is judged at once.
    ts.inject(SEARCH, Fault::Delay(Duration::from_secs(5)), 1);
    let a = tokio::spawn({
        let service = service.clone();
        let base = ts.base_url();
        async move { send(&service, search_request(&base)).await.unwrap() }
    });
    tokio::task::yield_now().await;
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    assert_eq!(ts.logins(), 2, "B's rejection made one login");
    // A's 401 (for the old token) arrives after the new login: it must not evict the new token.
    assert_eq!(a.await.unwrap(), 200);
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().invalidations, 1);
    assert_eq!(handle.stats().replays, 2);
}

#[tokio::test(start_paused = true)]
async fn a_403_is_returned_and_causes_no_login() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 403,
            retry_after: None,
        },
        3,
    );
    for _ in 0..3 {
        assert_eq!(
            send(&service, search_request(&ts.base_url()))
                .await
                .unwrap(),
            403
        );
    }
    assert_eq!(ts.logins(), 1);
    assert_eq!(handle.stats().invalidations, 0);
}

#[tokio::test(start_paused = true)]
async fn a_401_after_a_fresh_login_is_returned_not_looped() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    // The endpoint answers 401 twice: to the request and to its replay.
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        2,
    );
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        401
    );
    assert_eq!(
        ts.count(SEARCH),
        3,
        "sent once and replayed once, never more"
    );
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().replays, 1);
}

#[tokio::test(start_paused = true)]
async fn wrong_password_one_attempt_one_typed_error_for_all_then_backoff() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, "not-the-password")
            .permanent_failure_backoff(Duration::from_secs(60), Duration::from_secs(600)),
    );
    let results = join_all((0..100).map(|_| send(&service, search_request(&ts.base_url())))).await;
    for result in &results {
        let error = result.as_ref().unwrap_err();
        let error = error
            .downcast_ref::<Error>()
            .expect("a thoughtspot_auth::Error");
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
    }
    assert_eq!(ts.logins(), 1);
    // More load inside the window: still one attempt.
    tokio::time::advance(Duration::from_secs(59)).await;
    for _ in 0..100 {
        assert!(
            send(&service, search_request(&ts.base_url()))
                .await
                .is_err()
        );
    }
    assert_eq!(ts.logins(), 1);
    assert!(handle.stats().refused_by_backoff >= 100);
    // After the window: one more attempt.
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(
        send(&service, search_request(&ts.base_url()))
            .await
            .is_err()
    );
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().failures.unauthorized, 2);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_password_is_not_tried_again_for_another_org() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, "not-the-password")
            .org(0),
    );
    assert!(
        send(&service, search_request(&ts.base_url()))
            .await
            .is_err()
    );
    for org in 1..5 {
        let mut request = search_request(&ts.base_url());
        request.extensions_mut().insert(OrgOverride(org));
        assert!(send(&service, request).await.is_err());
        assert_eq!(
            handle.switch_org(org).await.unwrap_err().kind(),
            ErrorKind::Unauthorized
        );
    }
    assert_eq!(ts.logins(), 1, "bad credentials block every org");
}

#[tokio::test(start_paused = true)]
async fn a_locked_account_is_forbidden_and_not_retried() {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.lock_user(mock::DEFAULT_USER);
    let (service, _) = layered(builder(&ts));
    for _ in 0..10 {
        let error = send(&service, search_request(&ts.base_url()))
            .await
            .unwrap_err();
        assert_eq!(
            error.downcast_ref::<Error>().unwrap().kind(),
            ErrorKind::Forbidden
        );
    }
    assert_eq!(ts.logins(), 1);
}

#[tokio::test(start_paused = true)]
async fn transient_login_failures_are_lived_through() {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        2,
    );
    ts.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 429,
            retry_after: Some(3),
        },
        1,
    );
    let (service, handle) = layered(builder(&ts));
    let started = Instant::now();
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    assert_eq!(ts.logins(), 4);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "Retry-After was honoured"
    );
    let failures = handle.stats().failures;
    assert_eq!((failures.unavailable, failures.rate_limited), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_login_that_keeps_failing_gives_up_at_the_deadline() {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.inject(TOKEN_FULL, Fault::MaintenancePage, 1000);
    let (service, _) = layered(builder(&ts).login_deadline(Duration::from_secs(10)));
    let started = Instant::now();
    let error = send(&service, search_request(&ts.base_url()))
        .await
        .unwrap_err();
    assert_eq!(
        error.downcast_ref::<Error>().unwrap().kind(),
        ErrorKind::Unavailable
    );
    assert!(started.elapsed() <= Duration::from_secs(10));
    assert!(ts.logins() >= 3, "retried with backoff: {}", ts.logins());
}

#[tokio::test(start_paused = true)]
async fn a_valid_credential_is_served_while_refresh_fails() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, _) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    jump(Duration::from_secs(275)).await;
    ts.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1000,
    );
    for _ in 0..15 {
        assert_eq!(
            send(&service, search_request(&ts.base_url()))
                .await
                .unwrap(),
            200
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    ts.clear_faults();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_clock_an_hour_off_makes_no_extra_logins() {
    for ahead in [true, false] {
        let ts = MockThoughtSpot::builder()
            .clock_offset(Duration::from_secs(3600), ahead)
            .start()
            .await
            .unwrap();
        let (service, _) = layered(builder(&ts));
        for _ in 0..20 {
            assert_eq!(
                send(&service, search_request(&ts.base_url()))
                    .await
                    .unwrap(),
                200
            );
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        assert_eq!(ts.logins(), 1, "ahead={ahead}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_validity_shorter_than_the_margin_still_works() {
    let ts = MockThoughtSpot::builder()
        .default_token_validity(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let (service, handle) = layered(builder(&ts));
    for _ in 0..40 {
        assert_eq!(
            send(&service, search_request(&ts.base_url()))
                .await
                .unwrap(),
            200
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let logins = ts.logins();
    assert!(
        (5..=8).contains(&logins),
        "about one login per 2 s token: {logins}"
    );
    assert_eq!(handle.stats().rejected_responses, 0);
}

#[tokio::test(start_paused = true)]
async fn callers_dropped_mid_login_do_not_cancel_it() {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(2)), 1);
    let (service, _) = layered(builder(&ts));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let service = service.clone();
            let base = ts.base_url();
            tokio::spawn(async move { send(&service, search_request(&base)).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (dropped, kept) = tasks.split_at(50);
    for task in dropped {
        task.abort();
    }
    for task in kept.iter() {
        assert!(!task.is_finished());
    }
    let results = join_all(tasks.into_iter().skip(50)).await;
    assert!(results.into_iter().all(|r| r.unwrap().unwrap() == 200));
    assert_eq!(ts.logins(), 1);
}

#[tokio::test(start_paused = true)]
async fn switching_org_is_atomic_and_cached_per_org() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).org(0));
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(1)), 1);
    // A request starts a login for org 0; the switch to org 1 happens meanwhile.
    let first = tokio::spawn({
        let service = service.clone();
        let base = ts.base_url();
        async move { send(&service, search_request(&base)).await.unwrap() }
    });
    tokio::task::yield_now().await;
    handle.switch_org(1).await.unwrap();
    assert_eq!(handle.current_org(), Some(1));
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    let orgs: Vec<i64> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == SEARCH)
        .filter_map(|r| match r.credential {
            PresentedCredential::Token { org, .. } => Some(org),
            _ => None,
        })
        .collect();
    assert_eq!(
        orgs,
        vec![0, 1],
        "the first request kept the org it started with"
    );
    // Back to org 0: cached, no login.
    let logins = ts.logins();
    handle.switch_org(0).await.unwrap();
    assert_eq!(ts.logins(), logins);
    // A switch that cannot be made leaves the current org alone.
    let error = handle.switch_org(42).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Forbidden);
    assert_eq!(handle.current_org(), Some(0));
}

#[tokio::test(start_paused = true)]
async fn a_per_request_org_override() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).org(0));
    let mut request = search_request(&ts.base_url());
    request.extensions_mut().insert(OrgOverride(2));
    assert_eq!(send(&service, request).await.unwrap(), 200);
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    let orgs: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == SEARCH)
        .map(|r| r.credential)
        .collect();
    assert!(matches!(orgs[0], PresentedCredential::Token { org: 2, .. }));
    assert!(matches!(orgs[1], PresentedCredential::Token { org: 0, .. }));
    assert_eq!(handle.current_org(), Some(0));
    assert_eq!(handle.stats().cached_credentials, 2);
}

#[tokio::test(start_paused = true)]
async fn cookie_sessions_on_v2_switch_org_by_logging_in_again() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).cookie_session().org(0));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    handle.switch_org(2).await.unwrap();
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    let sessions: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == SEARCH)
        .map(|r| r.credential)
        .collect();
    assert!(matches!(
        sessions[0],
        PresentedCredential::Session {
            org: 0,
            valid: true,
            client_id_sent: true,
            ..
        }
    ));
    assert!(matches!(
        sessions[1],
        PresentedCredential::Session {
            org: 2,
            valid: true,
            ..
        }
    ));
    assert_eq!(ts.count("/api/rest/2.0/auth/session/login"), 2);
    // Ended sessions are noticed (401) and replaced.
    ts.end_all_sessions();
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    assert_eq!(handle.stats().replays, 1);
}

fn beta_request(base: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("{base}/tspublic/rest/v2/session"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn beta_cookie_sessions_switch_org_with_put_session_org() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).api(ApiVersion::Beta).cookie_session().org(1));
    assert_eq!(
        send(&service, beta_request(&ts.base_url())).await.unwrap(),
        200
    );
    handle.switch_org(2).await.unwrap();
    assert_eq!(
        send(&service, beta_request(&ts.base_url())).await.unwrap(),
        200
    );
    assert_eq!(
        ts.count("/tspublic/rest/v2/session/org"),
        2,
        "one PUT per org's session"
    );
    let orgs: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == "/tspublic/rest/v2/session")
        .map(|r| r.credential)
        .collect();
    assert!(matches!(
        orgs[0],
        PresentedCredential::Session { org: 1, .. }
    ));
    assert!(matches!(
        orgs[1],
        PresentedCredential::Session { org: 2, .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn beta_tokens_rejected_with_500_upstream_401_are_replaced() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).api(ApiVersion::Beta));
    assert_eq!(
        send(&service, beta_request(&ts.base_url())).await.unwrap(),
        200
    );
    ts.revoke_all_tokens();
    let statuses = join_all((0..20).map(|_| send(&service, beta_request(&ts.base_url())))).await;
    assert!(statuses.into_iter().all(|s| s.unwrap() == 200));
    assert_eq!(ts.count("/tspublic/rest/v2/session/gettoken"), 2);
    assert_eq!(handle.stats().invalidations, 1);
    assert_eq!(
        handle.stats().credential_checks,
        0,
        "upstream 401 needs no check"
    );
}

#[tokio::test(start_paused = true)]
async fn beta_bare_500s_are_checked_once_and_cause_no_login_storm() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).api(ApiVersion::Beta));
    assert_eq!(
        send(&service, beta_request(&ts.base_url())).await.unwrap(),
        200
    );
    ts.inject(
        "/tspublic/rest/v2/session",
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        50,
    );
    let results = join_all((0..50).map(|_| async {
        use tower::ServiceExt;
        let response = service
            .clone()
            .oneshot(beta_request(&ts.base_url()))
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    }))
    .await;
    for (status, body) in results {
        assert_eq!(status, 500);
        assert!(
            std::str::from_utf8(&body)
                .unwrap()
                .contains("Operation failed"),
            "the body is given back whole"
        );
    }
    assert_eq!(
        ts.count("/tspublic/rest/v2/session/gettoken"),
        1,
        "no login"
    );
    assert_eq!(
        handle.stats().credential_checks,
        1,
        "one check for the generation"
    );
    assert_eq!(handle.stats().invalidations, 0);
}

#[tokio::test(start_paused = true)]
async fn a_request_to_another_origin_carries_no_credential() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let elsewhere = MockThoughtSpot::start().await.unwrap();
    let (service, _) = layered(builder(&ts));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        send(&service, search_request(&elsewhere.base_url()))
            .await
            .unwrap(),
        401
    );
    let seen = elsewhere.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].credential, PresentedCredential::None);
    assert_eq!(ts.logins(), 1);
    assert_eq!(elsewhere.logins(), 0);
}

type FrameStream = StreamBody<
    futures_util::stream::Iter<
        std::vec::IntoIter<Result<http_body::Frame<Bytes>, std::convert::Infallible>>,
    >,
>;

/// A body that is either whole or a stream, as axum's and reqwest's bodies are.
#[derive(Default)]
enum TestBody {
    #[default]
    Empty,
    Whole(Full<Bytes>),
    Stream(FrameStream),
}

impl From<Bytes> for TestBody {
    fn from(bytes: Bytes) -> Self {
        Self::Whole(Full::new(bytes))
    }
}

impl http_body::Body for TestBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Self::Empty => std::task::Poll::Ready(None),
            Self::Whole(b) => std::pin::Pin::new(b).poll_frame(cx),
            Self::Stream(s) => std::pin::Pin::new(s).poll_frame(cx),
        }
    }
    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Self::Empty => http_body::SizeHint::with_exact(0),
            Self::Whole(b) => b.size_hint(),
            Self::Stream(s) => s.size_hint(),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn bodies_are_replayed_when_kept_and_never_refused_when_not() {
    use tower::ServiceExt;
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).max_replay_body_bytes(16).build().unwrap();
    let handle = layer.handle();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<TestBody>();
    let service = tower::Layer::layer(&layer, client);
    let post = |body: TestBody| {
        http::Request::post(format!("{}{SEARCH}", ts.base_url()))
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };
    assert_eq!(
        service
            .clone()
            .oneshot(post(TestBody::Empty))
            .await
            .unwrap()
            .status(),
        200
    );

    // A small whole body is buffered and replayed.
    ts.revoke_all_tokens();
    let small = TestBody::from(Bytes::from_static(b"{\"a\":1}"));
    assert_eq!(
        service.clone().oneshot(post(small)).await.unwrap().status(),
        200
    );
    assert_eq!(handle.stats().replays, 1);

    // A stream cannot be replayed: it is sent once, never refused, and the rejection comes back.
    ts.revoke_all_tokens();
    let frames = vec![Ok(http_body::Frame::data(Bytes::from_static(b"{}")))];
    let stream = TestBody::Stream(StreamBody::new(futures_util::stream::iter(frames)));
    assert_eq!(
        service
            .clone()
            .oneshot(post(stream))
            .await
            .unwrap()
            .status(),
        401
    );

    // So is a whole body larger than the limit.
    let big = TestBody::from(Bytes::from(format!("{{\"pad\":\"{}\"}}", "x".repeat(100))));
    assert_eq!(
        service.clone().oneshot(post(big)).await.unwrap().status(),
        200,
        "a new token after the 401"
    );
    ts.revoke_all_tokens();
    let big = TestBody::from(Bytes::from(format!("{{\"pad\":\"{}\"}}", "x".repeat(100))));
    assert_eq!(service.oneshot(post(big)).await.unwrap().status(), 401);
    assert_eq!(handle.stats().replays, 1);
    // 1 + (1 + replay) + 1 + 1 + 1 requests reached the endpoint.
    assert_eq!(ts.count(SEARCH), 6);
}

#[tokio::test(start_paused = true)]
async fn replay_can_be_turned_off() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).replay(false));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    ts.revoke_all_tokens();
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        401
    );
    assert_eq!(handle.stats().replays, 0);
    // The rejection still invalidated the token: the next request logs in.
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    assert_eq!(ts.logins(), 2);
}

#[tokio::test(start_paused = true)]
async fn logout_and_revoke_leave_nothing_alive_at_the_server() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).org(0));
    send(&service, search_request(&ts.base_url()))
        .await
        .unwrap();
    handle.switch_org(1).await.unwrap();
    assert_eq!(ts.live_tokens(), 2);
    handle.revoke().await.unwrap();
    assert_eq!(ts.live_tokens(), 0);
    assert_eq!(handle.stats().cached_credentials, 0);

    let (service, handle) = layered(builder(&ts).cookie_session());
    send(&service, search_request(&ts.base_url()))
        .await
        .unwrap();
    assert_eq!(ts.live_sessions(), 1);
    handle.logout().await.unwrap();
    assert_eq!(ts.live_sessions(), 0);
    // The next request logs in again by itself.
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
}

#[tokio::test(start_paused = true)]
async fn refresh_and_invalidate_from_the_handle() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts));
    send(&service, search_request(&ts.base_url()))
        .await
        .unwrap();
    handle.refresh().await.unwrap();
    assert_eq!(ts.logins(), 2);
    handle.invalidate();
    send(&service, search_request(&ts.base_url()))
        .await
        .unwrap();
    assert_eq!(ts.logins(), 3);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_layer_stops_all_background_work() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let metrics = tokio::runtime::Handle::current().metrics();
    let (service, handle) = layered(builder(&ts));
    send(&service, search_request(&ts.base_url()))
        .await
        .unwrap();
    // Mid-login when dropped.
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(5)), 1);
    handle.invalidate();
    let pending = tokio::spawn({
        let service = service.clone();
        let base = ts.base_url();
        async move { send(&service, search_request(&base)).await }
    });
    tokio::task::yield_now().await;
    pending.abort();
    let _ = pending.await;
    let before = metrics.num_alive_tasks();
    drop(service);
    drop(handle);
    tokio::task::yield_now().await;
    let after = metrics.num_alive_tasks();
    assert!(after < before, "tasks stopped: {before} -> {after}");
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        ts.logins(),
        2,
        "no refresh happened after the drop (the aborted login was the 2nd)"
    );
}

#[tokio::test]
async fn static_tokens_are_presented_as_given() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = common::session_for(&ts);
    let login = session
        .v2()
        .token_full(&thoughtspot_auth::session::TokenRequest::password(
            mock::DEFAULT_USER,
            mock::DEFAULT_PASSWORD,
        ))
        .await
        .unwrap();
    let token = secrecy::ExposeSecret::expose_secret(login.credential.token().unwrap()).to_owned();
    let (service, handle) = layered(ThoughtSpotAuthLayer::builder(ts.base_url()).token(token));
    assert_eq!(
        send(&service, search_request(&ts.base_url()))
            .await
            .unwrap(),
        200
    );
    assert_eq!(ts.logins(), 1, "only the test's own login");
    assert_eq!(
        handle.switch_org(1).await.unwrap_err().kind(),
        ErrorKind::Config
    );
}

#[test]
fn configuration_errors_are_clear() {
    let err = ThoughtSpotAuthLayer::builder("https://ts.example.com")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no credentials"), "{err}");
    let err = ThoughtSpotAuthLayer::builder("http://ts.example.com")
        .password("u", "p")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    ThoughtSpotAuthLayer::builder("http://ts.example.com")
        .password("u", "p")
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = ThoughtSpotAuthLayer::builder("https://ts.example.com")
        .token("bad\ntoken")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("bad\ntoken"));
}
