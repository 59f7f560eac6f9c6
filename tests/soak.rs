//! Chaos soak: 256 concurrent callers through each front door (the tower layer over hyper-util's
//! client, and the reqwest-middleware adapter), four layers each (two on v2.0, two on the beta
//! API), against a MockThoughtSpot that does everything wrong at once: 1 s tokens, 10 % genuine
//! 500s and some maintenance pages and dropped connections on the data endpoints, 503s, 429s with
//! `Retry-After`, maintenance pages, latency spikes and dropped connections on logins, and every
//! token revoked every 3 s. All on tokio's paused clock.
//!
//! What must hold at the end:
//! - every request either succeeded or got exactly the fault the mock injected for it (marked
//!   `x-mock-fault`, or, for a dropped connection, its `x-request-id` in the mock's list): no
//!   request fails because of authentication;
//! - every failed login attempt is one the mock injected a fault into, and the attempts stay
//!   within one per refresh period per layer, plus the injected failures, plus what revocations
//!   cost;
//! - dropping the layers leaves no task behind;
//! - memory does not grow with the number of requests.
//!
//! `cargo test --test soak` runs a short soak (5,120 requests per front door);
//! `cargo test --test soak -- --ignored --nocapture` the full one (51,200 each) and prints its
//! figures.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures_util::future::join_all;
use http::StatusCode;
use thoughtspot_auth::mock::{self, FAULT_HEADER, Fault, FaultKind, MockThoughtSpot};
use thoughtspot_auth::{ApiVersion, AuthBuilder, AuthHandle, ThoughtSpotAuthLayer};
use tokio::time::Instant;

use common::front::{Call, Client, Front};

#[global_allocator]
static HEAP: common::heap::Counting = common::heap::Counting;

const SEARCH: &str = "/api/rest/2.0/metadata/search";
const BETA_SESSION: &str = "/tspublic/rest/v2/session";
const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const GET_TOKEN: &str = "/tspublic/rest/v2/session/gettoken";

const WORKERS: usize = 256;
const TOKEN_VALIDITY: Duration = Duration::from_secs(1);
/// The earliest a credential is refreshed: its soft deadline, the lifetime less the margin
/// (10 % of a 1 s token) and at most half the margin again of jitter.
const MIN_REFRESH_PERIOD: Duration = Duration::from_millis(850);
const REVOKE_EVERY: Duration = Duration::from_secs(3);
const MEAN_GAP: Duration = Duration::from_millis(250);
/// Pooled connections idle this long are closed, so that memory is measured without them.
const IDLE: Duration = Duration::from_millis(500);
/// The pause (virtual time) before memory is sampled: idle connections are closed by then.
const QUIET: Duration = Duration::from_secs(2);

/// SplitMix64, for the callers' pauses.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// The faults of the soak, per path, with their probabilities.
fn chaos(ts: &MockThoughtSpot) {
    for data in [SEARCH, BETA_SESSION] {
        let genuine_500 = Fault::Status {
            status: 500,
            retry_after: None,
        };
        ts.inject_random(data, genuine_500, 0.10);
        ts.inject_random(data, Fault::MaintenancePage, 0.01);
        ts.inject_random(data, Fault::DropConnection, 0.01);
    }
    for login in [TOKEN_FULL, GET_TOKEN] {
        let unavailable = Fault::Status {
            status: 503,
            retry_after: None,
        };
        let limited = Fault::Status {
            status: 429,
            retry_after: Some(1),
        };
        ts.inject_random(login, unavailable, 0.05);
        ts.inject_random(login, limited, 0.02);
        ts.inject_random(login, Fault::MaintenancePage, 0.02);
        ts.inject_random(login, Fault::Delay(Duration::from_millis(300)), 0.03);
        ts.inject_random(login, Fault::DropConnection, 0.02);
    }
}

/// The four layers of one front door: v2.0 password and secret key, beta password and secret
/// key, each in its own org.
fn layers(ts: &MockThoughtSpot) -> Vec<(AuthBuilder, bool)> {
    let base = ts.base_url();
    let password = || {
        ThoughtSpotAuthLayer::builder(&base).password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
    };
    let secret_key = || {
        ThoughtSpotAuthLayer::builder(&base)
            .secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
    };
    vec![
        (password().org(0), false),
        (secret_key().org(1), false),
        (password().api(ApiVersion::Beta).org(1), true),
        (secret_key().api(ApiVersion::Beta).org(2), true),
    ]
}

/// What the callers saw.
#[derive(Default)]
struct Tally {
    ok: usize,
    /// Faults seen, by data path and kind (from the `x-mock-fault` mark).
    seen: BTreeMap<(&'static str, FaultKind), usize>,
    /// Requests that failed below HTTP (their ids).
    failed_ids: HashSet<String>,
    /// Anything else: each one breaks the soak.
    violations: Vec<String>,
}

impl Tally {
    fn record(
        &mut self,
        id: String,
        path: &'static str,
        result: Result<common::front::Reply, common::front::Failure>,
    ) {
        match result {
            Ok(reply) => match reply.headers.get(FAULT_HEADER) {
                None if reply.status == StatusCode::OK => self.ok += 1,
                None => self.violations.push(format!(
                    "{id}: {} with no injected fault: {}",
                    reply.status,
                    String::from_utf8_lossy(&reply.body)
                )),
                Some(mark) => {
                    let kind: FaultKind = mark.to_str().unwrap().parse().unwrap();
                    let consistent = match kind {
                        FaultKind::Status(500) => reply.status == 500,
                        FaultKind::MaintenancePage => {
                            reply.status == 200 && reply.body.starts_with(b"<!DOCTYPE html>")
                        }
                        _ => false,
                    };
                    if !consistent {
                        self.violations
                            .push(format!("{id}: {kind} marked on a {}", reply.status));
                    }
                    *self.seen.entry((path, kind)).or_default() += 1;
                }
            },
            Err(failure) => match failure.error {
                Some(error) => self.violations.push(format!(
                    "{id}: failed because of authentication: {error} ({:?})",
                    error.kind()
                )),
                None => {
                    self.failed_ids.insert(id);
                }
            },
        }
    }

    fn seen(&self, path: &str, kind: FaultKind) -> usize {
        self.seen
            .iter()
            .filter(|((p, k), _)| *p == path && *k == kind)
            .map(|(_, n)| n)
            .sum()
    }
}

/// One soak through one front door; returns its report.
async fn soak(front: Front, requests_per_worker: usize, seed: u64) -> String {
    let real_start = std::time::Instant::now();
    let ts = MockThoughtSpot::builder()
        .default_token_validity(TOKEN_VALIDITY)
        .record_requests(false)
        .seed(seed)
        .start()
        .await
        .unwrap();
    chaos(&ts);
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks_before = metrics.num_alive_tasks();
    let rss_before = common::heap::rss_bytes();

    let specs = layers(&ts);
    let layer_count = specs.len();
    let mut clients: Vec<(Client, AuthHandle, bool)> = Vec::new();
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(IDLE)
        .build_http();
    let plain = reqwest::Client::builder()
        .pool_idle_timeout(IDLE)
        .build()
        .unwrap();
    for (builder, beta) in specs {
        let (client, handle) = match front {
            Front::Tower => Client::tower(builder, hyper.clone()),
            Front::Reqwest => Client::reqwest(builder, plain.clone()),
        };
        clients.push((client, handle, beta));
    }
    drop((hyper, plain));

    let total = WORKERS * requests_per_worker;
    let tally = RefCell::new(Tally::default());
    let revocations = Cell::new(0usize);
    let base = ts.base_url();
    let start = Instant::now();

    // Each caller's requests `range`, with random pauses (virtual time) between them.
    let phase = |range: std::ops::Range<usize>| {
        join_all((0..WORKERS).map(|worker| {
            let (client, _, beta) = &clients[worker % layer_count];
            let (tally, base, range) = (&tally, &base, range.clone());
            async move {
                let mut rng = Rng(seed ^ ((worker * 7919 + range.start) as u64));
                for i in range {
                    let gap = rng.below(2 * MEAN_GAP.as_millis() as u64);
                    tokio::time::sleep(Duration::from_millis(gap)).await;
                    let id = format!("w{worker}-{i}");
                    let (call, path) = if *beta {
                        (Call::beta(base), BETA_SESSION)
                    } else {
                        (Call::search(base), SEARCH)
                    };
                    let result = client.send(call.id(id.clone())).await;
                    tally.borrow_mut().record(id, path, result);
                }
            }
        }))
    };
    // Memory is sampled when no request is in flight and idle connections are closed: after the
    // first quarter of every caller's requests, and at the end.
    let quarter = requests_per_worker / 4;
    let quiet_sample = || async {
        tokio::time::sleep(QUIET).await;
        (common::heap::live(), common::heap::rss_bytes())
    };
    let phases = async {
        phase(0..quarter).await;
        let sample = quiet_sample().await;
        phase(quarter..requests_per_worker).await;
        sample
    };
    let revoker = async {
        loop {
            tokio::time::sleep(REVOKE_EVERY).await;
            ts.revoke_all_tokens();
            revocations.set(revocations.get() + 1);
        }
    };
    let (quarter_heap, quarter_rss) = tokio::select! {
        sample = phases => sample,
        _ = revoker => unreachable!(),
    };
    let (end_heap, end_rss) = quiet_sample().await;
    // The run, less the quiet pause in the middle.
    let run = start.elapsed() - 2 * QUIET;

    // ----- what the callers saw against what the mock injected --------------------------------
    let tally = tally.into_inner();
    let mut report = format!(
        "{front:?}: {total} requests by {WORKERS} callers over {layer_count} layers, \
         {:.1} s virtual, {:.1} s real\n",
        run.as_secs_f64(),
        real_start.elapsed().as_secs_f64()
    );
    assert!(
        tally.violations.is_empty(),
        "{} requests failed otherwise than as injected, e.g. {:?}",
        tally.violations.len(),
        &tally.violations[..tally.violations.len().min(5)]
    );
    let faulted: usize = tally.seen.values().sum();
    assert_eq!(tally.ok + faulted + tally.failed_ids.len(), total);
    report += &format!(
        "  succeeded {} ({:.1} %), got an injected fault {faulted}, lost to a dropped connection {}\n",
        tally.ok,
        100.0 * tally.ok as f64 / total as f64,
        tally.failed_ids.len()
    );

    let dropped: HashSet<String> = ts.dropped_request_ids().into_iter().collect();
    assert_eq!(
        tally.failed_ids, dropped,
        "exactly the requests whose connection the mock dropped failed below HTTP"
    );
    for (path, kind) in [
        (SEARCH, FaultKind::Status(500)),
        (SEARCH, FaultKind::MaintenancePage),
        (BETA_SESSION, FaultKind::Status(500)),
        (BETA_SESSION, FaultKind::MaintenancePage),
    ] {
        let (seen, injected) = (tally.seen(path, kind), ts.faults_injected_at(path, kind));
        if path == SEARCH {
            // Nothing but the callers' requests reaches the v2.0 endpoint, and a 500 or a page
            // there is returned as it is.
            assert_eq!(seen, injected, "{path} {kind}");
        } else {
            // The beta endpoint also serves the layer's liveness checks, and a 500 whose check
            // finds the token revoked is replaced by a replay's answer.
            assert!(
                seen <= injected,
                "{path} {kind}: seen {seen} > injected {injected}"
            );
        }
        report += &format!("  {path} {kind}: injected {injected}, seen by callers {seen}\n");
    }
    let drops: usize = [SEARCH, BETA_SESSION]
        .iter()
        .map(|p| ts.faults_injected_at(p, FaultKind::DropConnection))
        .sum();
    report += &format!(
        "  data drop-connection: injected {drops} ({} to callers' requests), seen {}\n",
        dropped.len(),
        tally.failed_ids.len()
    );

    // ----- logins --------------------------------------------------------------------------------
    let stats: Vec<_> = clients
        .iter()
        .map(|(_, handle, _)| handle.stats())
        .collect();
    let sum = |f: &dyn Fn(&thoughtspot_auth::AuthStats) -> u64| stats.iter().map(f).sum::<u64>();
    let login_faults =
        |kind| ts.faults_injected_at(TOKEN_FULL, kind) + ts.faults_injected_at(GET_TOKEN, kind);
    let injected_unavailable =
        login_faults(FaultKind::Status(503)) + login_faults(FaultKind::MaintenancePage);
    let injected_limited = login_faults(FaultKind::Status(429));
    let injected_drops = login_faults(FaultKind::DropConnection);
    let injected_failures = injected_unavailable + injected_limited + injected_drops;
    let attempts = ts.logins();
    assert_eq!(sum(&|s| s.login_attempts) as usize, attempts);
    assert_eq!(
        sum(&|s| s.failures.unavailable) as usize,
        injected_unavailable,
        "503s and maintenance pages"
    );
    assert_eq!(sum(&|s| s.failures.rate_limited) as usize, injected_limited);
    assert_eq!(sum(&|s| s.failures.transport) as usize, injected_drops);
    assert_eq!(
        sum(&|s| s.failures.total()) as usize,
        injected_failures,
        "every failed login attempt met an injected fault"
    );
    assert_eq!(sum(&|s| s.logins) as usize + injected_failures, attempts);
    let periods = (run.as_secs_f64() / MIN_REFRESH_PERIOD.as_secs_f64()).floor() as usize;
    let bound =
        layer_count * (periods + 1) + injected_failures + 2 * layer_count * revocations.get() + 4;
    assert!(
        attempts <= bound,
        "{attempts} login attempts > {bound} = {layer_count} layers x ({periods} refresh periods \
         + 1) + {injected_failures} injected failures + 2 x {layer_count} x {} revocations + 4",
        revocations.get()
    );
    report += &format!(
        "  logins: {attempts} attempts ({} ok, {injected_failures} met injected faults: \
         {injected_unavailable} 503/maintenance, {injected_limited} 429, {injected_drops} dropped; \
         {} latency spikes), bound {bound}; {} revocations, {} replays, {} credential checks\n",
        sum(&|s| s.logins),
        login_faults(FaultKind::Delay),
        revocations.get(),
        sum(&|s| s.replays),
        sum(&|s| s.credential_checks),
    );

    // ----- memory: no growth with the number of requests -----------------------------------------
    let heap_growth = end_heap - quarter_heap;
    let requests_between = total - WORKERS * quarter;
    report += &format!(
        "  heap live at 25 %: {} KiB, at 100 %: {} KiB ({:+} B per request); \
         RSS {} MiB before, {} MiB at 25 %, {} MiB at 100 %\n",
        quarter_heap / 1024,
        end_heap / 1024,
        heap_growth / requests_between as isize,
        rss_before / (1 << 20),
        quarter_rss / (1 << 20),
        end_rss / (1 << 20),
    );
    assert!(
        heap_growth < 16 * requests_between as isize + 256 * 1024,
        "the heap grew by {heap_growth} B over {requests_between} requests"
    );

    // ----- nothing left running ------------------------------------------------------------------
    drop(clients);
    for _ in 0..10 {
        // Virtual time: each sleep returns once every connection has had its say.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tasks_after = metrics.num_alive_tasks();
    report += &format!("  tasks alive: {tasks_before} before the layers, {tasks_after} after\n");
    assert_eq!(
        tasks_after, tasks_before,
        "every task of the layers and their connections ended"
    );
    ts.shutdown().await;
    report
}

#[tokio::test(start_paused = true)]
async fn chaos_soak_short() {
    for front in common::front::FRONTS {
        let report = soak(front, 20, 0x5eed).await;
        println!("{report}");
    }
}

#[tokio::test(start_paused = true)]
#[ignore = "the full soak: 51,200 requests per front door; run with --ignored --nocapture"]
async fn chaos_soak_full() {
    for front in common::front::FRONTS {
        let report = soak(front, 200, 0x50a6).await;
        println!("{report}");
    }
}
