//! Forgetting one generation of a credential after a rejection, and only that one.

use super::Core;
use super::credential::CacheKey;
use crate::sync::lock;
use crate::telemetry;

impl Core {
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
                        self.provided_token_rejected(key, c);
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
            self.counters.invalidations.bump();
            telemetry::count(
                telemetry::names::INVALIDATIONS,
                Some(("reason", telemetry::reason(reason))),
            );
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
}
