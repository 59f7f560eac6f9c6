//! The ceiling a mint budget puts on how many users stay served: at a budget of R mints a
//! second and tokens valid V seconds, at most R × V (user, org) tokens can be minted again before
//! they end. Beyond it some users' tokens run out before their turn comes, and their requests
//! wait for it. A warning when the cached users come near it (80 %), again after they have
//! fallen well below it (50 %).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Core;

/// ThoughtSpot's token validity when none is asked for.
const DEFAULT_VALIDITY: Duration = Duration::from_secs(300);

impl Core {
    /// After a login made a credential: is the cache near what the budget can keep alive?
    pub(super) fn look_at_the_mint_ceiling(&self) {
        if !self.config.multi_user() {
            return;
        }
        let validity = self
            .config
            .timings
            .token_validity
            .unwrap_or(DEFAULT_VALIDITY);
        let Some(ceiling) = self.config.budget.sustainable(validity) else {
            return;
        };
        let cached = self.slots.len() as u64;
        if cached.saturating_mul(5) >= ceiling.saturating_mul(4) {
            if !self.near_ceiling.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    cached,
                    ceiling,
                    validity_secs = validity.as_secs(),
                    "the cached users come near what the mint budget can keep alive (its rate \
                     times the token validity): beyond it, tokens end before their next turn. \
                     Raise the budget or the token validity, or share the users among more \
                     addresses"
                );
            }
        } else if cached.saturating_mul(2) < ceiling {
            self.near_ceiling.store(false, Ordering::Relaxed);
        }
    }
}
