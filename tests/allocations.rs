//! Heap allocations on the hot path, counted by a global allocator.
//!
//! The allocator counts only on a thread that asked it to, and only while it asked (a
//! thread-local flag), so the test harness and other tests running at the same time do not
//! disturb the count. Requests are built outside the counted region; what is counted is exactly
//! `poll_ready`, `call` and driving the response future, as in `benches/hot_path.rs`.
//!
//! To see where a counted allocation comes from, run with `ALLOCATIONS_BACKTRACE=1`, e.g.
//! `ALLOCATIONS_BACKTRACE=1 cargo test --test allocations -- --nocapture --include-ignored`: a
//! backtrace is printed for every counted allocation of one request.

#[path = "../benches/support/mod.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Empty;
use support::{ReqBody, send};
use tower::Service;

struct Counting;

thread_local! {
    /// Whether allocations on this thread are being counted now.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// Allocations counted on this thread.
    static COUNT: Cell<usize> = const { Cell::new(0) };
    /// Whether to print a backtrace for every counted allocation.
    static TRACE: Cell<bool> = const { Cell::new(false) };
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn note(layout: Layout, what: &str) {
    let _ = COUNTING.try_with(|counting| {
        if !counting.get() {
            return;
        }
        counting.set(false); // what follows may allocate: not the code under test
        COUNT.with(|n| n.set(n.get() + 1));
        if TRACE.with(Cell::get) {
            let backtrace = std::backtrace::Backtrace::force_capture().to_string();
            eprintln!("--- {what} of {} bytes:", layout.size());
            print_frames(&backtrace);
        }
        counting.set(true);
    });
}

/// Prints the frames of `backtrace` from the crates involved (not the standard library, the
/// test harness or this allocator), each with its location.
fn print_frames(backtrace: &str) {
    const SKIP: [&str; 9] = [
        "std::",
        "core::",
        "alloc::",
        "test::",
        "__rust",
        "<std::",
        "<core::",
        "<alloc::",
        "allocations::note",
    ];
    let mut keep = false;
    for line in backtrace.lines() {
        let trimmed = line.trim_start();
        if let Some((_, symbol)) = trimmed.split_once(": ") {
            if trimmed
                .split(':')
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok())
            {
                keep = !SKIP.iter().any(|s| symbol.starts_with(s))
                    && !symbol.contains("GlobalAlloc")
                    && !symbol.starts_with("start_thread")
                    && !symbol.starts_with("clone3");
            }
        }
        if keep {
            eprintln!("{line}");
        }
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; counting only touches
// const-initialised thread-locals, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout, "alloc");
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout, "alloc_zeroed");
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout, "realloc");
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f`, counting the heap allocations it makes on this thread.
fn count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let output = f();
    COUNTING.with(|c| c.set(false));
    (output, COUNT.with(Cell::get))
}

/// Requests sent, uncounted, before counting: whatever is made once (a thread's arc-swap debt
/// slots, a header value's shared buffer on its first clone) is made by then.
const WARM_UP: usize = 16;
/// Requests counted.
const REQUESTS: usize = 1000;

/// Allocations per request when sending through `service`, after a warm-up; with
/// `ALLOCATIONS_BACKTRACE` set, one more request is sent with a backtrace per allocation.
fn allocations_per_request<S>(name: &str, service: &mut S) -> f64
where
    S: Service<Request<ReqBody>>,
    S::Error: std::fmt::Debug,
{
    allocations_per_request_of(name, service, support::request)
}

/// [`allocations_per_request`] with requests made by `request`.
fn allocations_per_request_of<S>(
    name: &str,
    service: &mut S,
    request: fn() -> Request<ReqBody>,
) -> f64
where
    S: Service<Request<ReqBody>>,
    S::Error: std::fmt::Debug,
{
    for _ in 0..WARM_UP {
        drop(send(service, request()));
    }
    let mut total = 0;
    for _ in 0..REQUESTS {
        let request = request();
        let (response, n) = count(|| send(service, request));
        drop(response);
        total += n;
    }
    if std::env::var_os("ALLOCATIONS_BACKTRACE").is_some() {
        eprintln!("=== {name}: the allocations of one request");
        let request = request();
        TRACE.with(|t| t.set(true));
        let (response, n) = count(|| send(service, request));
        TRACE.with(|t| t.set(false));
        drop(response);
        eprintln!("=== {name}: {n} allocations");
    }
    let per_request = total as f64 / REQUESTS as f64;
    eprintln!("{name}: {per_request} heap allocations per request");
    per_request
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A warm layer with replay off attaches its credential without allocating. The same request
/// through the same kind of layer with replay on allocates exactly once (the kept parts): so the
/// counter demonstrably counts in this run, and the zero is the layer's.
#[test]
fn thoughtspot_layer_warm_allocates_nothing() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let (mut service, handle) = support::warm_layer(&runtime, false);
    let per_request = allocations_per_request("thoughtspot_layer", &mut service);
    support::assert_hot_path_only(&handle);
    assert_eq!(
        per_request, 0.0,
        "attaching a warm credential must not allocate (replay off)"
    );
    let (mut replaying, handle) = support::warm_layer(&runtime, true);
    let with_replay = allocations_per_request("thoughtspot_layer_replay", &mut replaying);
    support::assert_hot_path_only(&handle);
    assert_eq!(with_replay, 1.0, "the counter counts the kept parts");
}

#[test]
fn thoughtspot_layer_replay_allocates_no_more_than_a_parts_copy() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let parts_copy = allocations_per_request("parts_copy", &mut support::parts_copy());
    let (mut service, handle) = support::warm_layer(&runtime, true);
    let layer_replay = allocations_per_request("thoughtspot_layer_replay", &mut service);
    support::assert_hot_path_only(&handle);
    assert!(
        layer_replay <= parts_copy,
        "replay may cost a copy of the parts and nothing more: {layer_replay} allocations per \
         request with replay on, {parts_copy} for the bare parts copy"
    );
    // The kept parts are packed into one buffer, whatever the number of headers.
    assert_eq!(layer_replay, 1.0);
}

/// A `Full<Bytes>` body of known size (what hyper-util clients send) takes the hot path too: no
/// allocation with replay off, and with replay on no more than a parts copy, since the body is
/// kept as a clone of its `Bytes` rather than read into a buffer.
#[test]
fn a_full_body_takes_the_hot_path() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let (mut service, handle) = support::warm_layer(&runtime, false);
    let per_request = allocations_per_request_of(
        "thoughtspot_layer, 35-byte body",
        &mut service,
        support::request_with_body,
    );
    support::assert_hot_path_only(&handle);
    assert_eq!(per_request, 0.0);

    let (mut service, handle) = support::warm_layer(&runtime, true);
    let layer_replay = allocations_per_request_of(
        "thoughtspot_layer_replay, 35-byte body",
        &mut service,
        support::request_with_body,
    );
    let parts_copy = allocations_per_request_of(
        "parts_copy, 35-byte body",
        &mut support::parts_copy(),
        support::request_with_body,
    );
    support::assert_hot_path_only(&handle);
    assert!(
        layer_replay <= parts_copy,
        "a Full body is kept by a clone of its bytes: {layer_replay} allocations per request \
         with replay on, {parts_copy} for the bare parts copy"
    );
}

/// What the inner service was given, last.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<HeaderValue>>>);

impl Service<Request<ReqBody>> for Capture {
    type Response = Response<Empty<Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let seen = request.headers().get(http::header::AUTHORIZATION).cloned();
        *self.0.lock().expect("not poisoned") = seen;
        std::future::ready(Ok(Response::new(Empty::new())))
    }
}

/// The layer really attaches the token on its allocation-free hot path, marked sensitive, with
/// replay off and on (what the counts above are the cost of).
#[test]
fn the_layer_attaches_a_sensitive_token_on_the_hot_path() {
    let expected = format!("Bearer {}", support::TOKEN);
    let runtime = runtime();
    let _entered = runtime.enter();
    let capture = Capture::default();
    for replay in [false, true] {
        let (mut layer, handle) = support::warm_layer_over(&runtime, replay, capture.clone());
        capture.0.lock().unwrap().take();
        for _ in 0..100 {
            drop(send(&mut layer, support::request()));
            let seen = capture.0.lock().unwrap().take().unwrap();
            assert_eq!(seen, expected.as_str());
            assert!(seen.is_sensitive());
        }
        support::assert_hot_path_only(&handle);
    }
}
