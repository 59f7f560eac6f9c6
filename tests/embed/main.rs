//! `EmbedTokenService` on tokio's paused clock against MockThoughtSpot over real HTTP: who gets a
//! token, a fresh one per call, the answers, ABAC identities, logout and secret hygiene. The
//! rates and the backoff are in `limits.rs`.

#[path = "../common/mod.rs"]
mod common;
mod limits;
mod origin;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;
use thoughtspot_auth::embed::{EmbedIdentity, EmbedTokenService};
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot};
use thoughtspot_auth::session::{FilterOperator, FilterRule, PersistOption};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{ActAs, TokenAttributes};
use tower::ServiceExt;

use common::hyper_client;

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const TOKEN_CUSTOM: &str = "/api/rest/2.0/auth/token/custom";

mod support;

pub(crate) use support::{AppSession, builder, call_as, send};

#[tokio::test(start_paused = true)]
async fn every_call_gets_a_fresh_token_minted_for_the_session_user() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    let first = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    let second = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    assert_eq!((first.status, second.status), (200, 200));
    assert!(
        first.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_ne!(
        first.body, second.body,
        "a call after an answer gets a new token"
    );
    for token in [&first.body, &second.body] {
        assert_eq!(
            ts.token_owner(token),
            Some((mock::ANALYST_USER.to_owned(), 0))
        );
    }
    assert_eq!(ts.count(TOKEN_FULL), 2);
    let stats = service.stats();
    assert_eq!((stats.mints, stats.tokens, stats.joined), (2, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn overlapping_calls_for_one_identity_share_a_mint_and_later_ones_do_not() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_millis(500)), 1);
    let calls: Vec<_> = (0..8)
        .map(|_| tokio::spawn(send_owned(service.clone(), mock::ANALYST_USER)))
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "one mint for the overlapping calls");
    assert_eq!(ts.count(TOKEN_FULL), 1);
    assert_eq!(service.stats().joined, 7);
    let later = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    assert_ne!(later.body, tokens[0]);
    // Another user never joins a mint of this one.
    let other = send(&service, call_as(Some(mock::DEFAULT_USER))).await;
    assert_eq!(
        ts.token_owner(&other.body).map(|o| o.0).as_deref(),
        Some(mock::DEFAULT_USER)
    );
}

async fn send_owned(service: EmbedTokenService, user: &'static str) -> String {
    send(&service, call_as(Some(user))).await.body
}

#[tokio::test(start_paused = true)]
async fn json_when_asked_and_the_refusals_of_the_app() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    let mut request = call_as(Some(mock::ANALYST_USER));
    request.headers_mut().insert(
        "accept",
        http::HeaderValue::from_static("application/json, text/plain;q=0.5"),
    );
    let answer = send(&service, request).await;
    assert_eq!(answer.headers["content-type"], "application/json");
    let json: Value = serde_json::from_str(&answer.body).unwrap();
    let token = json["token"].as_str().unwrap();
    assert!(ts.token_owner(token).is_some());
    let expires = json["expiration_time_in_millis"].as_i64().unwrap();
    let now = ts.server_time_millis();
    assert!((expires - now - 120_000).abs() < 5_000, "valid 120 s");

    assert_eq!(send(&service, call_as(None)).await.status, 401);
    let mut refused = call_as(None);
    refused.extensions_mut().insert(AppSession {
        user: mock::ANALYST_USER.into(),
        allowed: false,
        region: None,
    });
    assert_eq!(send(&service, refused).await.status, 403);
    // A user name in the query string or body means nothing.
    let smuggled = http::Request::post("/api/thoughtspot/token?username=tsadmin")
        .body(Full::new(Bytes::from_static(b"username=tsadmin")))
        .unwrap();
    assert_eq!(send(&service, smuggled).await.status, 401);
    // A cross-origin preflight gets nothing that would let the page read a token.
    let preflight = http::Request::options("/api/thoughtspot/token")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(send(&service, preflight).await.status, 405);
    assert_eq!(ts.count(TOKEN_FULL), 1);
    let stats = service.stats();
    assert_eq!((stats.unauthenticated, stats.refused), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn abac_identities_mint_custom_tokens_that_see_their_rows() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    let mut tokens = Vec::new();
    for region in ["east", "west"] {
        let mut request = call_as(None);
        request.extensions_mut().insert(AppSession {
            user: mock::ANALYST_USER.into(),
            allowed: true,
            region: Some(region),
        });
        let answer = send(&service, request).await;
        assert_eq!(answer.status, 200);
        let rules = ts.token_attributes(&answer.body).unwrap();
        assert_eq!(rules["filter_rules"][0]["values"][0], region);
        tokens.push(answer.body);
    }
    assert_ne!(tokens[0], tokens[1]);
    assert_eq!(ts.count(TOKEN_CUSTOM), 2);
    assert_eq!(ts.count(TOKEN_FULL), 0);
}

#[tokio::test(start_paused = true)]
async fn revoke_user_ends_every_token_of_the_user() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    let a = send(&service, call_as(Some(mock::ANALYST_USER))).await.body;
    let b = send(&service, call_as(Some(mock::ANALYST_USER))).await.body;
    let other = send(&service, call_as(Some(mock::DEFAULT_USER))).await.body;
    assert_eq!(ts.live_tokens(), 3);
    service.revoke_user(mock::ANALYST_USER).await.unwrap();
    for (token, alive) in [(&a, false), (&b, false), (&other, true)] {
        let request = http::Request::get(format!("{}/callosum/v1/session/isactive", ts.base_url()))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let answer = hyper_client().oneshot(request).await.unwrap();
        assert_eq!(answer.status().is_success(), alive);
    }
    let debug = format!("{service:?}");
    assert!(!debug.contains(mock::DEFAULT_SECRET_KEY));
}

/// Tokens of the user that had already ended (revoked out of band) are no error: the call
/// ends whatever is left. ThoughtSpot unavailable is a failure.
#[tokio::test(start_paused = true)]
async fn revoke_user_of_tokens_already_ended_is_success() {
    const TOKEN_REVOKE: &str = "/api/rest/2.0/auth/token/revoke";
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    assert_eq!(
        send(&service, call_as(Some(mock::ANALYST_USER)))
            .await
            .status,
        200
    );
    assert_eq!(ts.revoke_tokens_of(mock::ANALYST_USER), 1);
    service.revoke_user(mock::ANALYST_USER).await.unwrap();
    assert_eq!(ts.live_tokens(), 0);
    ts.inject(
        TOKEN_REVOKE,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let error = service.revoke_user(mock::ANALYST_USER).await.unwrap_err();
    assert_eq!(error.kind(), thoughtspot_auth::ErrorKind::Unavailable);
}

#[tokio::test(start_paused = true)]
async fn a_persisted_rule_set_is_appended_once_then_replaced() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = EmbedTokenService::builder(ts.base_url(), mock::DEFAULT_SECRET_KEY)
        .transport(ServiceTransport::new(hyper_client()))
        .identity(
            |parts: &http::request::Parts| match parts.extensions.get::<AppSession>() {
                Some(s) => EmbedIdentity::from(ActAs::user(s.user.as_str()).attributes(
                    TokenAttributes::new(PersistOption::Append).filter(FilterRule::new(
                        "Region",
                        FilterOperator::Eq,
                        ["south"],
                    )),
                )),
                None => EmbedIdentity::Anonymous,
            },
        )
        .build()
        .unwrap();
    for _ in 0..3 {
        let answer = send(&service, call_as(Some("persisting-user-of-embed"))).await;
        assert_eq!(answer.status, 403, "unknown user, no auto-create");
        tokio::time::advance(Duration::from_secs(3600)).await;
    }
    ts.add_user(mock::MockUser::new("persisting-user-of-embed", "unused"));
    tokio::time::advance(Duration::from_secs(3600)).await;
    for _ in 0..3 {
        assert_eq!(
            send(&service, call_as(Some("persisting-user-of-embed")))
                .await
                .status,
            200
        );
    }
    let record = ts
        .persisted_attributes("persisting-user-of-embed", 0)
        .unwrap();
    assert_eq!(
        record["filter_rules"].as_array().unwrap().len(),
        1,
        "failed mints do not count; after the first APPEND, REPLACE"
    );
}

/// The endpoint reads its key from a source at each mint: a key rotated at ThoughtSpot and then
/// at the source costs one refused mint, tried again at once with the new key, and no failed
/// call; a key left stale fails the call, and no second attempt is made with it.
#[tokio::test(start_paused = true)]
async fn a_rotated_key_is_read_again_and_used_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use thoughtspot_auth::secrets::{SecretFn, SourceError};

    let ts = MockThoughtSpot::start().await.unwrap();
    let key = Arc::new(Mutex::new(mock::DEFAULT_SECRET_KEY.to_owned()));
    let reads = Arc::new(AtomicUsize::new(0));
    let source = {
        let (key, reads) = (key.clone(), reads.clone());
        SecretFn::new(move |_org| {
            let n = reads.fetch_add(1, Ordering::SeqCst);
            // Between the refused mint and the look after it, the vault learns the new key.
            if n == 2 {
                *key.lock().unwrap() = "the-rotated-key".to_owned();
            }
            let key = key.lock().unwrap().clone();
            async move { Ok::<_, SourceError>(key) }
        })
    };
    let service = builder(&ts).secret_key_from(source).build().unwrap();
    assert_eq!(
        send(&service, call_as(Some(mock::ANALYST_USER)))
            .await
            .status,
        200
    );
    ts.set_secret_key("the-rotated-key");
    assert_eq!(
        send(&service, call_as(Some(mock::ANALYST_USER)))
            .await
            .status,
        200
    );
    let minted: Vec<u16> = ts
        .requests()
        .iter()
        .filter(|r| r.path == "/api/rest/2.0/auth/token/full")
        .map(|r| r.status)
        .collect();
    assert_eq!(minted, [200, 401, 200]);
    assert_eq!(reads.load(Ordering::SeqCst), 3);

    ts.set_secret_key("rotated-again");
    let refused = send(&service, call_as(Some(mock::DEFAULT_USER))).await;
    assert_ne!(refused.status, 200);
    assert!(!refused.body.contains("rotated"), "{}", refused.body);
    assert_eq!(
        ts.count("/api/rest/2.0/auth/token/full"),
        4,
        "one attempt, no second"
    );
    assert_eq!(
        reads.load(Ordering::SeqCst),
        5,
        "the mint and one look after its refusal"
    );
}

#[tokio::test(start_paused = true)]
async fn an_identity_may_name_its_org_by_name() {
    const SESSION_USER: &str = "/api/rest/2.0/auth/session/user";
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.add_user(mock::MockUser::new("alice", "unused").orgs([0, 1, 2]));
    // One call a minute per user: the lookup's mint is the user's call's, not a second one.
    let service = builder(&ts)
        .identity(|parts: &http::request::Parts| {
            let org = parts.headers["x-org"].to_str().unwrap().to_owned();
            EmbedIdentity::from(ActAs::user("alice").org(org))
        })
        .per_user_rate(Some(thoughtspot_auth::embed::MintRate::per_minute(1, 1)))
        .build()
        .unwrap();
    let in_org = |org: &str| {
        let mut request = call_as(None);
        request
            .headers_mut()
            .insert("x-org", http::HeaderValue::from_str(org).unwrap());
        request
    };
    // Looked up once with alice's own token in her default org, then minted by id.
    let first = send(&service, in_org("Sales")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ts.token_owner(&first.body), Some(("alice".to_owned(), 1)));
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (2, 1));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let second = send(&service, in_org("Marketing")).await;
    assert_eq!(ts.token_owner(&second.body), Some(("alice".to_owned(), 2)));
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (3, 1));
    // A name ThoughtSpot does not list: refused as ThoughtSpot would, asked once a minute.
    for _ in 0..5 {
        let refused = send(&service, in_org("Nowhere")).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (4, 2));
    assert_eq!(service.stats().thoughtspot_refused, 5);
}

/// Rotated at ThoughtSpot while the source still gives the old key: two users the key minted
/// for before are refused with it, and every other user's mint with it is held (nothing sent),
/// not one stale mint per user.
#[tokio::test(start_paused = true)]
async fn a_rotated_key_costs_two_stale_mints_not_one_per_user() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let users: Vec<String> = (0..20).map(|i| format!("user-{i}")).collect();
    for user in &users {
        ts.add_user(mock::MockUser::new(user, "unused").orgs([0]));
    }
    let service = builder(&ts).build().unwrap();
    for user in &users {
        assert_eq!(send(&service, call_as(Some(user))).await.status, 200);
    }
    ts.set_secret_key("the-rotated-key");
    for user in &users {
        assert_eq!(send(&service, call_as(Some(user))).await.status, 403);
    }
    assert_eq!(ts.count(TOKEN_FULL), 20 + 2);
}

/// Users the key minted for in one org, refused in an org they do not belong to (403), say
/// nothing of the key there: a member of that org is still served.
#[tokio::test(start_paused = true)]
async fn refusals_in_an_org_the_users_never_minted_in_hold_no_key() {
    let ts = MockThoughtSpot::start().await.unwrap();
    for user in ["a", "b"] {
        ts.add_user(mock::MockUser::new(user, "unused").orgs([0]));
    }
    ts.add_user(mock::MockUser::new("member", "unused").orgs([0, 1]));
    let service = builder(&ts)
        .identity(|parts: &http::request::Parts| {
            let user = parts.headers["x-user"].to_str().unwrap().to_owned();
            let org: i64 = parts.headers["x-org"].to_str().unwrap().parse().unwrap();
            EmbedIdentity::from(ActAs::user(user).org(org))
        })
        .build()
        .unwrap();
    let call = |user: &str, org: i64| {
        let mut request = call_as(None);
        let headers = request.headers_mut();
        headers.insert("x-user", http::HeaderValue::from_str(user).unwrap());
        headers.insert("x-org", http::HeaderValue::from(org));
        request
    };
    for user in ["a", "b", "member"] {
        assert_eq!(send(&service, call(user, 0)).await.status, 200);
    }
    for user in ["a", "b"] {
        assert_eq!(send(&service, call(user, 1)).await.status, 403);
    }
    assert_eq!(send(&service, call("member", 1)).await.status, 200);
}
