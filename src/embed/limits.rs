//! Rates and backoff for the token endpoint: a generic cell-rate limiter on tokio's clock (so a
//! paused test clock drives it), and what a user's last failed mint means for the next call.

use std::time::Duration;

use tokio::time::Instant;

use crate::sync::doubled;

/// At most `count` mints per `period`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintRate {
    pub(crate) interval: Duration,
    pub(crate) burst: u32,
}

impl MintRate {
    /// `count` mints per `period` (at least one), in bursts of up to `burst` (at least one).
    pub fn new(count: u32, period: Duration, burst: u32) -> Self {
        Self {
            interval: period / count.max(1),
            burst: burst.max(1),
        }
    }

    /// `count` mints per second in bursts of up to `burst`.
    pub fn per_second(count: u32, burst: u32) -> Self {
        Self::new(count, Duration::from_secs(1), burst)
    }

    /// `count` mints per minute in bursts of up to `burst`.
    pub fn per_minute(count: u32, burst: u32) -> Self {
        Self::new(count, Duration::from_secs(60), burst)
    }

    fn tolerance(&self) -> Duration {
        self.interval.saturating_mul(self.burst - 1)
    }
}

/// The generic cell-rate algorithm: one instant per limited thing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Gcra {
    /// When the next cell is due if cells arrived at exactly the rate.
    tat: Option<Instant>,
}

impl Gcra {
    /// Takes a slot at most `max_wait` away: how long to wait for it, or (taking nothing) how
    /// long until one would be free within `max_wait`.
    pub(crate) fn reserve(
        &mut self,
        rate: MintRate,
        now: Instant,
        max_wait: Duration,
    ) -> Result<Duration, Duration> {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let wait = tat.saturating_duration_since(now + rate.tolerance());
        if wait > max_wait {
            return Err(wait - max_wait);
        }
        self.tat = Some(tat + rate.interval);
        Ok(wait)
    }

    /// Gives back the slot the last `reserve` took, for a call that was never carried out.
    pub(crate) fn release(&mut self, rate: MintRate) {
        if let Some(tat) = self.tat {
            self.tat = tat.checked_sub(rate.interval);
        }
    }

    /// Whether the limiter has forgotten everything (it can be dropped).
    pub(crate) fn idle(&self, now: Instant) -> bool {
        self.tat.is_none_or(|t| t <= now)
    }
}

/// A user's last failed mint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    /// No mint for this user before then.
    pub(crate) until: Instant,
    /// Failures in a row of this kind.
    pub(crate) streak: u32,
    /// Rejected credentials, a locked user, an invalid request: trying again cannot help.
    pub(crate) permanent: bool,
}

/// The backoff rules (the layer's defaults: 250 ms doubling to 30 s after transient failures,
/// 60 s doubling to 30 min after permanent ones).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) transient: Duration,
    pub(crate) transient_max: Duration,
    pub(crate) permanent: Duration,
    pub(crate) permanent_max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            transient: Duration::from_millis(250),
            transient_max: Duration::from_secs(30),
            permanent: Duration::from_secs(60),
            permanent_max: Duration::from_secs(30 * 60),
        }
    }
}

impl Backoff {
    /// The failure after `previous`, at `now`; `retry_after` is the server's wish.
    pub(crate) fn next(
        &self,
        previous: Option<Failure>,
        permanent: bool,
        retry_after: Option<Duration>,
        now: Instant,
    ) -> Failure {
        let streak = match previous {
            Some(p) if p.permanent == permanent => p.streak.saturating_add(1),
            _ => 1,
        };
        let (first, max) = if permanent {
            (self.permanent, self.permanent_max)
        } else {
            (self.transient, self.transient_max)
        };
        let delay = doubled(first, streak, max);
        Failure {
            until: now + delay.max(retry_after.unwrap_or_default()),
            streak,
            permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn gcra_allows_the_burst_then_the_rate() {
        let rate = MintRate::per_second(10, 3);
        let mut g = Gcra::default();
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(g.reserve(rate, now, Duration::ZERO), Ok(Duration::ZERO));
        }
        assert_eq!(
            g.reserve(rate, now, Duration::ZERO),
            Err(Duration::from_millis(100))
        );
        // Waiting callers queue at the rate.
        assert_eq!(
            g.reserve(rate, now, Duration::from_secs(1)),
            Ok(Duration::from_millis(100))
        );
        assert_eq!(
            g.reserve(rate, now, Duration::from_secs(1)),
            Ok(Duration::from_millis(200))
        );
        assert!(!g.idle(now));
        assert!(g.idle(now + Duration::from_secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_and_honours_retry_after() {
        let b = Backoff::default();
        let now = Instant::now();
        let f1 = b.next(None, false, None, now);
        assert_eq!(f1.until - now, Duration::from_millis(250));
        let f2 = b.next(Some(f1), false, Some(Duration::from_secs(5)), now);
        assert_eq!((f2.streak, f2.until - now), (2, Duration::from_secs(5)));
        let p = b.next(Some(f2), true, None, now);
        assert_eq!((p.streak, p.until - now), (1, Duration::from_secs(60)));
        let mut f = p;
        for _ in 0..30 {
            f = b.next(Some(f), true, None, now);
        }
        assert_eq!(f.until - now, Duration::from_secs(30 * 60));
    }
}
