//! End to end over loopback against MockThoughtSpot: requests per second with and without the
//! layer, through hyper-util's client and through reqwest / reqwest-middleware.
//!
//! Every id sends `POST /api/rest/2.0/metadata/search` with a small JSON body and reads the whole
//! answer. "Plain" ids attach a token minted once beforehand (what the layer saves you from
//! writing); the layer and the middleware log in on their first request (in the warm-up) and
//! attach their cached token from then on. Criterion reports time per request and requests per
//! second (`thrpt`); the target is the layer at 0.95 or more of plain.
//!
//! - `end_to_end`: one request at a time.
//! - `end_to_end_concurrent`: 16 requests in flight at once (the client and the mock share the
//!   machine's cores, so this is CPU-bound rather than latency-bound).
//!
//! `hyper_layer` runs the default configuration (replay on): the request's parts are kept packed
//! in one buffer and its `Full<Bytes>` body by a clone of its `Bytes`. `hyper_layer_no_replay`
//! is `.replay(false)`.
//! `reqwest_middleware_empty` is reqwest-middleware with no middleware at all, to tell its own cost
//! from the auth middleware's.
//!
//! - `end_to_end_side_by_side`: the ratios, measured side by side. Each sample of `one_at_a_time`
//!   (`concurrent`) sends its requests through every id above in chunks of 256 that take turns,
//!   the order rotated each round (see `side_by_side/mod.rs`); each id's ratio to its plain
//!   client is computed within the sample and printed as median and interquartile range. On a
//!   shared VM these are the numbers to trust. (Criterion's own time for these ids is the sum of
//!   all six.)
//!
//! ```sh
//! cargo bench --bench end_to_end -- --warm-up-time 2 --measurement-time 5
//! cargo bench --bench end_to_end -- side_by_side    # the ratios alone
//! ```

mod side_by_side;

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::session::{Session, TokenRequest};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{AuthHandle, BaseUrl, ThoughtSpotAuthLayer, ThoughtSpotAuthMiddleware};
use tower::{Layer, ServiceExt};

type HyperClient = Client<HttpConnector, Full<Bytes>>;

const BODY: &[u8] = br#"{"metadata":[{"type":"LIVEBOARD"}]}"#;
const IN_FLIGHT: usize = 16;
/// Requests an id sends before the next takes its turn, side by side.
const CHUNK: u64 = 256;

fn hyper_client() -> HyperClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn search(url: &str) -> Request<Full<Bytes>> {
    Request::post(url)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(BODY)))
        .expect("a valid request")
}

/// What each id needs to send one request.
struct Setup {
    runtime: tokio::runtime::Runtime,
    mock: MockThoughtSpot,
    url: String,
    token: (HeaderName, HeaderValue),
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (mock, token) = runtime.block_on(async {
        let mock = MockThoughtSpot::start().await.expect("the mock starts");
        let session = Session::new(
            BaseUrl::parse(&mock.base_url()).expect("the mock's URL"),
            ServiceTransport::new(hyper_client()),
        );
        let login = session
            .v2()
            .token_full(
                &TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
                    .validity_secs(3600),
            )
            .await
            .expect("a token");
        (mock, login.credential.header())
    });
    let url = format!("{}/api/rest/2.0/metadata/search", mock.base_url());
    Setup {
        runtime,
        mock,
        url,
        token,
    }
}

/// Times `iters` requests made by `one`, `in_flight` at a time; clears the mock's request log
/// afterwards, outside the timed region.
fn run<F, Fut>(setup: &Setup, iters: u64, in_flight: usize, one: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let elapsed = setup.runtime.block_on(async {
        let started = Instant::now();
        if in_flight == 1 {
            for _ in 0..iters {
                one().await;
            }
        } else {
            futures_util::stream::iter(0..iters)
                .map(|_| one())
                .buffer_unordered(in_flight)
                .for_each(|()| async {})
                .await;
        }
        started.elapsed()
    });
    setup.mock.clear_log();
    elapsed
}

/// Each id's name and run.
type Runs<'a> = Vec<(&'static str, side_by_side::Run<'a>)>;

/// Every id, each in a criterion id of its own; afterwards, that the layer and the middleware
/// logged in at most once (none if a filter left them out).
fn ids(group: &mut BenchmarkGroup<'_, WallTime>, setup: &Setup, in_flight: usize) {
    let (runs, handles) = runs(setup, in_flight);
    for (id, mut run) in runs {
        group.bench_function(id, |b| b.iter_custom(&mut run));
    }
    for (id, handle) in handles {
        let logins = handle.stats().logins;
        assert!(logins <= 1, "{id}: {logins} logins in one run");
    }
}

/// Every id as a run of `iters` requests (hyper-util alone, under the layer with replay on and
/// off, reqwest alone, reqwest-middleware with no middleware and with the auth middleware), and
/// the handles of the layers and the middleware.
fn runs<'a>(setup: &'a Setup, in_flight: usize) -> (Runs<'a>, Vec<(&'static str, AuthHandle)>) {
    let url = setup.url.as_str();
    let (name, value) = &setup.token;
    let mut runs: Runs<'a> = Vec::new();
    let mut handles = Vec::new();

    let client = hyper_client();
    runs.push((
        "hyper_plain",
        Box::new(move |iters| {
            run(setup, iters, in_flight, || {
                let client = client.clone();
                let mut request = search(url);
                request.headers_mut().insert(name.clone(), value.clone());
                async move {
                    let response = client.request(request).await.expect("an answer");
                    assert_eq!(response.status(), 200);
                    response.into_body().collect().await.expect("a body");
                }
            })
        }),
    ));
    for (id, replay) in [("hyper_layer", true), ("hyper_layer_no_replay", false)] {
        let layer = ThoughtSpotAuthLayer::builder(setup.mock.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .replay(replay)
            .build()
            .expect("the layer builds");
        handles.push((id, layer.handle()));
        let service = layer.layer(hyper_client());
        runs.push((
            id,
            Box::new(move |iters| {
                run(setup, iters, in_flight, || {
                    let service = service.clone();
                    let request = search(url);
                    async move {
                        let response = service.oneshot(request).await.expect("an answer");
                        assert_eq!(response.status(), 200);
                        response.into_body().collect().await.expect("a body");
                    }
                })
            }),
        ));
    }
    let plain = reqwest::Client::new();
    let empty = reqwest_middleware::ClientBuilder::new(plain.clone()).build();
    let auth = ThoughtSpotAuthMiddleware::builder(setup.mock.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .build_middleware(plain.clone())
        .expect("the middleware builds");
    handles.push(("reqwest_middleware", auth.handle()));
    let with_auth = reqwest_middleware::ClientBuilder::new(plain.clone())
        .with(auth)
        .build();
    runs.push((
        "reqwest_plain",
        Box::new(move |iters| {
            run(setup, iters, in_flight, || {
                let request = plain
                    .post(url)
                    .header(ACCEPT, "application/json")
                    .header(CONTENT_TYPE, "application/json")
                    .header(name.clone(), value.clone())
                    .body(BODY);
                async move {
                    let response = request.send().await.expect("an answer");
                    assert_eq!(response.status(), 200);
                    response.bytes().await.expect("a body");
                }
            })
        }),
    ));
    for (id, client, token) in [
        ("reqwest_middleware_empty", empty, true),
        ("reqwest_middleware", with_auth, false),
    ] {
        runs.push((
            id,
            Box::new(move |iters| {
                run(setup, iters, in_flight, || {
                    let mut request = client
                        .post(url)
                        .header(ACCEPT, "application/json")
                        .header(CONTENT_TYPE, "application/json");
                    if token {
                        request = request.header(name.clone(), value.clone());
                    }
                    let request = request.body(BODY);
                    async move {
                        let response = request.send().await.expect("an answer");
                        assert_eq!(response.status(), 200);
                        response.bytes().await.expect("a body");
                    }
                })
            }),
        ));
    }
    (runs, handles)
}

/// Prints each id's throughput relative to its plain client, measured side by side.
fn report_ratios(mode: &str, samples: &side_by_side::Samples) {
    let ratio = |id: &'static str, base: &'static str| {
        samples.summary(move |s, sample| s.of(sample, base) / s.of(sample, id))
    };
    let layer = ratio("hyper_layer", "hyper_plain");
    if layer.samples == 0 {
        return;
    }
    println!(
        "\nend to end side by side, {mode} (requests per second relative to the plain client, same sample):"
    );
    for id in [
        "hyper_plain",
        "hyper_layer",
        "hyper_layer_no_replay",
        "reqwest_plain",
        "reqwest_middleware_empty",
        "reqwest_middleware",
    ] {
        println!(
            "  {id:<26} {:>10.0} requests/s (median)",
            1e9 / samples.median_of(id)
        );
    }
    println!("  hyper_layer / hyper_plain                      {layer}  target >= 0.95");
    println!(
        "  hyper_layer_no_replay / hyper_plain            {}  target >= 0.95",
        ratio("hyper_layer_no_replay", "hyper_plain")
    );
    println!(
        "  reqwest_middleware / reqwest_plain             {}",
        ratio("reqwest_middleware", "reqwest_plain")
    );
    println!(
        "  reqwest_middleware / reqwest_middleware_empty  {}\n",
        ratio("reqwest_middleware", "reqwest_middleware_empty")
    );
}

fn end_to_end(c: &mut Criterion) {
    let setup = setup();
    let mut group = c.benchmark_group("end_to_end");
    group.throughput(Throughput::Elements(1));
    ids(&mut group, &setup, 1);
    group.finish();

    let mut group = c.benchmark_group("end_to_end_concurrent");
    group.throughput(Throughput::Elements(1));
    ids(&mut group, &setup, IN_FLIGHT);
    group.finish();

    let mut group = c.benchmark_group("end_to_end_side_by_side");
    let (names, mut one_at_a_time): (Vec<_>, Vec<_>) = runs(&setup, 1).0.into_iter().unzip();
    let one = side_by_side::bench(&mut group, "one_at_a_time", &names, |iters| {
        side_by_side::interleaved(&mut one_at_a_time, iters, CHUNK)
    });
    let (names, mut in_flight): (Vec<_>, Vec<_>) = runs(&setup, IN_FLIGHT).0.into_iter().unzip();
    let concurrent = side_by_side::bench(&mut group, "concurrent", &names, |iters| {
        side_by_side::interleaved(&mut in_flight, iters, CHUNK)
    });
    group.finish();
    report_ratios("one request at a time", &one);
    report_ratios(&format!("{IN_FLIGHT} in flight"), &concurrent);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    targets = end_to_end
}
criterion_main!(benches);
