//! The cached path of multi-user trusted authentication: what finding one of 10,000 or of
//! 100,000 cached users' tokens costs per request, against the single-user hot path, measured
//! side by side on one thread and on two.
//!
//! ```text
//! cargo bench --bench multi_user
//! ```
//!
//! Every id sends the same request (a GET to a v2.0 path of a `MockThoughtSpot`, empty body)
//! through a ready service whose inner service is a no-op: `inner_only` the no-op alone,
//! `single_user` a layer logged in with a password, `users_10k` and `users_100k` layers in
//! multi-user mode whose every user's token is cached (warmed through the mock before anything
//! is timed); their requests carry an `ActAs` for a user drawn at random, made afresh for each
//! request as an application would (a new `Arc<str>`). `map_floor_10k` and `map_floor_100k` are
//! the hand-written floor of the same job (see [`MapFloor`]): one lookup in a read-only
//! `HashMap` from user to header. Requests are built in batches of 1,024
//! before the clock starts (building them, `ActAs` included, is the application's cost) and
//! dropped after it stops (the no-op parks them); times are thread CPU time per request, as in
//! `benches/hot_path.rs`. The ids take turns batch by batch within each criterion sample (see
//! `side_by_side/mod.rs`), and on two threads both send through the same id at once. Ratios are
//! computed within each sample: median and interquartile range over the samples.
//!
//! Warming 110,000 users' tokens through the mock takes a minute before the first sample.

mod side_by_side;
mod support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{ActAs, AuthHandle, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
use tower::{Layer, Service};

use side_by_side::{Run, Samples, interleaved};
use support::{Noop, ReqBody};

const PATH: &str = "/api/rest/2.0/metadata/search";
const BATCH: usize = 1024;
const IDS: &[&str] = &[
    "inner_only",
    "single_user",
    "users_10k",
    "users_100k",
    "map_floor_10k",
    "map_floor_100k",
];

/// The least that finding one of many users' tokens costs, written by hand: a read-only
/// `HashMap` from user name to a prebuilt header value (foldhash, as the layer's map), one
/// lookup of the request's `ActAs` user and the header inserted. No concurrent updates, no
/// expiry, no origin check, nothing to act on a 401: a floor, not a working layer.
#[derive(Clone)]
struct MapFloor {
    headers:
        Arc<std::collections::HashMap<Arc<str>, http::HeaderValue, foldhash::fast::RandomState>>,
}

impl MapFloor {
    fn new(names: &[String]) -> Self {
        let headers = names
            .iter()
            .map(|name| {
                let mut value = http::HeaderValue::from_str(&format!("Bearer token-of-{name}"))
                    .expect("a header value");
                value.set_sensitive(true);
                // Shared once, as the layer's value is after its first request.
                drop(value.clone());
                (Arc::from(name.as_str()), value)
            })
            .collect();
        Self {
            headers: Arc::new(headers),
        }
    }

    #[inline]
    fn call(&self, mut request: Request<ReqBody>) -> Request<ReqBody> {
        let value = request
            .extensions()
            .get::<ActAs>()
            .and_then(|act_as| self.headers.get(act_as.user_name()))
            .cloned();
        if let Some(value) = value {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        request
    }
}

/// The request every id sends, `ActAs` for `user` if given.
fn request(uri: &str, user: Option<&str>) -> Request<ReqBody> {
    let mut request = Request::get(uri)
        .header(http::header::ACCEPT, "application/json")
        .body(ReqBody::default())
        .expect("a valid request");
    if let Some(user) = user {
        request.extensions_mut().insert(ActAs::user(user));
    }
    request
}

/// A small, fixed-seed generator: which user each request acts as.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

/// One id: its service and how many users its requests act as (0: none).
#[derive(Clone)]
enum Id {
    Inner,
    Layer(ThoughtSpotAuthService<Noop>, usize),
    Floor(MapFloor, usize),
}

/// One id driven by one thread: builds a batch of its requests, sends it, returns the thread's
/// CPU time for the sending alone.
struct Sender {
    id: Id,
    uri: Arc<str>,
    names: Arc<Vec<String>>,
    draw: Draw,
    requests: Vec<Request<ReqBody>>,
}

impl Sender {
    fn new(id: Id, uri: Arc<str>, names: Arc<Vec<String>>, seed: u64) -> Self {
        support::park_requests(BATCH);
        let mut sender = Self {
            id,
            uri,
            names,
            draw: Draw(seed),
            requests: Vec::with_capacity(BATCH),
        };
        sender.fill(BATCH);
        sender.send();
        sender
    }

    fn fill(&mut self, n: usize) {
        let users = match self.id {
            Id::Layer(_, users) | Id::Floor(_, users) => users,
            Id::Inner => 0,
        };
        for _ in 0..n {
            let user = (users > 0).then(|| self.names[self.draw.below(users)].as_str());
            self.requests.push(request(&self.uri, user));
        }
    }

    /// Sends the batch built by `fill`; the requests are dropped after the clock stops.
    fn send(&mut self) -> Duration {
        let mut responses = Vec::with_capacity(self.requests.len());
        let start = thread_cpu_time();
        match &mut self.id {
            Id::Inner => {
                for request in self.requests.drain(..) {
                    responses.push(support::send(&mut Noop, request));
                }
            }
            Id::Floor(floor, _) => {
                for request in self.requests.drain(..) {
                    responses.push(support::send(&mut Noop, floor.call(request)));
                }
            }
            Id::Layer(service, _) => {
                for request in self.requests.drain(..) {
                    // The layer's response type differs from the no-op's; keep it as the same
                    // kind of thing (a response dropped after the clock).
                    let response = support::send(service, request);
                    responses.push(response.map(|_| http_body_util::Empty::new()));
                }
            }
        }
        let elapsed = thread_cpu_time() - start;
        drop(responses);
        support::drop_parked();
        elapsed
    }

    fn run(&mut self, iters: u64) -> Duration {
        let mut left = iters as usize;
        let mut elapsed = Duration::ZERO;
        while left > 0 {
            let n = left.min(BATCH);
            self.fill(n);
            elapsed += self.send();
            left -= n;
        }
        elapsed
    }
}

/// The CPU time this thread has used (see `benches/hot_path.rs`).
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always supported
    // on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Two threads, `iters / 2` requests each through every id in lockstep (both meet at a barrier
/// before each batch and send through the same id); each id's mean of the two threads' times.
fn lockstep(ids: &[Id], uri: &Arc<str>, names: &Arc<Vec<String>>, iters: u64) -> Vec<Duration> {
    let per_thread = iters.div_ceil(2) as usize;
    let barrier = Barrier::new(2);
    let times: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2u64)
            .map(|thread| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut senders: Vec<Sender> = ids
                        .iter()
                        .map(|id| Sender::new(id.clone(), uri.clone(), names.clone(), thread + 1))
                        .collect();
                    let mut cpu = vec![Duration::ZERO; senders.len()];
                    let (mut left, mut round) = (per_thread, 0);
                    while left > 0 {
                        let n = left.min(BATCH);
                        for step in 0..senders.len() {
                            let at = (round + step) % senders.len();
                            senders[at].fill(n);
                            barrier.wait();
                            cpu[at] += senders[at].send();
                        }
                        left -= n;
                        round += 1;
                    }
                    cpu
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a bench thread panicked"))
            .collect()
    });
    (0..ids.len())
        .map(|at| (times[0][at] + times[1][at]) / 2)
        .collect()
}

fn report(threads: &str, samples: &Samples) {
    let whole = |id: &'static str| {
        samples.summary(move |s, sample| s.of(sample, id) / s.of(sample, "single_user"))
    };
    let overhead =
        |s: &Samples, sample: &[f64], id: &str| s.of(sample, id) - s.of(sample, "inner_only");
    let layer = |id: &'static str| {
        samples
            .summary(move |s, sample| overhead(s, sample, id) / overhead(s, sample, "single_user"))
    };
    if whole("users_10k").samples == 0 {
        return;
    }
    println!("\nmulti-user side by side, {threads}:");
    for id in IDS {
        println!(
            "  {id:<12} {:>8.1} ns per request (median)",
            samples.median_of(id)
        );
    }
    for id in ["users_10k", "users_100k"] {
        println!("  {id} / single_user, whole request      {}", whole(id));
        // For reference: a random user's cache miss costs a bare map 4 to 5 times the
        // single-user path already, so the target is set against the map (below).
        println!("  {id} / single_user, layer's overhead   {}", layer(id));
    }
    for (id, floor) in [
        ("users_10k", "map_floor_10k"),
        ("users_100k", "map_floor_100k"),
    ] {
        let over_floor =
            samples.summary(move |s, sample| overhead(s, sample, id) / overhead(s, sample, floor));
        println!("  {floor} / single_user, overhead     {}", layer(floor));
        println!("  {id} / {floor}, overhead      {over_floor}  target <= 2.5");
    }
}

/// A multi-user layer over the no-op with every one of `names`' tokens cached.
async fn warm_multi_user(
    base: &str,
    transport: ServiceTransport<
        hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            ReqBody,
        >,
        ReqBody,
    >,
    names: &[String],
) -> (ThoughtSpotAuthService<Noop>, AuthHandle) {
    let layer = ThoughtSpotAuthLayer::builder(base)
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .max_cached_users(names.len())
        .token_validity(Duration::from_secs(86_400))
        .transport(transport)
        .replay(false)
        .build()
        .expect("the layer builds");
    let handle = layer.handle();
    let service = layer.layer(Noop);
    let uri = format!("{base}{PATH}");
    // The first request of each user waits for its token.
    for chunk in names.chunks(500) {
        futures_util::future::join_all(chunk.iter().map(|name| {
            let mut service = service.clone();
            let request = request(&uri, Some(name));
            async move { service.call(request).await.expect("the no-op answers") }
        }))
        .await;
    }
    assert_eq!(handle.cache_size(), names.len());
    (service, handle)
}

fn multi_user(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _entered = runtime.enter();
    let names: Arc<Vec<String>> = Arc::new((0..100_000).map(|i| format!("user-{i:06}")).collect());
    let (thoughtspot, single, ten, hundred) = runtime.block_on(async {
        let thoughtspot = MockThoughtSpot::start().await.expect("the mock starts");
        for name in names.iter() {
            thoughtspot.add_user(MockUser::new(name.as_str(), "unused"));
        }
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<ReqBody>();
        let base = thoughtspot.base_url();
        let transport = || ServiceTransport::new(client.clone());
        let layer = ThoughtSpotAuthLayer::builder(&base)
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .token_validity(Duration::from_secs(86_400))
            .transport(transport())
            .replay(false)
            .build()
            .expect("the layer builds");
        let single_handle = layer.handle();
        let mut single = layer.layer(Noop);
        single
            .call(request(&format!("{base}{PATH}"), None))
            .await
            .expect("the no-op answers");
        let ten = warm_multi_user(&base, transport(), &names[..10_000]).await;
        let hundred = warm_multi_user(&base, transport(), &names).await;
        (thoughtspot, (single, single_handle), ten, hundred)
    });
    let uri: Arc<str> = format!("{}{PATH}", thoughtspot.base_url()).into();
    let ids = [
        Id::Inner,
        Id::Layer(single.0.clone(), 0),
        Id::Layer(ten.0.clone(), 10_000),
        Id::Layer(hundred.0.clone(), 100_000),
        Id::Floor(MapFloor::new(&names[..10_000]), 10_000),
        Id::Floor(MapFloor::new(&names), 100_000),
    ];

    let mut group = c.benchmark_group("multi_user_side_by_side");
    let mut senders: Vec<Sender> = ids
        .iter()
        .map(|id| Sender::new(id.clone(), uri.clone(), names.clone(), 1))
        .collect();
    let one = side_by_side::bench(&mut group, "one_thread", IDS, |iters| {
        let mut runs: Vec<Run<'_>> = senders
            .iter_mut()
            .map(|sender| Box::new(move |n| sender.run(n)) as Run<'_>)
            .collect();
        interleaved(&mut runs, iters, BATCH as u64)
    });
    let two = side_by_side::bench(&mut group, "two_threads", IDS, |iters| {
        lockstep(&ids, &uri, &names, iters)
    });
    group.finish();
    report("1 thread", &one);
    report("2 threads", &two);

    assert_eq!(single.1.stats().logins, 1, "the single user logged in once");
    for (handle, users) in [(&ten.1, 10_000), (&hundred.1, 100_000)] {
        assert_eq!(
            handle.stats().logins,
            users,
            "every measured request found its cached token"
        );
    }
    drop(thoughtspot);
}

criterion_group!(benches, multi_user);
criterion_main!(benches);
