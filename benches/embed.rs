//! The token endpoint of the Visual Embed SDK, side by side with what people write by hand.
//!
//! ```text
//! cargo bench --bench embed
//! ```
//!
//! - `embed/hand_written_axum` and `embed/embed_token_service`: one call to the endpoint,
//!   mounted in axum, each making one `token/full` round trip with `reqwest` to MockThoughtSpot
//!   over loopback. The hand-written handler is what ThoughtSpot's examples do: read the user
//!   from the app's session, post `{username, secret_key}`, return the token as text. The
//!   service's own time per call is the difference; the target is a ratio of at most 1.1.
//! - Before the group: 1,000 distinct users arrive at once at a service with a global mint rate
//!   of 500/s (bursts of 50). Every one must get a token, the mints seen by the transport must
//!   never exceed the rate in any one-second window, and the time-to-token percentiles are
//!   printed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use thoughtspot_auth::ActAs;
use thoughtspot_auth::embed::{EmbedIdentity, EmbedTokenService, MintRate};
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::transport::{Transport, TransportFuture};
use tokio::time::Instant;
use tower::ServiceExt;

const USERS: usize = 1_000;

/// What the app's auth middleware would have put into the request.
#[derive(Clone)]
struct AppUser(String);

fn call(user: &str) -> Request {
    let mut request = Request::get("/api/thoughtspot/token")
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(AppUser(user.to_owned()));
    request
}

fn identify(parts: &http::request::Parts) -> EmbedIdentity {
    match parts.extensions.get::<AppUser>() {
        Some(AppUser(user)) => EmbedIdentity::from(ActAs::user(user.as_str())),
        None => EmbedIdentity::Anonymous,
    }
}

/// ThoughtSpot's examples, in axum: the user from the session, one `token/full`, the token.
async fn hand_written(client: reqwest::Client, url: Arc<str>, request: Request) -> Response {
    let Some(AppUser(user)) = request.extensions().get::<AppUser>().cloned() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let body = serde_json::json!({
        "username": user,
        "secret_key": mock::DEFAULT_SECRET_KEY,
        "validity_time_in_sec": 300,
    });
    let answer = client
        .post(&*url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string())
        .send()
        .await;
    let Ok(answer) = answer else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Ok(bytes) = answer.bytes().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let token: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    match token["token"].as_str() {
        Some(token) => (
            [
                ("content-type", "text/plain"),
                ("cache-control", "no-store"),
            ],
            token.to_owned(),
        )
            .into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}

/// A transport that notes when each mint left.
#[derive(Clone)]
struct Noting {
    inner: reqwest::Client,
    sent: Arc<Mutex<Vec<Instant>>>,
}

impl Transport for Noting {
    fn send(&self, request: http::Request<Bytes>, max: usize) -> TransportFuture {
        self.sent.lock().unwrap().push(Instant::now());
        self.inner.send(request, max)
    }
}

async fn token(app: &Router, user: &str) -> Bytes {
    let response = app.clone().oneshot(call(user)).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap().to_bytes()
}

/// 1,000 users at once: everyone gets a token, at the rate, and how long it took.
async fn thousand_users(ts: &MockThoughtSpot, names: &[String]) {
    let rate = (500, 50);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let service = EmbedTokenService::builder(ts.base_url(), mock::DEFAULT_SECRET_KEY)
        .transport(Noting {
            inner: reqwest::Client::new(),
            sent: sent.clone(),
        })
        .identity(identify)
        .global_rate(Some(MintRate::per_second(rate.0, rate.1)))
        .max_queue_wait(Duration::from_secs(30))
        .build()
        .unwrap();
    let app = Router::new().route_service("/api/thoughtspot/token", service.clone());
    let start = Instant::now();
    let calls = names.iter().map(|name| {
        let app = app.clone();
        let name = name.clone();
        tokio::spawn(async move {
            token(&app, &name).await;
            start.elapsed()
        })
    });
    let mut took: Vec<Duration> = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        took.push(call.await.unwrap());
    }
    took.sort();
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), USERS, "one mint per user");
    let most_in_a_second = sent
        .iter()
        .map(|from| {
            sent.iter()
                .filter(|t| **t >= *from && **t < *from + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        most_in_a_second <= (rate.0 + rate.1) as usize,
        "{most_in_a_second} mints in one second"
    );
    let pct = |p: usize| took[(took.len() * p / 100).min(took.len() - 1)];
    println!(
        "embed/thousand_users: {} tokens, {} mints, at most {most_in_a_second} mints in any second \
         (rate {}/s, burst {}); time to token p50 {:?}, p99 {:?}, max {:?}",
        service.stats().tokens,
        service.stats().mints,
        rate.0,
        rate.1,
        pct(50),
        pct(99),
        took[took.len() - 1],
    );
}

fn embed(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (ts, names) = runtime.block_on(async {
        let ts = MockThoughtSpot::start().await.unwrap();
        let names: Vec<String> = (0..USERS).map(|i| format!("user-{i:04}")).collect();
        for name in &names {
            ts.add_user(MockUser::new(name.as_str(), "unused"));
        }
        (ts, names)
    });
    runtime.block_on(thousand_users(&ts, &names));
    // The mock keeps every token it minted: start the side-by-side from a clean slate.
    ts.revoke_all_tokens();

    let client = reqwest::Client::new();
    let url: Arc<str> = format!("{}/api/rest/2.0/auth/token/full", ts.base_url()).into();
    let hand = {
        let (client, url) = (client.clone(), url.clone());
        Router::new().route(
            "/api/thoughtspot/token",
            axum::routing::get(move |request: Request| {
                hand_written(client.clone(), url.clone(), request)
            }),
        )
    };
    let service = EmbedTokenService::builder(ts.base_url(), mock::DEFAULT_SECRET_KEY)
        .transport(client)
        .identity(identify)
        .per_user_rate(None)
        .global_rate(None)
        .build()
        .unwrap();
    let ours = Router::new().route_service("/api/thoughtspot/token", service);

    let mut group = c.benchmark_group("embed");
    let mut next = 0usize;
    let mut user = move || {
        next = (next + 7) % USERS;
        next
    };
    group.bench_function("hand_written_axum", |b| {
        b.to_async(&runtime).iter(|| token(&hand, &names[user()]))
    });
    group.bench_function("embed_token_service", |b| {
        b.to_async(&runtime).iter(|| token(&ours, &names[user()]))
    });
    group.finish();
}

criterion_group!(benches, embed);
criterion_main!(benches);
