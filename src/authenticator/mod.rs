//! The core both adapters share: the credential cache, single-flight logins, soft and hard
//! expiry, generation-guarded invalidation, backoff, and the per-org map.
//!
//! The hot path ([`Core::attach`]) reads one `ArcSwap` (the current org's credential, mirrored
//! in `fast`), checks the credential's phase (an atomic flipped by a timer task, so no clock is
//! read) and clones its prebuilt header — the copy kept for the calling thread's stripe, so that
//! threads sending at once write no shared reference count (see `crate::stripes`). Everything
//! else — logins, refreshes, invalidation, org switches — runs on the slow path, and every login
//! runs as a task of its own so that a caller who goes away never cancels it. A request that
//! finds its credential soft-expired only wakes the credential's life timer (the same timer
//! task), which starts the refresh: spawning it from the request cost that request milliseconds
//! under load.
//!
//! # Handing out a credential
//!
//! The invariant: **no path hands out a credential whose generation has been retired for its
//! key** — rejected by a response, or forgotten (invalidated, logged out, revoked, org dropped).
//! Generations only grow, and each slot keeps the newest one retired (`Slot::retired`), marked
//! *before* the credential leaves the slot. Every place a credential is handed out, and why it
//! cannot be a retired one:
//!
//! - **The hot path** (`attach`, `attach_cached`, multi-user slots through `attach_from_slots`):
//!   it reads only what is in the slot or its mirror `fast`. Retiring removes the credential
//!   from both; a login that mirrors a credential re-reads the mark after storing it and takes
//!   it back off if it was retired meanwhile (`mirror_if_current`, `switch_org`). A request
//!   sent at the very moment of a rejection may still carry the old credential; it is then
//!   rejected and replayed like any other.
//! - **The slow path** (`credential`): it serves the slot's credential only if it is usable,
//!   and checks a login's answer again after waking, since the answer may have been rejected by
//!   another request in between; then it waits for the next login instead.
//! - **A flight**: only a flight that has not answered is joined. A finished flight lingers
//!   while it arms the credential's life timer and writes the credential store; whoever comes
//!   then starts the next login. A late flight never replaces the timer of a newer credential.
//! - **The credential store**: a replica never adopts the stored generation it rejected, nor
//!   anything minted before it (`fleet::SlotFleet`), and adoption gives a new local generation.
//! - **The replay** in both doors gets its credential from `credential`, so it is always newer
//!   than the one rejected (asserted in debug builds).

mod backoff;
mod fleet;
pub(crate) mod login;
mod slots;
mod stats;

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use http::{Extensions, HeaderMap, StatusCode};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument;

use crate::Error;
use crate::config::{AuthConfig, CredentialKind, Source};
use crate::credential::{CacheKey, Credential, Phase};
use crate::handle::{AuthStats, UserStats};
use crate::identity::{ActAs, OrgOverride, Provisioning};
use crate::session::{ApiVersion, ErrorKind, Login, Session};
use crate::store::Generation;
use crate::transport::Transport;

use backoff::Failures;
pub(crate) use backoff::random_fraction;
use login::SharedSession;
use slots::SlotMap;
pub(crate) use stats::Counters;

const NO_ORG: i64 = i64::MIN;

type Outcome = Option<Result<Arc<Credential>, Error>>;

/// Owns the core for the layer, its services, handles and response futures. When the last owner
/// goes, every background task (logins, timers, checks) is stopped.
pub(crate) struct Owner(Arc<Core>);

impl Owner {
    pub(crate) fn new(config: AuthConfig) -> Arc<Self> {
        Arc::new(Self(Core::new(config)))
    }

    #[inline]
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.0
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// What a response says about the credential it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not about the credential.
    Fine,
    /// Rejected (v2.0 401, beta 500 with upstream 401).
    Rejected,
    /// A beta 500: its body must be read to know.
    ReadBody,
}

/// What the body of a beta 500 says about the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beta500 {
    /// Upstream 401 (or code 10097): rejected.
    Rejected,
    /// No upstream detail: may or may not be the credential.
    Ambiguous,
    /// Another upstream status: not about the credential.
    Other,
}

impl Beta500 {
    /// Reads the first bytes of a beta 500's body.
    pub(crate) fn judge(body: &[u8]) -> Self {
        let parsed = crate::session::error::ErrorBody::parse(body);
        match (parsed.upstream_status, parsed.code) {
            (Some(401), _) | (None, Some(crate::session::CODE_UNAUTHORIZED)) => Self::Rejected,
            (None, _) => Self::Ambiguous,
            (Some(_), _) => Self::Other,
        }
    }
}

/// The current org's credential as one tower service (and each of its clones) caches it. While
/// it caches a credential that is no longer current it keeps it alive, until its next request
/// or its drop; it never attaches it.
pub(crate) type CachedCredential = arc_swap::cache::Cache<Mirror, Option<Arc<Credential>>>;

/// The core's mirror of the current org's credential, owned, for a [`CachedCredential`].
#[derive(Clone)]
pub(crate) struct Mirror(Arc<Core>);

impl std::ops::Deref for Mirror {
    type Target = ArcSwapOption<Credential>;

    fn deref(&self) -> &Self::Target {
        &self.0.fast
    }
}

/// The shared core. See the module docs.
pub(crate) struct Core {
    pub(crate) config: AuthConfig,
    session: OnceLock<SharedSession>,
    current_org: AtomicI64,
    /// The current org's credential, for the hot path.
    fast: ArcSwapOption<Credential>,
    slots: SlotMap,
    /// Drops idle credentials; started with the first slot.
    sweeper: Mutex<Option<AbortHandle>>,
    generation: AtomicU64,
    /// Rejections in a row with no accepted response between: slows relogins when ThoughtSpot
    /// rejects even fresh credentials, so nothing loops.
    rejection_streak: AtomicU32,
    /// Bad credentials are the account's, not one org's: while their window lasts no org tries
    /// the password or key again.
    account_failures: Mutex<Failures>,
    /// Taken for each login attempt in single-user modes (see `run_flight`).
    account_login: tokio::sync::Mutex<()>,
    pub(crate) counters: Counters,
    /// The credential store a fleet of replicas shares, if one is configured.
    fleet: Option<fleet::Fleet>,
    tick: AtomicU64,
    /// A weak reference to this core, for the tasks it starts itself.
    myself: OnceLock<std::sync::Weak<Core>>,
}

/// One cache key's state.
pub(crate) struct Slot {
    key: CacheKey,
    credential: ArcSwapOption<Credential>,
    /// The newest generation of this key that was rejected or forgotten (invalidated, logged
    /// out, revoked). Generations only grow, so nothing at or below it is handed out again: see
    /// "Handing out a credential" in the module docs.
    retired: AtomicU64,
    flight: Mutex<Option<Flight>>,
    failures: Mutex<Failures>,
    timer: Mutex<Option<AbortHandle>>,
    check: Mutex<Option<Check>>,
    last_used: AtomicU64,
    sequence: u64,
    /// Just-in-time user creation asked for by the requests of this key.
    provisioning: Mutex<Option<Arc<Provisioning>>>,
    logins: AtomicU64,
    failed_logins: AtomicU64,
    /// What this slot knows of its entry in the credential store.
    fleet: Mutex<fleet::SlotFleet>,
}

/// Where a published credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// This replica logged in.
    Login,
    /// Another replica logged in and published it to the credential store.
    Adopted,
}

/// This flight's lease on a fleet-wide login.
struct Lease {
    holder: Generation,
    held: bool,
}

struct Flight {
    id: u64,
    outcome: watch::Receiver<Outcome>,
    task: AbortHandle,
}

struct Check {
    generation: u64,
    alive: watch::Receiver<Option<bool>>,
    task: AbortHandle,
}

impl Slot {
    fn new(key: CacheKey, epoch: u64, sequence: u64) -> Self {
        Self {
            key,
            credential: ArcSwapOption::empty(),
            retired: AtomicU64::new(0),
            flight: Mutex::new(None),
            failures: Mutex::new(Failures::default()),
            timer: Mutex::new(None),
            check: Mutex::new(None),
            last_used: AtomicU64::new(epoch),
            sequence,
            provisioning: Mutex::new(None),
            logins: AtomicU64::new(0),
            failed_logins: AtomicU64::new(0),
            fleet: Mutex::new(fleet::SlotFleet::default()),
        }
    }

    fn stop_tasks(&self) {
        if let Some(flight) = lock(&self.flight).take() {
            flight.task.abort();
        }
        if let Some(timer) = lock(&self.timer).take() {
            timer.abort();
        }
        if let Some(check) = lock(&self.check).take() {
            check.task.abort();
        }
    }

    fn busy(&self) -> bool {
        lock(&self.flight).is_some()
    }

    /// Marks every generation up to `generation` as never to be handed out again. Called before
    /// the credential leaves the slot, so whoever no longer finds it there also sees the mark.
    fn retire(&self, generation: u64) {
        // SeqCst: `mirror_if_current` stores the hot path's copy and then reads this mark, and
        // the invalidation marks and then removes that copy; one of the two sees the other.
        self.retired.fetch_max(generation, Ordering::SeqCst);
    }

    /// Whether `credential` may still be handed out: not rejected or forgotten for this key.
    fn usable(&self, credential: &Credential) -> bool {
        credential.generation > self.retired.load(Ordering::SeqCst)
    }

    /// The slot's credential, unless it has been retired on its way out.
    fn current(&self) -> Option<Arc<Credential>> {
        self.credential
            .load_full()
            .filter(|credential| self.usable(credential))
    }

    /// Takes the slot's credential out, retiring it first.
    fn forget(&self) -> Option<Arc<Credential>> {
        if let Some(credential) = self.credential.load_full() {
            self.retire(credential.generation);
        }
        let forgotten = self.credential.swap(None)?;
        // A newer one may have landed between the load and the swap.
        self.retire(forgotten.generation);
        Some(forgotten)
    }
}

/// Locks a mutex that guards plain state; a panic elsewhere cannot leave that state torn.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn spawn<F>(future: F) -> Option<AbortHandle>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    Some(runtime.spawn(future).abort_handle())
}

impl Core {
    fn new(config: AuthConfig) -> Arc<Self> {
        let session = OnceLock::new();
        if let Some(transport) = &config.transport {
            let _ = session.set(build_session(&config, transport.clone()));
        }
        let fleet = fleet::Fleet::new(&config);
        let core = Arc::new(Self {
            current_org: AtomicI64::new(config.org.unwrap_or(NO_ORG)),
            config,
            session,
            fast: ArcSwapOption::empty(),
            slots: SlotMap::new(),
            sweeper: Mutex::new(None),
            generation: AtomicU64::new(0),
            rejection_streak: AtomicU32::new(0),
            account_failures: Mutex::new(Failures::default()),
            account_login: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            fleet,
            tick: AtomicU64::new(0),
            myself: OnceLock::new(),
        });
        let _ = core.myself.set(Arc::downgrade(&core));
        core
    }

    /// Gives the core its transport if it has none yet (the tower layer offers a clone of the
    /// service it wraps on the first request that needs a login).
    pub(crate) fn offer_transport(&self, make: impl FnOnce() -> Arc<dyn Transport>) {
        if self.session.get().is_none() {
            let _ = self.session.set(build_session(&self.config, make()));
        }
    }

    fn session(&self) -> Result<&SharedSession, Error> {
        self.session.get().ok_or_else(|| {
            Error::config(
                "no transport to log in with yet: set one with `.transport(..)` on the builder, \
                 or send a request through the layer first",
            )
        })
    }

    // ----- keys --------------------------------------------------------------------------------

    #[inline]
    pub(crate) fn current_org(&self) -> Option<i64> {
        match self.current_org.load(Ordering::Acquire) {
            NO_ORG => None,
            org => Some(org),
        }
    }

    pub(crate) fn current_key(&self) -> CacheKey {
        CacheKey::org(self.current_org())
    }

    /// The key a request's credential comes from: in multi-user mode its [`ActAs`] (required),
    /// and its org from the `ActAs`, an [`OrgOverride`] or the current org.
    #[inline]
    pub(crate) fn key_for(&self, extensions: &Extensions) -> Result<CacheKey, Error> {
        // Most requests carry no extensions: their key is the current org's, found without
        // looking anything up (the rest is out of line, so that this inlines into the hot path).
        if extensions.is_empty() && !self.config.multi_user() {
            return Ok(CacheKey::org(self.current_org()));
        }
        self.key_from_extensions(extensions)
    }

    #[inline(never)]
    fn key_from_extensions(&self, extensions: &Extensions) -> Result<CacheKey, Error> {
        let org = || match extensions.get::<OrgOverride>() {
            Some(OrgOverride(org)) => Some(*org),
            None => self.current_org(),
        };
        if !self.config.multi_user() {
            return Ok(CacheKey::org(org()));
        }
        match extensions.get::<ActAs>() {
            Some(act_as) => CacheKey::act_as(act_as, act_as.org.or_else(org), self.config.kind),
            None => Err(Error::config(
                "multi-user trusted authentication: the request names no user (insert an \
                 `ActAs` into its extensions); nothing was sent",
            )),
        }
    }

    /// Remembers a request's wish to create its user just in time.
    pub(crate) fn provision(&self, key: &CacheKey, extensions: &Extensions) {
        if let Some(provisioning) = extensions
            .get::<ActAs>()
            .and_then(|a| a.provisioning.clone())
        {
            lock(&self.slot(key).provisioning).get_or_insert(provisioning);
        }
    }

    fn slot(&self, key: &CacheKey) -> Arc<Slot> {
        let current = self.current_key();
        let slot = self
            .slots
            .get_or_insert(key, self.config.max_cached, |s| s.key == current);
        self.start_sweeper();
        slot
    }

    /// Drops credentials unused for the idle timeout, checking four times per timeout.
    fn start_sweeper(&self) {
        let mut sweeper = lock(&self.sweeper);
        if sweeper.is_some() {
            return;
        }
        let Some(weak) = self.myself.get().cloned() else {
            return;
        };
        let period = self.config.idle_timeout / 4;
        *sweeper = spawn(async move {
            let mut interval = tokio::time::interval_at(Instant::now() + period, period);
            loop {
                interval.tick().await;
                let Some(core) = weak.upgrade() else { return };
                let current = core.current_key();
                core.slots.sweep(4, |s| s.key == current);
            }
        });
    }

    // ----- the hot path ------------------------------------------------------------------------

    /// Attaches the credential for `key` if one is usable without waiting; returns its
    /// generation. A soft-expired credential is attached, and the first request to find it so
    /// asks its life timer for one background refresh.
    #[cfg(feature = "reqwest")]
    #[inline]
    pub(crate) fn attach(self: &Arc<Self>, key: &CacheKey, headers: &mut HeaderMap) -> Option<u64> {
        let stripe = crate::stripes::this_thread();
        let fast = self.fast.load();
        if let Some(credential) = fast.as_deref() {
            if credential.key == *key {
                return self.attach_credential(credential, headers, stripe);
            }
        }
        self.attach_from_slots(key, headers, stripe)
    }

    /// [`attach`](Self::attach) for a caller that keeps a [`CachedCredential`] (a tower service,
    /// which has `&mut self`): checking that the cached credential is still the current org's
    /// is one relaxed load of the mirror's pointer, and no reference count is written.
    #[inline]
    pub(crate) fn attach_cached(
        self: &Arc<Self>,
        cached: &mut CachedCredential,
        key: &CacheKey,
        headers: &mut HeaderMap,
        stripe: usize,
    ) -> Option<u64> {
        if let Some(credential) = cached.load() {
            if credential.key == *key {
                return self.attach_credential(credential, headers, stripe);
            }
        }
        self.attach_from_slots(key, headers, stripe)
    }

    /// A cache of the current org's credential, for [`attach_cached`](Self::attach_cached).
    pub(crate) fn cached_credential(self: &Arc<Self>) -> CachedCredential {
        arc_swap::cache::Cache::new(Mirror(self.clone()))
    }

    fn attach_from_slots(
        self: &Arc<Self>,
        key: &CacheKey,
        headers: &mut HeaderMap,
        stripe: usize,
    ) -> Option<u64> {
        self.slots
            .with(key, |slot| {
                let credential = slot.credential.load();
                self.attach_credential(credential.as_deref()?, headers, stripe)
            })
            .flatten()
    }

    #[inline]
    fn attach_credential(
        self: &Arc<Self>,
        credential: &Credential,
        headers: &mut HeaderMap,
        stripe: usize,
    ) -> Option<u64> {
        match credential.phase() {
            Phase::Fresh => {}
            Phase::Soft => self.refresh_in_background(credential),
            Phase::Hard => return None,
        }
        headers.insert(
            credential.session.header_name(),
            credential.header_for(stripe).clone(),
        );
        Some(credential.generation)
    }

    /// Asks the credential's life timer for one refresh, the first time a request finds it
    /// soft-expired. Only a wake-up on the request's way: spawning the refresh from here cost
    /// the one request that did it 3 to 11 ms in a 10,000-request storm (`benches/refresh_storm.rs`;
    /// timed in place, the time was tokio's `spawn` itself).
    fn refresh_in_background(&self, credential: &Credential) {
        // Read before claiming: every request of a soft-expired credential comes here until the
        // new one is in, and a swap would write the shared line each time.
        if credential.refresh_claimed.load(Ordering::Relaxed)
            || credential.refresh_claimed.swap(true, Ordering::AcqRel)
        {
            return;
        }
        credential.refresh_wanted.notify_one();
    }

    /// Starts the refresh a request asked for (from the credential's life timer).
    fn start_refresh(self: &Arc<Self>, credential: &Credential) {
        if matches!(self.config.source, Source::Static(_)) || self.session.get().is_none() {
            return;
        }
        let slot = self.slot(&credential.key);
        if slot
            .current()
            .is_none_or(|current| current.generation != credential.generation)
        {
            // Already replaced, or retired: whatever comes next logs in anyway.
            return;
        }
        tracing::debug!(org = ?credential.key.org, generation = credential.generation, "credential near expiry: refreshing in the background");
        let _ = self.join_flight(&slot);
    }

    /// Moves `credential` through its life: soft-expired at `soft_at`, hard-expired at
    /// `hard_at`, and in between a refresh each time a request asks for one. Holds the
    /// credential and the core weakly: a credential replaced or forgotten is not kept alive.
    fn life_timer(
        &self,
        credential: &Arc<Credential>,
        soft_at: Instant,
        hard_at: Instant,
    ) -> Option<AbortHandle> {
        let weak = Arc::downgrade(credential);
        let wanted = credential.refresh_wanted.clone();
        let core = self.myself.get().cloned().unwrap_or_default();
        spawn(async move {
            tokio::time::sleep_until(soft_at).await;
            let Some(c) = weak.upgrade() else { return };
            c.advance(Phase::Soft);
            drop(c);
            let mut hard = std::pin::pin!(tokio::time::sleep_until(hard_at));
            loop {
                let mut asked = std::pin::pin!(wanted.notified());
                let asked = std::future::poll_fn(|cx| {
                    if hard.as_mut().poll(cx).is_ready() {
                        return std::task::Poll::Ready(false);
                    }
                    asked.as_mut().poll(cx).map(|()| true)
                })
                .await;
                if !asked {
                    break;
                }
                let (Some(core), Some(c)) = (core.upgrade(), weak.upgrade()) else {
                    return;
                };
                core.start_refresh(&c);
            }
            if let Some(c) = weak.upgrade() {
                c.advance(Phase::Hard);
            }
        })
    }

    // ----- the slow path -----------------------------------------------------------------------

    /// The credential for `key`, waiting for the one shared login if there is none usable.
    ///
    /// Never a credential retired for `key` (rejected or forgotten): a login's answer that was
    /// retired before this caller woke up sends it to the next login instead.
    pub(crate) async fn credential(
        self: &Arc<Self>,
        key: &CacheKey,
    ) -> Result<Arc<Credential>, Error> {
        let slot = self.slot(key);
        let give_up =
            Instant::now() + self.config.timings.login_deadline + self.config.timings.call_timeout;
        loop {
            if let Some(credential) = slot.current() {
                match credential.catch_up(Instant::now()) {
                    Phase::Fresh => return Ok(credential),
                    Phase::Soft => {
                        self.refresh_in_background(&credential);
                        return Ok(credential);
                    }
                    Phase::Hard => {}
                }
            }
            let mut outcome = self.join_flight(&slot)?;
            let answer =
                match tokio::time::timeout_at(give_up, outcome.wait_for(Option::is_some)).await {
                    Ok(Ok(result)) => result.clone().unwrap_or(Err(Error::Shutdown)),
                    Ok(Err(_)) => Err(Error::Shutdown),
                    Err(_) => Err(Error::Transport(crate::transport::TransportError::timeout())),
                };
            match answer {
                Ok(credential) if !slot.usable(&credential) => {
                    tracing::debug!(
                        user = key.user.as_deref(),
                        org = ?key.org,
                        generation = credential.generation,
                        "a new ThoughtSpot credential was rejected before it could be used; logging in again"
                    );
                }
                answer => return answer,
            }
        }
    }

    /// Joins the login under way for `slot`, or starts one as a task of its own.
    fn join_flight(self: &Arc<Self>, slot: &Arc<Slot>) -> Result<watch::Receiver<Outcome>, Error> {
        self.session()?;
        let mut flight = lock(&slot.flight);
        // Only a login still under way is joined. One that has answered may linger (arming the
        // life timer, writing the credential store), but its answer may since have been
        // rejected or forgotten: whoever comes now needs the next login.
        if let Some(flight) = flight.as_ref().filter(|f| f.outcome.borrow().is_none()) {
            return Ok(flight.outcome.clone());
        }
        let (tx, rx) = watch::channel(None);
        let id = self.tick.fetch_add(1, Ordering::Relaxed);
        let core = self.clone();
        let task_slot = slot.clone();
        let task = spawn(async move {
            let result = core.run_flight(&task_slot, &tx).await;
            {
                let mut flight = lock(&task_slot.flight);
                if flight.as_ref().is_some_and(|f| f.id == id) {
                    *flight = None;
                }
            }
            if result.is_err() {
                // Let a later request start another refresh once the backoff allows.
                if let Some(credential) = task_slot.credential.load_full() {
                    credential.refresh_claimed.store(false, Ordering::Release);
                }
            }
            // Waiters were answered when the credential was published; this is for a failure.
            tx.send_if_modified(|outcome| {
                let unanswered = outcome.is_none();
                if unanswered {
                    *outcome = Some(result);
                }
                unanswered
            });
        })
        .ok_or_else(|| Error::config("logging in needs a tokio runtime"))?;
        *flight = Some(Flight {
            id,
            outcome: rx.clone(),
            task,
        });
        Ok(rx)
    }

    /// Logs in for `slot`, living through transient failures until the login deadline, and
    /// refusing to try at all while a permanent failure's window lasts. With a credential store,
    /// the fleet protocol decides first whether this replica logs in at all (see `fleet`).
    ///
    /// `landed` answers the flight's waiters the moment a credential is published, before what
    /// is left to do (the credential's life timer, the credential store).
    async fn run_flight(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        landed: &watch::Sender<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let Some(fleet) = &self.fleet else {
            return self.flight_loop(slot, None, landed).await;
        };
        let mut lease = Lease {
            holder: Generation::random(),
            held: false,
        };
        let result = self.flight_loop(slot, Some(&mut lease), landed).await;
        if lease.held {
            fleet.release(&self.counters, &slot.key, lease.holder).await;
        }
        result
    }

    async fn flight_loop(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        mut lease: Option<&mut Lease>,
        landed: &watch::Sender<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let timings = self.config.timings;
        let deadline = Instant::now() + timings.login_deadline;
        let mut last_error = None;
        loop {
            // One login attempt at a time for the account (single-user modes): a burst that
            // reaches several orgs at once then meets the first attempt's verdict instead of
            // sending the same wrong password once per org.
            let account_turn = if self.config.multi_user() {
                None
            } else {
                Some(self.account_login.lock().await)
            };
            let now = Instant::now();
            let account_block = if self.config.multi_user() {
                None
            } else {
                lock(&self.account_failures).blocking_error(now)
            };
            let wait_until = {
                let failures = lock(&slot.failures);
                if let Some(error) = account_block.or_else(|| failures.blocking_error(now)) {
                    Counters::bump(&self.counters.refused_by_backoff);
                    return Err(error);
                }
                failures.not_before().filter(|t| *t > now)
            };
            let streak = self.rejection_streak.load(Ordering::Relaxed);
            let wait_until = match (wait_until, streak) {
                (w, 0 | 1) => w,
                (w, n) => {
                    let pause = timings
                        .transient_backoff
                        .saturating_mul(1 << (n - 1).min(16))
                        .min(timings.transient_backoff_max);
                    Some(w.unwrap_or(now).max(now + pause))
                }
            };
            if let Some(at) = wait_until {
                if at > deadline {
                    return Err(last_error.unwrap_or_else(|| {
                        Error::Transport(crate::transport::TransportError::timeout())
                    }));
                }
                tokio::time::sleep_until(at).await;
            }
            let session = self.session()?;
            let mut leading = None;
            if let (Some(fleet), Some(lease)) = (&self.fleet, lease.as_deref_mut()) {
                match fleet
                    .before_login(
                        &self.counters,
                        &slot.key,
                        &slot.fleet,
                        lease.holder,
                        deadline,
                    )
                    .await
                {
                    fleet::Step::Adopt(adopted) => {
                        lease.held = false;
                        let credential = self.adopt(slot, adopted, landed)?;
                        lock(&slot.failures).reset();
                        return Ok(credential);
                    }
                    fleet::Step::Blocked {
                        error,
                        until,
                        in_a_row,
                    } => {
                        lease.held = false;
                        Counters::bump(&self.counters.refused_by_backoff);
                        lock(self.failures_for(slot, &error))
                            .adopt_permanent(&error, until, in_a_row);
                        tracing::warn!(
                            user = slot.key.user.as_deref(),
                            org = ?slot.key.org,
                            %error,
                            "another replica's ThoughtSpot login failed permanently; not trying \
                             these credentials until its window ends"
                        );
                        return Err(error);
                    }
                    fleet::Step::Lead => {
                        lease.held = true;
                        leading = Some(lease.holder);
                    }
                    fleet::Step::Alone => {}
                    fleet::Step::TimedOut => {
                        return Err(last_error.unwrap_or_else(|| {
                            Error::Transport(crate::transport::TransportError::timeout())
                        }));
                    }
                }
            }
            let span = tracing::info_span!(
                "thoughtspot.login",
                user = slot.key.user.as_deref(),
                org = ?slot.key.org,
                generation = tracing::field::Empty,
                lifetime_secs = tracing::field::Empty,
                outcome = tracing::field::Empty,
            );
            Counters::bump(&self.counters.login_attempts);
            let provisioning = lock(&slot.provisioning).clone();
            let attempt = login::login(session, &self.config, &slot.key, provisioning.as_deref())
                .instrument(span.clone());
            let attempt = match (&self.fleet, leading) {
                (Some(fleet), Some(holder)) => {
                    fleet
                        .renewing(&self.counters, &slot.key, holder, attempt)
                        .await
                }
                _ => attempt.await,
            };
            // Each branch gives the account's turn back once the verdict is recorded: what is
            // left (the credential store) is no login attempt, and a relogin need not wait for it.
            match attempt {
                Ok(login) => {
                    let sent_at = login.sent_at;
                    let (user, org) = (login.user.clone(), login.org);
                    let stored = self.fleet.as_ref().map(|_| Generation::random());
                    let credential = self.publish_as(
                        slot,
                        login,
                        Origin::Login,
                        stored.map(|g| (g, sent_at)),
                        landed,
                    )?;
                    span.record("generation", credential.generation);
                    if let Some(lifetime) = credential.lifetime {
                        span.record("lifetime_secs", lifetime.as_secs_f64());
                    }
                    span.record("outcome", "ok");
                    span.in_scope(|| tracing::info!("logged in to ThoughtSpot"));
                    lock(&slot.failures).reset();
                    lock(&self.account_failures).reset();
                    drop(account_turn);
                    if let (Some(fleet), Some(stored), Some(lifetime)) =
                        (&self.fleet, stored, credential.lifetime)
                    {
                        fleet
                            .publish(
                                &self.counters,
                                &slot.key,
                                leading,
                                stored,
                                &credential.session,
                                lifetime,
                                sent_at,
                                user,
                                org,
                            )
                            .await;
                        if let Some(lease) = lease.as_deref_mut() {
                            lease.held = false;
                        }
                    }
                    return Ok(credential);
                }
                Err(error) if error.is_permanent() => {
                    self.counters.failure(error.kind());
                    slot.failed_logins.fetch_add(1, Ordering::Relaxed);
                    // Bad credentials are the account's, not one org's; in multi-user mode
                    // they are one user's.
                    let (window, in_a_row) = {
                        let mut failures = lock(self.failures_for(slot, &error));
                        let window = failures.record_permanent(&error, Instant::now(), &timings);
                        (window, failures.permanent_in_a_row())
                    };
                    drop(account_turn);
                    span.record("outcome", tracing::field::debug(error.kind()));
                    span.in_scope(|| {
                        tracing::warn!(
                            %error,
                            no_retry_for_secs = window.as_secs(),
                            "ThoughtSpot login failed permanently; not trying these credentials again for a while"
                        )
                    });
                    if let Some(fleet) = &self.fleet {
                        fleet
                            .record_failure(
                                &self.counters,
                                &slot.key,
                                leading,
                                &error,
                                window,
                                in_a_row,
                            )
                            .await;
                        if let Some(lease) = lease.as_deref_mut() {
                            lease.held = false;
                        }
                    }
                    return Err(error);
                }
                Err(error) => {
                    self.counters.failure(error.kind());
                    slot.failed_logins.fetch_add(1, Ordering::Relaxed);
                    let delay =
                        lock(&slot.failures).record_transient(&error, Instant::now(), &timings);
                    drop(account_turn);
                    span.record("outcome", tracing::field::debug(error.kind()));
                    span.in_scope(|| {
                        tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "ThoughtSpot login failed; retrying")
                    });
                    if let (Some(fleet), Some(holder)) = (&self.fleet, leading) {
                        // The fleet waits for this replica's next attempt, not makes its own.
                        fleet.hold(&self.counters, &slot.key, holder, delay).await;
                    }
                    last_error = Some(error);
                }
            }
        }
    }

    /// Where a permanent failure is remembered: bad credentials are the account's (every org)
    /// except in multi-user mode, where they are one user's; everything else the slot's.
    fn failures_for<'a>(&'a self, slot: &'a Slot, error: &Error) -> &'a Mutex<Failures> {
        if error.kind() == ErrorKind::Unauthorized && !self.config.multi_user() {
            &self.account_failures
        } else {
            &slot.failures
        }
    }

    /// Makes a credential another replica published the slot's, its lifetime what the store
    /// said was left, counted from when this replica asked.
    fn adopt(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        adopted: fleet::Adopted,
        landed: &watch::Sender<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let login = Login {
            credential: adopted.credential,
            lifetime: Some(adopted.remaining),
            user: adopted.user,
            org: adopted.org,
            sent_at: adopted.asked_at,
        };
        let credential = self.publish_as(
            slot,
            login,
            Origin::Adopted,
            Some((adopted.generation, adopted.minted_at)),
            landed,
        )?;
        tracing::info!(
            user = slot.key.user.as_deref(),
            org = ?slot.key.org,
            generation = credential.generation,
            remaining_secs = adopted.remaining.as_secs_f64(),
            "adopted a ThoughtSpot credential another replica published"
        );
        Ok(credential)
    }

    /// Makes a login the slot's credential (and the hot path's, if it is the current org's),
    /// answers the requests waiting for it (`landed`), and then arms the timer that moves it
    /// through its phases: spawning that task can cost a waiter tens of microseconds (it wakes
    /// an idle worker thread), and nobody needs to wait for it.
    ///
    /// `stored` is the credential's generation in the credential store, if it has one, and when
    /// it was minted.
    fn publish_as(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        login: Login,
        origin: Origin,
        stored: Option<(Generation, Instant)>,
        landed: &watch::Sender<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let lifetime = match (&self.config.source, login.lifetime) {
            (Source::Static(_), _) => None,
            (_, Some(lifetime)) => Some(lifetime),
            (_, None) => Some(self.config.timings.session_lifetime),
        };
        let (soft_at, hard_at) = match lifetime {
            Some(lifetime) => {
                let (soft, hard) = deadlines(lifetime, self.config.timings.refresh_margin);
                (Some(login.sent_at + soft), Some(login.sent_at + hard))
            }
            None => (None, None),
        };
        let credential = Arc::new(Credential::new(
            login.credential,
            slot.key.clone(),
            generation,
            lifetime,
            soft_at,
            hard_at,
        ));
        if let Some((stored, minted_at)) = stored {
            lock(&slot.fleet).holding(generation, stored, minted_at);
        }
        let previous = slot.credential.swap(Some(credential.clone()));
        match origin {
            Origin::Login => {
                if previous.is_some() {
                    Counters::bump(&self.counters.refreshes);
                }
                Counters::bump(&self.counters.logins);
                slot.logins.fetch_add(1, Ordering::Relaxed);
            }
            Origin::Adopted => Counters::bump(&self.counters.store_adoptions),
        }
        self.mirror_if_current(slot, &credential);
        landed.send_replace(Some(Ok(credential.clone())));
        let timer = match (soft_at, hard_at) {
            (Some(soft_at), Some(hard_at)) => self.life_timer(&credential, soft_at, hard_at),
            _ => None,
        };
        let mut armed = lock(&slot.timer);
        // A later login may have published (and armed its timer) while this one was answering:
        // the slot keeps the timer of the credential it holds.
        let still_current = slot
            .credential
            .load()
            .as_deref()
            .is_some_and(|c| c.generation == generation);
        let stale = if still_current {
            std::mem::replace(&mut *armed, timer)
        } else {
            timer
        };
        drop(armed);
        if let Some(stale) = stale {
            stale.abort();
        }
        Ok(credential)
    }

    /// Puts `credential` on the hot path if its key is the current one and it is newer than what
    /// is there.
    fn mirror_if_current(&self, slot: &Slot, credential: &Arc<Credential>) {
        if credential.key != self.current_key() {
            return;
        }
        self.fast.rcu(|fast| match fast.as_deref() {
            Some(existing)
                if existing.key == credential.key
                    && existing.generation > credential.generation =>
            {
                fast.clone()
            }
            _ => Some(credential.clone()),
        });
        self.unmirror_if_retired(slot, credential);
    }

    /// Takes `credential` off the hot path again if it was retired while it was being put
    /// there: the invalidation may have looked for it before it arrived.
    fn unmirror_if_retired(&self, slot: &Slot, credential: &Credential) {
        if !slot.usable(credential) {
            self.unmirror(&credential.key, credential.generation);
        }
    }

    /// Takes the credential of `key` and `generation` off the hot path, if it is there.
    fn unmirror(&self, key: &CacheKey, generation: u64) {
        self.fast.rcu(|fast| match fast.as_deref() {
            Some(c) if c.key == *key && c.generation == generation => None,
            _ => fast.clone(),
        });
    }

    /// Forgets the credential of `key` if it is still generation `generation`: a rejection seen
    /// late never evicts a newer credential. Returns whether it was forgotten.
    pub(crate) fn invalidate(&self, key: &CacheKey, generation: u64, reason: &'static str) -> bool {
        let forgotten = self
            .slots
            .with(key, |slot| {
                slot.retire(generation);
                let mut forgotten = false;
                slot.credential.rcu(|current| match current.as_deref() {
                    Some(c) if c.generation == generation => {
                        forgotten = true;
                        None
                    }
                    _ => {
                        forgotten = false;
                        current.clone()
                    }
                });
                if forgotten && self.fleet.is_some() {
                    // The next login removes it from the store too, if it is still there.
                    lock(&slot.fleet).dropped(generation);
                }
                forgotten
            })
            .unwrap_or(false);
        self.unmirror(key, generation);
        if forgotten {
            Counters::bump(&self.counters.invalidations);
            tracing::info!(
                user = key.user.as_deref(),
                org = ?key.org,
                generation,
                reason,
                "ThoughtSpot credential invalidated"
            );
        }
        forgotten
    }

    // ----- responses ---------------------------------------------------------------------------

    /// What a response's status says about the credential.
    #[inline]
    pub(crate) fn verdict(&self, status: StatusCode) -> Verdict {
        match (self.config.api, status) {
            (_, StatusCode::UNAUTHORIZED) => Verdict::Rejected,
            (ApiVersion::Beta, StatusCode::INTERNAL_SERVER_ERROR) => Verdict::ReadBody,
            _ => Verdict::Fine,
        }
    }

    /// A response with the credential was not a rejection.
    #[inline]
    pub(crate) fn accepted(&self) {
        if self.rejection_streak.load(Ordering::Relaxed) != 0 {
            self.rejection_streak.store(0, Ordering::Relaxed);
        }
    }

    /// Whether a response that was not plainly fine rejected the credential of `generation`, and
    /// why: a 401 does; a beta 500 does if its body says upstream 401, or if it says nothing and
    /// the one check for that generation finds the credential dead.
    pub(crate) async fn rejection(
        self: &Arc<Self>,
        key: &CacheKey,
        generation: u64,
        beta_500: Option<Beta500>,
    ) -> Option<&'static str> {
        match beta_500 {
            None => Some("rejected (401)"),
            Some(Beta500::Rejected) => Some("rejected (beta 500, upstream 401)"),
            Some(Beta500::Other) => None,
            Some(Beta500::Ambiguous) => (!self.is_alive(key, generation).await)
                .then_some("rejected (beta 500, credential found dead)"),
        }
    }

    /// Records that a response rejected the credential of `generation`, and forgets it.
    ///
    /// The rejection streak counts rejected *credentials*, not responses: the many requests in
    /// flight with one revoked credential are one rejection, and must not delay the relogin.
    pub(crate) fn reject(&self, key: &CacheKey, generation: u64, reason: &'static str) {
        Counters::bump(&self.counters.rejected_responses);
        if self.invalidate(key, generation, reason) {
            self.rejection_streak.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a replay of a request whose credential of generation `rejected` was rejected, now
    /// with the credential of `generation`.
    pub(crate) fn replaying(&self, key: &CacheKey, rejected: u64, generation: u64) {
        debug_assert!(
            generation > rejected,
            "a replay must never carry the credential it replaces"
        );
        Counters::bump(&self.counters.replays);
        tracing::info!(
            user = key.user.as_deref(),
            org = ?key.org,
            generation,
            "replaying a request with a new ThoughtSpot credential"
        );
    }

    /// Whether the credential of generation `generation` still works, asked once per generation
    /// however many requests want to know (the beta's bare 500 is ambiguous). Anything but a
    /// clear rejection counts as alive, so genuine server errors cause no logins.
    pub(crate) async fn is_alive(self: &Arc<Self>, key: &CacheKey, generation: u64) -> bool {
        let slot = self.slot(key);
        let mut alive = {
            let mut check = lock(&slot.check);
            match check.as_ref() {
                Some(c) if c.generation == generation => c.alive.clone(),
                _ => {
                    let Some(credential) = slot
                        .credential
                        .load_full()
                        .filter(|c| c.generation == generation)
                    else {
                        // Already replaced: the request should use the newer one.
                        return false;
                    };
                    let Ok(session) = self.session() else {
                        return true;
                    };
                    let session = session.clone();
                    let (tx, rx) = watch::channel(None);
                    let counters_core = self.clone();
                    let Some(task) = spawn(async move {
                        Counters::bump(&counters_core.counters.credential_checks);
                        let answer = session.beta().session_info(&credential.session).await;
                        let alive =
                            !matches!(&answer, Err(e) if e.kind() == ErrorKind::Unauthorized);
                        tracing::debug!(
                            generation,
                            alive,
                            "checked a ThoughtSpot credential after an ambiguous 500"
                        );
                        let _ = tx.send(Some(alive));
                    }) else {
                        return true;
                    };
                    if let Some(old) = check.replace(Check {
                        generation,
                        alive: rx.clone(),
                        task,
                    }) {
                        old.task.abort();
                    }
                    rx
                }
            }
        };
        match alive.wait_for(Option::is_some).await {
            Ok(answer) => answer.unwrap_or(true),
            Err(_) => true,
        }
    }

    // ----- the handle's operations -------------------------------------------------------------

    pub(crate) async fn switch_org(self: &Arc<Self>, org: i64) -> Result<(), Error> {
        if matches!(self.config.source, Source::Static(_)) {
            return Err(Error::config(
                "a static token is bound to one org; configure a password or secret key to switch",
            ));
        }
        if self.config.multi_user() {
            // Credentials are made per user, when their requests come.
            self.current_org.store(org, Ordering::Release);
            return Ok(());
        }
        let key = CacheKey::org(Some(org));
        let credential = self.credential(&key).await?;
        self.current_org.store(org, Ordering::Release);
        self.fast.store(Some(credential.clone()));
        self.unmirror_if_retired(&self.slot(&key), &credential);
        tracing::info!(org, "switched ThoughtSpot org");
        Ok(())
    }

    /// Logs in anew for the current org now, replacing a still-valid credential.
    pub(crate) async fn refresh(self: &Arc<Self>) -> Result<(), Error> {
        if self.config.multi_user() {
            return Err(Error::config(
                "multi-user mode has no single credential to refresh; use `invalidate_user`",
            ));
        }
        let key = self.current_key();
        if let Some(current) = self.slot(&key).credential.load_full() {
            current.advance(Phase::Hard);
        }
        self.credential(&key).await.map(drop)
    }

    /// Forgets every cached credential; the next request logs in.
    pub(crate) fn invalidate_all(&self) -> Vec<Arc<Credential>> {
        self.invalidate_where(|_| true)
    }

    /// Forgets the cached credentials whose key matches.
    pub(crate) fn invalidate_where(
        &self,
        matches: impl Fn(&CacheKey) -> bool,
    ) -> Vec<Arc<Credential>> {
        self.fast.rcu(|fast| match fast.as_deref() {
            Some(c) if matches(&c.key) => None,
            _ => fast.clone(),
        });
        let mut dropped = Vec::new();
        for slot in self.slots.all().iter().filter(|s| matches(&s.key)) {
            if let Some(c) = slot.forget() {
                Counters::bump(&self.counters.invalidations);
                if self.fleet.is_some() {
                    lock(&slot.fleet).dropped(c.generation);
                }
                dropped.push(c);
            }
            if let Some(timer) = lock(&slot.timer).take() {
                timer.abort();
            }
        }
        dropped
    }

    /// Ends every cached cookie session and, with `revoke`, revokes every cached token; then
    /// forgets them all.
    pub(crate) async fn end_all(self: &Arc<Self>, revoke: bool) -> Result<(), Error> {
        self.end_where(revoke, |_| true).await
    }

    /// Ends at ThoughtSpot (and forgets) the cached credentials whose key matches.
    pub(crate) async fn end_where(
        self: &Arc<Self>,
        revoke: bool,
        matches: impl Fn(&CacheKey) -> bool,
    ) -> Result<(), Error> {
        let session = self.session()?;
        let mut first_error = None;
        for credential in self.invalidate_where(matches) {
            let result = match (credential.session.is_bearer(), self.config.api) {
                (true, _) if !revoke => Ok(()),
                (true, ApiVersion::Beta) => session.beta().revoke_token(&credential.session).await,
                (true, _) => {
                    session
                        .v2()
                        .token_revoke(&credential.session, &Default::default())
                        .await
                }
                (false, ApiVersion::Beta) => session.beta().logout(&credential.session).await,
                (false, _) => session.v2().session_logout(&credential.session).await,
            };
            if let Err(error) = result {
                tracing::warn!(%error, "ending a ThoughtSpot credential failed");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub(crate) fn stats(&self) -> AuthStats {
        let mut stats = self.counters.snapshot();
        stats.current_org = self.current_org();
        stats.cached_credentials = self
            .slots
            .all()
            .iter()
            .filter(|s| s.credential.load().is_some())
            .count();
        stats
    }

    /// What the cache holds and did for one user (multi-user mode), over all its orgs.
    pub(crate) fn user_stats(&self, user: &str) -> UserStats {
        let mut stats = UserStats::default();
        for slot in self.slots.all() {
            if slot.key.user.as_deref() != Some(user) {
                continue;
            }
            stats.logins += slot.logins.load(Ordering::Relaxed);
            stats.failed_logins += slot.failed_logins.load(Ordering::Relaxed);
            if slot.credential.load().is_some() {
                stats.cached_orgs.push(slot.key.org);
            }
        }
        stats.cached_orgs.sort_unstable();
        stats
    }

    /// How many keys (orgs, or users and orgs) the cache holds.
    pub(crate) fn cache_size(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn kind(&self) -> CredentialKind {
        self.config.kind
    }

    fn shutdown(&self) {
        if let Some(sweeper) = lock(&self.sweeper).take() {
            sweeper.abort();
        }
        for slot in self.slots.all() {
            slot.stop_tasks();
        }
    }
}

fn build_session(config: &AuthConfig, transport: Arc<dyn Transport>) -> SharedSession {
    Session::new(config.base.clone(), transport).timeout(config.timings.call_timeout)
}

/// When a credential of `lifetime` turns soft (refresh in the background) and hard (wait for a
/// login), counted from when its login was sent. The margin is the smaller of `margin` and 10 %
/// of the lifetime, less up to half of it again as jitter so that a fleet does not refresh in
/// step; the hard deadline keeps a small guard (5 s or 5 %) for the request's own trip.
pub(crate) fn deadlines(lifetime: Duration, margin: Duration) -> (Duration, Duration) {
    let margin = margin.min(lifetime / 10);
    let jitter = margin.mul_f64(0.5 * random_fraction());
    let guard = Duration::from_secs(5).min(lifetime / 20);
    let soft = lifetime.saturating_sub(margin + jitter);
    let hard = lifetime.saturating_sub(guard);
    (soft.min(hard), hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_keep_their_order_for_any_lifetime() {
        for secs in [1u64, 2, 10, 60, 300, 3600, 86_400] {
            let lifetime = Duration::from_secs(secs);
            for _ in 0..100 {
                let (soft, hard) = deadlines(lifetime, Duration::from_secs(30));
                assert!(soft <= hard && hard < lifetime, "{secs}: {soft:?} {hard:?}");
                assert!(soft >= lifetime.mul_f64(0.85), "{secs}: {soft:?}");
            }
        }
        let (soft, hard) = deadlines(Duration::from_secs(300), Duration::from_secs(30));
        assert!(
            soft >= Duration::from_secs(255) && soft <= Duration::from_secs(270),
            "{soft:?}"
        );
        assert_eq!(hard, Duration::from_secs(295));
        let (soft, _) = deadlines(Duration::from_millis(100), Duration::from_secs(30));
        assert!(soft >= Duration::from_millis(85));
    }
}
