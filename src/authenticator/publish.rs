//! Publication: a login's (or an adoption's) credential becomes the slot's and the hot path's,
//! its waiters are answered, and it is handed to the task that moves it from fresh to soft to
//! hard expiry (`lives`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::credential::{Credential, Phase};
use super::slot::{Origin, Outcome, Slot};
use super::{Core, fleet};
use crate::config::Source;
use crate::error::Error;
use crate::session::Login;
use crate::store::Generation;
use crate::sync::{Answer, lock};
use crate::telemetry;

impl Core {
    /// Makes a credential another replica published the slot's, its lifetime what the store
    /// said was left, counted from when this replica asked.
    pub(super) fn adopt(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        adopted: fleet::Adopted,
        landed: &Answer<Outcome>,
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
            0,
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
    /// answers the requests waiting for it (`landed`), and then hands it to the task that moves
    /// it through its phases (`lives`): nobody needs to wait for that.
    ///
    /// `login_sent` is the login's place in the order logins were sent (0 when unknown);
    /// `stored` is the credential's generation in the credential store, if it has one, and when
    /// it was minted.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn publish_as(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        login: Login,
        login_sent: u64,
        origin: Origin,
        stored: Option<(Generation, Instant)>,
        landed: &Answer<Outcome>,
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
            login_sent,
            lifetime,
            soft_at,
            hard_at,
        ));
        if let Some((stored, minted_at)) = stored {
            lock(&slot.fleet).holding(generation, stored, minted_at);
        }
        let previous = slot.credential.swap(Some(credential.clone()));
        self.ever_reached.store(true, Ordering::Release);
        match origin {
            Origin::Login => {
                if let Some(previous) = &previous {
                    self.counters.refreshes.bump();
                    let kind = match previous.catch_up(Instant::now()) {
                        _ if previous.refresh_forced.load(Ordering::Relaxed) => "forced",
                        Phase::Fresh => "forced",
                        Phase::Soft => "soft",
                        Phase::Hard => "hard",
                    };
                    telemetry::count(telemetry::names::REFRESHES, Some(("kind", kind)));
                }
                self.counters.logins.bump();
                slot.logins.fetch_add(1, Ordering::Relaxed);
            }
            Origin::Adopted => {
                self.counters.store_adoptions.bump();
                telemetry::count(telemetry::names::STORE_ADOPTIONS, None);
            }
        }
        self.mirror_if_current(slot, &credential);
        landed.give(Ok(credential.clone()));
        if soft_at.is_some() && hard_at.is_some() {
            self.follow_life(&credential);
        }
        Ok(credential)
    }

    /// Starts the refresh a request asked for (from the task that keeps every credential's
    /// life, `lives`).
    pub(super) fn start_refresh(self: &Arc<Self>, credential: &Credential) {
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
}

/// When a credential of `lifetime` turns soft (refresh in the background) and hard (wait for a
/// login), counted from when its login was sent. The margin is the smaller of `margin` and 10 %
/// of the lifetime, less up to half of it again as jitter so that a fleet does not refresh in
/// step; the hard deadline keeps a small guard (5 s or 5 %) for the request's own trip.
fn deadlines(lifetime: Duration, margin: Duration) -> (Duration, Duration) {
    let margin = margin.min(lifetime / 10);
    let jitter = margin.mul_f64(0.5 * crate::sync::random_fraction());
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
