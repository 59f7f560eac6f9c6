//! One limit on the logins and token mints a process, or a fleet of replicas, sends
//! ThoughtSpot ([`MintBudget`], at a [`MintRate`]), and the cell-rate limiter under it, on
//! tokio's clock so that a paused test clock drives it. Never on the hot path.

pub(crate) mod rate;
mod shared;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use self::rate::Gcra;
pub use self::rate::MintRate;
use self::shared::FleetShare;
use crate::store::CredentialStore;
use crate::sync::lock;
use crate::telemetry;

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
    /// The fleet's budget in its credential store, if shared.
    fleet: Option<FleetShare>,
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
                fleet: None,
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
                fleet: None,
            }),
        }
    }

    /// Makes this the budget of a whole fleet: the rate is shared by every replica whose budget
    /// is shared through the same `store` (its key prefix) for the same ThoughtSpot cluster,
    /// one atomic call to the store per login or mint, so that the replicas together keep to
    /// it. While the store fails or is slow (`timeout`: 500 ms by default, as the layer's store
    /// time-out), each replica keeps to its share, the rate and burst divided by `replicas`,
    /// and asks the store again a second later. Call it before the budget is cloned.
    ///
    /// Behind one address (a NAT, an egress proxy), ThoughtSpot counts every replica's calls
    /// against one limit (100 a second by default): give the fleet's budget below it.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")] {
    /// use std::sync::Arc;
    /// use thoughtspot_auth::{MintBudget, ThoughtSpotAuthLayer};
    /// use thoughtspot_auth::store::RedisCredentialStore;
    ///
    /// let store = Arc::new(RedisCredentialStore::open("redis://redis.internal:6379")?);
    /// // 80 mints a second (bursts of 10) for the whole fleet of about 8 replicas.
    /// let budget = MintBudget::per_second(80, 10).shared_through(store.clone(), 8);
    /// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
    ///     .act_as_users("the-trusted-auth-key")
    ///     .credential_store(store)
    ///     .mint_budget(budget)
    ///     .build()?;
    /// # }
    /// # Ok::<(), thoughtspot_auth::Error>(())
    /// ```
    pub fn shared_through(self, store: Arc<dyn CredentialStore>, replicas: u32) -> Self {
        self.shared_through_with_timeout(store, replicas, Duration::from_millis(500))
    }

    /// [`shared_through`](Self::shared_through) with another time-out for the store's answer.
    pub fn shared_through_with_timeout(
        self,
        store: Arc<dyn CredentialStore>,
        replicas: u32,
        timeout: Duration,
    ) -> Self {
        let Some(rate) = self.inner.rate else {
            return self;
        };
        Self {
            inner: Arc::new(Shared {
                rate: Some(rate),
                cells: Mutex::new(Gcra::default()),
                waited_nanos: AtomicU64::new(0),
                fleet: Some(FleetShare::new(store, rate, replicas, timeout)),
            }),
        }
    }

    /// Whether the budget is a fleet's, shared through a store.
    pub fn is_shared(&self) -> bool {
        self.inner.fleet.is_some()
    }

    /// How many credentials living `validity` each this budget can keep alive, minting each
    /// again before it ends: the rate times the validity (30,000 at 100 a second and 300 s),
    /// this replica's share of it for a fleet's budget. `None` without a limit.
    pub fn sustainable(&self, validity: Duration) -> Option<u64> {
        let rate = self.inner.rate?;
        let per_validity = validity.as_nanos() / rate.interval.as_nanos().max(1);
        let replicas = self.inner.fleet.as_ref().map_or(1, FleetShare::replicas);
        Some(u64::try_from(per_validity / u128::from(replicas)).unwrap_or(u64::MAX))
    }

    /// The rate; `None` for [`unlimited`](Self::unlimited).
    pub fn rate(&self) -> Option<MintRate> {
        self.inner.rate
    }

    /// How long logins and mints have waited for their turn, all together.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.inner.waited_nanos.load(Ordering::Relaxed))
    }

    /// Takes a turn at most `max_wait` away, for the ThoughtSpot cluster at `cluster` (its
    /// address: a fleet's budget is one per cluster): how long to wait for it (counted in
    /// [`waited`](Self::waited)), or, taking nothing, how long until one would be free within
    /// `max_wait`.
    pub(crate) async fn reserve(
        &self,
        cluster: &str,
        max_wait: Duration,
    ) -> Result<Duration, Duration> {
        let Some(rate) = self.inner.rate else {
            return Ok(Duration::ZERO);
        };
        let reserved = match &self.inner.fleet {
            Some(fleet) => fleet.reserve(rate, cluster, max_wait).await,
            None => lock(&self.inner.cells).reserve(rate, Instant::now(), max_wait),
        };
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
    pub(crate) async fn turn(&self, cluster: &str, deadline: Instant) -> bool {
        let max_wait = deadline.saturating_duration_since(Instant::now());
        match self.reserve(cluster, max_wait).await {
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
            .field("shared", &self.is_shared())
            .field("waited", &self.waited())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_budget_is_shared_by_its_clones_and_counts_the_waits() {
        let budget = MintBudget::per_second(10, 2);
        let clone = budget.clone();
        let deadline = Instant::now() + Duration::from_millis(150);
        assert!(budget.turn("c", deadline).await);
        assert!(clone.turn("c", deadline).await);
        assert_eq!(budget.waited(), Duration::ZERO);
        let started = Instant::now();
        assert!(
            clone.turn("c", deadline).await,
            "100 ms away, within the deadline"
        );
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert_eq!(budget.waited(), Duration::from_millis(100));
        assert!(
            !budget.turn("c", deadline).await,
            "the next one is past the deadline"
        );
        assert!(
            budget
                .turn("c", Instant::now() + Duration::from_secs(1))
                .await,
            "nothing was taken"
        );
    }
}
