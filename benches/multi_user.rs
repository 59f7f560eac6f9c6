//! The cached path of multi-user trusted authentication: what finding one of 10,000 users'
//! credentials costs per request, against the single-user hot path, measured side by side.
//!
//! ```text
//! cargo bench --bench multi_user
//! ```
//!
//! Both ids send the same request (a GET to a v2.0 path, empty body) through a ready
//! `ThoughtSpotAuthService` whose inner service is a no-op; the multi-user id's request carries
//! an `ActAs` for one of 10,000 users whose tokens are all cached. Requests are built outside the
//! timed region (inserting `ActAs` is the application's cost, not the layer's).

use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http::{Request, Response};
use http_body_util::{Empty, Full};
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{ActAs, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
use tower::{Layer, Service};

const USERS: usize = 10_000;
const URL: &str = "/api/rest/2.0/metadata/search";

/// An inner service that does nothing.
#[derive(Clone)]
struct Noop;

impl Service<Request<Full<Bytes>>> for Noop {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        std::future::ready(Ok(Response::new(Empty::new())))
    }
}

fn request(base: &str, user: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get(format!("{base}{URL}"))
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    if let Some(user) = user {
        request.extensions_mut().insert(ActAs::user(user));
    }
    request
}

fn send(service: &mut ThoughtSpotAuthService<Noop>, request: Request<Full<Bytes>>) {
    let response = service
        .call(request)
        .now_or_never()
        .expect("a warm credential needs no waiting")
        .expect("the no-op answers");
    std::hint::black_box(response);
}

fn multi_user(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let (thoughtspot, mut single, mut multi, names) = runtime.block_on(async {
        let thoughtspot = MockThoughtSpot::start().await.unwrap();
        let names: Vec<String> = (0..USERS).map(|i| format!("user-{i:05}")).collect();
        for name in &names {
            thoughtspot.add_user(MockUser::new(name.as_str(), "unused"));
        }
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let base = thoughtspot.base_url();
        let single = ThoughtSpotAuthLayer::builder(&base)
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .transport(ServiceTransport::new(client.clone()))
            .replay(false)
            .build()
            .unwrap()
            .layer(Noop);
        let multi = ThoughtSpotAuthLayer::builder(&base)
            .act_as_users(mock::DEFAULT_SECRET_KEY)
            .transport(ServiceTransport::new(client))
            .replay(false)
            .build()
            .unwrap()
            .layer(Noop);
        // Warm every credential: the first request of each user waits for its mint.
        single.clone().call(request(&base, None)).await.unwrap();
        for chunk in names.chunks(500) {
            futures_util::future::join_all(chunk.iter().map(|name| {
                let mut multi = multi.clone();
                let request = request(&base, Some(name));
                async move { multi.call(request).await.unwrap() }
            }))
            .await;
        }
        assert_eq!(multi.handle().cache_size(), USERS);
        (thoughtspot, single, multi, names)
    });
    let base = thoughtspot.base_url();

    let mut group = c.benchmark_group("multi_user");
    group.bench_function("single_user_hot_path", |b| {
        b.iter_batched(
            || request(&base, None),
            |r| send(&mut single, r),
            BatchSize::SmallInput,
        )
    });
    let mut next = 0usize;
    group.bench_function("ten_thousand_users_cached", |b| {
        b.iter_batched(
            || {
                next = (next + 7919) % USERS;
                request(&base, Some(&names[next]))
            },
            |r| send(&mut multi, r),
            BatchSize::SmallInput,
        )
    });
    group.finish();
    let logins = multi.handle().stats().logins;
    assert_eq!(
        logins, USERS as u64,
        "every measured request found its cached token"
    );
}

criterion_group!(benches, multi_user);
criterion_main!(benches);
