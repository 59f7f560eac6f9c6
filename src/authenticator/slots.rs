//! The credential cache's map from key to slot: lock-free to read, bounded, and cheap to add to
//! even with thousands of users.
//!
//! The map is split into shards, each an `ArcSwap` of a `HashMap` replaced whole when a key is
//! added or removed (copy on write). Readers — the hot path — only `load`; writers copy one shard,
//! which stays small however many keys there are. Recency is kept as a coarse epoch that a sweeper
//! advances, so a request writes to its slot at most once per epoch.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use super::credential::CacheKey;
use super::{Slot, lock};

const SHARDS: usize = 32;

type Shard = ArcSwap<HashMap<CacheKey, Arc<Slot>>>;

pub(crate) struct SlotMap {
    shards: Box<[Shard]>,
    writers: Box<[Mutex<()>]>,
    hasher: std::collections::hash_map::RandomState,
    len: AtomicUsize,
    /// Advanced by the sweeper; slots remember the epoch they were last used in.
    epoch: AtomicU64,
    /// Order of creation: among slots last used in the same epoch, the oldest goes first.
    sequence: AtomicU64,
}

impl SlotMap {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| ArcSwap::from_pointee(HashMap::new()))
                .collect(),
            writers: (0..SHARDS).map(|_| Mutex::new(())).collect(),
            hasher: Default::default(),
            len: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
        }
    }

    fn shard_of(&self, key: &CacheKey) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    /// The slot of `key`, if cached: one `ArcSwap` load and a hash lookup, no lock.
    #[inline]
    pub(crate) fn with<R>(&self, key: &CacheKey, f: impl FnOnce(&Slot) -> R) -> Option<R> {
        let shard = self.shards[self.shard_of(key)].load();
        let slot = shard.get(key)?;
        self.touch(slot);
        Some(f(slot))
    }

    /// The slot of `key`, cached or new. Beyond `capacity`, the least recently used idle slot
    /// makes room (`keep` says which must stay).
    pub(crate) fn get_or_insert(
        &self,
        key: &CacheKey,
        capacity: usize,
        keep: impl Fn(&Slot) -> bool,
    ) -> Arc<Slot> {
        let index = self.shard_of(key);
        if let Some(slot) = self.shards[index].load().get(key) {
            self.touch(slot);
            return slot.clone();
        }
        let _writer = lock(&self.writers[index]);
        let current = self.shards[index].load_full();
        if let Some(slot) = current.get(key) {
            return slot.clone();
        }
        let mut next = HashMap::clone(&current);
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new(
            key.clone(),
            self.epoch.load(Ordering::Relaxed),
            sequence,
        ));
        next.insert(key.clone(), slot.clone());
        self.shards[index].store(Arc::new(next));
        drop(_writer);
        if self.len.fetch_add(1, Ordering::Relaxed) + 1 > capacity {
            self.evict_one(key, &keep);
        }
        slot
    }

    /// Removes the least recently used slot that may go (not `spare`, not kept, not logging in):
    /// the oldest of the earliest epoch, across all shards. Only runs when the cache is full.
    fn evict_one(&self, spare: &CacheKey, keep: &impl Fn(&Slot) -> bool) {
        let victim = self
            .shards
            .iter()
            .flat_map(|shard| {
                shard
                    .load()
                    .values()
                    .filter(|s| s.key != *spare && !keep(s) && !s.busy())
                    .map(|s| {
                        (
                            s.last_used.load(Ordering::Relaxed),
                            s.sequence,
                            s.key.clone(),
                        )
                    })
                    .min_by_key(|(epoch, sequence, _)| (*epoch, *sequence))
            })
            .min_by_key(|(epoch, sequence, _)| (*epoch, *sequence));
        let Some((_, _, victim)) = victim else { return };
        let index = self.shard_of(&victim);
        let _writer = lock(&self.writers[index]);
        let mut next = HashMap::clone(&self.shards[index].load_full());
        if let Some(slot) = next.remove(&victim) {
            self.len.fetch_sub(1, Ordering::Relaxed);
            slot.stop_tasks();
            self.shards[index].store(Arc::new(next));
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
        let mut removed = 0;
        for (index, shard) in self.shards.iter().enumerate() {
            let stale = |s: &Slot| {
                epoch.saturating_sub(s.last_used.load(Ordering::Relaxed)) > idle_epochs
                    && !keep(s)
                    && !s.busy()
            };
            if !shard.load().values().any(|s| stale(s)) {
                continue;
            }
            let _writer = lock(&self.writers[index]);
            let mut next = HashMap::clone(&shard.load_full());
            next.retain(|_, s| {
                let go = stale(s);
                if go {
                    s.stop_tasks();
                    removed += 1;
                }
                !go
            });
            shard.store(Arc::new(next));
        }
        self.len.fetch_sub(removed, Ordering::Relaxed);
        if removed > 0 {
            tracing::debug!(removed, "evicted idle ThoughtSpot credentials");
        }
        removed
    }

    /// Every slot, for the handle's bulk operations and shutdown.
    pub(crate) fn all(&self) -> Vec<Arc<Slot>> {
        self.shards
            .iter()
            .flat_map(|s| s.load().values().cloned().collect::<Vec<_>>())
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}
