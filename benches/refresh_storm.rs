//! Storms against MockThoughtSpot over loopback, on the real clock: 10,000 concurrent requests at
//! cold start (exactly one login), in steady state, and across a soft expiry (exactly one
//! refresh, and nobody waits for it); and the latency the very first request adds (one login
//! round trip, nothing more).
//!
//! ```sh
//! cargo bench --bench refresh_storm
//! STORM_REQUESTS=10000 STORM_ROUNDS=3 STORM_TOKEN_VALIDITY_SECS=30 STORM_FIRST_REQUEST_RUNS=25 \
//!     cargo bench --bench refresh_storm --bench refresh_storm
//! ```
//!
//! A bench binary of its own (`harness = false`) that prints tables, and exits non-zero if a
//! storm made more than one login or refresh.
//!
//! The stack is `ThoughtSpotAuthLayer` → `Stamp` → `Capped` → hyper-util's client. `Capped` lets
//! at most 256 requests use a connection at once (the others wait for a permit *inside* the
//! response future, so all 10,000 pass through the layer at once): one process holding 10,000
//! client and 10,000 server sockets would pass the file-descriptor limit, and 10,000 connects at
//! once overflow the listen backlog. `Stamp` notes when a request reached the service below the
//! layer, so that the time a request spent in the layer (waiting for a login, or not) is measured
//! apart from its time on the wire and in the queue for a connection.
//!
//! Per round, a new layer (token valid `V` seconds, 30 by default; `refresh_margin(V / 10)`): a
//! cold storm at `t0` (its login is sent at once, and the server holds it 250 ms so that all the
//! storm's requests wait for it together); a steady storm while the credential is fresh;
//! and a soft storm just after the latest soft deadline (`V - margin` after the login), well
//! before the hard one (`V - V / 20`) and the server's (`V`), so that every request of it is
//! sent while the credential is only soft-expired and answered before the server would reject
//! it. The steady and soft storms each follow another storm by the same 3 s, so that they are
//! measured alike. Why not a 4 s token: its soft window (0.2 to 0.4 s) is shorter than a
//! 10,000-request storm takes on a small machine, so requests would cross the hard or the
//! server's deadline and measure that instead.
//!
//! Targets: exactly one login per cold storm and one refresh per soft storm; the soft storm's
//! p99 within 1.2x of the steady one's; no request waiting in the layer during a soft refresh;
//! the first request adding one login round trip and nothing more.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot};
use thoughtspot_auth::session::{Session, TokenRequest};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{AuthHandle, BaseUrl, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{BoxError, Layer, Service, ServiceExt};

type HyperClient = Client<HttpConnector, Full<Bytes>>;
type Stack = ThoughtSpotAuthService<Stamp<Capped>>;

/// Connections in use at once, at most.
const CONNECTIONS: usize = 256;
/// How long the server takes over the cold storm's login.
const COLD_LOGIN_DELAY: Duration = Duration::from_millis(250);
const LOGIN_PATH: &str = "/api/rest/2.0/auth/token/full";
/// Idle time before each measured storm in steady state and across a soft expiry.
const GAP: Duration = Duration::from_secs(3);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn hyper_client() -> HyperClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// At most [`CONNECTIONS`] requests on the wire at once; the rest wait in their response future
/// (never in `poll_ready`, so the layer sees every request at once). The permit is held until
/// the response is dropped, its body read.
#[derive(Clone)]
struct Capped {
    client: HyperClient,
    permits: Arc<Semaphore>,
}

#[derive(Clone)]
struct Permit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

impl Service<Request<Full<Bytes>>> for Capped {
    type Response = Response<Incoming>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Incoming>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Full<Bytes>>) -> Self::Future {
        let permits = self.permits.clone();
        let client = self.client.clone();
        Box::pin(async move {
            let permit = permits.acquire_owned().await?;
            let mut response = client.request(request).await?;
            response.extensions_mut().insert(Permit(Arc::new(permit)));
            Ok(response)
        })
    }
}

/// When a request got past the layer, if it asked (see [`Reached`]).
#[derive(Clone)]
struct Stamp<S>(S);

/// Set once, when the request reached the service below the layer (a replay keeps the first).
#[derive(Clone, Default)]
struct Reached(Arc<OnceLock<Instant>>);

impl<S: Service<Request<Full<Bytes>>>> Service<Request<Full<Bytes>>> for Stamp<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Full<Bytes>>) -> Self::Future {
        if let Some(reached) = request.extensions().get::<Reached>() {
            let _ = reached.0.set(Instant::now());
        }
        self.0.call(request)
    }
}

fn search(base: &str) -> Request<Full<Bytes>> {
    Request::post(format!("{base}/api/rest/2.0/metadata/search"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::default())
        .expect("a valid request")
}

/// One request's times: from sent to answered (body read), and from sent to past the layer.
#[derive(Clone, Copy)]
struct Sample {
    total: Duration,
    in_layer: Duration,
    /// When it got past the layer.
    passed: Instant,
    ok: bool,
}

async fn one(service: Stack, base: Arc<str>) -> Sample {
    let reached = Reached::default();
    let mut request = search(&base);
    request.extensions_mut().insert(reached.clone());
    let sent = Instant::now();
    let ok = match service.oneshot(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            body.collect().await.is_ok() && parts.status == http::StatusCode::OK
        }
        Err(_) => false,
    };
    let total = sent.elapsed();
    let passed = reached.0.get().copied().unwrap_or(sent + total);
    Sample {
        total,
        in_layer: passed.saturating_duration_since(sent),
        passed,
        ok,
    }
}

/// `n` requests at once, each a task of its own.
async fn storm(service: &Stack, base: &Arc<str>, n: usize) -> Vec<Sample> {
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(one(service.clone(), base.clone())))
        .collect();
    let mut samples = Vec::with_capacity(n);
    for task in tasks {
        samples.push(task.await.expect("a request task panicked"));
    }
    samples
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50, p99 and max of `samples` by `field`.
fn spread(samples: &[Sample], field: fn(&Sample) -> Duration) -> [Duration; 3] {
    let mut values: Vec<Duration> = samples.iter().map(field).collect();
    values.sort_unstable();
    [
        percentile(&values, 0.50),
        percentile(&values, 0.99),
        *values.last().expect("samples"),
    ]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

#[derive(Default)]
struct Phase {
    samples: Vec<Sample>,
    logins: u64,
    mock_logins: usize,
    refreshes: u64,
    replays: u64,
    invalidations: u64,
}

impl Phase {
    fn failed(&self) -> usize {
        self.samples.iter().filter(|s| !s.ok).count()
    }

    fn row(&self, name: &str) -> String {
        let [t50, t99, tmax] = spread(&self.samples, |s| s.total);
        let [l50, l99, lmax] = spread(&self.samples, |s| s.in_layer);
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.samples.len(),
            self.failed(),
            self.logins,
            self.mock_logins,
            self.refreshes,
            self.replays,
            ms(t50),
            ms(t99),
            ms(tmax),
            ms(l50),
            ms(l99),
            ms(lmax),
        )
    }

    fn absorb(&mut self, other: Phase) {
        self.samples.extend(other.samples);
        self.logins += other.logins;
        self.mock_logins += other.mock_logins;
        self.refreshes += other.refreshes;
        self.replays += other.replays;
        self.invalidations += other.invalidations;
    }
}

const HEADER: &str = "| phase | requests | failed | logins (layer) | logins (server) | refreshes | replays | total p50 ms | total p99 ms | total max ms | in layer p50 ms | in layer p99 ms | in layer max ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|";

fn stack(mock: &MockThoughtSpot, validity: Duration) -> (Stack, AuthHandle) {
    let layer = ThoughtSpotAuthLayer::builder(mock.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .token_validity(validity)
        .refresh_margin(validity / 10)
        .build()
        .expect("the layer builds");
    let handle = layer.handle();
    let inner = Stamp(Capped {
        client: hyper_client(),
        permits: Arc::new(Semaphore::new(CONNECTIONS)),
    });
    (layer.layer(inner), handle)
}

struct Round {
    cold: Phase,
    steady: Phase,
    soft: Phase,
    problems: Vec<String>,
}

/// A phase's counts: what the layer and the server did between `before` and now.
fn phase(
    samples: Vec<Sample>,
    handle: &AuthHandle,
    before: &thoughtspot_auth::AuthStats,
    mock: &MockThoughtSpot,
    mock_before: usize,
) -> Phase {
    let after = handle.stats();
    Phase {
        samples,
        logins: after.logins - before.logins,
        mock_logins: mock.logins() - mock_before,
        refreshes: after.refreshes - before.refreshes,
        replays: after.replays - before.replays,
        invalidations: after.invalidations - before.invalidations,
    }
}

async fn round(mock: &MockThoughtSpot, n: usize, validity: Duration) -> Round {
    let base: Arc<str> = mock.base_url().into();
    let (service, handle) = stack(mock, validity);
    let mut problems = Vec::new();

    // Cold start: the first of these requests starts the one login, at once. The server takes
    // its time over that login, so that every request of the storm is in the layer, waiting,
    // while it is under way: single flight is tested with all of them at once.
    mock.clear_log();
    mock.inject(LOGIN_PATH, Fault::Delay(COLD_LOGIN_DELAY), 1);
    let (before, mock_before) = (handle.stats(), mock.logins());
    let t0 = Instant::now();
    let samples = storm(&service, &base, n).await;
    let cold = phase(samples, &handle, &before, mock, mock_before);

    // The soft deadline is between `validity - 1.5 margin` and `validity - margin` after the
    // login (sent just after t0), the hard one at `validity - validity / 20`, the server's at
    // `validity`.
    let margin = validity / 10;
    let soft_earliest = t0 + validity - margin - margin / 2;
    let soft_from = t0 + validity - margin + Duration::from_millis(50);
    let hard_from = t0 + validity - validity / 20;

    // Steady state (the credential is fresh), measured as the soft storm will be: `GAP` after
    // another storm (an unmeasured one), since how long the process was idle before a storm
    // changes its latency on a busy machine more than anything the layer does.
    let steady_at = soft_from - GAP;
    tokio::time::sleep_until((steady_at - GAP).into()).await;
    drop(storm(&service, &base, n).await);
    tokio::time::sleep_until(steady_at.into()).await;
    mock.clear_log();
    let (before, mock_before) = (handle.stats(), mock.logins());
    let samples = storm(&service, &base, n).await;
    let steady = phase(samples, &handle, &before, mock, mock_before);
    if Instant::now() >= soft_earliest {
        problems.push(format!(
            "the steady storm ended {:.2} s after t0, when the credential may be soft-expired \
             already ({:.2} s): use a longer STORM_TOKEN_VALIDITY_SECS",
            t0.elapsed().as_secs_f64(),
            (soft_earliest - t0).as_secs_f64()
        ));
    }

    // Across a soft expiry.
    tokio::time::sleep_until(soft_from.into()).await;
    mock.clear_log();
    let (before, mock_before) = (handle.stats(), mock.logins());
    let samples = storm(&service, &base, n).await;
    let last_passed = samples.iter().map(|s| s.passed).max().expect("samples");
    if last_passed >= hard_from {
        problems.push(format!(
            "the soft storm's last request passed the layer {:.3} s after t0, past the earliest \
             hard deadline ({:.3} s): use a longer STORM_TOKEN_VALIDITY_SECS",
            (last_passed - t0).as_secs_f64(),
            (hard_from - t0).as_secs_f64()
        ));
    }
    // The background refresh may end after the storm's last answer.
    let wait_until = Instant::now() + Duration::from_secs(5);
    while handle.stats().logins == before.logins && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let soft = phase(samples, &handle, &before, mock, mock_before);
    if soft.logins != 1 || soft.refreshes != 1 || soft.mock_logins != 1 {
        problems.push(format!(
            "the soft storm made {} logins ({} at the server), {} refreshes: want exactly 1",
            soft.logins, soft.mock_logins, soft.refreshes
        ));
    }
    if cold.logins != 1 || cold.mock_logins != 1 {
        problems.push(format!(
            "the cold storm made {} logins ({} at the server): want exactly 1",
            cold.logins, cold.mock_logins
        ));
    }
    if steady.logins != 0 {
        problems.push(format!("the steady storm made {} logins", steady.logins));
    }
    for (name, p) in [("cold", &cold), ("steady", &steady), ("soft", &soft)] {
        if p.failed() > 0 {
            problems.push(format!(
                "{} requests of the {name} storm failed",
                p.failed()
            ));
        }
        if p.replays > 0 || p.invalidations > 0 {
            problems.push(format!(
                "the {name} storm saw {} invalidations and {} replays",
                p.invalidations, p.replays
            ));
        }
    }
    Round {
        cold,
        steady,
        soft,
        problems,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

/// The very first request through a new layer and a new client (connect, login, request),
/// against a plain first request on a new client with a token minted beforehand (connect,
/// request); the difference is what the layer adds, to be compared with a login round trip on an
/// open connection.
async fn first_requests(mock: &MockThoughtSpot, runs: usize) -> String {
    let base: Arc<str> = mock.base_url().into();
    let login = TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD);
    let url = BaseUrl::parse(&base).expect("the mock's URL");
    let minted = Session::new(url.clone(), ServiceTransport::new(hyper_client()))
        .v2()
        .token_full(&login)
        .await
        .expect("a token");
    let (name, value) = minted.credential.header();

    let (mut first, mut first_in_layer, mut warm, mut plain_first, mut login_rtt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (service, handle) = stack(mock, Duration::from_secs(300));
        let sample = one(service.clone(), base.clone()).await;
        assert!(sample.ok && handle.stats().logins == 1);
        first.push(sample.total);
        first_in_layer.push(sample.in_layer);
        warm.push(one(service, base.clone()).await.total);

        let client = hyper_client();
        let mut request = search(&base);
        request.headers_mut().insert(name.clone(), value.clone());
        let started = Instant::now();
        let response = client.request(request).await.expect("an answer");
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.expect("a body");
        plain_first.push(started.elapsed());

        let session = Session::new(url.clone(), ServiceTransport::new(hyper_client()));
        session.v2().token_full(&login).await.expect("a token");
        let started = Instant::now();
        session.v2().token_full(&login).await.expect("a token");
        login_rtt.push(started.elapsed());
    }
    let (first, first_in_layer, warm, plain_first, login_rtt) = (
        median(first),
        median(first_in_layer),
        median(warm),
        median(plain_first),
        median(login_rtt),
    );
    let added = first.saturating_sub(plain_first);
    format!(
        "| first request through a new layer and client (connect, login, request) | {} |\n\
         | of which waiting in the layer (connect, login) | {} |\n\
         | first request on a new plain client, token minted beforehand (connect, request) | {} |\n\
         | **added by the layer** | **{}** |\n\
         | a login round trip on an open connection (`token/full` alone) | {} |\n\
         | second request through the layer (warm credential, pooled connection) | {} |",
        ms(first),
        ms(first_in_layer),
        ms(plain_first),
        ms(added),
        ms(login_rtt),
        ms(warm),
    )
}

fn main() {
    let n: usize = env_or("STORM_REQUESTS", 10_000);
    let rounds: usize = env_or("STORM_ROUNDS", 3);
    let validity = Duration::from_secs(env_or("STORM_TOKEN_VALIDITY_SECS", 30));
    let first_runs: usize = env_or("STORM_FIRST_REQUEST_RUNS", 25);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let problems = runtime.block_on(async {
        let mock = MockThoughtSpot::start().await.expect("the mock starts");
        println!(
            "refresh_storm: {n} concurrent requests per storm, {rounds} rounds, tokens valid {} s \
             (refresh margin {} s), at most {CONNECTIONS} connections, {} worker threads\n",
            validity.as_secs(),
            validity.as_secs_f64() / 10.0,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        );
        let (mut cold, mut steady, mut soft) =
            (Phase::default(), Phase::default(), Phase::default());
        let mut ratios = Vec::new();
        let mut problems = Vec::new();
        println!("{HEADER}");
        for r in 0..rounds {
            let round = round(&mock, n, validity).await;
            println!("{}", round.cold.row(&format!("round {r}: cold start")));
            println!("{}", round.steady.row(&format!("round {r}: steady")));
            println!("{}", round.soft.row(&format!("round {r}: soft refresh")));
            let p99 = |p: &Phase| spread(&p.samples, |s| s.total)[1].as_secs_f64();
            ratios.push(p99(&round.soft) / p99(&round.steady));
            cold.absorb(round.cold);
            steady.absorb(round.steady);
            soft.absorb(round.soft);
            problems.extend(round.problems);
        }
        println!("\nAll rounds:\n\n{HEADER}");
        println!("{}", cold.row("cold start"));
        println!("{}", steady.row("steady"));
        println!("{}", soft.row("soft refresh"));
        let [_, steady_p99, _] = spread(&steady.samples, |s| s.total);
        let [_, soft_p99, _] = spread(&soft.samples, |s| s.total);
        let [_, steady_layer_p99, _] = spread(&steady.samples, |s| s.in_layer);
        let [_, soft_layer_p99, _] = spread(&soft.samples, |s| s.in_layer);
        println!(
            "\nsoft refresh p99 / steady p99: {:.3} (total), {:.3} (in the layer); target: total \
             within 1.2x",
            soft_p99.as_secs_f64() / steady_p99.as_secs_f64(),
            soft_layer_p99.as_secs_f64() / steady_layer_p99.as_secs_f64(),
        );
        println!(
            "soft refresh p99 / steady p99 (total), round by round: {}",
            ratios
                .iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("\nThe first request, medians of {first_runs} runs:\n\n| | ms |\n|---|---|");
        println!("{}", first_requests(&mock, first_runs).await);
        problems
    });
    if !problems.is_empty() {
        eprintln!("\nPROBLEMS:");
        for problem in &problems {
            eprintln!("- {problem}");
        }
        std::process::exit(1);
    }
}
