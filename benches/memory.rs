//! Memory: heap bytes held per cached credential, and the resident memory of a layer with 1 and
//! with 1,000 orgs' credentials cached; then the same per cached (user, org) token of a layer in
//! multi-user mode with 10,000 users' tokens cached.
//!
//! ```sh
//! cargo bench --bench memory
//! ```
//!
//! A bench binary of its own (`harness = false`) that prints a table. MockThoughtSpot runs in a
//! child process (this binary again, told so by an environment variable), so that the resident
//! memory measured here is the layer's process alone: the runtime, a hyper-util client, and the
//! layer. The mock has a user in orgs 0 to 999; the layer (`.max_cached_orgs(1000)`, org 0) logs
//! in for org 0 with its first request, then for orgs 1 to 999 with one request each carrying
//! `OrgOverride::new(n)`, one after another so that the client keeps a single connection. The
//! multi-user layer (trusted authentication, `.act_as_users(..)`) sends one request for each of
//! the mock's 10,000 other users the same way, each carrying `ActAs`.
//!
//! Heap bytes are counted by a global allocator (live bytes: allocated less freed). Resident
//! memory is read from `/proc/self/statm`; it moves in pages and the allocator keeps what it
//! freed, so the heap count is the finer measure and RSS the honest upper one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use thoughtspot_auth::mock::{MockThoughtSpot, MockUser};
use thoughtspot_auth::{ActAs, OrgOverride, ThoughtSpotAuthLayer};
use tower::{Layer, ServiceExt};

const CHILD: &str = "THOUGHTSPOT_AUTH_MEMORY_BENCH_MOCK";
const ORGS: i64 = 1000;
const USER: &str = "bench";
const PASSWORD: &str = "bench-password";
const USERS: usize = 10_000;

fn user_name(i: usize) -> String {
    format!("user-{i:05}")
}

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// SAFETY: every call is passed on to the system allocator unchanged; counting is one atomic add.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn live_heap() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Resident memory of this process, in bytes (`/proc/self/statm`'s second field, in pages).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

fn kib(bytes: isize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// The child: serves MockThoughtSpot, prints its URL, and stops when its stdin closes.
fn serve_mock() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let mut builder =
            MockThoughtSpot::builder().user_with(MockUser::new(USER, PASSWORD).orgs(0..ORGS));
        for org in 0..ORGS {
            builder = builder.org(org, format!("Org {org}"));
        }
        for i in 0..USERS {
            builder = builder.user_with(MockUser::new(user_name(i), "unused"));
        }
        let mock = builder.start().await.expect("the mock starts");
        println!("{}", mock.base_url());
        std::io::stdout().flush().expect("stdout");
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .expect("stdin");
        mock.shutdown().await;
    });
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        return serve_mock();
    }
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the mock's process starts");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("the child's stdout"))
        .read_line(&mut url)
        .expect("the mock's URL");
    let url = url.trim().to_owned();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let rows = runtime.block_on(async move {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let search = |org: Option<i64>| {
            let mut request = http::Request::post(format!("{url}/api/rest/2.0/metadata/search"))
                .header("content-type", "application/json")
                .body(Full::default())
                .expect("a valid request");
            if let Some(org) = org {
                request.extensions_mut().insert(OrgOverride::new(org));
            }
            request
        };
        // Open the client's connection before the first measurement.
        let response = client.request(search(None)).await.expect("an answer");
        response.into_body().collect().await.expect("a body");
        let (heap_before, rss_before) = (live_heap(), rss());

        let layer = ThoughtSpotAuthLayer::builder(url.clone())
            .password(USER, PASSWORD)
            .org(0)
            .max_cached_orgs(ORGS as usize)
            .build()
            .expect("the layer builds");
        let handle = layer.handle();
        let service = layer.layer(client.clone());
        let send = |org: Option<i64>| {
            let service = service.clone();
            let request = search(org);
            async move {
                let response = service.oneshot(request).await.expect("an answer");
                assert_eq!(response.status(), 200);
                response.into_body().collect().await.expect("a body");
            }
        };

        send(None).await;
        assert_eq!(handle.stats().cached_credentials, 1);
        let (heap_one, rss_one) = (live_heap(), rss());

        for org in 1..ORGS {
            send(Some(org)).await;
        }
        let stats = handle.stats();
        assert_eq!(stats.cached_credentials, ORGS as usize);
        assert_eq!(stats.logins, ORGS as u64);
        let (heap_all, rss_all) = (live_heap(), rss());
        // And once more for every org: all cached, nothing more is held.
        for org in 0..ORGS {
            send(Some(org)).await;
        }
        assert_eq!(handle.stats().logins, ORGS as u64);
        let heap_again = live_heap();

        let per = |all: isize, one: isize| (all - one) / (ORGS as isize - 1);

        // Multi-user mode: one token per (user, org), each user in its default org.
        let (heap_multi_before, rss_multi_before) = (live_heap(), rss());
        let multi = ThoughtSpotAuthLayer::builder(url.clone())
            .act_as_users(thoughtspot_auth::mock::DEFAULT_SECRET_KEY)
            .max_cached_users(USERS)
            .build()
            .expect("the layer builds");
        let multi_handle = multi.handle();
        let multi_service = multi.layer(client.clone());
        let send_as = |i: usize| {
            let service = multi_service.clone();
            let mut request = search(None);
            request.extensions_mut().insert(ActAs::user(user_name(i)));
            async move {
                let response = service.oneshot(request).await.expect("an answer");
                assert_eq!(response.status(), 200);
                response.into_body().collect().await.expect("a body");
            }
        };
        send_as(0).await;
        let (heap_user, rss_user) = (live_heap(), rss());
        for i in 1..USERS {
            send_as(i).await;
        }
        let stats = multi_handle.stats();
        assert_eq!(stats.cached_credentials, USERS);
        assert_eq!(stats.logins, USERS as u64);
        let (heap_users, rss_users) = (live_heap(), rss());
        let per_user = |all: isize, one: isize| (all - one) / (USERS as isize - 1);
        vec![
            format!("| layer with 1 org cached | {} | {} |", kib(heap_one - heap_before), kib(rss_one as isize - rss_before as isize)),
            format!(
                "| layer with {ORGS} orgs cached | {} | {} |",
                kib(heap_all - heap_before),
                kib(rss_all as isize - rss_before as isize)
            ),
            format!(
                "| **per cached credential** | **{} bytes** | **{} bytes** |",
                per(heap_all, heap_one),
                per(rss_all as isize, rss_one as isize)
            ),
            format!(
                "| after another request per org (all cached) | {} | |",
                kib(heap_again - heap_before)
            ),
            format!(
                "| multi-user layer with 1 user cached | {} | {} |",
                kib(heap_user - heap_multi_before),
                kib(rss_user as isize - rss_multi_before as isize)
            ),
            format!(
                "| multi-user layer with {USERS} users cached | {} | {} |",
                kib(heap_users - heap_multi_before),
                kib(rss_users as isize - rss_multi_before as isize)
            ),
            format!(
                "| **per cached (user, org) token** | **{} bytes** | **{} bytes** |",
                per_user(heap_users, heap_user),
                per_user(rss_users as isize, rss_user as isize)
            ),
            format!(
                "| process before the layer (runtime, client, binary) | {} live heap | {} resident |",
                kib(heap_before),
                kib(rss_before as isize)
            ),
        ]
    });
    drop(child.stdin.take());
    let _ = child.wait();

    println!("memory: a layer over hyper-util's client, MockThoughtSpot in another process\n");
    println!("| | heap held (live bytes) | resident (RSS) |\n|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}
