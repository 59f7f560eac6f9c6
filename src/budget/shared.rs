//! A mint budget shared by a fleet through its credential store: every turn is taken from one
//! rate in the store (one atomic call), so that N replicas together keep to it. While the store
//! fails or is slow, each replica keeps to its own share of the rate instead, and asks the store
//! again a second later.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::rate::{Gcra, MintRate};
use crate::store::{CredentialStore, Turn};
use crate::sync::lock;

/// After a failed call, the store is left alone this long.
const RETRY_AFTER_OUTAGE: Duration = Duration::from_secs(1);

pub(super) struct FleetShare {
    store: std::sync::Arc<dyn CredentialStore>,
    /// This replica's share of the rate, kept to while the store cannot be asked.
    share: MintRate,
    local: Mutex<Gcra>,
    timeout: Duration,
    retry_at: Mutex<Option<Instant>>,
    /// One warning per outage.
    down: AtomicBool,
    replicas: u32,
}

impl FleetShare {
    pub(super) fn new(
        store: std::sync::Arc<dyn CredentialStore>,
        rate: MintRate,
        replicas: u32,
        timeout: Duration,
    ) -> Self {
        Self {
            store,
            share: rate.share(replicas),
            local: Mutex::new(Gcra::default()),
            timeout,
            retry_at: Mutex::new(None),
            down: AtomicBool::new(false),
            replicas: replicas.max(1),
        }
    }

    /// How many replicas share the budget (as configured).
    pub(super) fn replicas(&self) -> u32 {
        self.replicas
    }

    /// A turn of `rate` for the ThoughtSpot cluster at `cluster` (its address), from the
    /// fleet's rate in the store, or this replica's share while the store fails.
    pub(super) async fn reserve(
        &self,
        rate: MintRate,
        cluster: &str,
        max_wait: Duration,
    ) -> Result<Duration, Duration> {
        if lock(&self.retry_at).is_none_or(|at| Instant::now() >= at) {
            let name = name_for(cluster);
            let asked = self
                .store
                .take_turn(&name, rate.interval, rate.burst, max_wait);
            let error = match tokio::time::timeout(self.timeout, asked).await {
                Ok(Ok(turn)) => {
                    *lock(&self.retry_at) = None;
                    if self.down.swap(false, Ordering::Relaxed) {
                        tracing::info!(
                            "the credential store answers again: the fleet's mint budget is shared again"
                        );
                    }
                    return match turn {
                        Turn::Taken { wait } => Ok(wait),
                        Turn::NotWithin { beyond } => Err(beyond),
                    };
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
            };
            *lock(&self.retry_at) = Some(Instant::now() + RETRY_AFTER_OUTAGE);
            if !self.down.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    %error,
                    "the fleet's mint budget cannot be taken from the credential store: this \
                     replica keeps to its own share of it until the store answers again"
                );
            }
        }
        lock(&self.local).reserve(self.share, Instant::now(), max_wait)
    }
}

/// The store's name of the budget for one ThoughtSpot cluster: its own hash tag (one slot).
fn name_for(cluster: &str) -> String {
    let digest = Sha256::digest(cluster.as_bytes());
    let mut name = String::from("{mint-budget}");
    for byte in &digest[..8] {
        name.push_str(&format!("{byte:02x}"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryCredentialStore;

    #[tokio::test(start_paused = true)]
    async fn replicas_share_the_rate_in_the_store_and_keep_to_their_share_without_it() {
        let store = MemoryCredentialStore::new();
        let rate = MintRate::per_second(10, 2);
        let replicas: Vec<_> = (0..4)
            .map(|_| {
                FleetShare::new(
                    std::sync::Arc::new(store.clone()),
                    rate,
                    4,
                    Duration::from_millis(500),
                )
            })
            .collect();
        // The fleet's burst of two, then the fleet's rate, whoever asks.
        let cluster = "analytics.example.com:443";
        assert_eq!(
            replicas[0].reserve(rate, cluster, Duration::ZERO).await,
            Ok(Duration::ZERO)
        );
        assert_eq!(
            replicas[1].reserve(rate, cluster, Duration::ZERO).await,
            Ok(Duration::ZERO)
        );
        assert_eq!(
            replicas[2].reserve(rate, cluster, Duration::ZERO).await,
            Err(Duration::from_millis(100))
        );
        assert_eq!(
            replicas[3]
                .reserve(rate, cluster, Duration::from_secs(1))
                .await,
            Ok(Duration::from_millis(100))
        );
        // Another cluster has a budget of its own.
        assert_eq!(
            replicas[2].reserve(rate, "other:443", Duration::ZERO).await,
            Ok(Duration::ZERO)
        );
        // The store down: each keeps to a quarter (one every 400 ms, bursts of one).
        store.set_available(false);
        assert_eq!(
            replicas[0].reserve(rate, cluster, Duration::ZERO).await,
            Ok(Duration::ZERO)
        );
        assert_eq!(
            replicas[0].reserve(rate, cluster, Duration::ZERO).await,
            Err(Duration::from_millis(400))
        );
        // Back: shared again after the pause.
        store.set_available(true);
        tokio::time::sleep(RETRY_AFTER_OUTAGE).await;
        assert_eq!(
            replicas[0].reserve(rate, cluster, Duration::ZERO).await,
            Ok(Duration::ZERO)
        );
        assert!(name_for(cluster).starts_with("{mint-budget}"));
    }
}
