//! One cache key's state: its credential, the newest generation retired for it, the login
//! under way, its failures, its timers, and what it knows of its entry in the credential store.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use arc_swap::ArcSwapOption;
use tokio::task::AbortHandle;

use super::backoff::Failures;
use super::credential::{CacheKey, Credential};
use super::fleet;
use crate::error::Error;
use crate::identity::Provisioning;
use crate::store::Generation;
use crate::sync::{Pending, lock};

/// One cache key's state. `repr(C)`, the fields the multi-user hot path reads first (the key,
/// the credential, the epoch it was last used in): with the `Arc`'s counts they are the first 64
/// bytes of the allocation, so that finding one of many users' credentials touches one or two
/// adjacent lines here rather than lines hundreds of bytes apart.
#[repr(C)]
pub(crate) struct Slot {
    pub(super) key: CacheKey,
    pub(super) credential: ArcSwapOption<Credential>,
    pub(super) last_used: AtomicU64,
    /// The newest generation of this key that was rejected or forgotten (invalidated, logged
    /// out, revoked). Generations only grow, so nothing at or below it is handed out again: see
    /// "Handing out a credential" in the module docs.
    pub(super) retired: AtomicU64,
    pub(super) flight: Mutex<Option<Flight>>,
    pub(super) failures: Mutex<Failures>,
    pub(super) check: Mutex<Option<Check>>,
    pub(super) sequence: u64,
    /// Just-in-time user creation asked for by the requests of this key.
    pub(super) provisioning: Mutex<Option<Arc<Provisioning>>>,
    pub(super) logins: AtomicU64,
    pub(super) failed_logins: AtomicU64,
    /// The secret this key's last successful login used (`Fingerprint::short`; 0: none), to
    /// tell a rotated key from an unknown user (multi-user mode, see `secrets::stale_keys`).
    pub(super) good_secret: AtomicU64,
    /// When this key was last rejected (milliseconds since the core was made, plus one; 0:
    /// never), and how many of its credentials were rejected in a row (see `Core::reject`).
    pub(super) last_rejected: AtomicU64,
    pub(super) rejected_in_a_row: AtomicU32,
    /// What this slot knows of its entry in the credential store.
    pub(super) fleet: Mutex<fleet::SlotFleet>,
}

/// Where a published credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// This replica logged in.
    Login,
    /// Another replica logged in and published it to the credential store.
    Adopted,
}

/// This flight's lease on a fleet-wide login.
pub(super) struct Lease {
    pub(super) holder: Generation,
    pub(super) held: bool,
}

/// What a login gives everyone who waits for it.
pub(super) type Outcome = Result<Arc<Credential>, Error>;

/// The login under way for a slot, which every request that needs one joins.
pub(super) struct Flight {
    pub(super) id: u64,
    pub(super) outcome: Pending<Outcome>,
    pub(super) task: AbortHandle,
}

/// The one liveness check of a generation after an ambiguous beta 500.
pub(super) struct Check {
    pub(super) generation: u64,
    pub(super) alive: Pending<bool>,
    pub(super) task: AbortHandle,
}

impl Slot {
    pub(super) fn new(key: CacheKey, epoch: u64, sequence: u64) -> Self {
        Self {
            key,
            credential: ArcSwapOption::empty(),
            retired: AtomicU64::new(0),
            flight: Mutex::new(None),
            failures: Mutex::new(Failures::default()),
            check: Mutex::new(None),
            last_used: AtomicU64::new(epoch),
            sequence,
            provisioning: Mutex::new(None),
            logins: AtomicU64::new(0),
            failed_logins: AtomicU64::new(0),
            good_secret: AtomicU64::new(0),
            last_rejected: AtomicU64::new(0),
            rejected_in_a_row: AtomicU32::new(0),
            fleet: Mutex::new(fleet::SlotFleet::default()),
        }
    }

    pub(super) fn stop_tasks(&self) {
        if let Some(flight) = lock(&self.flight).take() {
            flight.task.abort();
        }
        if let Some(check) = lock(&self.check).take() {
            check.task.abort();
        }
    }

    pub(super) fn busy(&self) -> bool {
        lock(&self.flight).is_some()
    }

    /// Marks every generation up to `generation` as never to be handed out again. Called before
    /// the credential leaves the slot, so whoever no longer finds it there also sees the mark.
    pub(super) fn retire(&self, generation: u64) {
        // SeqCst: `mirror_if_current` stores the hot path's copy and then reads this mark, and
        // the invalidation marks and then removes that copy; one of the two sees the other.
        self.retired.fetch_max(generation, Ordering::SeqCst);
    }

    /// Whether `credential` may still be handed out: not rejected or forgotten for this key.
    pub(super) fn usable(&self, credential: &Credential) -> bool {
        credential.generation > self.retired.load(Ordering::SeqCst)
    }

    /// The slot's credential, unless it has been retired on its way out.
    pub(super) fn current(&self) -> Option<Arc<Credential>> {
        self.credential
            .load_full()
            .filter(|credential| self.usable(credential))
    }

    /// Takes the slot's credential out, retiring it first.
    pub(super) fn forget(&self) -> Option<Arc<Credential>> {
        if let Some(credential) = self.credential.load_full() {
            self.retire(credential.generation);
        }
        let forgotten = self.credential.swap(None)?;
        // A newer one may have landed between the load and the swap.
        self.retire(forgotten.generation);
        Some(forgotten)
    }
}
