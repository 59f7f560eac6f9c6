//! One run of a path: its mock, its front door and what it must hold; every run of a path at
//! once; and a credential store with slow writes.

use std::future::Future;
use std::time::Duration;

use futures_util::future::join_all;
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::store::{
    CredentialStore, Generation, MemoryCredentialStore, StoreFuture, StoredEntry,
};
use thoughtspot_auth::{AuthBuilder, AuthHandle, ThoughtSpotAuthLayer};
use tracing::Instrument;

use crate::common::front::{Call, Client, FRONTS, Front};
use crate::common::load::{Tally, login_bound};
use crate::record;

/// A beta data endpoint that is not the session endpoint the layer's liveness check asks.
const BETA_DATA: &str = "/tspublic/rest/v2/metadata/list";
const CONCURRENCY: [usize; 2] = [1, 64];
/// A run that takes longer is stuck.
const STUCK: Duration = Duration::from_secs(120);

/// One run: its mock, its front door, its handle, and when it started.
pub struct Run {
    pub front: Front,
    pub callers: usize,
    pub lifetime: Duration,
    pub ts: MockThoughtSpot,
    pub client: Client,
    pub handle: AuthHandle,
    pub started: std::time::Instant,
}

impl Run {
    pub async fn start(
        front: Front,
        callers: usize,
        lifetime: Duration,
        configure: impl FnOnce(AuthBuilder) -> AuthBuilder,
    ) -> Self {
        Self::start_with(front, callers, lifetime, |b, _| configure(b)).await
    }

    /// As `start`, configuring with the mock at hand.
    pub async fn start_with(
        front: Front,
        callers: usize,
        lifetime: Duration,
        configure: impl FnOnce(AuthBuilder, &MockThoughtSpot) -> AuthBuilder,
    ) -> Self {
        let ts = MockThoughtSpot::builder()
            .default_token_validity(lifetime)
            .max_token_validity(lifetime)
            .session_validity(lifetime)
            .record_requests(false)
            .start()
            .await
            .unwrap();
        let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
            .token_validity(lifetime)
            .session_lifetime(lifetime);
        let (client, handle) = Client::build(front, configure(builder, &ts));
        Self {
            front,
            callers,
            lifetime,
            ts,
            client,
            handle,
            started: std::time::Instant::now(),
        }
    }

    pub fn search(&self) -> impl Fn(usize, usize) -> Call + Send + Sync + 'static {
        let base = self.ts.base_url();
        move |_, _| Call::search(&base)
    }

    pub fn beta_data(&self) -> impl Fn(usize, usize) -> Call + Send + Sync + 'static {
        let url = format!("{}{BETA_DATA}", self.ts.base_url());
        move |_, _| Call::get(url.clone())
    }

    /// Requests between two perturbations, at the least.
    pub fn between(&self) -> usize {
        4 * self.callers + 8
    }

    /// Checks what every run must hold; `keys` credentials (orgs) were in use, `perturbations`
    /// killed or forgot credentials, and forced at least `forced` logins.
    pub fn verdict(
        &self,
        tally: &Tally,
        keys: usize,
        perturbations: usize,
        forced: usize,
        extra: String,
    ) -> Verdict {
        let elapsed = self.started.elapsed();
        let logins = self.ts.logins();
        let stats = self.handle.stats();
        let mut violations = tally.violations();
        // One more per key than the bound strictly allows: generous, and still far below one login
        // per request (or per caller).
        let bound = keys * (login_bound(elapsed, self.lifetime, 0) + 1) + 2 * perturbations;
        if logins > bound {
            violations.push(format!(
                "{logins} logins > {bound} ({keys} keys, {perturbations} perturbations, {:.2} s)",
                elapsed.as_secs_f64()
            ));
        }
        if logins < forced {
            violations.push(format!("{logins} logins < {forced} forced"));
        }
        // A refresh may be on its way: counted by the layer as an attempt, not yet by the mock.
        let (made, attempted) = (stats.logins as usize, stats.login_attempts as usize);
        if !(made..=attempted).contains(&logins) || stats.failures.total() != 0 {
            violations.push(format!("mock saw {logins} logins, the layer {stats:?}"));
        }
        self.report(tally, violations, logins, bound, &stats, extra)
    }

    fn report(
        &self,
        tally: &Tally,
        violations: Vec<String>,
        logins: usize,
        bound: usize,
        stats: &thoughtspot_auth::AuthStats,
        extra: String,
    ) -> Verdict {
        let label = label(self.front, self.callers);
        let summary = format!(
            "{label}: {} ok of {} in {:.2} s; logins {logins} (bound {bound}); {} invalidations, \
             {} rejected responses, {} replays, {} checks{extra}",
            tally.ok(),
            tally.completed(),
            self.started.elapsed().as_secs_f64(),
            stats.invalidations,
            stats.rejected_responses,
            stats.replays,
            stats.credential_checks,
        );
        Verdict {
            label,
            summary,
            violations,
        }
    }
}

/// A run's name: its front door and how many callers.
fn label(front: Front, callers: usize) -> String {
    format!("{front:?} x{callers}")
}

pub struct Verdict {
    pub label: String,
    pub summary: String,
    pub violations: Vec<String>,
}

/// Runs `case` through both front doors at both concurrencies, all at once, and fails with
/// every violation found.
pub async fn everywhere<F, Fut>(case: F, scale: usize)
where
    F: Fn(Front, usize, usize) -> Fut,
    Fut: Future<Output = Verdict> + Send + 'static,
{
    record::install();
    let runs = FRONTS.iter().flat_map(|front| {
        CONCURRENCY.map(|callers| {
            let span = tracing::info_span!(record::RUN_SPAN, label = %label(*front, callers));
            tokio::spawn(tokio::time::timeout(STUCK, case(*front, callers, scale)).instrument(span))
        })
    });
    let mut failures = Vec::new();
    for (i, run) in join_all(runs.collect::<Vec<_>>())
        .await
        .into_iter()
        .enumerate()
    {
        let verdict = run
            .expect("the run panicked")
            .unwrap_or_else(|_| panic!("run {i} was stuck for {STUCK:?}"));
        println!("{}", verdict.summary);
        let count = verdict.violations.len();
        for violation in verdict.violations.into_iter().take(5) {
            failures.push(format!("{}: {violation}", verdict.label));
        }
        if count > 5 {
            failures.push(format!("{}: ... {} more", verdict.label, count - 5));
        }
        if count > 0 {
            // What the layer logged of the requests whose rejection reached the caller.
            for warning in record::of_run(&verdict.label).into_iter().take(10) {
                failures.push(format!("{}: logged: {warning}", verdict.label));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub fn password(builder: AuthBuilder) -> AuthBuilder {
    builder.password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

/// A credential store in memory whose writes take `write_latency`.
pub struct SlowStore {
    pub inner: MemoryCredentialStore,
    pub write_latency: Duration,
}

impl CredentialStore for SlowStore {
    fn read<'a>(&'a self, names: &'a [String]) -> StoreFuture<'a, Vec<Option<StoredEntry>>> {
        self.inner.read(names)
    }

    fn write<'a>(&'a self, name: &'a str, entry: StoredEntry) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            tokio::time::sleep(self.write_latency).await;
            self.inner.write(name, entry).await
        })
    }

    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool> {
        self.inner.remove_if(name, generation)
    }

    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        holder: Generation,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.inner.try_lease(name, holder, ttl)
    }
}
