//! Multi-user trusted authentication: one layer acting for many users, one token per
//! (user, org), a bounded cache, and never another user's credential.

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::Full;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, MockUser, PresentedCredential};
use thoughtspot_auth::session::{FilterOperator, FilterRule, PersistOption};
use thoughtspot_auth::{
    ActAs, Error, ErrorKind, Provisioning, ThoughtSpotAuthLayer, TokenAttributes,
};
use tokio::time::Instant;
use tower::ServiceExt;

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const TOKEN_CUSTOM: &str = "/api/rest/2.0/auth/token/custom";

async fn mock_with_users(n: usize) -> MockThoughtSpot {
    let ts = MockThoughtSpot::start().await.unwrap();
    for i in 0..n {
        ts.add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0, 1, 2]));
    }
    ts
}

fn layered(
    ts: &MockThoughtSpot,
    configure: impl FnOnce(thoughtspot_auth::AuthBuilder) -> thoughtspot_auth::AuthBuilder,
) -> (common::AuthService, thoughtspot_auth::AuthHandle) {
    // No mint budget: these tests are about concurrency (the budget's are in mint_budget.rs).
    common::layered(configure(
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .act_as_users(mock::DEFAULT_SECRET_KEY)
            .mint_budget(thoughtspot_auth::MintBudget::unlimited()),
    ))
}

/// A request acting as `user` (in `org`, if given) to a path that names both, so the mock's log
/// shows whose request each was.
fn request_as(base: &str, user: &str, org: Option<i64>) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::get(format!(
        "{base}/api/rest/2.0/echo/{user}/{}",
        org.unwrap_or(-1)
    ))
    .body(Full::new(Bytes::new()))
    .unwrap();
    let act_as = ActAs::user(user);
    request.extensions_mut().insert(match org {
        Some(org) => act_as.org(org),
        None => act_as,
    });
    request
}

async fn send(
    service: &common::AuthService,
    request: http::Request<Full<Bytes>>,
) -> Result<u16, Error> {
    match service.clone().oneshot(request).await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => Err(error
            .downcast_ref::<Error>()
            .cloned()
            .expect("a thoughtspot_auth::Error")),
    }
}

#[tokio::test(start_paused = true)]
async fn a_thousand_first_requests_for_one_user_mint_once() {
    let ts = mock_with_users(1).await;
    let (service, handle) = layered(&ts, |b| b);
    let results =
        join_all((0..1000).map(|_| send(&service, request_as(&ts.base_url(), "user-0", None))))
            .await;
    assert!(
        results.into_iter().all(|r| r.unwrap() == 404),
        "authenticated: the echo path is unknown"
    );
    assert_eq!(ts.login_attempts_for("user-0"), 1);
    assert_eq!(handle.user_stats("user-0").logins, 1);
}

#[tokio::test(start_paused = true)]
async fn a_thousand_users_at_once_mint_a_thousand_tokens_in_parallel() {
    let ts = mock_with_users(1000).await;
    // Every mint takes a second at the server: serialized, a thousand would take 1000 s.
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(1)), 1000);
    let (service, handle) = layered(&ts, |b| b);
    let started = Instant::now();
    let results = join_all((0..1000).map(|i| {
        send(
            &service,
            request_as(&ts.base_url(), &format!("user-{i}"), None),
        )
    }))
    .await;
    let failed: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.to_string())
        .take(3)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // One after another they would take 1,000 s. (The paused clock may jump a few seconds while
    // a thousand loopback connections are being accepted, hence the margin.)
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not serialized: {:?}",
        started.elapsed()
    );
    assert_eq!(ts.logins(), 1000);
    assert_eq!(handle.stats().logins, 1000);
    assert_eq!(handle.cache_size(), 1000);
}

#[tokio::test(start_paused = true)]
async fn a_request_without_an_identity_fails_before_anything_is_sent() {
    let ts = mock_with_users(1).await;
    let (service, _) = layered(&ts, |b| b);
    send(&service, request_as(&ts.base_url(), "user-0", None))
        .await
        .unwrap();
    let sent = ts.requests().len();
    let anonymous = http::Request::get(format!("{}/api/rest/2.0/metadata/search", ts.base_url()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let error = send(&service, anonymous).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("names no user"), "{error}");
    assert_eq!(ts.requests().len(), sent, "nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn under_concurrency_no_request_carries_another_users_or_orgs_token() {
    let ts = mock_with_users(20).await;
    let (service, _) = layered(&ts, |b| b.org(0));
    let calls: Vec<(String, Option<i64>)> = (0..3000)
        .map(|i| {
            (
                format!("user-{}", (i * 7) % 20),
                [None, Some(1), Some(2)][i % 3],
            )
        })
        .collect();
    let mut rounds = Vec::new();
    for chunk in calls.chunks(500) {
        rounds.push(
            join_all(
                chunk
                    .iter()
                    .map(|(u, o)| send(&service, request_as(&ts.base_url(), u, *o))),
            )
            .await,
        );
        // Revocations and expiry on the way force replays and refreshes.
        ts.revoke_tokens_of("user-3");
        tokio::time::advance(Duration::from_secs(61)).await;
    }
    assert!(rounds.into_iter().flatten().all(|r| r.unwrap() == 404));
    let mut checked = 0;
    for request in ts
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/rest/2.0/echo/"))
    {
        let mut parts = request
            .path
            .trim_start_matches("/api/rest/2.0/echo/")
            .split('/');
        let (user, org) = (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().parse::<i64>().unwrap(),
        );
        let org = if org < 0 { 0 } else { org };
        match request.credential {
            PresentedCredential::Token {
                user: ref presented,
                org: presented_org,
                ..
            } => {
                assert_eq!((presented.as_str(), presented_org), (user.as_str(), org));
                checked += 1;
            }
            ref other => panic!("{} carried {other:?}", request.path),
        }
    }
    assert!(checked >= 3000, "{checked}");
}

#[tokio::test(start_paused = true)]
async fn the_cache_is_bounded_and_eviction_never_interrupts_a_request() {
    let ts = mock_with_users(300).await;
    let (service, handle) = layered(&ts, |b| b.max_cached_users(50));
    // user-0's request is held 5 s at the server while the cache churns through 300 users.
    ts.inject(
        "/api/rest/2.0/echo/user-0/-1",
        Fault::Delay(Duration::from_secs(5)),
        1,
    );
    let slow = tokio::spawn({
        let service = service.clone();
        let base = ts.base_url();
        async move { send(&service, request_as(&base, "user-0", None)).await }
    });
    tokio::task::yield_now().await;
    for i in 1..300 {
        send(
            &service,
            request_as(&ts.base_url(), &format!("user-{i}"), None),
        )
        .await
        .unwrap();
        assert!(handle.cache_size() <= 50, "{}", handle.cache_size());
    }
    assert_eq!(
        slow.await.unwrap().unwrap(),
        404,
        "the evicted user's request went through"
    );
    assert!(
        handle.user_stats("user-0").cached_orgs.is_empty(),
        "user-0 was evicted"
    );
    // Coming back costs one new mint.
    send(&service, request_as(&ts.base_url(), "user-0", None))
        .await
        .unwrap();
    assert_eq!(ts.login_attempts_for("user-0"), 2);
}

/// A user whose login is running is not evicted however hard the cache churns meanwhile: its
/// login lands in the cache, its waiting request goes through, and nobody logs it in twice.
#[tokio::test(start_paused = true)]
async fn a_cache_entry_whose_login_is_running_is_not_evicted() {
    let ts = mock_with_users(100).await;
    let (service, handle) = layered(&ts, |b| b.max_cached_users(5));
    // user-0's mint is held 5 s at the server; meanwhile 99 other users pass through a cache of
    // five, each mint made at once.
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(5)), 1);
    let waiting = tokio::spawn({
        let service = service.clone();
        let base = ts.base_url();
        async move { send(&service, request_as(&base, "user-0", None)).await }
    });
    tokio::task::yield_now().await;
    for i in 1..100 {
        send(
            &service,
            request_as(&ts.base_url(), &format!("user-{i}"), None),
        )
        .await
        .unwrap();
        assert!(!waiting.is_finished(), "user-{i}: the mint is still held");
    }
    assert_eq!(waiting.await.unwrap().unwrap(), 404, "authenticated");
    assert_eq!(ts.login_attempts_for("user-0"), 1);
    assert_eq!(handle.user_stats("user-0").cached_orgs, vec![None]);
    // Its token is cached: the next request mints nothing.
    send(&service, request_as(&ts.base_url(), "user-0", None))
        .await
        .unwrap();
    assert_eq!(ts.login_attempts_for("user-0"), 1);
}

#[tokio::test(start_paused = true)]
async fn idle_credentials_are_dropped() {
    let ts = mock_with_users(10).await;
    let (service, handle) = layered(&ts, |b| b.idle_timeout(Duration::from_secs(60)));
    for i in 0..10 {
        send(
            &service,
            request_as(&ts.base_url(), &format!("user-{i}"), None),
        )
        .await
        .unwrap();
    }
    assert_eq!(handle.cache_size(), 10);
    // user-0 stays busy; the others go idle.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        send(&service, request_as(&ts.base_url(), "user-0", None))
            .await
            .unwrap();
    }
    assert_eq!(handle.cache_size(), 1);
    assert_eq!(handle.user_stats("user-0").cached_orgs, vec![None]);
}

#[tokio::test(start_paused = true)]
async fn per_user_handle_operations() {
    let ts = mock_with_users(2).await;
    let (service, handle) = layered(&ts, |b| b);
    for user in ["user-0", "user-1"] {
        for org in [None, Some(1)] {
            send(&service, request_as(&ts.base_url(), user, org))
                .await
                .unwrap();
        }
    }
    let stats = handle.user_stats("user-0");
    assert_eq!(
        (stats.logins, stats.cached_orgs.clone()),
        (2, vec![None, Some(1)])
    );
    assert_eq!(handle.stats().cached_credentials, 4);

    handle.revoke_user("user-0").await.unwrap();
    assert!(handle.user_stats("user-0").cached_orgs.is_empty());
    assert_eq!(
        ts.live_tokens(),
        2,
        "only user-1's tokens are alive at the server"
    );
    handle.invalidate_user("user-1");
    assert_eq!(handle.stats().cached_credentials, 0);
    send(&service, request_as(&ts.base_url(), "user-1", None))
        .await
        .unwrap();
    assert_eq!(handle.user_stats("user-1").logins, 3);
    // The handle's org is the default for requests that name none.
    handle.switch_org(2).await.unwrap();
    send(&service, request_as(&ts.base_url(), "user-1", None))
        .await
        .unwrap();
    assert!(handle.user_stats("user-1").cached_orgs.contains(&Some(2)));
    assert_eq!(
        handle.refresh().await.unwrap_err().kind(),
        ErrorKind::Config
    );
}

#[tokio::test(start_paused = true)]
async fn users_can_be_created_just_in_time() {
    let ts = mock_with_users(0).await;
    let (service, _) = layered(&ts, |b| b);
    let unknown = send(&service, request_as(&ts.base_url(), "newcomer", None))
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Unauthorized);
    // An unknown user's token is asked for once per backoff window, not once per request.
    for _ in 0..5 {
        let again = send(&service, request_as(&ts.base_url(), "newcomer", None))
            .await
            .unwrap_err();
        assert_eq!(again.kind(), ErrorKind::Unauthorized);
        assert!(again.is_refused_by_backoff(), "{again}");
    }
    assert_eq!(ts.login_attempts_for("newcomer"), 1);

    let mut request = request_as(&ts.base_url(), "jit-user", Some(1));
    request
        .extensions_mut()
        .insert(
            ActAs::user("jit-user")
                .org(1)
                .create_if_missing(Provisioning {
                    email: Some("jit@example.com".into()),
                    display_name: Some("Just In Time".into()),
                    groups: vec![],
                }),
        );
    assert_eq!(send(&service, request).await.unwrap(), 404);
    assert!(matches!(
        ts.requests().last().unwrap().credential,
        PresentedCredential::Token { ref user, org: 1, valid: true, .. } if user == "jit-user"
    ));
}

#[tokio::test(start_paused = true)]
async fn the_reqwest_adapter_acts_as_users_too() {
    let ts = mock_with_users(3).await;
    let plain = reqwest::Client::new();
    let auth = ThoughtSpotAuthLayer::builder(ts.base_url())
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .build_middleware(plain.clone())
        .unwrap();
    let handle = auth.handle();
    let client = reqwest_middleware::ClientBuilder::new(plain)
        .with(auth)
        .build();
    let results = join_all((0..300).map(|i| {
        let user = format!("user-{}", i % 3);
        client
            .get(format!("{}/api/rest/2.0/echo/{user}/-1", ts.base_url()))
            .with_extension(ActAs::user(user))
            .send()
    }))
    .await;
    assert!(results.into_iter().all(|r| r.unwrap().status() == 404));
    assert_eq!(handle.stats().logins, 3);
    let missing = client
        .get(format!("{}/api/rest/2.0/metadata/search", ts.base_url()))
        .send()
        .await;
    assert!(matches!(
        missing,
        Err(reqwest_middleware::Error::Middleware(_))
    ));
}

// ----- access rules (token/custom) -------------------------------------------------------------

/// A request acting as `user` in `org` under the rule `Region = region`, to the mock's data
/// endpoint, which answers whose token it was and which rules it ran under.
fn request_with_rules(
    base: &str,
    user: &str,
    org: i64,
    region: &str,
    persist: PersistOption,
) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::post(format!("{base}/api/rest/2.0/searchdata"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let rules = TokenAttributes::new(persist).filter(FilterRule::new(
        "Region",
        FilterOperator::Eq,
        [region],
    ));
    request
        .extensions_mut()
        .insert(ActAs::user(user).org(org).attributes(rules));
    request
}

/// The (user, org, rule values) a searchdata answer ran under, and the regions of its rows.
async fn ran_under(
    service: &common::AuthService,
    request: http::Request<Full<Bytes>>,
) -> (String, i64, serde_json::Value, Vec<String>) {
    use http_body_util::BodyExt;
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let (user, org) = (header("x-mock-user"), header("x-mock-org").parse().unwrap());
    let rules: serde_json::Value = serde_json::from_str(&header(mock::RULES_HEADER)).unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut regions: Vec<String> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["Region"].as_str().unwrap().to_owned())
        .collect();
    regions.dedup();
    (user, org, rules["filter_rules"].clone(), regions)
}

#[tokio::test(start_paused = true)]
async fn under_concurrency_no_request_carries_another_rule_sets_token() {
    let ts = mock_with_users(20).await;
    let (service, _) = layered(&ts, |b| b.org(0));
    let regions = ["east", "west", "north"];
    let calls: Vec<(String, i64, &str)> = (0..3000)
        .map(|i| {
            (
                format!("user-{}", (i * 7) % 20),
                [0, 1, 2][i % 3],
                regions[(i / 3) % 3],
            )
        })
        .collect();
    let mut checked = 0;
    for chunk in calls.chunks(500) {
        let answers = join_all(chunk.iter().map(|(u, o, r)| {
            ran_under(
                &service,
                request_with_rules(&ts.base_url(), u, *o, r, PersistOption::None),
            )
        }))
        .await;
        for ((user, org, region), (seen_user, seen_org, rules, rows)) in chunk.iter().zip(answers) {
            assert_eq!((&seen_user, seen_org), (user, *org));
            assert_eq!(
                rules,
                serde_json::json!([{"column_name": "Region", "operator": "EQ", "values": [region]}])
            );
            assert_eq!(
                rows,
                [*region],
                "{user} in org {org} saw exactly their rows"
            );
            checked += 1;
        }
        // Revocations and expiry on the way force replays and refreshes.
        ts.revoke_tokens_of("user-3");
        tokio::time::advance(Duration::from_secs(61)).await;
    }
    assert_eq!(checked, 3000);
    // One token per (user, org, rules) at least: 20 users x 3 orgs x 3 rule sets.
    assert!(ts.count(TOKEN_CUSTOM) >= 180, "{}", ts.count(TOKEN_CUSTOM));
    assert_eq!(ts.count(TOKEN_FULL), 0);
}

#[tokio::test(start_paused = true)]
async fn a_persisted_rule_set_is_refreshed_with_replace_never_appended_twice() {
    let ts = mock_with_users(1).await;
    let (service, _) = layered(&ts, |b| b.org(0));
    let send = || {
        ran_under(
            &service,
            request_with_rules(&ts.base_url(), "user-0", 1, "south", PersistOption::Append),
        )
    };
    let rules_on_record = || {
        ts.persisted_attributes("user-0", 1).unwrap()["filter_rules"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(send().await.3, ["south"]);
    assert_eq!(rules_on_record(), 1);
    // A revoked token is replaced (replay), an expired one refreshed: neither appends again.
    ts.revoke_tokens_of("user-0");
    assert_eq!(send().await.3, ["south"]);
    tokio::time::advance(Duration::from_secs(400)).await;
    assert_eq!(send().await.3, ["south"]);
    assert!(ts.count(TOKEN_CUSTOM) >= 3);
    assert_eq!(rules_on_record(), 1);
}

#[tokio::test(start_paused = true)]
async fn cookie_sessions_refuse_rules_that_live_only_in_the_token() {
    let ts = mock_with_users(1).await;
    let (service, _) = layered(&ts, |b| b.org(0).cookie_session());
    let request = request_with_rules(&ts.base_url(), "user-0", 1, "east", PersistOption::None);
    let error = send(&service, request).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(ts.logins(), 0, "nothing was sent");
    // Persisted rules reach the session through the user's record.
    let request = request_with_rules(&ts.base_url(), "user-0", 1, "east", PersistOption::Replace);
    let (user, org, _, rows) = ran_under(&service, request).await;
    assert_eq!(
        (user.as_str(), org, rows),
        ("user-0", 1, vec!["east".to_owned()])
    );
}

/// Lets every task that has something to do run to where it waits.
async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn cached_users_share_one_timer_task() {
    let ts = mock_with_users(210).await;
    let (service, handle) = layered(&ts, |b| b);
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    for i in 0..10 {
        let user = format!("user-{i}");
        assert_eq!(
            send(&service, request_as(&ts.base_url(), &user, None))
                .await
                .unwrap(),
            404
        );
    }
    settle().await;
    let with_ten = tasks();
    for i in 10..210 {
        let user = format!("user-{i}");
        assert_eq!(
            send(&service, request_as(&ts.base_url(), &user, None))
                .await
                .unwrap(),
            404
        );
    }
    settle().await;
    assert_eq!(handle.stats().cached_credentials, 210);
    // Every credential's soft and hard deadlines are kept by one task for the whole layer: two
    // hundred more cached users make no more tasks (a task each used to cost some 500 bytes).
    assert!(
        tasks() <= with_ten + 2,
        "{} tasks alive with 210 users cached, {with_ten} with 10",
        tasks()
    );
    // And every one of them still turns soft on time and is refreshed when asked.
    tokio::time::advance(Duration::from_secs(290)).await;
    settle().await;
    assert_eq!(
        send(&service, request_as(&ts.base_url(), "user-7", None))
            .await
            .unwrap(),
        404
    );
    settle().await;
    assert_eq!(
        ts.login_attempts_for("user-7"),
        2,
        "the soft-expired token was refreshed"
    );
}
