//! The core both adapters share: the credential cache, single-flight logins, soft and hard
//! expiry, generation-guarded invalidation, backoff, and the per-org map.
//!
//! The hot path ([`Core::attach`]) reads one `ArcSwap` (the current org's credential, mirrored
//! in `fast`), checks the credential's phase (an atomic flipped by the task that keeps every
//! credential's life, `lives`, so no clock is read) and clones its prebuilt header — the copy kept for the calling thread's stripe, so that
//! threads sending at once write no shared reference count (see `crate::stripes`). Everything
//! else — logins, refreshes, invalidation, org switches — runs on the slow path, and every login
//! runs as a task of its own so that a caller who goes away never cancels it. A request that
//! finds its credential soft-expired only sends that same task a message, and the task starts
//! the refresh: spawning it from the request cost that request milliseconds under load.
//!
//! # Handing out a credential
//!
//! The invariant: **no path hands out a credential whose generation has been retired for its
//! key** — rejected by a response, or forgotten (invalidated, logged out, revoked, org dropped).
//! Generations only grow, and each slot keeps the newest one retired (`Slot::retired`), marked
//! *before* the credential leaves the slot. Every place a credential is handed out, and why it
//! cannot be a retired one:
//!
//! - **The hot path** (`attach`, and multi-user slots through `attach_from_slots`):
//!   it reads only what is in the slot or its mirror `fast`. Retiring removes the credential
//!   from both; a login that mirrors a credential re-reads the mark after storing it and takes
//!   it back off if it was retired meanwhile (`mirror_if_current`, `switch_org`). A request
//!   sent at the very moment of a rejection may still carry the old credential; it is then
//!   rejected and replayed like any other.
//! - **The slow path** (`credential`): it serves the slot's credential only if it is usable,
//!   and checks a login's answer again after waking, since the answer may have been rejected by
//!   another request in between; then it waits for the next login instead.
//! - **A flight**: only a flight that has not answered is joined. A finished flight lingers
//!   while it hands the credential to the task that keeps its life and writes the credential
//!   store; whoever comes then starts the next login. That task only moves a credential's
//!   phase and asks for refreshes of the slot's current generation, so a late flight's
//!   credential changes nothing for a newer one.
//! - **The credential store**: a replica never adopts the stored generation it rejected, nor
//!   anything minted before it (`fleet::SlotFleet`), and adoption gives a new local generation.
//! - **The replay** in both doors gets its credential from `credential`, so it is always newer
//!   than the one rejected (asserted in debug builds).

mod admission;
mod backoff;
mod ceiling;
pub(crate) mod credential;
mod fleet;
mod flight;
mod flight_attempt;
mod flight_failures;
mod hot_path;
mod invalidation;
#[cfg(test)]
mod invariant_tests;
mod liveness;
mod lives;
pub(crate) mod login;
mod ops;
mod org_names;
mod persisted;
mod publish;
mod recovery_record;
mod rejection;
mod slot;
mod slots;
mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwapOption;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::config::AuthConfig;
use crate::error::Error;
use crate::identity::MintHistory;
use crate::session::{Session, SharedSession};
use crate::sync::{lock, spawn};
use crate::transport::Transport;
pub(crate) use credential::CacheKey;
use credential::Credential;

pub(crate) use admission::Outgoing;
use backoff::Failures;
pub(crate) use hot_path::CachedCredential;
pub(crate) use rejection::{Door, Verdict};
use slot::Slot;
use slots::SlotMap;
pub(crate) use stats::Counters;
pub use stats::{AuthStats, FailureCounts, UserStats};

const NO_ORG: i64 = i64::MIN;
/// The current org while the configured org name is not looked up yet: outside int32, so never
/// a real org, and the key of no credential (a request that finds it goes the slow way, where
/// `settle_org` looks the name up).
pub(crate) const PENDING_ORG: i64 = i64::MIN + 1;

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

/// The shared core. See the module docs.
pub(crate) struct Core {
    pub(crate) config: AuthConfig,
    session: OnceLock<SharedSession>,
    current_org: AtomicI64,
    /// The current org's credential, for the hot path.
    fast: ArcSwapOption<Credential>,
    slots: SlotMap,
    /// Moves every credential through its life; started with the first credential.
    lives: lives::Lives,
    /// Drops idle credentials; started with the first slot.
    sweeper: Mutex<Option<AbortHandle>>,
    generation: AtomicU64,
    /// Whether ThoughtSpot ever answered a login (whatever it said), or a credential was
    /// adopted: until then, a ThoughtSpot that cannot be reached is reported within a few
    /// attempts.
    ever_reached: std::sync::atomic::AtomicBool,
    /// Login requests sent so far, in order: which logins were sent after a rejection was
    /// seen (and so after whatever caused it) decides whether a replay's rejection is final.
    login_sends: AtomicU64,
    /// Bad credentials are the account's, not one org's: while their window lasts no org tries
    /// the password or key again.
    account_failures: Mutex<Failures>,
    /// Taken for each login attempt in single-user modes (see `run_flight`).
    account_login: tokio::sync::Mutex<()>,
    pub(crate) counters: Counters,
    /// The credential store a fleet of replicas shares, if one is configured.
    fleet: Option<fleet::Fleet>,
    /// Which persisted rule set each (user, org) holds (multi-user mode).
    persisted: Arc<persisted::PersistedSets>,
    /// Which persisted rule sets were minted before, so that a refresh replaces them.
    mint_history: MintHistory,
    /// Org names resolved to ids.
    org_names: crate::org_names::OrgNames,
    /// With a token provider: per org, the last provided token ThoughtSpot rejected, so that the
    /// provider giving it back is not believed.
    rejected_provided: Mutex<HashMap<Option<i64>, (crate::secrets::Fingerprint, Instant)>>,
    /// When this core was made: the origin of the slots' times.
    born: Instant,
    /// Keys refused for users who minted with them before (multi-user mode).
    stale_keys: crate::secrets::stale_keys::StaleKeys,
    /// Whether the cached users were last seen near the mint budget's ceiling (see `ceiling`).
    near_ceiling: std::sync::atomic::AtomicBool,
    tick: AtomicU64,
    /// A weak reference to this core, for the tasks it starts itself.
    myself: OnceLock<std::sync::Weak<Core>>,
}

impl Core {
    fn new(config: AuthConfig) -> Arc<Self> {
        crate::telemetry::describe();
        let session = OnceLock::new();
        if let Some(transport) = &config.transport {
            let _ = session.set(build_session(&config, transport.clone()));
        }
        let fleet = fleet::Fleet::new(&config);
        let core = Arc::new(Self {
            current_org: AtomicI64::new(match config.org_name {
                Some(_) => PENDING_ORG,
                None => config.org.unwrap_or(NO_ORG),
            }),
            config,
            session,
            fast: ArcSwapOption::empty(),
            slots: SlotMap::new(),
            lives: lives::Lives::default(),
            sweeper: Mutex::new(None),
            generation: AtomicU64::new(0),
            login_sends: AtomicU64::new(0),
            ever_reached: std::sync::atomic::AtomicBool::new(false),
            account_failures: Mutex::new(Failures::default()),
            account_login: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            fleet,
            persisted: Arc::default(),
            mint_history: MintHistory::default(),
            org_names: crate::org_names::OrgNames::default(),
            rejected_provided: Mutex::new(HashMap::new()),
            near_ceiling: std::sync::atomic::AtomicBool::new(false),
            stale_keys: Default::default(),
            born: Instant::now(),
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

    /// The current org as users see it: none while the configured name is not looked up yet.
    pub(crate) fn public_current_org(&self) -> Option<i64> {
        self.current_org().filter(|org| *org != PENDING_ORG)
    }

    pub(crate) fn current_key(&self) -> CacheKey {
        CacheKey::org(self.current_org())
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

    fn shutdown(&self) {
        self.lives.stop();
        if let Some(sweeper) = lock(&self.sweeper).take() {
            sweeper.abort();
        }
        let slots = self.slots.all();
        // The layer goes, and its cache entries with it.
        crate::telemetry::cached_changed(-(slots.len() as i64));
        for slot in slots {
            slot.stop_tasks();
        }
    }
}

fn build_session(config: &AuthConfig, transport: Arc<dyn Transport>) -> SharedSession {
    Session::new(config.base.clone(), transport).timeout(config.timings.call_timeout)
}
