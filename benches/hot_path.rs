//! The hot path: what attaching a warm credential costs, against a static header (the floor), a
//! hand-rolled `Arc<RwLock<String>>` layer, and the bare copy of a request's parts that replay
//! needs.
//!
//! Every id sends the same freshly built request (POST to a v2.0 path, empty body, `Accept`,
//! `Content-Type`, `User-Agent`) through a ready service whose inner service is a no-op; the
//! request is built outside the timed region and the response dropped outside it. Overhead of an
//! id = its time minus `inner_only`'s.
//!
//! - `hot_path`: one thread (`iter_batched`).
//! - `hot_path_contended`: two threads at once, each driving its own clone of the same service
//!   (`iter_custom`): each thread builds a batch of requests, both meet at a barrier, send their
//!   batch, and the batch's wall time (first start to last end) is summed. Time per iteration is
//!   wall time per request with two threads sending.
//! - `hot_path_json_body`: one thread, the request with a 35-byte JSON body instead.
//!
//! ```sh
//! cargo bench --bench hot_path -- --warm-up-time 2 --measurement-time 10
//! ```

mod support;

use std::fmt::Debug;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::Request;
use tower::Service;

use support::{ReqBody, send};

/// Requests per thread between two barriers in the contended group.
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
    mut service: S,
    request: fn() -> Request<ReqBody>,
) where
    S: Service<Request<ReqBody>>,
    S::Error: Debug,
{
    group.bench_function(id, |b| {
        b.iter_batched(
            request,
            |request| send(&mut service, request),
            BatchSize::SmallInput,
        )
    });
}

fn two_threads<S>(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, service: S)
where
    S: Service<Request<ReqBody>> + Clone + Send + 'static,
    S::Response: Send,
    S::Error: Debug,
{
    group.bench_function(id, |b| b.iter_custom(|iters| contended(&service, iters)));
}

/// Two threads, `iters / 2` requests each, on clones of `service`; the summed wall time of the
/// batches both send at once.
fn contended<S>(service: &S, iters: u64) -> Duration
where
    S: Service<Request<ReqBody>> + Clone + Send + 'static,
    S::Response: Send,
    S::Error: Debug,
{
    let per_thread = iters.div_ceil(2) as usize;
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let mut service = service.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut windows = Vec::with_capacity(per_thread.div_ceil(BATCH));
                let mut requests = Vec::with_capacity(BATCH);
                let mut responses = Vec::with_capacity(BATCH);
                let mut left = per_thread;
                while left > 0 {
                    let n = left.min(BATCH);
                    requests.extend((0..n).map(|_| support::request()));
                    barrier.wait();
                    let start = Instant::now();
                    for request in requests.drain(..) {
                        responses.push(send(&mut service, request));
                    }
                    let end = Instant::now();
                    windows.push((start, end));
                    responses.clear();
                    left -= n;
                }
                windows
            })
        })
        .collect();
    let windows: Vec<Vec<(Instant, Instant)>> = threads
        .into_iter()
        .map(|t| t.join().expect("a bench thread panicked"))
        .collect();
    windows[0]
        .iter()
        .zip(&windows[1])
        .map(|(a, b)| a.1.max(b.1) - a.0.min(b.0))
        .sum()
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

    // Beyond the issue's ids: the same request with a 35-byte JSON body, as most ThoughtSpot
    // calls carry. With replay on, a body of known size is read into a buffer before it is sent
    // (the layer's slow path); with replay off it takes the hot path like an empty one.
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
