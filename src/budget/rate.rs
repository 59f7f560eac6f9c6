//! A rate of mints ([`MintRate`]) and the generic cell-rate algorithm that keeps to it
//! ([`Gcra`]), on tokio's clock so that a paused test clock drives it.

use std::time::Duration;

use tokio::time::Instant;

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

    /// One mint every `interval`, in bursts of up to `burst`.
    pub(crate) fn every(interval: Duration, burst: u32) -> Self {
        Self {
            interval: interval.max(Duration::from_nanos(1)),
            burst: burst.max(1),
        }
    }

    /// This rate divided among `replicas` (each keeps to its share: the burst too, at least
    /// one).
    pub(crate) fn share(&self, replicas: u32) -> Self {
        let replicas = replicas.max(1);
        Self {
            interval: self.interval.saturating_mul(replicas),
            burst: (self.burst / replicas).max(1),
        }
    }

    pub(crate) fn tolerance(&self) -> Duration {
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
    #[cfg(feature = "embed")]
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
        #[cfg(feature = "embed")]
        {
            assert!(!g.idle(now));
            assert!(g.idle(now + Duration::from_secs(1)));
        }
    }
}
