//! When a slot may try to log in again after failures.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Timings;
use crate::error::Error;
use crate::secrets::Fingerprint;
use crate::sync::{doubled, equal_jitter};

/// The failure history of one cache slot.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    transient_in_a_row: u32,
    not_before: Option<Instant>,
    permanent_in_a_row: u32,
    /// A permanent failure and the end of its window: until then every login attempt for the
    /// slot gets this error without anything being sent.
    /// Boxed: rare, and every cached credential's slot has room for one.
    permanent: Option<Box<Permanent>>,
}

/// A permanent failure's window.
#[derive(Debug)]
struct Permanent {
    error: Error,
    until: Instant,
    /// The secrets that failed in this streak of windows (the last few): a source that goes
    /// back to one of them does not end the window.
    failed: Vec<Fingerprint>,
    /// When the source may be looked at again while the window lasts.
    next_look: Instant,
}

/// While a permanent failure's window lasts, its secret source is looked at this often at most.
pub(crate) const SECRET_LOOK_INTERVAL: Duration = Duration::from_secs(1);

impl Failures {
    /// The answer to a login not tried because a permanent failure's window lasts, if one does:
    /// that failure, marked as refused until the window ends.
    pub(crate) fn blocking_error(&self, now: Instant) -> Option<Error> {
        match self.permanent.as_deref() {
            Some(p) if now < p.until => Some(Error::refused_by_backoff(p.error.clone(), p.until)),
            _ => None,
        }
    }

    /// Inside a permanent failure's window, whether its secret source is due a look (at most
    /// once per [`SECRET_LOOK_INTERVAL`]); a `true` books the look.
    pub(crate) fn book_secret_look(&mut self, now: Instant) -> bool {
        match self.permanent.as_deref_mut() {
            Some(p) if now < p.until && now >= p.next_look => {
                p.next_look = now + SECRET_LOOK_INTERVAL;
                true
            }
            _ => false,
        }
    }

    /// Ends the window if the source now gives a secret that has not failed in this streak.
    /// Returns whether it ended. The count in a row stays: if the new secret fails too, the
    /// next window is longer, so a source that keeps changing to wrong secrets cannot make a
    /// login a second.
    pub(crate) fn forgive_if_changed(&mut self, now: Instant, secret: Fingerprint) -> bool {
        match self.permanent.as_deref_mut() {
            Some(p) if now < p.until && !p.failed.contains(&secret) => {
                // The window ends; what failed is remembered for the next one.
                p.until = now;
                true
            }
            _ => false,
        }
    }

    /// The earliest moment a transient retry may be made.
    pub(crate) fn not_before(&self) -> Option<Instant> {
        self.not_before
    }

    /// Records a permanent failure of a login with `secret`; returns how long no attempt will
    /// be made.
    pub(crate) fn record_permanent(
        &mut self,
        error: &Error,
        secret: Option<Fingerprint>,
        now: Instant,
        t: &Timings,
    ) -> Duration {
        self.permanent_in_a_row = self.permanent_in_a_row.saturating_add(1);
        let window = doubled(
            t.permanent_backoff,
            self.permanent_in_a_row,
            t.permanent_backoff_max,
        );
        let failed = self.failed_with(secret);
        self.permanent = Some(Box::new(Permanent {
            error: error.clone(),
            until: now + window,
            failed,
            next_look: now + SECRET_LOOK_INTERVAL,
        }));
        window
    }

    /// How many permanent failures in a row were recorded.
    pub(crate) fn permanent_in_a_row(&self) -> u32 {
        self.permanent_in_a_row
    }

    /// Takes on a permanent failure another replica met and shared: blocked until `until`, and
    /// the count in a row at least `in_a_row`, so later windows keep doubling fleet-wide. The
    /// store's names derive from the secret, so the failure was met with `secret` too.
    pub(crate) fn adopt_permanent(
        &mut self,
        error: &Error,
        until: Instant,
        in_a_row: u32,
        secret: Option<Fingerprint>,
        now: Instant,
    ) {
        self.permanent_in_a_row = self.permanent_in_a_row.max(in_a_row);
        let until = match self.permanent.as_deref() {
            Some(existing) if existing.until > until => existing.until,
            _ => until,
        };
        let failed = self.failed_with(secret);
        self.permanent = Some(Box::new(Permanent {
            error: error.clone(),
            until,
            failed,
            next_look: now + SECRET_LOOK_INTERVAL,
        }));
    }

    /// The secrets that failed in this streak, with `secret`: the last four.
    fn failed_with(&mut self, secret: Option<Fingerprint>) -> Vec<Fingerprint> {
        let mut failed = self.permanent.take().map(|p| p.failed).unwrap_or_default();
        if let Some(secret) = secret.filter(|s| !failed.contains(s)) {
            if failed.len() == 4 {
                failed.remove(0);
            }
            failed.push(secret);
        }
        failed
    }

    /// Records a transient failure; returns how long to wait before the next attempt: doubling
    /// with each failure in a row, jittered, and never shorter than `Retry-After`.
    pub(crate) fn record_transient(
        &mut self,
        error: &Error,
        now: Instant,
        t: &Timings,
    ) -> Duration {
        self.transient_in_a_row = self.transient_in_a_row.saturating_add(1);
        let ceiling = doubled(
            t.transient_backoff,
            self.transient_in_a_row,
            t.transient_backoff_max,
        );
        let delay = equal_jitter(ceiling);
        let delay = error.retry_after().map_or(delay, |r| delay.max(r));
        self.not_before = Some(now + delay);
        delay
    }

    /// A login succeeded: forget the history.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> Error {
        Error::Transport(crate::transport::TransportError::timeout())
    }

    #[test]
    fn transient_backoff_doubles_with_jitter_and_caps() {
        let t = Timings::default();
        let mut f = Failures::default();
        let now = Instant::now();
        let mut last_ceiling = Duration::ZERO;
        for n in 1..=12 {
            let d = f.record_transient(&unavailable(), now, &t);
            let ceiling = doubled(t.transient_backoff, n, t.transient_backoff_max);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{n}: {d:?} vs {ceiling:?}"
            );
            assert!(ceiling >= last_ceiling);
            last_ceiling = ceiling;
        }
        assert_eq!(last_ceiling, t.transient_backoff_max);
        f.reset();
        assert!(f.not_before().is_none());
    }

    #[test]
    fn permanent_window_blocks_then_expires_and_doubles() {
        let t = Timings::default();
        let mut f = Failures::default();
        let now = Instant::now();
        let w1 = f.record_permanent(&unavailable(), None, now, &t);
        assert_eq!(w1, t.permanent_backoff);
        let refused = f
            .blocking_error(now + w1 - Duration::from_millis(1))
            .unwrap();
        assert_eq!(refused.kind(), unavailable().kind());
        assert_eq!(refused.not_tried_until(), Some(now + w1));
        assert!(f.blocking_error(now + w1).is_none());
        let w2 = f.record_permanent(&unavailable(), None, now, &t);
        assert_eq!(w2, t.permanent_backoff * 2);
        for _ in 0..40 {
            f.record_permanent(&unavailable(), None, now, &t);
        }
        assert!(f.blocking_error(now + t.permanent_backoff_max).is_none());
    }

    #[test]
    fn a_window_is_looked_into_once_a_second_and_ends_only_for_another_secret() {
        let t = Timings::default();
        let mut f = Failures::default();
        let now = Instant::now();
        let old = Fingerprint::of(&"old".into());
        let new = Fingerprint::of(&"new".into());
        f.record_permanent(&unavailable(), Some(old), now, &t);
        f.record_permanent(&unavailable(), Some(old), now, &t);
        assert!(!f.book_secret_look(now), "not in the failure's own second");
        let later = now + SECRET_LOOK_INTERVAL;
        assert!(f.book_secret_look(later));
        assert!(!f.book_secret_look(later + Duration::from_millis(999)));
        assert!(!f.forgive_if_changed(later, old));
        assert!(f.blocking_error(later).is_some());
        assert!(f.forgive_if_changed(later, new));
        assert!(f.blocking_error(later).is_none());
        assert_eq!(
            f.permanent_in_a_row(),
            2,
            "a new secret that fails too waits longer"
        );
        // The new one fails as well; going back to the old one ends nothing.
        f.record_permanent(&unavailable(), Some(new), later, &t);
        let look = later + SECRET_LOOK_INTERVAL;
        assert!(!f.forgive_if_changed(look, old));
        assert!(!f.forgive_if_changed(look, new));
        assert!(f.forgive_if_changed(look, Fingerprint::of(&"third".into())));
        // After a success, a source that gave nothing, then gives a secret.
        f.reset();
        f.record_permanent(&unavailable(), None, now, &t);
        assert!(f.forgive_if_changed(now, old));
        // Outside a window there is nothing to look into.
        assert!(!f.book_secret_look(now + t.permanent_backoff_max * 2));
    }
}
