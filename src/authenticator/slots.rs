//! The credential cache's map from key to slot: lock-free to read, bounded, and cheap to add to
//! even with a hundred thousand users.
//!
//! The map is a `papaya::HashMap`: readers — the hot path — find a slot without a lock (papaya
//! protects what they read with epoch-based reclamation, per map, so that a dropped layer frees
//! everything at once), and adding a key costs about 1 µs at 100,000 keys. (The map it replaced,
//! shards of `ArcSwap<HashMap>` copied whole on every insert, cost 37 to 66 µs there; see
//! PERFORMANCE.md for the candidates measured.) Keys are hashed with foldhash, seeded at random
//! per map: SipHash doubled the map's own lookup time. Recency is kept as a coarse epoch that a
//! sweeper advances, so a request writes to its slot at most once per epoch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::Slot;
use super::credential::CacheKey;
use crate::telemetry;

type Map = papaya::HashMap<CacheKey, Arc<Slot>, foldhash::fast::RandomState>;

pub(crate) struct SlotMap {
    map: Map,
    /// The slots in the map, counted here (papaya's own count is for statistics).
    len: AtomicUsize,
    /// Advanced by the sweeper; slots remember the epoch they were last used in.
    epoch: AtomicU64,
    /// Order of creation: among slots last used in the same epoch, the oldest goes first.
    sequence: AtomicU64,
}

impl SlotMap {
    pub(crate) fn new() -> Self {
        Self {
            map: Map::with_hasher(Default::default()),
            len: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
        }
    }

    /// The slot of `key`, if cached: one hash lookup, no lock; the slot's epoch is written at
    /// most once per sweep period.
    #[inline]
    pub(crate) fn with<R>(&self, key: &CacheKey, f: impl FnOnce(&Slot) -> R) -> Option<R> {
        let guard = self.map.guard();
        let slot = self.map.get(key, &guard)?;
        self.touch(slot);
        Some(f(slot))
    }

    /// Runs `f` on the slot of `key`, if there is one, without marking it used (for reports
    /// that must not keep an idle credential cached).
    #[cfg(feature = "metrics")]
    pub(crate) fn peek<R>(&self, key: &CacheKey, f: impl FnOnce(&Slot) -> R) -> Option<R> {
        let guard = self.map.guard();
        self.map.get(key, &guard).map(|slot| f(slot))
    }

    /// The slot of `key`, cached or new. Beyond `capacity`, the least recently used idle slot
    /// makes room (`keep` says which must stay).
    pub(crate) fn get_or_insert(
        &self,
        key: &CacheKey,
        capacity: usize,
        keep: impl Fn(&Slot) -> bool,
    ) -> Arc<Slot> {
        let guard = self.map.guard();
        if let Some(slot) = self.map.get(key, &guard) {
            self.touch(slot);
            return slot.clone();
        }
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new(
            key.clone(),
            self.epoch.load(Ordering::Relaxed),
            sequence,
        ));
        // Two requests may add the same key at once: one slot wins, the other (not started
        // yet) is dropped.
        let slot = match self.map.try_insert(key.clone(), slot, &guard) {
            Ok(slot) => slot.clone(),
            Err(occupied) => return occupied.current.clone(),
        };
        drop(guard);
        telemetry::cached_changed(1);
        if self.len.fetch_add(1, Ordering::Relaxed) + 1 > capacity {
            self.evict_one(key, &keep);
        }
        slot
    }

    /// Removes the least recently used slot that may go (not `spare`, not kept, not logging in):
    /// the oldest of the earliest epoch. Only runs when the cache is full.
    fn evict_one(&self, spare: &CacheKey, keep: &impl Fn(&Slot) -> bool) {
        let guard = self.map.guard();
        let may_go = |s: &Slot| s.key != *spare && !keep(s) && !s.busy();
        let victim = self
            .map
            .iter(&guard)
            .filter(|(_, s)| may_go(s))
            .min_by_key(|(_, s)| (s.last_used.load(Ordering::Relaxed), s.sequence));
        let Some((victim, _)) = victim else { return };
        // Checked again: the victim may have started a login since.
        if let Ok(Some((_, slot))) = self.map.remove_if(victim, |_, s| may_go(s), &guard) {
            self.len.fetch_sub(1, Ordering::Relaxed);
            telemetry::cached_changed(-1);
            telemetry::count(telemetry::names::EVICTIONS, None);
            slot.stop_tasks();
            tracing::debug!(key = ?victim, "evicted a cached ThoughtSpot credential (cache full)");
        }
    }

    /// Marks a slot as used in the current epoch (a write only when the epoch changed).
    #[inline]
    fn touch(&self, slot: &Slot) {
        let epoch = self.epoch.load(Ordering::Relaxed);
        if slot.last_used.load(Ordering::Relaxed) != epoch {
            slot.last_used.store(epoch, Ordering::Relaxed);
        }
    }

    /// Starts a new epoch and removes the slots unused for `idle_epochs` epochs (unless `keep`).
    /// Returns how many went.
    pub(crate) fn sweep(&self, idle_epochs: u64, keep: impl Fn(&Slot) -> bool) -> usize {
        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
        let stale = |s: &Slot| {
            epoch.saturating_sub(s.last_used.load(Ordering::Relaxed)) > idle_epochs
                && !keep(s)
                && !s.busy()
        };
        let guard = self.map.guard();
        let mut removed = 0;
        for (key, slot) in self.map.iter(&guard) {
            if !stale(slot) {
                continue;
            }
            // Checked again, on the slot in the map now.
            if let Ok(Some((_, slot))) = self.map.remove_if(key, |_, s| stale(s), &guard) {
                slot.stop_tasks();
                removed += 1;
            }
        }
        self.len.fetch_sub(removed, Ordering::Relaxed);
        if removed > 0 {
            telemetry::count_many(telemetry::names::EVICTIONS, removed as u64);
            telemetry::cached_changed(-(removed as i64));
            tracing::debug!(removed, "evicted idle ThoughtSpot credentials");
        }
        removed
    }

    /// Every slot, for the handle's bulk operations and shutdown.
    pub(crate) fn all(&self) -> Vec<Arc<Slot>> {
        let guard = self.map.guard();
        self.map.values(&guard).cloned().collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}
