//! [`MemoryCredentialStore`]: the reference store, in this process's memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::sync::lock;

use super::credential_store::{
    CredentialStore, Generation, StoreError, StoreFuture, StoredEntry, Turn,
};
use crate::budget::rate::{Gcra, MintRate};

/// A [`CredentialStore`] in this process's memory, with time to live on tokio's clock: for
/// tests (a paused clock ages its entries), and for several layers in one process that should
/// share their logins. Clones share one map. [`set_available`](Self::set_available) plays an
/// outage.
#[derive(Clone, Default)]
pub struct MemoryCredentialStore {
    inner: Arc<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    entries: Mutex<HashMap<String, (Generation, Bytes, Instant)>>,
    /// Shared rates, by name.
    rates: Mutex<HashMap<String, Gcra>>,
    unavailable: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for MemoryCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCredentialStore")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl MemoryCredentialStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many unexpired entries the store holds.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.entries()
            .values()
            .filter(|(_, _, at)| *at > now)
            .count()
    }

    /// Whether the store holds no unexpired entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every unexpired entry: its name and value, for inspection.
    pub fn dump(&self) -> Vec<(String, Bytes)> {
        let now = Instant::now();
        self.entries()
            .iter()
            .filter(|(_, (_, _, at))| *at > now)
            .map(|(name, (_, value, _))| (name.clone(), value.clone()))
            .collect()
    }

    /// Makes every call fail (`false`) or work again (`true`), as an outage would.
    pub fn set_available(&self, available: bool) {
        self.inner
            .unavailable
            .store(!available, std::sync::atomic::Ordering::Relaxed);
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Generation, Bytes, Instant)>> {
        lock(&self.inner.entries)
    }

    fn check(&self) -> Result<(), StoreError> {
        if self
            .inner
            .unavailable
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            Err(StoreError::new("the memory store is unavailable"))
        } else {
            Ok(())
        }
    }

    fn live(
        entries: &HashMap<String, (Generation, Bytes, Instant)>,
        name: &str,
        now: Instant,
    ) -> Option<(Generation, Bytes, Instant)> {
        entries.get(name).filter(|(_, _, at)| *at > now).cloned()
    }
}

impl CredentialStore for MemoryCredentialStore {
    fn read<'a>(&'a self, names: &'a [String]) -> StoreFuture<'a, Vec<Option<StoredEntry>>> {
        Box::pin(async move {
            self.check()?;
            let now = Instant::now();
            let entries = self.entries();
            Ok(names
                .iter()
                .map(|name| {
                    Self::live(&entries, name, now).map(|(generation, value, at)| StoredEntry {
                        generation,
                        value,
                        ttl: at - now,
                    })
                })
                .collect())
        })
    }

    fn write<'a>(&'a self, name: &'a str, entry: StoredEntry) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.check()?;
            let at = Instant::now() + entry.ttl.max(Duration::from_millis(1));
            self.entries()
                .insert(name.to_owned(), (entry.generation, entry.value, at));
            Ok(())
        })
    }

    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            let mut entries = self.entries();
            match Self::live(&entries, name, Instant::now()) {
                Some((g, _, _)) if g == generation => {
                    entries.remove(name);
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        holder: Generation,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            let now = Instant::now();
            let mut entries = self.entries();
            match Self::live(&entries, name, now) {
                Some((g, _, _)) if g != holder => Ok(false),
                _ => {
                    let at = now + ttl.max(Duration::from_millis(1));
                    entries.insert(name.to_owned(), (holder, Bytes::new(), at));
                    Ok(true)
                }
            }
        })
    }

    fn take_turn<'a>(
        &'a self,
        name: &'a str,
        interval: Duration,
        burst: u32,
        max_wait: Duration,
    ) -> StoreFuture<'a, Turn> {
        Box::pin(async move {
            self.check()?;
            let rate = MintRate::every(interval, burst);
            let mut rates = lock(&self.inner.rates);
            if rates.len() >= 1_024 && !rates.contains_key(name) {
                rates.retain(|_, g| !g.idle(Instant::now()));
            }
            let cell = rates.entry(name.to_owned()).or_default();
            Ok(match cell.reserve(rate, Instant::now(), max_wait) {
                Ok(wait) => Turn::Taken { wait },
                Err(beyond) => Turn::NotWithin { beyond },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn memory_store_keeps_the_contract() {
        let store = MemoryCredentialStore::new();
        let (a, b) = (Generation::random(), Generation::random());
        assert_ne!(a, b);
        let names = vec!["x".to_owned(), "y".to_owned()];
        let entry = StoredEntry {
            generation: a,
            value: Bytes::from_static(b"sealed"),
            ttl: Duration::from_secs(2),
        };
        store.write("x", entry).await.unwrap();
        tokio::time::advance(Duration::from_millis(500)).await;
        let read = store.read(&names).await.unwrap();
        assert_eq!(read[0].as_ref().unwrap().ttl, Duration::from_millis(1500));
        assert!(read[1].is_none());
        assert!(
            !store.remove_if("x", b).await.unwrap(),
            "another generation"
        );
        assert!(store.remove_if("x", a).await.unwrap());
        assert!(store.read(&names).await.unwrap()[0].is_none());

        let ttl = Duration::from_secs(1);
        assert!(store.try_lease("l", a, ttl).await.unwrap());
        assert!(!store.try_lease("l", b, ttl).await.unwrap());
        assert!(store.try_lease("l", a, ttl).await.unwrap(), "renewed");
        tokio::time::advance(ttl).await;
        assert!(store.try_lease("l", b, ttl).await.unwrap(), "expired");
        assert!(store.remove_if("l", b).await.unwrap(), "released");

        store.set_available(false);
        assert!(store.read(&names).await.is_err());
        store.set_available(true);
        assert!(store.read(&names).await.is_ok());
    }
}
