//! Where credentials are kept so that a fleet of replicas shares them.
//!
//! By default a layer keeps its credentials in process and nothing else: every replica of a
//! service logs in on its own. Give the builder a [`CredentialStore`]
//! ([`AuthBuilder::credential_store`](crate::AuthBuilder::credential_store)) — with the `redis`
//! feature, a [`RedisCredentialStore`] — and the replicas behave like one well-behaved client:
//!
//! - **Fleet-wide single flight.** Before a replica logs in it looks in the store: a fresh
//!   credential another replica published is adopted. Otherwise it takes a short lease, logs in
//!   and publishes; the others wait for the publication (polling every 25 ms, doubling to
//!   200 ms) and adopt it. A leader that dies mid-login stops renewing its lease, the lease
//!   expires, and another replica takes over. Nobody waits past its own login deadline.
//! - **No clocks compared.** The store holds *remaining* validity (the entry's time to live),
//!   never absolute times; each replica counts an adopted credential's lifetime on its own
//!   monotonic clock from the moment it asked the store.
//! - **Generation-guarded invalidation.** A replica whose credential is rejected removes the
//!   stored one only if it is still the same generation, so a late 401 on one replica never
//!   evicts the newer credential another one published; then one fleet-wide login.
//! - **Lockout safety.** A permanent login failure (bad credentials, locked account, forbidden,
//!   an unusable answer) is stored for its backoff window: the whole fleet makes at most one
//!   password attempt per window, and every replica reports the same [`Error`](crate::Error)
//!   kind.
//! - **Sealed at rest.** Values are encrypted and authenticated (XChaCha20-Poly1305) with a key
//!   derived by HKDF-SHA256 from the configured password or secret key and the cluster's origin;
//!   the entry's name and generation are the associated data. Names are keyed hashes
//!   (HMAC-SHA256) of the user and org. Whoever can read the store but does not hold the
//!   ThoughtSpot secret learns neither a token, a cookie nor a user name. Replicas configured
//!   with another secret (or cluster, API or credential kind) use other names and cannot read
//!   these entries: they form a fleet of their own.
//! - **Availability over sharing.** The store is consulted only when a credential must be made
//!   or dropped, never on a request's hot path. A store call that fails or takes longer than
//!   [`credential_store_timeout`](crate::AuthBuilder::credential_store_timeout) (500 ms by
//!   default) makes the replica log in by itself; it warns once per outage, counts it in
//!   [`AuthStats`](crate::AuthStats), tries the store again after a second, and rejoins when it
//!   answers.
//!
//! A static token ([`AuthBuilder::token`](crate::AuthBuilder::token)) is never stored: there is
//! no secret to seal it with, and nothing to share since it is never renewed.
//!
//! # Writing a store
//!
//! The trait is small and knows nothing of ThoughtSpot: named entries of opaque bytes, each with
//! a random [`Generation`] and a time to live, plus a lease. See [`CredentialStore`] for the
//! contract. [`MemoryCredentialStore`] is the reference implementation (one process).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::sync::lock;

#[cfg(feature = "redis")]
mod redis;
pub(crate) mod sealed;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisCredentialStore, RedisStoreBuilder};

/// The future a [`CredentialStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A random 128-bit id: the generation of a stored credential, or the holder of a lease. Not a
/// secret; it says which entry is which, so that removals and lease releases compare and delete.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Generation([u8; 16]);

impl Generation {
    /// A new random generation.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        sealed::fill_random(&mut bytes);
        Self(bytes)
    }

    /// A generation from its bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The generation's bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Generation({self})")
    }
}

/// One entry of a store: its generation, its sealed value and how long it has left.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The entry's generation (or, for a lease, its holder).
    pub generation: Generation,
    /// Sealed bytes: opaque to the store.
    pub value: Bytes,
    /// Time to live: when writing, how long the entry lives; when read, how long it has left.
    pub ttl: Duration,
}

impl fmt::Debug for StoredEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredEntry")
            .field("generation", &self.generation)
            .field("value_len", &self.value.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// A store call that failed. The authenticator treats every failure alike: it logs in by
/// itself and tries the store again later. The message must not carry a secret.
#[derive(Debug, Clone)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// Where a fleet of replicas keeps the credentials it shares (see [the module docs](self)).
///
/// The contract:
/// - Entries are named by short ASCII names (the authenticator's keyed hashes, such as
///   `cred:4f1c…`); an implementation may put a prefix of its own before them.
/// - Values are opaque bytes, already sealed: a store never sees a secret and need not protect
///   what it holds beyond the usual.
/// - Every entry expires after the time to live it was written with. Time to live is the only
///   time a store deals in, on the store's own clock: replicas never compare clocks.
/// - [`remove_if`](Self::remove_if) and [`try_lease`](Self::try_lease) must be atomic;
///   [`read`](Self::read) should see all its names at one moment.
/// - Each call is bounded by the authenticator's time-out and its failure only makes the replica
///   work alone for a while, so a store should fail fast rather than retry for long.
pub trait CredentialStore: Send + Sync + 'static {
    /// The entries named, in order: each with its remaining time to live, or `None` if absent
    /// or expired.
    fn read<'a>(&'a self, names: &'a [String]) -> StoreFuture<'a, Vec<Option<StoredEntry>>>;

    /// Sets the entry `name`, replacing any, to expire after `entry.ttl`.
    fn write<'a>(&'a self, name: &'a str, entry: StoredEntry) -> StoreFuture<'a, ()>;

    /// Removes the entry `name` if, and only if, it is of `generation`. Returns whether it did.
    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool>;

    /// Takes the lease `name` for `holder` for `ttl` if nobody holds it, or extends it to `ttl`
    /// if `holder` does. Returns whether `holder` holds it now. It is released with
    /// [`remove_if`](Self::remove_if) with the holder as generation.
    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        holder: Generation,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;
}

impl<T: CredentialStore + ?Sized> CredentialStore for Arc<T> {
    fn read<'a>(&'a self, names: &'a [String]) -> StoreFuture<'a, Vec<Option<StoredEntry>>> {
        (**self).read(names)
    }

    fn write<'a>(&'a self, name: &'a str, entry: StoredEntry) -> StoreFuture<'a, ()> {
        (**self).write(name, entry)
    }

    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool> {
        (**self).remove_if(name, generation)
    }

    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        holder: Generation,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        (**self).try_lease(name, holder, ttl)
    }
}

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
