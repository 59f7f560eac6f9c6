//! One limit on the logins and token mints a process sends ThoughtSpot ([`MintBudget`], at a
//! [`MintRate`]), and the cell-rate limiter under it, on tokio's clock so that a paused test
//! clock drives it. Never on the hot path.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;
use crate::telemetry;

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
    #[cfg(feature = "embed")]
    pub(crate) fn release(&mut self, rate: MintRate) {
        if let Some(tat) = self.tat {
            self.tat = tat.checked_sub(rate.interval);
        }
    }

    /// Whether the limiter has forgotten everything (it can be dropped).
    #[cfg(feature = "embed")]
    pub(crate) fn idle(&self, now: Instant) -> bool {
        self.tat.is_none_or(|t| t <= now)
    }
}

/// One budget of logins and mints, shared by its clones: every org and user of a layer draws
/// on it, and the embed endpoint too when it is given the same budget, so that together they
/// stay below ThoughtSpot's 100 requests per second per client IP.
///
/// The default (what a layer uses unless given one) is 50 a second in bursts of up to 10: half
/// of ThoughtSpot's per-address limit, leaving room for the application's own calls. A login
/// waits for its turn within its login deadline; a login whose turn would come after it fails
/// with the flight's last error, or a time-out. A request whose credential is fresh never
/// touches the budget.
#[derive(Clone)]
pub struct MintBudget {
    inner: Arc<Shared>,
}

struct Shared {
    /// `None`: no limit.
    rate: Option<MintRate>,
    cells: Mutex<Gcra>,
    /// Nanoseconds spent waiting for a turn, by everyone.
    waited_nanos: AtomicU64,
}

impl MintBudget {
    /// A budget of `rate`.
    ///
    /// # Example
    ///
    /// ```
    /// use thoughtspot_auth::{MintBudget, MintRate, ThoughtSpotAuthLayer};
    ///
    /// // 20 logins or mints a second, in bursts of up to 10, for this layer.
    /// let budget = MintBudget::new(MintRate::per_second(20, 10));
    /// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
    ///     .act_as_users("the-trusted-auth-key")
    ///     .mint_budget(budget.clone())
    ///     .build()?;
    /// // The embed endpoint (feature `embed`) draws on the same budget with
    /// // `EmbedTokenService::builder(..).mint_budget(budget)`.
    /// # Ok::<(), thoughtspot_auth::Error>(())
    /// ```
    pub fn new(rate: MintRate) -> Self {
        Self {
            inner: Arc::new(Shared {
                rate: Some(rate),
                cells: Mutex::new(Gcra::default()),
                waited_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// `count` logins or mints a second, in bursts of up to `burst`.
    pub fn per_second(count: u32, burst: u32) -> Self {
        Self::new(MintRate::per_second(count, burst))
    }

    /// No limit: for a process whose logins are limited elsewhere (a tower `RateLimit` in
    /// front of the transport, a proxy), and for tests.
    pub fn unlimited() -> Self {
        Self {
            inner: Arc::new(Shared {
                rate: None,
                cells: Mutex::new(Gcra::default()),
                waited_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// The rate; `None` for [`unlimited`](Self::unlimited).
    pub fn rate(&self) -> Option<MintRate> {
        self.inner.rate
    }

    /// How long logins and mints have waited for their turn, all together.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.inner.waited_nanos.load(Ordering::Relaxed))
    }

    /// Takes a turn at most `max_wait` away: how long to wait for it (counted in
    /// [`waited`](Self::waited)), or, taking nothing, how long until one would be free within
    /// `max_wait`.
    pub(crate) fn reserve(&self, max_wait: Duration) -> Result<Duration, Duration> {
        let Some(rate) = self.inner.rate else {
            return Ok(Duration::ZERO);
        };
        let reserved = lock(&self.inner.cells).reserve(rate, Instant::now(), max_wait);
        let Ok(wait) = reserved else {
            telemetry::count(telemetry::names::BUDGET_EXHAUSTED, None);
            return reserved;
        };
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.inner.waited_nanos.fetch_add(nanos, Ordering::Relaxed);
        telemetry::seconds(telemetry::names::BUDGET_WAIT, wait);
        Ok(wait)
    }

    /// Waits for a turn before `deadline`; `false` (nothing taken) if none comes before it.
    pub(crate) async fn turn(&self, deadline: Instant) -> bool {
        match self.reserve(deadline.saturating_duration_since(Instant::now())) {
            Ok(wait) if wait.is_zero() => true,
            Ok(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            Err(_) => false,
        }
    }
}

impl Default for MintBudget {
    fn default() -> Self {
        Self::per_second(50, 10)
    }
}

impl fmt::Debug for MintBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintBudget")
            .field("rate", &self.inner.rate)
            .field("waited", &self.waited())
            .finish()
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

    #[tokio::test(start_paused = true)]
    async fn a_budget_is_shared_by_its_clones_and_counts_the_waits() {
        let budget = MintBudget::per_second(10, 2);
        let clone = budget.clone();
        let deadline = Instant::now() + Duration::from_millis(150);
        assert!(budget.turn(deadline).await);
        assert!(clone.turn(deadline).await);
        assert_eq!(budget.waited(), Duration::ZERO);
        let started = Instant::now();
        assert!(
            clone.turn(deadline).await,
            "100 ms away, within the deadline"
        );
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert_eq!(budget.waited(), Duration::from_millis(100));
        assert!(
            !budget.turn(deadline).await,
            "the next one is past the deadline"
        );
        assert!(
            budget.turn(Instant::now() + Duration::from_secs(1)).await,
            "nothing was taken"
        );
    }
}
