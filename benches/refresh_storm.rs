//! Storms against MockThoughtSpot over loopback, on the real clock: 10,000 concurrent requests at
//! cold start (exactly one login), in steady state, and across a soft expiry (exactly one
//! refresh, and nobody waits for it); and the latency the very first request adds (one login
//! round trip, nothing more).
//!
//! ```sh
//! cargo bench --bench refresh_storm
//! STORM_REQUESTS=10000 STORM_ROUNDS=5 STORM_TOKEN_VALIDITY_SECS=30 STORM_FIRST_REQUEST_RUNS=25 \
//!     cargo bench --bench refresh_storm
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
//! Per round, a new layer (token valid `V` seconds, 30 by default; `refresh_margin(V / 10)`) and
//! its cold storm at `t0` (its login is sent at once, and the server holds it 250 ms so that all
//! the storm's requests wait for it together); the rounds' cold storms come 5 s apart. Then, for
//! each round, a soft storm just after the latest soft deadline (`V - margin` after its login),
//! well before the hard one (`V - V / 20`) and the server's (`V`), so that every request of it
//! is sent while the credential is only soft-expired and answered before the server would reject
//! it. Why not a 4 s token: its soft window (0.2 to 0.4 s) is shorter than a 10,000-request
//! storm takes on a small machine, so requests would cross the hard or the server's deadline and
//! measure that instead.
//!
//! **Side by side.** Each soft storm is sent together with a steady storm of as many requests
//! through another layer, over the same client, whose credential stays fresh (valid an hour):
//! their requests are spawned in turns and share the connections. A storm's p99 is its time
//! queued for one of the 256 connections, and on a shared machine that moves from one storm to
//! the next by more than 5x; two storms sent together meet the same machine, and the ratio of
//! their p99s says what the soft refresh itself costs. The target is on the median of the
//! rounds' ratios.
//!
//! Targets: exactly one login per cold storm and one refresh per soft storm; the soft storm's
//! p99 within 1.2x of the steady one's sent alongside it; no request waiting in the layer during
//! a soft refresh; the first request adding one login round trip and nothing more.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
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
/// Time between the rounds' cold storms, and so between their soft storms.
const SPACING: Duration = Duration::from_secs(5);
/// The steady layer's token validity: it stays fresh throughout.
const STEADY_VALIDITY: Duration = Duration::from_secs(3600);

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
    /// The latest login's exchange as this client saw it: from the request handed to it (with a
    /// permit) to its answer's head (connect included, if the login opened the connection).
    login_exchange: Arc<Mutex<Option<Duration>>>,
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
        let login_exchange =
            (request.uri().path() == LOGIN_PATH).then(|| self.login_exchange.clone());
        Box::pin(async move {
            let permit = permits.acquire_owned().await?;
            let started = Instant::now();
            let mut response = client.request(request).await?;
            if let Some(login_exchange) = login_exchange {
                *login_exchange.lock().expect("not poisoned") = Some(started.elapsed());
            }
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

/// Milliseconds to the microsecond, for the first request's parts.
fn ms3(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
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

fn capped() -> Capped {
    Capped {
        client: hyper_client(),
        permits: Arc::new(Semaphore::new(CONNECTIONS)),
        login_exchange: Arc::default(),
    }
}

/// A new layer over `inner` (shared by every stack, so that they draw on one pool of
/// connections and one queue for them).
fn stack(mock: &MockThoughtSpot, validity: Duration, inner: &Capped) -> (Stack, AuthHandle) {
    let layer = ThoughtSpotAuthLayer::builder(mock.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .token_validity(validity)
        .refresh_margin(validity / 10)
        .build()
        .expect("the layer builds");
    let handle = layer.handle();
    (layer.layer(Stamp(inner.clone())), handle)
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

/// A round's layer after its cold storm, waiting for its soft expiry.
struct Cold {
    service: Stack,
    handle: AuthHandle,
    /// When its storm, and with it the login, started.
    t0: Instant,
    phase: Phase,
}

/// A new layer and its cold storm: the first of these requests starts the one login, at once.
/// The server takes its time over that login, so that every request of the storm is in the
/// layer, waiting, while it is under way: single flight is tested with all of them at once.
async fn cold_storm(
    mock: &MockThoughtSpot,
    n: usize,
    validity: Duration,
    inner: &Capped,
    problems: &mut Vec<String>,
) -> Cold {
    let base: Arc<str> = mock.base_url().into();
    let (service, handle) = stack(mock, validity, inner);
    mock.clear_log();
    mock.inject(LOGIN_PATH, Fault::Delay(COLD_LOGIN_DELAY), 1);
    let (before, mock_before) = (handle.stats(), mock.logins());
    let t0 = Instant::now();
    let samples = storm(&service, &base, n).await;
    let phase = phase(samples, &handle, &before, mock, mock_before);
    if phase.logins != 1 || phase.mock_logins != 1 {
        problems.push(format!(
            "the cold storm made {} logins ({} at the server): want exactly 1",
            phase.logins, phase.mock_logins
        ));
    }
    Cold {
        service,
        handle,
        t0,
        phase,
    }
}

/// `n` requests through each of two stacks at once, sent in turns (a task each), so that both
/// storms meet the same machine: whatever else it is doing slows both alike.
async fn storms_side_by_side(
    a: &Stack,
    b: &Stack,
    base: &Arc<str>,
    n: usize,
) -> (Vec<Sample>, Vec<Sample>) {
    let (mut tasks_a, mut tasks_b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        tasks_a.push(tokio::spawn(one(a.clone(), base.clone())));
        tasks_b.push(tokio::spawn(one(b.clone(), base.clone())));
    }
    let (mut samples_a, mut samples_b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (task_a, task_b) in tasks_a.into_iter().zip(tasks_b) {
        samples_a.push(task_a.await.expect("a request task panicked"));
        samples_b.push(task_b.await.expect("a request task panicked"));
    }
    (samples_a, samples_b)
}

/// Round `cold`'s soft storm, just after its credential's latest soft deadline, side by side
/// with a storm on `steady` (a layer whose credential stays fresh): returns (soft, steady).
///
/// The soft deadline is between `validity - 1.5 margin` and `validity - margin` after the login
/// (sent just after `t0`), the hard one at `validity - validity / 20`, the server's at
/// `validity`: every request of the soft storm must pass the layer in between.
async fn soft_storm(
    mock: &MockThoughtSpot,
    n: usize,
    validity: Duration,
    cold: &Cold,
    steady: &(Stack, AuthHandle),
    problems: &mut Vec<String>,
) -> (Phase, Phase) {
    let base: Arc<str> = mock.base_url().into();
    let margin = validity / 10;
    let soft_from = cold.t0 + validity - margin + Duration::from_millis(50);
    let hard_from = cold.t0 + validity - validity / 20;
    if Instant::now() > soft_from {
        problems.push(format!(
            "a soft storm started {:.2} s late: the rounds' storms took longer than \
             their spacing; use a longer STORM_TOKEN_VALIDITY_SECS or fewer STORM_ROUNDS",
            (Instant::now() - soft_from).as_secs_f64()
        ));
    }
    tokio::time::sleep_until(soft_from.into()).await;
    mock.clear_log();
    let (before, steady_before, mock_before) =
        (cold.handle.stats(), steady.1.stats(), mock.logins());
    let (soft_samples, steady_samples) =
        storms_side_by_side(&cold.service, &steady.0, &base, n).await;
    let last_passed = soft_samples
        .iter()
        .map(|s| s.passed)
        .max()
        .expect("samples");
    if last_passed >= hard_from {
        problems.push(format!(
            "a soft storm's last request passed the layer {:.3} s after its login, past the \
             earliest hard deadline ({:.3} s): use a longer STORM_TOKEN_VALIDITY_SECS",
            (last_passed - cold.t0).as_secs_f64(),
            (hard_from - cold.t0).as_secs_f64()
        ));
    }
    // The background refresh may end after the storm's last answer.
    let wait_until = Instant::now() + Duration::from_secs(5);
    while cold.handle.stats().logins == before.logins && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let soft = phase(soft_samples, &cold.handle, &before, mock, mock_before);
    let mut steady = phase(steady_samples, &steady.1, &steady_before, mock, mock_before);
    // The server counts both layers' logins; the soft layer's refresh is not the steady one's.
    steady.mock_logins -= soft.mock_logins.min(steady.mock_logins);
    if soft.logins != 1 || soft.refreshes != 1 || soft.mock_logins != 1 {
        problems.push(format!(
            "a soft storm made {} logins ({} at the server), {} refreshes: want exactly 1",
            soft.logins, soft.mock_logins, soft.refreshes
        ));
    }
    if steady.logins != 0 {
        problems.push(format!("a steady storm made {} logins", steady.logins));
    }
    (soft, steady)
}

fn check_phase(name: &str, p: &Phase, problems: &mut Vec<String>) {
    if p.failed() > 0 {
        problems.push(format!("{} requests of a {name} storm failed", p.failed()));
    }
    if p.replays > 0 || p.invalidations > 0 {
        problems.push(format!(
            "a {name} storm saw {} invalidations and {} replays",
            p.invalidations, p.replays
        ));
    }
}

/// The median and interquartile range of `values`, in milliseconds.
fn quartiles(mut values: Vec<Duration>) -> String {
    values.sort_unstable();
    let at = |q: f64| ms3(values[((values.len() - 1) as f64 * q).round() as usize]);
    format!("{} ({}–{})", at(0.5), at(0.25), at(0.75))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

/// The very first request through a new layer and a new client (connect, login, request),
/// against a plain first request on a new client with a token minted beforehand (connect,
/// request); the difference is what the layer adds, to be compared with a login round trip on an
/// open connection. Within the first request, the time it waited in the layer less the login's
/// exchange as the client below saw it is the layer's own part: starting the login, reading its
/// answer, making the credential and waking the request.
async fn first_requests(mock: &MockThoughtSpot, runs: usize, on_worker: bool) -> String {
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
    let (mut exchanges, mut own) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let client = capped();
        let (service, handle) = stack(mock, Duration::from_secs(300), &client);
        let sample = if on_worker {
            tokio::spawn(one(service.clone(), base.clone()))
                .await
                .expect("the first request's task")
        } else {
            one(service.clone(), base.clone()).await
        };
        assert!(sample.ok && handle.stats().logins == 1);
        let exchange = client
            .login_exchange
            .lock()
            .expect("not poisoned")
            .expect("the first request's login went through the client");
        first.push(sample.total);
        first_in_layer.push(sample.in_layer);
        exchanges.push(exchange);
        own.push(sample.in_layer.saturating_sub(exchange));
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
    let round_trip = if on_worker {
        tokio::spawn(task_round_trip(runs))
            .await
            .expect("the round trips' task")
    } else {
        task_round_trip(runs).await
    };
    format!(
        "| first request through a new layer and client (connect, login, request) | {} |\n\
         | of which waiting in the layer (connect, login) | {} |\n\
         | of which the login's exchange, as the client below the layer saw it (connect, `token/full`) | {} |\n\
         | **the layer's own time in it: waiting in the layer less the login's exchange** | **{}** |\n\
         | first request on a new plain client, token minted beforehand (connect, request) | {} |\n\
         | added by the layer (first request less plain first request) | {} |\n\
         | a login round trip on an open connection (`token/full` alone) | {} |\n\
         | second request through the layer (warm credential, pooled connection) | {} |\n\
         | for reference: a bare round trip to a task of its own (spawn it, it answers through a oneshot, the caller wakes) | {} |",
        ms3(first),
        ms3(first_in_layer),
        ms3(median(exchanges)),
        quartiles(own),
        ms3(plain_first),
        ms3(added),
        ms3(login_rtt),
        ms3(warm),
        quartiles(round_trip),
    )
}

/// What any login that is a task of its own costs the request that waits for it, before the
/// login does anything: the task is spawned (waking a worker thread if the caller is not one),
/// and its answer wakes the caller. Each run waits a little first, so that the workers are
/// parked, as they are before a first request.
async fn task_round_trip(runs: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = tx.send(());
        });
        rx.await.expect("the task answers");
        times.push(started.elapsed());
    }
    times
}

fn main() {
    let n: usize = env_or("STORM_REQUESTS", 10_000);
    let rounds: usize = env_or("STORM_ROUNDS", 5);
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
        let inner = capped();
        let steady_stack = stack(&mock, STEADY_VALIDITY, &inner);
        let warm = one(steady_stack.0.clone(), mock.base_url().into()).await;
        assert!(warm.ok, "the steady layer logs in");
        let mut problems = Vec::new();

        // Every round's cold storm first, `SPACING` apart, so that their soft expiries come
        // `SPACING` apart too.
        let started = Instant::now();
        let mut colds = Vec::new();
        for r in 0..rounds {
            tokio::time::sleep_until((started + SPACING * r as u32).into()).await;
            colds.push(cold_storm(&mock, n, validity, &inner, &mut problems).await);
        }
        let (mut cold, mut steady, mut soft) =
            (Phase::default(), Phase::default(), Phase::default());
        let (mut ratios, mut in_layer_p99s) = (Vec::new(), Vec::new());
        println!("{HEADER}");
        for (r, round) in colds.into_iter().enumerate() {
            let (round_soft, round_steady) =
                soft_storm(&mock, n, validity, &round, &steady_stack, &mut problems).await;
            println!("{}", round.phase.row(&format!("round {r}: cold start")));
            println!(
                "{}",
                round_steady.row(&format!("round {r}: steady (side by side)"))
            );
            println!("{}", round_soft.row(&format!("round {r}: soft refresh")));
            let p99 = |p: &Phase, field: fn(&Sample) -> Duration| {
                spread(&p.samples, field)[1].as_secs_f64()
            };
            ratios.push(p99(&round_soft, |s| s.total) / p99(&round_steady, |s| s.total));
            let over_1ms = |p: &Phase| {
                p.samples
                    .iter()
                    .filter(|s| s.in_layer > Duration::from_millis(1))
                    .count()
            };
            in_layer_p99s.push((
                p99(&round_soft, |s| s.in_layer),
                p99(&round_steady, |s| s.in_layer),
                over_1ms(&round_soft),
                over_1ms(&round_steady),
            ));
            cold.absorb(round.phase);
            steady.absorb(round_steady);
            soft.absorb(round_soft);
        }
        for (name, p) in [("cold", &cold), ("steady", &steady), ("soft", &soft)] {
            check_phase(name, p, &mut problems);
        }
        println!("\nAll rounds:\n\n{HEADER}");
        println!("{}", cold.row("cold start"));
        println!("{}", steady.row("steady"));
        println!("{}", soft.row("soft refresh"));
        let mut sorted = ratios.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "\nsoft refresh p99 / steady p99 (total), each soft storm against the steady storm \
             sent alongside it: median {:.3} over {} rounds (each: {}); target: within 1.2x",
            sorted[sorted.len() / 2],
            sorted.len(),
            ratios
                .iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "in the layer, soft against steady: p99 ms (requests over 1 ms): {}",
            in_layer_p99s
                .iter()
                .map(|(soft, steady, soft_over, steady_over)| {
                    format!(
                        "{:.2} ({soft_over}) / {:.2} ({steady_over})",
                        soft * 1e3,
                        steady * 1e3
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (on_worker, place) in [
            (
                false,
                "sent from the thread that runs the runtime's `block_on` (`#[tokio::main]`)",
            ),
            (true, "sent from a task on a worker thread"),
        ] {
            println!(
                "\nThe first request, {place}, medians of {first_runs} runs:\n\n| | ms |\n|---|---|"
            );
            println!("{}", first_requests(&mock, first_runs, on_worker).await);
        }
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
