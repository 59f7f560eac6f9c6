//! When a slot may try to log in again after failures.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Timings;
use crate::error::Error;
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
    permanent: Option<Box<(Error, Instant)>>,
}

impl Failures {
    /// The answer to a login not tried because a permanent failure's window lasts, if one does:
    /// that failure, marked as refused until the window ends.
    pub(crate) fn blocking_error(&self, now: Instant) -> Option<Error> {
        match self.permanent.as_deref() {
            Some((error, until)) if now < *until => {
                Some(Error::refused_by_backoff(error.clone(), *until))
            }
            _ => None,
        }
    }

    /// The earliest moment a transient retry may be made.
    pub(crate) fn not_before(&self) -> Option<Instant> {
        self.not_before
    }

    /// Records a permanent failure; returns how long no attempt will be made.
    pub(crate) fn record_permanent(
        &mut self,
        error: &Error,
        now: Instant,
        t: &Timings,
    ) -> Duration {
        self.permanent_in_a_row = self.permanent_in_a_row.saturating_add(1);
        let window = doubled(
            t.permanent_backoff,
            self.permanent_in_a_row,
            t.permanent_backoff_max,
        );
        self.permanent = Some(Box::new((error.clone(), now + window)));
        window
    }

    /// How many permanent failures in a row were recorded.
    pub(crate) fn permanent_in_a_row(&self) -> u32 {
        self.permanent_in_a_row
    }

    /// Takes on a permanent failure another replica met and shared: blocked until `until`, and
    /// the count in a row at least `in_a_row`, so later windows keep doubling fleet-wide.
    pub(crate) fn adopt_permanent(&mut self, error: &Error, until: Instant, in_a_row: u32) {
        self.permanent_in_a_row = self.permanent_in_a_row.max(in_a_row);
        let until = match self.permanent.as_deref() {
            Some((_, existing)) if *existing > until => *existing,
            _ => until,
        };
        self.permanent = Some(Box::new((error.clone(), until)));
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
        let w1 = f.record_permanent(&unavailable(), now, &t);
        assert_eq!(w1, t.permanent_backoff);
        let refused = f
            .blocking_error(now + w1 - Duration::from_millis(1))
            .unwrap();
        assert_eq!(refused.kind(), unavailable().kind());
        assert_eq!(refused.not_tried_until(), Some(now + w1));
        assert!(f.blocking_error(now + w1).is_none());
        let w2 = f.record_permanent(&unavailable(), now, &t);
        assert_eq!(w2, t.permanent_backoff * 2);
        for _ in 0..40 {
            f.record_permanent(&unavailable(), now, &t);
        }
        assert!(f.blocking_error(now + t.permanent_backoff_max).is_none());
    }
}
