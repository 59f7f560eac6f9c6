//! The hot path: what attaching a warm credential costs, against a static header (the floor), a
//! hand-rolled `Arc<RwLock<String>>` layer, and the bare copy of a request's parts that replay
//! needs.
//!
//! Every id sends the same freshly built request (POST to a v2.0 path, empty body, `Accept`,
//! `Content-Type`, `User-Agent`) through a ready service whose inner service is a no-op. Requests
//! are built in batches of 1,024 before the clock starts; the no-op service parks each request
//! it is given, and the requests and responses are dropped after the clock stops. Freeing a
//! request is the same work for every id, but what it costs depends on the allocator's state
//! (glibc sometimes consolidates its free lists inside one id's batch and not another's): timed,
//! it moved an id's overhead by 2x between runs. Overhead of an id = its time minus
//! `inner_only`'s.
//!
//! - `hot_path`: one thread (`iter_custom`, batch by batch), timed by the thread's CPU time
//!   (`CLOCK_THREAD_CPUTIME_ID`), so that time spent waiting for a core on a busy machine does not
//!   count; `HOT_PATH_CLOCK=wall` times it by the wall clock instead.
//! - `hot_path_contended`: two threads at once, each driving its own clone of the same service
//!   (`iter_custom`): each thread builds a batch of requests, both meet at a barrier and send
//!   their batch. Each thread's CPU time for its batches is summed, and the two sums averaged:
//!   time per iteration is then time per request with two threads sending (what the wall clock
//!   shows when neither waits for a core), and cache lines passed between the threads count, but
//!   time the VM's other tenants take does not. `HOT_PATH_CLOCK=wall` times each batch by the
//!   wall clock instead (first start to last end).
//! - `hot_path_json_body`: one thread, the request with a 35-byte JSON `Full<Bytes>` body
//!   instead (kept for replay by a clone of its `Bytes`).
//! - `hot_path_pieces`: what the layer does on its hot path that a static header does not, each
//!   piece alone (thread CPU time): the origin check (`BaseUrl::is_same_origin`), the same check
//!   done with `Authority`'s case-folding `==`, an `Arc` clone and drop, an `ArcSwapOption` load,
//!   and a clone of hyper-util's client (what tower's `Retry` pays per request to replay; the
//!   layer clones the inner service once, when it wraps it).
//!
//! - `hot_path_side_by_side`: the targets' ratios, measured side by side. Each sample of
//!   `one_thread` sends its requests through the six ids of `hot_path` and three hand-written
//!   references (see [`IDS`]), batch by batch in turns,
//!   the order rotated each round (see `side_by_side/mod.rs`); `two_threads` does the same on
//!   two threads in lockstep (both send through the same id at once, as in
//!   `hot_path_contended`). The ratios are computed within each sample and printed as median and
//!   interquartile range over the samples. On a shared VM these are the numbers to trust: the
//!   per-id groups above measure each id in a stretch of seconds of its own, under whatever load
//!   the neighbours put on the machine then. (Criterion's own time for these two ids is the sum
//!   of all nine.)
//!
//! ```sh
//! cargo bench --bench hot_path -- --warm-up-time 2 --measurement-time 10
//! cargo bench --bench hot_path -- side_by_side      # the targets alone
//! ```

mod side_by_side;
mod support;

use std::fmt::Debug;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::Request;
use tower::Service;

use side_by_side::{Run, Samples};
use support::{ReqBody, send};

/// Requests built before the clock starts, per thread (and, in the contended group, between
/// two barriers).
const BATCH: usize = 1024;

fn one_thread<S>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, service: S)
where
    S: Service<Request<ReqBody>>,
    S::Error: Debug,
{
    one_thread_with(group, id, service, support::request);
}

fn one_thread_with<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    service: S,
    request: fn() -> Request<ReqBody>,
) where
    S: Service<Request<ReqBody>>,
    S::Error: Debug,
{
    let mut alone = Alone::new(service, request);
    group.bench_function(id, |b| b.iter_custom(|iters| alone.run(iters)));
}

/// One service driven on this thread, in batches of [`BATCH`]: each batch's requests are built
/// before its clock starts, and the requests (parked by the no-op service) and responses are
/// dropped after it stops.
///
/// The buffers live as long as the service and are touched once before anything is timed: a
/// fresh 1,024-entry vector is some 200 KiB, which glibc maps anew, so filling it inside the
/// clock would time page faults, not the service.
struct Alone<S: Service<Request<ReqBody>>> {
    service: S,
    request: fn() -> Request<ReqBody>,
    requests: Vec<Request<ReqBody>>,
    responses: Vec<S::Response>,
}

impl<S> Alone<S>
where
    S: Service<Request<ReqBody>>,
    S::Error: Debug,
{
    fn new(service: S, request: fn() -> Request<ReqBody>) -> Self {
        support::park_requests(BATCH);
        let mut alone = Self {
            service,
            request,
            requests: Vec::with_capacity(BATCH),
            responses: Vec::with_capacity(BATCH),
        };
        alone.run(BATCH as u64);
        alone
    }

    /// `iters` requests; their time on this thread's CPU clock (or the wall clock, with
    /// `HOT_PATH_CLOCK=wall`).
    fn run(&mut self, iters: u64) -> Duration {
        let mut left = iters as usize;
        let mut elapsed = Duration::ZERO;
        let wall = std::env::var("HOT_PATH_CLOCK").is_ok_and(|v| v == "wall");
        while left > 0 {
            let n = left.min(BATCH);
            self.requests.extend((0..n).map(|_| (self.request)()));
            let timed = send_batch(&mut self.service, &mut self.requests, &mut self.responses);
            elapsed += if wall {
                timed.end - timed.start
            } else {
                timed.cpu
            };
            left -= n;
        }
        elapsed
    }
}

/// One batch's times: its wall-clock window and this thread's CPU time.
struct Timed {
    start: Instant,
    end: Instant,
    cpu: Duration,
}

/// Sends `requests` (emptying it) through `service`, timed. The responses and the requests the
/// no-op service parked are dropped after the clock stops.
fn send_batch<S>(
    service: &mut S,
    requests: &mut Vec<Request<ReqBody>>,
    responses: &mut Vec<S::Response>,
) -> Timed
where
    S: Service<Request<ReqBody>>,
    S::Error: Debug,
{
    let (start, cpu_start) = (Instant::now(), thread_cpu_time());
    for request in requests.drain(..) {
        responses.push(send(service, request));
    }
    let cpu = thread_cpu_time() - cpu_start;
    let end = Instant::now();
    responses.clear();
    support::drop_parked();
    Timed { start, end, cpu }
}

/// This thread's CPU time for `iters` calls of `f`.
fn cpu_time_of<T>(iters: u64, mut f: impl FnMut() -> T) -> Duration {
    let start = thread_cpu_time();
    for _ in 0..iters {
        black_box(f());
    }
    thread_cpu_time() - start
}

/// The CPU time this thread has used: unlike wall time, it does not count while the thread waits
/// for a core that other processes hold.
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

fn two_threads<S>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, service: S)
where
    S: Service<Request<ReqBody>> + Clone + Send + 'static,
    S::Response: Send,
    S::Error: Debug,
{
    group.bench_function(id, |b| b.iter_custom(|iters| contended(&service, iters)));
}

/// Two threads, `iters / 2` requests each, on clones of `service`, sending their batches at once:
/// the mean of the two threads' CPU times (or the summed wall time of the batches, with
/// `HOT_PATH_CLOCK=wall`).
fn contended<S>(service: &S, iters: u64) -> Duration
where
    S: Service<Request<ReqBody>> + Clone + Send + 'static,
    S::Response: Send,
    S::Error: Debug,
{
    let per_thread = iters.div_ceil(2) as usize;
    let wall = std::env::var("HOT_PATH_CLOCK").is_ok_and(|v| v == "wall");
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let mut service = service.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                support::park_requests(BATCH);
                let mut windows = Vec::with_capacity(per_thread.div_ceil(BATCH));
                let mut cpu = Duration::ZERO;
                let mut requests = Vec::with_capacity(BATCH);
                let mut responses = Vec::with_capacity(BATCH);
                // Touch the buffers (and warm the clone) before anything is timed; see `Alone`.
                requests.extend((0..BATCH).map(|_| support::request()));
                send_batch(&mut service, &mut requests, &mut responses);
                let mut left = per_thread;
                while left > 0 {
                    let n = left.min(BATCH);
                    requests.extend((0..n).map(|_| support::request()));
                    barrier.wait();
                    let timed = send_batch(&mut service, &mut requests, &mut responses);
                    cpu += timed.cpu;
                    windows.push((timed.start, timed.end));
                    left -= n;
                }
                (windows, cpu)
            })
        })
        .collect();
    let results: Vec<(Vec<(Instant, Instant)>, Duration)> = threads
        .into_iter()
        .map(|t| t.join().expect("a bench thread panicked"))
        .collect();
    if !wall {
        return (results[0].1 + results[1].1) / 2;
    }
    results[0]
        .0
        .iter()
        .zip(&results[1].0)
        .map(|(a, b)| a.1.max(b.1) - a.0.min(b.0))
        .sum()
}

fn alone_run<'a, S>(service: S) -> Run<'a>
where
    S: Service<Request<ReqBody>> + 'a,
    S::Error: Debug,
{
    let mut alone = Alone::new(service, support::request);
    Box::new(move |iters| alone.run(iters))
}

/// The ids of `hot_path`, in the order the side-by-side comparisons list them, and three more,
/// written by hand, to tell what the layer's cost is made of:
/// - `static_header_status_check`: a static header plus the least any layer that deals with
///   rejections adds (a response future that looks at the status);
/// - `arc_swap_header`: exactly what the design allows the hot path (one `ArcSwap` load, one
///   `HeaderValue` clone) and the header inserted, nothing else;
/// - `floor_no_recovery`: the least a layer with this job does (origin check, one `ArcSwap`
///   load, the header, the status looked at; no orgs, no expiry, nothing kept to act on a 401).
const IDS: [&str; 9] = [
    "inner_only",
    "static_header",
    "static_header_status_check",
    "arc_swap_header",
    "floor_no_recovery",
    "rwlock_hand_rolled",
    "parts_copy",
    "thoughtspot_layer",
    "thoughtspot_layer_replay",
];

/// Sends a batch of prebuilt requests through one thread's clone of an id's service; returns the
/// thread's CPU time for it.
type Batch = Box<dyn FnMut(&mut Vec<Request<ReqBody>>) -> Duration>;

/// Makes each thread its own [`Batch`] over a clone of one id's service.
type BatchFactory = Box<dyn Fn() -> Batch + Sync>;

fn batch_factory<S>(service: S) -> BatchFactory
where
    S: Service<Request<ReqBody>> + Clone + Sync + 'static,
    S::Error: Debug,
{
    Box::new(move || {
        let mut service = service.clone();
        let mut responses = Vec::with_capacity(BATCH);
        // Touch the buffer (and warm the clone) before anything is timed; see `Alone`.
        let mut warm_up: Vec<_> = (0..BATCH).map(|_| support::request()).collect();
        send_batch(&mut service, &mut warm_up, &mut responses);
        Box::new(move |requests: &mut Vec<Request<ReqBody>>| {
            send_batch(&mut service, requests, &mut responses).cpu
        })
    })
}

/// Two threads, `iters / 2` requests each through every id, in lockstep: before each batch both
/// meet at a barrier and then send through the same id; the ids take turns batch by batch, the
/// order rotated each round. Returns each id's mean of the two threads' CPU times (per
/// iteration, then, the time per request with two threads sending, as in `hot_path_contended`).
fn lockstep(factories: &[BatchFactory], iters: u64) -> Vec<Duration> {
    let per_thread = iters.div_ceil(2) as usize;
    let barrier = Barrier::new(2);
    let per_thread_times: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    support::park_requests(BATCH);
                    let mut batches: Vec<Batch> = factories.iter().map(|make| make()).collect();
                    let mut cpu = vec![Duration::ZERO; batches.len()];
                    let mut requests = Vec::with_capacity(BATCH);
                    requests.extend((0..BATCH).map(|_| support::request()));
                    requests.clear();
                    let (mut left, mut round) = (per_thread, 0);
                    while left > 0 {
                        let n = left.min(BATCH);
                        for step in 0..batches.len() {
                            let at = (round + step) % batches.len();
                            requests.extend((0..n).map(|_| support::request()));
                            barrier.wait();
                            cpu[at] += (batches[at])(&mut requests);
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
    (0..factories.len())
        .map(|at| (per_thread_times[0][at] + per_thread_times[1][at]) / 2)
        .collect()
}

/// Prints the targets as measured side by side: overhead = id minus `inner_only`, in the
/// same sample.
fn report_targets(threads: &str, samples: &Samples) {
    let overhead =
        |s: &Samples, sample: &[f64], id: &str| s.of(sample, id) - s.of(sample, "inner_only");
    let layer_over_static = samples.summary(|s, sample| {
        overhead(s, sample, "thoughtspot_layer") / overhead(s, sample, "static_header")
    });
    if layer_over_static.samples == 0 {
        return;
    }
    let layer_over_rwlock = samples.summary(|s, sample| {
        overhead(s, sample, "thoughtspot_layer") / overhead(s, sample, "rwlock_hand_rolled")
    });
    let replay = samples.summary(|s, sample| {
        overhead(s, sample, "thoughtspot_layer_replay")
            / (overhead(s, sample, "static_header") + overhead(s, sample, "parts_copy"))
    });
    println!(
        "\nhot path side by side, {threads} (overhead = id minus inner_only in the same sample):"
    );
    let layer_over_status_check = samples.summary(|s, sample| {
        overhead(s, sample, "thoughtspot_layer") / overhead(s, sample, "static_header_status_check")
    });
    let arc_swap_over_static = samples.summary(|s, sample| {
        overhead(s, sample, "arc_swap_header") / overhead(s, sample, "static_header")
    });
    let floor_over_static = samples.summary(|s, sample| {
        overhead(s, sample, "floor_no_recovery") / overhead(s, sample, "static_header")
    });
    for id in IDS {
        println!("  {id:<28} {:>8.1} ns (median)", samples.median_of(id));
    }
    let layer_over_floor = samples.summary(|s, sample| {
        overhead(s, sample, "thoughtspot_layer") / overhead(s, sample, "floor_no_recovery")
    });
    let replay_over_floor = samples.summary(|s, sample| {
        overhead(s, sample, "thoughtspot_layer_replay")
            / (overhead(s, sample, "floor_no_recovery") + overhead(s, sample, "parts_copy"))
    });
    println!("  thoughtspot_layer / floor_no_recovery       {layer_over_floor}  target <= 1.6");
    println!(
        "  layer_replay / (floor_no_recovery + parts_copy) {replay_over_floor}  target <= 1.2"
    );
    println!("  thoughtspot_layer / static_header           {layer_over_static}");
    println!("  thoughtspot_layer / static_header_status_check {layer_over_status_check}");
    println!("  arc_swap_header / static_header             {arc_swap_over_static}");
    println!("  floor_no_recovery / static_header           {floor_over_static}");
    println!("  thoughtspot_layer / rwlock_hand_rolled      {layer_over_rwlock}  target < 1");
    println!("  layer_replay / (static_header + parts_copy) {replay}  target <= 1.2\n");
}

fn hot_path(c: &mut Criterion) {
    // Only the first request through each layer (the slow path, which makes the credential)
    // needs the runtime; it stays entered throughout in case anything else does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _entered = runtime.enter();
    let (layer, layer_handle) = support::warm_layer(&runtime, false);
    let (layer_replay, replay_handle) = support::warm_layer(&runtime, true);

    let mut group = c.benchmark_group("hot_path");
    one_thread(&mut group, "inner_only", support::Noop);
    one_thread(&mut group, "static_header", support::static_header());
    one_thread(
        &mut group,
        "rwlock_hand_rolled",
        support::rwlock_hand_rolled(),
    );
    one_thread(&mut group, "parts_copy", support::parts_copy());
    one_thread(&mut group, "thoughtspot_layer", layer.clone());
    one_thread(&mut group, "thoughtspot_layer_replay", layer_replay.clone());
    group.finish();

    let mut group = c.benchmark_group("hot_path_contended");
    two_threads(&mut group, "inner_only", support::Noop);
    two_threads(&mut group, "static_header", support::static_header());
    two_threads(
        &mut group,
        "rwlock_hand_rolled",
        support::rwlock_hand_rolled(),
    );
    two_threads(&mut group, "parts_copy", support::parts_copy());
    two_threads(&mut group, "thoughtspot_layer", layer.clone());
    two_threads(&mut group, "thoughtspot_layer_replay", layer_replay.clone());
    group.finish();

    // The targets, side by side.
    let mut group = c.benchmark_group("hot_path_side_by_side");
    let mut one: Vec<Run> = vec![
        alone_run(support::Noop),
        alone_run(support::static_header()),
        alone_run(support::static_header_status_check()),
        alone_run(support::arc_swap_header()),
        alone_run(support::floor()),
        alone_run(support::rwlock_hand_rolled()),
        alone_run(support::parts_copy()),
        alone_run(layer.clone()),
        alone_run(layer_replay.clone()),
    ];
    let one = side_by_side::bench(&mut group, "one_thread", &IDS, |iters| {
        side_by_side::interleaved(&mut one, iters, BATCH as u64)
    });
    let two: Vec<BatchFactory> = vec![
        batch_factory(support::Noop),
        batch_factory(support::static_header()),
        batch_factory(support::static_header_status_check()),
        batch_factory(support::arc_swap_header()),
        batch_factory(support::floor()),
        batch_factory(support::rwlock_hand_rolled()),
        batch_factory(support::parts_copy()),
        batch_factory(layer.clone()),
        batch_factory(layer_replay.clone()),
    ];
    let two = side_by_side::bench(&mut group, "two_threads", &IDS, |iters| {
        lockstep(&two, iters)
    });
    group.finish();
    report_targets("one thread", &one);
    report_targets("two threads", &two);

    // Beyond the compared ids: the same request with a 35-byte JSON body, as most ThoughtSpot
    // calls carry. A `Full<Bytes>` takes the hot path either way: with replay on it is kept as a
    // clone of its `Bytes`.
    let with_body = support::request_with_body;
    let mut group = c.benchmark_group("hot_path_json_body");
    one_thread_with(&mut group, "inner_only", support::Noop, with_body);
    one_thread_with(
        &mut group,
        "static_header",
        support::static_header(),
        with_body,
    );
    one_thread_with(&mut group, "parts_copy", support::parts_copy(), with_body);
    one_thread_with(&mut group, "thoughtspot_layer", layer.clone(), with_body);
    one_thread_with(
        &mut group,
        "thoughtspot_layer_replay",
        layer_replay,
        with_body,
    );
    group.finish();

    // Beyond the compared ids: the pieces of the layer's hot path that a static header does not
    // have, each alone, to tell what the layer's overhead is made of.
    let mut group = c.benchmark_group("hot_path_pieces");
    let base = thoughtspot_auth::BaseUrl::parse(support::BASE).expect("the base URL");
    let uri: http::Uri = support::URI.parse().expect("the URI");
    group.bench_function("origin_check", |b| {
        b.iter_custom(|iters| cpu_time_of(iters, || base.is_same_origin(black_box(&uri))))
    });
    let authority = base.authority().clone();
    group.bench_function("origin_check_case_folding", |b| {
        b.iter_custom(|iters| {
            cpu_time_of(iters, || {
                let uri = black_box(&uri);
                uri.scheme() == Some(&http::uri::Scheme::HTTPS)
                    && uri.authority() == Some(&authority)
            })
        })
    });
    let arc = Arc::new(0u64);
    group.bench_function("arc_clone_drop", |b| {
        b.iter_custom(|iters| cpu_time_of(iters, || drop(black_box(arc.clone()))))
    });
    let swap = arc_swap::ArcSwapOption::from_pointee(0u64);
    group.bench_function("arc_swap_load", |b| {
        b.iter_custom(|iters| cpu_time_of(iters, || black_box(swap.load()).is_some()))
    });
    // With replay on, the layer keeps a clone of the inner service with each request (to send
    // the replay through): free for the no-op service here, this for hyper-util's client.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<ReqBody>();
    group.bench_function("hyper_client_clone_drop", |b| {
        b.iter_custom(|iters| cpu_time_of(iters, || drop(black_box(client.clone()))))
    });
    group.finish();

    // Every request after the first took the hot path: one credential made, nothing else.
    support::assert_hot_path_only(&layer_handle);
    support::assert_hot_path_only(&replay_handle);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    targets = hot_path
}
criterion_main!(benches);
