//! The hot path: attach the current credential's prebuilt header with one `ArcSwap` load, no
//! lock, no await and no allocation; a soft-expired credential only sends one message to the task
//! that keeps every credential's life (`lives`). Also
//! the hot path's mirror of the current org's credential, which a login puts there and an
//! invalidation takes away.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwapOption;
use http::HeaderMap;

use super::Core;
use super::credential::{CacheKey, Credential, Phase};
use super::slot::Slot;

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

impl Core {
    /// Attaches the credential for `key` if one is usable without waiting; returns its
    /// generation. A soft-expired credential is attached, and the first request to find it so
    /// asks for one background refresh.
    #[inline]
    pub(crate) fn attach(
        self: &Arc<Self>,
        key: &CacheKey,
        headers: &mut HeaderMap,
        stripe: usize,
        cached: Option<&mut CachedCredential>,
    ) -> Option<u64> {
        // A caller with `&mut self` (a tower service) keeps a `CachedCredential`: checking that it
        // is still the current org's is one relaxed load of the mirror's pointer, and no
        // reference count is written. Others (the reqwest door) load the mirror itself.
        match cached {
            Some(cached) => {
                if let Some(credential) = cached.load() {
                    if credential.key == *key {
                        return self.attach_credential(credential, headers, stripe);
                    }
                }
            }
            None => {
                let fast = self.fast.load();
                if let Some(credential) = fast.as_ref() {
                    if credential.key == *key {
                        return self.attach_credential(credential, headers, stripe);
                    }
                }
            }
        }
        self.attach_from_slots(key, headers, stripe)
    }

    /// A cache of the current org's credential, for [`attach`](Self::attach).
    pub(crate) fn cached_credential(self: &Arc<Self>) -> CachedCredential {
        arc_swap::cache::Cache::new(Mirror(self.clone()))
    }

    pub(super) fn attach_from_slots(
        self: &Arc<Self>,
        key: &CacheKey,
        headers: &mut HeaderMap,
        stripe: usize,
    ) -> Option<u64> {
        self.slots
            .with(key, |slot| {
                let credential = slot.credential.load();
                self.attach_credential(credential.as_ref()?, headers, stripe)
            })
            .flatten()
    }

    #[inline]
    pub(super) fn attach_credential(
        self: &Arc<Self>,
        credential: &Arc<Credential>,
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

    /// Asks the task that keeps every credential's life (`lives`) for one refresh, the first
    /// time a request finds the credential soft-expired. Only a message on the request's way:
    /// spawning the refresh from here cost the one request that did it 3 to 11 ms in a
    /// 10,000-request storm (`benches/refresh_storm.rs`; timed in place, the time was tokio's
    /// `spawn` itself).
    pub(super) fn refresh_in_background(&self, credential: &Arc<Credential>) {
        // Read before claiming: every request of a soft-expired credential comes here until the
        // new one is in, and a swap would write the shared line each time.
        if credential.refresh_claimed.load(Ordering::Relaxed)
            || credential.refresh_claimed.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.ask_refresh_cold(credential);
    }

    /// Out of the hot path's way: a message to the task, once per credential.
    #[cold]
    #[inline(never)]
    fn ask_refresh_cold(&self, credential: &Arc<Credential>) {
        self.ask_refresh(credential);
    }

    /// Puts `credential` on the hot path if its key is the current one and it is newer than what
    /// is there.
    pub(super) fn mirror_if_current(&self, slot: &Slot, credential: &Arc<Credential>) {
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
    pub(super) fn unmirror_if_retired(&self, slot: &Slot, credential: &Credential) {
        if !slot.usable(credential) {
            self.unmirror(&credential.key, credential.generation);
        }
    }

    /// Takes the credential of `key` and `generation` off the hot path, if it is there.
    pub(super) fn unmirror(&self, key: &CacheKey, generation: u64) {
        self.fast.rcu(|fast| match fast.as_deref() {
            Some(c) if c.key == *key && c.generation == generation => None,
            _ => fast.clone(),
        });
    }
}
