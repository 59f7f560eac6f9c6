//! The hot-path ids of `benches/hot_path.rs`, each in a function of its own that is never
//! inlined, for a profiler: instruction counts do not depend on what else the machine is doing,
//! when timings do.
//!
//! ```sh
//! cargo bench --bench hot_path_profile --no-run   # prints the binary's path
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/hot_path.cg \
//!     --toggle-collect='hot_path_profile::id_*' <binary>
//! callgrind_annotate --inclusive=yes /tmp/hot_path.cg | grep 'hot_path_profile::id_'
//! ```
//!
//! `HOT_PATH_PROFILE_RECORDER=1` installs a `metrics` recorder first (the layer records
//! nothing on this path, so the counts do not move).
//!
//! Each `id_*` function sends `HOT_PATH_PROFILE_REQUESTS` (default 100,000) prebuilt requests
//! (built, and their vector freed, outside it; the no-op service parks each request, and they are
//! freed outside it too, as in `benches/hot_path.rs`):
//! its inclusive instruction count divided by that is instructions per request, comparable
//! between ids. Run alone, the binary prints the response futures' sizes and a rough time per
//! request for each id (one pass over requests built long before, so mostly memory-bound, no
//! statistics: `benches/hot_path.rs` is the measurement).

mod support;

use std::hint::black_box;
use std::time::Instant;

use http::Request;
use support::{ReqBody, send};
use tower::Service;

type Requests<'a> = &'a mut Vec<Request<ReqBody>>;
type Layered = thoughtspot_auth::ThoughtSpotAuthService<support::Noop>;

#[inline(never)]
fn id_inner_only(requests: Requests) {
    black_box("inner_only"); // keeps identical bodies from being merged
    let mut service = support::Noop;
    for request in requests.drain(..) {
        black_box(send(&mut service, request));
    }
}

#[inline(never)]
fn id_static_header(
    service: &mut tower_http::auth::AddAuthorization<support::Noop>,
    requests: Requests,
) {
    black_box("static_header"); // keeps identical bodies from being merged
    for request in requests.drain(..) {
        black_box(send(service, request));
    }
}

type FloorService = tower::util::MapResponse<
    support::Floor<support::Noop>,
    fn(support::NoopResponse) -> support::NoopResponse,
>;

#[inline(never)]
fn id_floor_no_recovery(service: &mut FloorService, requests: Requests) {
    black_box("floor_no_recovery"); // keeps identical bodies from being merged
    for request in requests.drain(..) {
        black_box(send(service, request));
    }
}

#[inline(never)]
fn id_rwlock_hand_rolled(service: &mut support::HandRolled<support::Noop>, requests: Requests) {
    black_box("rwlock_hand_rolled"); // keeps identical bodies from being merged
    for request in requests.drain(..) {
        black_box(send(service, request));
    }
}

#[inline(never)]
fn id_parts_copy(requests: Requests) {
    black_box("parts_copy"); // keeps identical bodies from being merged
    let mut service = support::parts_copy();
    for request in requests.drain(..) {
        black_box(send(&mut service, request));
    }
}

#[inline(never)]
fn id_thoughtspot_layer(service: &mut Layered, requests: Requests) {
    black_box("thoughtspot_layer"); // keeps identical bodies from being merged
    for request in requests.drain(..) {
        black_box(send(service, request));
    }
}

#[inline(never)]
fn id_thoughtspot_layer_replay(service: &mut Layered, requests: Requests) {
    black_box("thoughtspot_layer_replay"); // keeps identical bodies from being merged
    for request in requests.drain(..) {
        black_box(send(service, request));
    }
}

fn future_size<S: Service<Request<ReqBody>>>() -> usize {
    size_of::<S::Future>()
}

fn timed(name: &str, n: usize, run: impl FnOnce(Requests<'_>)) {
    let mut requests: Vec<_> = (0..n).map(|_| support::request()).collect();
    support::park_requests(n);
    let started = Instant::now();
    run(&mut requests);
    let per_request = started.elapsed().as_secs_f64() * 1e9 / n as f64;
    support::drop_parked();
    println!("{name:<26} {per_request:>8.1} ns per request");
}

fn main() {
    let n: usize = std::env::var("HOT_PATH_PROFILE_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // The layer records its events through the `metrics` facade (the benches build with the
    // feature on); with `HOT_PATH_PROFILE_RECORDER` set, a recorder is installed too, to show
    // that a warm request records nothing either way.
    if std::env::var_os("HOT_PATH_PROFILE_RECORDER").is_some() {
        metrics_util::debugging::DebuggingRecorder::new()
            .install()
            .expect("the only recorder");
        println!("with a metrics recorder installed");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _entered = runtime.enter();
    let (mut layer, layer_handle) = support::warm_layer(&runtime, false);
    let (mut layer_replay, replay_handle) = support::warm_layer(&runtime, true);
    let mut static_header = support::static_header();
    let mut hand_rolled = support::rwlock_hand_rolled();
    let mut floor = support::floor();
    // Warm every path once, outside the counted functions.
    for _ in 0..16 {
        drop(send(&mut static_header, support::request()));
        drop(send(&mut hand_rolled, support::request()));
        drop(send(&mut floor, support::request()));
        drop(send(&mut layer, support::request()));
        drop(send(&mut layer_replay, support::request()));
    }

    println!("hot_path_profile: {n} requests per id");
    println!(
        "response future sizes (bytes): inner_only {}, static_header {}, parts_copy {}, \
         thoughtspot_layer {}; response sizes: inner {}, layer {}",
        future_size::<support::Noop>(),
        future_size::<tower_http::auth::AddAuthorization<support::Noop>>(),
        future_size::<support::CopyParts<support::Noop>>(),
        future_size::<Layered>(),
        size_of::<<support::Noop as Service<Request<ReqBody>>>::Response>(),
        size_of::<<Layered as Service<Request<ReqBody>>>::Response>(),
    );
    timed("inner_only", n, id_inner_only);
    timed("static_header", n, |r| {
        id_static_header(&mut static_header, r)
    });
    timed("floor_no_recovery", n, |r| {
        id_floor_no_recovery(&mut floor, r)
    });
    timed("rwlock_hand_rolled", n, |r| {
        id_rwlock_hand_rolled(&mut hand_rolled, r)
    });
    timed("parts_copy", n, id_parts_copy);
    timed("thoughtspot_layer", n, |r| {
        id_thoughtspot_layer(&mut layer, r)
    });
    timed("thoughtspot_layer_replay", n, |r| {
        id_thoughtspot_layer_replay(&mut layer_replay, r)
    });
    support::assert_hot_path_only(&layer_handle);
    support::assert_hot_path_only(&replay_handle);
}
