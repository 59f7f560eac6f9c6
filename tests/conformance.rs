//! One conformance suite, run against both front doors — the tower layer and the
//! reqwest-middleware adapter — so they cannot drift apart. Every case runs on tokio's paused
//! clock against MockThoughtSpot over real HTTP.

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http::{Method, StatusCode};
use http_body_util::Full;
use thoughtspot_auth::mock::{
    self, Fault, FaultKind, MockThoughtSpot, MockUser, PresentedCredential,
};
use thoughtspot_auth::{
    ApiVersion, AuthBuilder, AuthHandle, Error, ErrorKind, OrgOverride, ThoughtSpotAuthLayer,
};
use tokio::time::Instant;
use tower::ServiceExt;

const SEARCH: &str = "/api/rest/2.0/metadata/search";
const BETA_SESSION: &str = "/tspublic/rest/v2/session";
const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

#[derive(Debug, Clone, Copy)]
enum Front {
    Tower,
    Reqwest,
}

#[derive(Clone)]
enum Client {
    Tower(Box<common::AuthService>),
    Reqwest(reqwest_middleware::ClientWithMiddleware),
}

/// A request, described so either front door can send it.
#[derive(Clone)]
struct Call {
    method: Method,
    url: String,
    org: Option<i64>,
}

fn search(base: &str) -> Call {
    Call {
        method: Method::POST,
        url: format!("{base}{SEARCH}"),
        org: None,
    }
}

fn beta(base: &str) -> Call {
    Call {
        method: Method::GET,
        url: format!("{base}{BETA_SESSION}"),
        org: None,
    }
}

impl Call {
    fn in_org(mut self, org: i64) -> Self {
        self.org = Some(org);
        self
    }
}

/// Why a request failed: the crate's error when it is one.
#[derive(Debug)]
struct Failure {
    error: Option<Error>,
    text: String,
}

impl Failure {
    fn kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(Error::kind)
    }
}

impl Client {
    fn build(front: Front, builder: AuthBuilder) -> (Self, AuthHandle) {
        match front {
            Front::Tower => {
                let (service, handle) = common::layered(builder);
                (Self::Tower(Box::new(service)), handle)
            }
            Front::Reqwest => {
                let plain = reqwest::Client::new();
                let middleware = builder.build_middleware(plain.clone()).expect("it builds");
                let handle = middleware.handle();
                let client = reqwest_middleware::ClientBuilder::new(plain)
                    .with(middleware)
                    .build();
                (Self::Reqwest(client), handle)
            }
        }
    }

    async fn send(&self, call: Call) -> Result<StatusCode, Failure> {
        match self {
            Self::Tower(service) => {
                let mut request = http::Request::builder()
                    .method(call.method)
                    .uri(call.url)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                if let Some(org) = call.org {
                    request.extensions_mut().insert(OrgOverride::new(org));
                }
                match (**service).clone().oneshot(request).await {
                    Ok(response) => Ok(response.status()),
                    Err(error) => Err(Failure {
                        error: error.downcast_ref::<Error>().cloned(),
                        text: error.to_string(),
                    }),
                }
            }
            Self::Reqwest(client) => {
                let mut request = client
                    .request(call.method, call.url)
                    .header("content-type", "application/json");
                if let Some(org) = call.org {
                    request = request.with_extension(OrgOverride::new(org));
                }
                match request.send().await {
                    Ok(response) => Ok(response.status()),
                    Err(reqwest_middleware::Error::Middleware(error)) => Err(Failure {
                        error: error.downcast_ref::<Error>().cloned(),
                        text: error.to_string(),
                    }),
                    Err(error) => Err(Failure {
                        error: None,
                        text: error.to_string(),
                    }),
                }
            }
        }
    }

    async fn ok(&self, call: Call) -> StatusCode {
        self.send(call).await.expect("the request succeeds")
    }

    async fn fan_out(&self, call: Call, n: usize) -> Vec<StatusCode> {
        join_all((0..n).map(|_| self.ok(call.clone()))).await
    }
}

fn builder(ts: &MockThoughtSpot) -> AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

/// A 503 from the server: a transient failure, lived through with backoff.
const UNAVAILABLE: Fault = Fault::Status {
    status: 503,
    retry_after: None,
};

/// Moves the paused clock on and lets the timer tasks it woke run: the hot path reads no clock,
/// a timer task moves each credential from fresh to soft to hard.
async fn jump(by: Duration) {
    tokio::time::advance(by).await;
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

fn credentials_seen(ts: &MockThoughtSpot, path: &str) -> Vec<PresentedCredential> {
    ts.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.credential)
        .collect()
}

// ----- the cases ---------------------------------------------------------------------------------

async fn a_thousand_concurrent_first_requests_make_one_login(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).org(1));
    let statuses = client.fan_out(search(&ts.base_url()), 1000).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(ts.logins(), 1);
    assert_eq!(handle.stats().logins, 1);
    let seen = credentials_seen(&ts, SEARCH);
    assert_eq!(seen.len(), 1000);
    assert!(seen.iter().all(|c| matches!(
        c,
        PresentedCredential::Token {
            valid: true,
            org: 1,
            ..
        }
    )));
}

async fn across_a_soft_expiry_one_refresh_and_nobody_waits(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    // Into the soft window (300 s token: refresh from 255-270 s, hard at 295 s).
    jump(Duration::from_secs(280)).await;
    // The refresh takes 10 s at the server: anyone who waited for it would see that.
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(10)), 1);
    let started = Instant::now();
    let statuses = client.fan_out(search(&ts.base_url()), 1000).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no request waited for the refresh"
    );
    assert!(statuses.iter().all(|s| *s == 200));
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(ts.logins(), 2);
    let stats = handle.stats();
    assert_eq!((stats.logins, stats.refreshes), (2, 1));
    client.ok(search(&ts.base_url())).await;
    assert_eq!(ts.logins(), 2);
}

async fn across_a_hard_expiry_one_refresh_and_all_succeed(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    jump(Duration::from_secs(301)).await;
    let statuses = client.fan_out(search(&ts.base_url()), 1000).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().refreshes, 1);
    assert_eq!(
        handle.stats().rejected_responses,
        0,
        "the expired token was never sent"
    );
}

async fn a_revoked_token_means_one_login_and_a_successful_replay(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    ts.revoke_all_tokens();
    let statuses = client.fan_out(search(&ts.base_url()), 50).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(ts.logins(), 2);
    let stats = handle.stats();
    assert_eq!(stats.invalidations, 1);
    assert!(stats.replays >= 1);
    assert_eq!(stats.replays, stats.rejected_responses);
}

async fn a_stale_401_does_not_evict_a_newer_credential(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    ts.revoke_all_tokens();
    // A is held 5 s at the server before it is judged; B is judged at once.
    ts.inject(SEARCH, Fault::Delay(Duration::from_secs(5)), 1);
    let a = tokio::spawn({
        let client = client.clone();
        let call = search(&ts.base_url());
        async move { client.ok(call).await }
    });
    tokio::task::yield_now().await;
    client.ok(search(&ts.base_url())).await;
    assert_eq!(ts.logins(), 2, "B's rejection made one login");
    // A's 401 (for the old token) arrives after the new login: it must not evict the new token.
    assert_eq!(a.await.unwrap(), 200);
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().invalidations, 1);
    assert_eq!(handle.stats().replays, 2);
}

async fn a_403_is_returned_and_causes_no_login(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 403,
            retry_after: None,
        },
        3,
    );
    for _ in 0..3 {
        assert_eq!(client.ok(search(&ts.base_url())).await, 403);
    }
    assert_eq!(ts.logins(), 1);
    assert_eq!(handle.stats().invalidations, 0);
}

async fn a_401_after_a_fresh_login_is_returned_not_looped(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    // The endpoint answers 401 twice: to the request and to its replay.
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        2,
    );
    assert_eq!(client.ok(search(&ts.base_url())).await, 401);
    assert_eq!(
        ts.count(SEARCH),
        3,
        "sent once and replayed once, never more"
    );
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().replays, 1);
}

/// One revoked token, seen by 50 requests whose 401s arrive together (the mock holds them 1 s and
/// answers them at the same instant): one relogin, at once, and every request replayed. The
/// rejection streak, which slows relogins when ThoughtSpot rejects even fresh credentials, counts
/// rejected credentials (`Core::reject`), not responses: counted per response, it once held this
/// relogin back 250 ms x 2^48, capped at 30 s.
async fn a_revocation_seen_by_many_requests_at_once_does_not_stall_the_relogin(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    ts.revoke_all_tokens();
    ts.inject(SEARCH, Fault::Delay(Duration::from_secs(1)), 50);
    let started = Instant::now();
    let statuses = client.fan_out(search(&ts.base_url()), 50).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(ts.logins(), 2, "one relogin");
    assert_eq!(handle.stats().invalidations, 1);
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "the relogin after one revocation was held back: the requests took {:?} (1 s of it at \
         the server)",
        started.elapsed()
    );
}

async fn a_wrong_password_is_tried_once_per_backoff_window(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, "not-the-password")
            .permanent_failure_backoff(Duration::from_secs(60), Duration::from_secs(600)),
    );
    // Every waiting request gets the same typed error (those that joined the one login as it
    // failed, and any that came after it and were refused by the backoff, which says so).
    let results = join_all((0..100).map(|_| client.send(search(&ts.base_url())))).await;
    let mut refused_at_first = 0;
    for result in &results {
        let error = result.as_ref().unwrap_err().error.as_ref().unwrap();
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        refused_at_first += u64::from(error.is_refused_by_backoff());
    }
    assert!(refused_at_first < 100, "one of them met the login itself");
    assert_eq!(ts.logins(), 1);
    jump(Duration::from_secs(59)).await;
    for _ in 0..100 {
        let failure = client.send(search(&ts.base_url())).await.unwrap_err();
        let error = failure.error.unwrap();
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert!(error.is_refused_by_backoff(), "{error}");
        assert!(error.not_tried_until().unwrap() > Instant::now());
    }
    assert_eq!(ts.logins(), 1);
    assert_eq!(handle.stats().refused_by_backoff, refused_at_first + 100);
    jump(Duration::from_secs(2)).await;
    let failure = client.send(search(&ts.base_url())).await.unwrap_err();
    assert!(
        !failure.text.contains("not-the-password"),
        "{}",
        failure.text
    );
    assert_eq!(ts.logins(), 2);
    assert_eq!(handle.stats().failures.unauthorized, 2);
}

async fn a_wrong_password_is_not_tried_again_for_another_org(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, "not-the-password")
            .org(0),
    );
    let first = client.send(search(&ts.base_url())).await.unwrap_err();
    assert_eq!(first.kind(), Some(ErrorKind::Unauthorized));
    assert!(!first.error.unwrap().is_refused_by_backoff());
    for org in 1..5 {
        let failure = client
            .send(search(&ts.base_url()).in_org(org))
            .await
            .unwrap_err();
        assert_eq!(failure.kind(), Some(ErrorKind::Unauthorized), "{failure:?}");
        assert!(failure.error.unwrap().is_refused_by_backoff());
        let error = handle.switch_org(org).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert!(error.is_refused_by_backoff(), "{error}");
    }
    assert_eq!(ts.logins(), 1, "bad credentials block every org");
    assert_eq!(handle.stats().refused_by_backoff, 8);
}

async fn a_locked_account_is_forbidden_and_not_retried(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.lock_user(mock::DEFAULT_USER);
    let (client, handle) = Client::build(front, builder(&ts));
    for i in 0..10 {
        let failure = client.send(search(&ts.base_url())).await.unwrap_err();
        assert_eq!(failure.kind(), Some(ErrorKind::Forbidden));
        assert_eq!(failure.error.unwrap().is_refused_by_backoff(), i > 0);
    }
    assert_eq!(ts.logins(), 1);
    assert_eq!(handle.stats().refused_by_backoff, 9);
}

/// A 403 at login can mean "not a member of this org" as well as "locked": it blocks the org
/// that met it, not the account. (Bad credentials, a 401, block every org: see
/// `a_wrong_password_is_not_tried_again_for_another_org`.)
async fn a_locked_account_blocks_only_the_org_that_met_it(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.lock_user(mock::DEFAULT_USER);
    let (client, _) = Client::build(front, builder(&ts).org(0));
    for org in [0, 0, 1, 1, 2] {
        let failure = client
            .send(search(&ts.base_url()).in_org(org))
            .await
            .unwrap_err();
        assert_eq!(failure.kind(), Some(ErrorKind::Forbidden));
    }
    assert_eq!(ts.logins(), 3, "one attempt for each org");
}

async fn transient_login_failures_are_lived_through(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.inject(TOKEN_FULL, UNAVAILABLE, 2);
    ts.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 429,
            retry_after: Some(3),
        },
        1,
    );
    let (client, handle) = Client::build(front, builder(&ts));
    let started = Instant::now();
    client.ok(search(&ts.base_url())).await;
    assert_eq!(ts.logins(), 4);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "Retry-After was honoured"
    );
    let failures = handle.stats().failures;
    assert_eq!((failures.unavailable, failures.rate_limited), (2, 1));
}

async fn a_login_that_keeps_failing_gives_up_at_the_deadline(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.inject(TOKEN_FULL, Fault::MaintenancePage, 1000);
    let (client, _) = Client::build(front, builder(&ts).login_deadline(Duration::from_secs(10)));
    let started = Instant::now();
    let failure = client.send(search(&ts.base_url())).await.unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::Unavailable));
    assert!(started.elapsed() <= Duration::from_secs(10));
    assert!(ts.logins() >= 3, "retried with backoff: {}", ts.logins());
}

async fn a_valid_credential_is_served_while_refresh_fails(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    jump(Duration::from_secs(275)).await;
    ts.inject(TOKEN_FULL, UNAVAILABLE, 1000);
    for _ in 0..15 {
        assert_eq!(client.ok(search(&ts.base_url())).await, 200);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Refreshes were tried (and failed) while the old token was served.
    let stats = handle.stats();
    assert!(
        ts.faults_injected_at(TOKEN_FULL, FaultKind::Status(503)) >= 2,
        "{stats:?}"
    );
    assert!(stats.failures.unavailable >= 2, "{stats:?}");
    assert_eq!((stats.logins, stats.refreshes), (1, 0));
    let served_old = credentials_seen(&ts, SEARCH);
    assert!(
        served_old
            .iter()
            .all(|c| c.serial() == served_old[0].serial())
    );
    ts.clear_faults();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(client.ok(search(&ts.base_url())).await, 200);
    assert_eq!(handle.stats().logins, 2);
}

/// A soft refresh that fails is asked for again by a later request, and made before the hard
/// deadline: the credential's life timer starts a refresh each time one is asked for, and no
/// request waits for any of them.
async fn a_failed_soft_refresh_is_asked_for_again(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let builder = builder(&ts)
        .login_deadline(Duration::from_secs(5))
        .transient_backoff(Duration::from_millis(250), Duration::from_secs(1));
    let (client, handle) = Client::build(front, builder);
    client.ok(search(&ts.base_url())).await;
    // Soft from 255-270 s, hard at 295 s.
    jump(Duration::from_secs(271)).await;
    let hard = Instant::now() + Duration::from_secs(295 - 271);
    ts.inject(TOKEN_FULL, UNAVAILABLE, 1000);
    assert_eq!(client.ok(search(&ts.base_url())).await, 200);
    // The refresh gives up at its 5 s deadline.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let stats = handle.stats();
    assert_eq!((stats.logins, stats.refreshes), (1, 0));
    assert!(stats.failures.unavailable >= 2, "{stats:?}");
    // The next refresh succeeds, but takes the server 2 s: anyone who waited for it would see.
    ts.clear_faults();
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(2)), 1);
    while handle.stats().refreshes == 0 && Instant::now() < hard {
        let started = Instant::now();
        assert_eq!(client.ok(search(&ts.base_url())).await, 200);
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "nobody waited for a refresh"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(Instant::now() < hard, "refreshed before the hard deadline");
    let stats = handle.stats();
    assert_eq!((stats.logins, stats.refreshes), (2, 1));
    let started = Instant::now();
    assert_eq!(client.ok(search(&ts.base_url())).await, 200);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(handle.stats().logins, 2);
}

async fn a_server_clock_an_hour_off_makes_no_extra_logins(front: Front) {
    for ahead in [true, false] {
        let ts = MockThoughtSpot::builder()
            .clock_offset(Duration::from_secs(3600), ahead)
            .start()
            .await
            .unwrap();
        let (client, _) = Client::build(front, builder(&ts));
        for _ in 0..20 {
            assert_eq!(client.ok(search(&ts.base_url())).await, 200);
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        assert_eq!(ts.logins(), 1, "ahead={ahead}");
    }
}

async fn a_validity_shorter_than_the_margin_still_works(front: Front) {
    let ts = MockThoughtSpot::builder()
        .default_token_validity(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    for _ in 0..40 {
        assert_eq!(client.ok(search(&ts.base_url())).await, 200);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let logins = ts.logins();
    assert!(
        (5..=8).contains(&logins),
        "about one login per 2 s token: {logins}"
    );
    assert_eq!(handle.stats().rejected_responses, 0);
}

async fn callers_dropped_mid_login_do_not_cancel_it(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(2)), 1);
    let (client, _) = Client::build(front, builder(&ts));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            let call = search(&ts.base_url());
            tokio::spawn(async move { client.ok(call).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    for task in &tasks[..50] {
        task.abort();
    }
    assert!(tasks[50..].iter().all(|t| !t.is_finished()));
    let results = join_all(tasks.into_iter().skip(50)).await;
    assert!(results.into_iter().all(|r| r.unwrap() == 200));
    assert_eq!(ts.logins(), 1);
}

async fn switching_org_is_atomic_and_cached_per_org(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).org(0));
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(1)), 1);
    // A request starts a login for org 0; the switch to org 1 happens meanwhile.
    let first = tokio::spawn({
        let client = client.clone();
        let call = search(&ts.base_url());
        async move { client.ok(call).await }
    });
    tokio::task::yield_now().await;
    handle.switch_org(1).await.unwrap();
    assert_eq!(handle.current_org(), Some(1));
    assert_eq!(first.await.unwrap(), 200);
    client.ok(search(&ts.base_url())).await;
    let orgs: Vec<i64> = credentials_seen(&ts, SEARCH)
        .into_iter()
        .filter_map(|c| match c {
            PresentedCredential::Token { org, .. } => Some(org),
            _ => None,
        })
        .collect();
    assert_eq!(
        orgs,
        vec![0, 1],
        "the first request kept the org it started with"
    );
    let logins = ts.logins();
    handle.switch_org(0).await.unwrap();
    assert_eq!(ts.logins(), logins, "back to a cached org: no login");
    let error = handle.switch_org(42).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Forbidden);
    assert_eq!(
        handle.current_org(),
        Some(0),
        "a failed switch changes nothing"
    );
    // Org ids are int32 in ThoughtSpot's API: a larger one is refused before anything is sent.
    let logins = ts.logins();
    let error = handle
        .switch_org(i64::from(i32::MAX) + 1)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        ts.logins(),
        logins,
        "nothing sent for an org id out of range"
    );
    assert_eq!(handle.current_org(), Some(0));
}

async fn a_per_request_org_override(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).org(0));
    client.ok(search(&ts.base_url()).in_org(2)).await;
    client.ok(search(&ts.base_url())).await;
    let seen = credentials_seen(&ts, SEARCH);
    assert!(matches!(seen[0], PresentedCredential::Token { org: 2, .. }));
    assert!(matches!(seen[1], PresentedCredential::Token { org: 0, .. }));
    assert_eq!(handle.current_org(), Some(0));
    assert_eq!(handle.stats().cached_credentials, 2);
}

async fn a_request_to_another_origin_carries_no_credential(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let elsewhere = MockThoughtSpot::start().await.unwrap();
    let (client, _) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    assert_eq!(client.ok(search(&elsewhere.base_url())).await, 401);
    let seen = elsewhere.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].credential, PresentedCredential::None);
    assert_eq!((ts.logins(), elsewhere.logins()), (1, 0));
}

async fn cookie_sessions_switch_org_by_logging_in_again(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).cookie_session().org(0));
    client.ok(search(&ts.base_url())).await;
    handle.switch_org(2).await.unwrap();
    client.ok(search(&ts.base_url())).await;
    let seen = credentials_seen(&ts, SEARCH);
    assert!(matches!(
        seen[0],
        PresentedCredential::Session {
            org: 0,
            valid: true,
            client_id_sent: true,
            ..
        }
    ));
    assert!(matches!(
        seen[1],
        PresentedCredential::Session {
            org: 2,
            valid: true,
            ..
        }
    ));
    assert_eq!(ts.count("/api/rest/2.0/auth/session/login"), 2);
    // Ended sessions are noticed (401) and replaced.
    ts.end_all_sessions();
    client.ok(search(&ts.base_url())).await;
    assert_eq!(handle.stats().replays, 1);
}

async fn beta_cookie_sessions_switch_org_with_put_session_org(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(
        front,
        builder(&ts).api(ApiVersion::Beta).cookie_session().org(1),
    );
    client.ok(beta(&ts.base_url())).await;
    handle.switch_org(2).await.unwrap();
    client.ok(beta(&ts.base_url())).await;
    assert_eq!(
        ts.count("/tspublic/rest/v2/session/org"),
        2,
        "one PUT per org's session"
    );
    let seen = credentials_seen(&ts, BETA_SESSION);
    assert!(matches!(
        seen[0],
        PresentedCredential::Session { org: 1, .. }
    ));
    assert!(matches!(
        seen[1],
        PresentedCredential::Session { org: 2, .. }
    ));
}

async fn beta_tokens_rejected_with_500_upstream_401_are_replaced(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).api(ApiVersion::Beta));
    client.ok(beta(&ts.base_url())).await;
    ts.revoke_all_tokens();
    let statuses = client.fan_out(beta(&ts.base_url()), 20).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(ts.count("/tspublic/rest/v2/session/gettoken"), 2);
    assert_eq!(handle.stats().invalidations, 1);
    assert_eq!(
        handle.stats().credential_checks,
        0,
        "upstream 401 needs no check"
    );
}

async fn beta_bare_500s_are_checked_once_and_cause_no_login_storm(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).api(ApiVersion::Beta));
    client.ok(beta(&ts.base_url())).await;
    ts.inject(
        BETA_SESSION,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        50,
    );
    let statuses = client.fan_out(beta(&ts.base_url()), 50).await;
    assert!(statuses.iter().all(|s| *s == 500));
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

async fn a_bare_beta_500_from_a_dead_credential_is_replaced(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).api(ApiVersion::Beta));
    client.ok(beta(&ts.base_url())).await;
    // The token dies, and the data endpoint says only "Operation failed" (no upstream detail).
    ts.revoke_all_tokens();
    ts.inject(
        BETA_SESSION,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        1,
    );
    assert_eq!(client.ok(beta(&ts.base_url())).await, 200);
    assert_eq!(handle.stats().credential_checks, 1);
    assert_eq!(handle.stats().invalidations, 1);
    assert_eq!(handle.stats().replays, 1);
}

async fn logout_and_revoke_leave_nothing_alive_at_the_server(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).org(0));
    client.ok(search(&ts.base_url())).await;
    handle.switch_org(1).await.unwrap();
    assert_eq!(ts.live_tokens(), 2);
    handle.revoke().await.unwrap();
    assert_eq!(ts.live_tokens(), 0);
    assert_eq!(handle.stats().cached_credentials, 0);

    let (client, handle) = Client::build(front, builder(&ts).cookie_session());
    client.ok(search(&ts.base_url())).await;
    assert_eq!(ts.live_sessions(), 1);
    handle.logout().await.unwrap();
    assert_eq!(ts.live_sessions(), 0);
    assert_eq!(
        client.ok(search(&ts.base_url())).await,
        200,
        "the next request logs in again"
    );
}

async fn refresh_and_invalidate_from_the_handle(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    client.ok(search(&ts.base_url())).await;
    handle.refresh().await.unwrap();
    assert_eq!(ts.logins(), 2);
    handle.invalidate();
    client.ok(search(&ts.base_url())).await;
    assert_eq!(ts.logins(), 3);
}

async fn replay_can_be_turned_off(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).replay(false));
    client.ok(search(&ts.base_url())).await;
    ts.revoke_all_tokens();
    assert_eq!(client.ok(search(&ts.base_url())).await, 401);
    assert_eq!(handle.stats().replays, 0);
    // The rejection still invalidated the token: the next request logs in.
    assert_eq!(client.ok(search(&ts.base_url())).await, 200);
    assert_eq!(ts.logins(), 2);
}

async fn trusted_auth_logs_in_with_the_secret_key(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.add_user(MockUser::new("svc-embed", "unused").orgs([0, 1]));
    let (client, _) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .secret_key("svc-embed", mock::DEFAULT_SECRET_KEY)
            .org(1),
    );
    client.ok(search(&ts.base_url())).await;
    assert!(matches!(
        &credentials_seen(&ts, SEARCH)[0],
        PresentedCredential::Token { user, org: 1, .. } if user == "svc-embed"
    ));
}

async fn a_static_token_is_presented_as_given(front: Front) {
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
    let (client, handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url()).token(token),
    );
    assert_eq!(client.ok(search(&ts.base_url())).await, 200);
    assert_eq!(ts.logins(), 1, "only the test's own login");
    assert_eq!(
        handle.switch_org(1).await.unwrap_err().kind(),
        ErrorKind::Config
    );
}

both_fronts!(
    a_thousand_concurrent_first_requests_make_one_login,
    across_a_soft_expiry_one_refresh_and_nobody_waits,
    across_a_hard_expiry_one_refresh_and_all_succeed,
    a_revoked_token_means_one_login_and_a_successful_replay,
    a_stale_401_does_not_evict_a_newer_credential,
    a_403_is_returned_and_causes_no_login,
    a_401_after_a_fresh_login_is_returned_not_looped,
    a_revocation_seen_by_many_requests_at_once_does_not_stall_the_relogin,
    a_wrong_password_is_tried_once_per_backoff_window,
    a_wrong_password_is_not_tried_again_for_another_org,
    a_locked_account_is_forbidden_and_not_retried,
    a_locked_account_blocks_only_the_org_that_met_it,
    transient_login_failures_are_lived_through,
    a_login_that_keeps_failing_gives_up_at_the_deadline,
    a_valid_credential_is_served_while_refresh_fails,
    a_failed_soft_refresh_is_asked_for_again,
    a_server_clock_an_hour_off_makes_no_extra_logins,
    a_validity_shorter_than_the_margin_still_works,
    callers_dropped_mid_login_do_not_cancel_it,
    switching_org_is_atomic_and_cached_per_org,
    a_per_request_org_override,
    a_request_to_another_origin_carries_no_credential,
    cookie_sessions_switch_org_by_logging_in_again,
    beta_cookie_sessions_switch_org_with_put_session_org,
    beta_tokens_rejected_with_500_upstream_401_are_replaced,
    beta_bare_500s_are_checked_once_and_cause_no_login_storm,
    a_bare_beta_500_from_a_dead_credential_is_replaced,
    logout_and_revoke_leave_nothing_alive_at_the_server,
    refresh_and_invalidate_from_the_handle,
    replay_can_be_turned_off,
    trusted_auth_logs_in_with_the_secret_key,
    a_static_token_is_presented_as_given,
);
