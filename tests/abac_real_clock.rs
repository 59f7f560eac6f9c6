//! Access rules and the token endpoint on the multi-threaded runtime and the real clock, in
//! bounded loops: what real scheduling could break. Through the reqwest door here (the tower
//! door's isolation test is in `tests/multi_user.rs`), and the endpoint mounted in axum.

use std::collections::HashSet;

use axum::Router;
use axum::body::Body;
use futures_util::future::join_all;
use http_body_util::BodyExt;
use thoughtspot_auth::embed::{EmbedIdentity, EmbedTokenService, MintRate};
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::session::{FilterOperator, FilterRule, PersistOption};
use thoughtspot_auth::{ActAs, ThoughtSpotAuthLayer, TokenAttributes};
use tower::ServiceExt;

async fn mock_with_users(n: usize) -> MockThoughtSpot {
    let ts = MockThoughtSpot::builder()
        .record_requests(false)
        .start()
        .await
        .unwrap();
    for i in 0..n {
        ts.add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0, 1]));
    }
    ts
}

fn rules(region: &str) -> TokenAttributes {
    TokenAttributes::new(PersistOption::None).filter(FilterRule::new(
        "Region",
        FilterOperator::Eq,
        [region],
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_reqwest_every_request_runs_under_exactly_its_users_rules() {
    let ts = mock_with_users(10).await;
    let plain = reqwest::Client::new();
    let auth = ThoughtSpotAuthLayer::builder(ts.base_url())
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .build_middleware(plain.clone())
        .unwrap();
    let client = reqwest_middleware::ClientBuilder::new(plain)
        .with(auth)
        .build();
    let regions = ["east", "west", "north"];
    for round in 0..4 {
        let calls = (0..300).map(|i| {
            let (user, org, region) = (
                format!("user-{}", (i * 7 + round) % 10),
                (i % 2) as i64,
                regions[(i / 2) % 3],
            );
            let request = client
                .post(format!("{}/api/rest/2.0/searchdata", ts.base_url()))
                .header("content-type", "application/json")
                .body("{}")
                .with_extension(
                    ActAs::user(user.as_str())
                        .org(org)
                        .attributes(rules(region)),
                );
            async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
                assert_eq!(header("x-mock-user"), user);
                assert_eq!(header("x-mock-org"), org.to_string());
                let seen: serde_json::Value =
                    serde_json::from_str(&header(mock::RULES_HEADER)).unwrap();
                assert_eq!(seen["filter_rules"][0]["values"][0], region, "{user}");
                let body: serde_json::Value =
                    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
                assert!(
                    body["rows"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|row| row["Region"] == region)
                );
            }
        });
        join_all(calls).await;
        // Revocation between rounds forces replays under concurrency.
        ts.revoke_tokens_of(&format!("user-{round}"));
    }
}

#[derive(Clone)]
struct AppUser(String);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_endpoint_gives_every_call_a_fresh_token_of_its_own_user() {
    let ts = mock_with_users(30).await;
    let service = EmbedTokenService::builder(ts.base_url(), mock::DEFAULT_SECRET_KEY)
        .transport(reqwest::Client::new())
        .identity(
            |parts: &http::request::Parts| match parts.extensions.get::<AppUser>() {
                Some(AppUser(user)) => EmbedIdentity::from(ActAs::user(user.as_str())),
                None => EmbedIdentity::Anonymous,
            },
        )
        .per_user_rate(Some(MintRate::per_second(1000, 100)))
        .global_rate(Some(MintRate::per_second(5000, 100)))
        .build()
        .unwrap();
    let app = Router::new().route_service("/api/thoughtspot/token", service.clone());
    let per_user = join_all((0..30).map(|u| {
        let app = app.clone();
        tokio::spawn(async move {
            let user = format!("user-{u}");
            let mut tokens = Vec::new();
            // Each call after the previous one was answered.
            for _ in 0..10 {
                let mut request = http::Request::get("/api/thoughtspot/token")
                    .body(Body::empty())
                    .unwrap();
                request.extensions_mut().insert(AppUser(user.clone()));
                let response = app.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
                let body = response.into_body().collect().await.unwrap().to_bytes();
                tokens.push(String::from_utf8(body.to_vec()).unwrap());
            }
            (user, tokens)
        })
    }))
    .await;
    let mut all = HashSet::new();
    for joined in per_user {
        let (user, tokens) = joined.unwrap();
        for token in tokens {
            assert_eq!(ts.token_owner(&token).map(|o| o.0), Some(user.clone()));
            assert!(all.insert(token), "a token is never handed out twice");
        }
    }
    assert_eq!(all.len(), 300);
    let stats = service.stats();
    assert_eq!((stats.mints, stats.tokens, stats.joined), (300, 300, 0));
}
