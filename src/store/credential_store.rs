//! The contract a fleet's credential store keeps, and the types it deals in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::sealed;

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

/// Where a fleet of replicas keeps the credentials it shares (see [the module docs](crate::store)).
///
/// The contract:
/// - Entries are named by short ASCII names (the authenticator's keyed hashes, such as
///   `{9a0e…}cred:4f1c…`); an implementation may put a prefix of its own before them. Names that
///   [`read`](Self::read) asks for together begin with the same `{…}` (a Redis Cluster hash
///   tag): a sharded store keeps them in one shard.
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

    /// Takes a turn of the rate named `name`, shared by every replica that asks this store: one
    /// turn every `interval`, in bursts of up to `burst`, by the generic cell-rate algorithm on
    /// the store's own clock (it answers durations, never instants). A turn more than
    /// `max_wait` away is not taken. Must be atomic. Used by a
    /// [`MintBudget`](crate::MintBudget) shared through the store
    /// ([`shared_through`](crate::MintBudget::shared_through)).
    ///
    /// The default answers an error: a store that keeps no shared rate makes every replica keep
    /// to its own share of the budget.
    fn take_turn<'a>(
        &'a self,
        name: &'a str,
        interval: Duration,
        burst: u32,
        max_wait: Duration,
    ) -> StoreFuture<'a, Turn> {
        let _ = (name, interval, burst, max_wait);
        Box::pin(async {
            Err(StoreError::new(
                "this credential store keeps no shared rate",
            ))
        })
    }
}

/// What [`CredentialStore::take_turn`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// The turn is taken; it comes after `wait` (zero: now).
    Taken {
        /// How long from now.
        wait: Duration,
    },
    /// No turn within the longest wait: the first free one is this much beyond it. Nothing was
    /// taken.
    NotWithin {
        /// How far beyond the longest wait the first free turn is.
        beyond: Duration,
    },
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

    fn take_turn<'a>(
        &'a self,
        name: &'a str,
        interval: Duration,
        burst: u32,
        max_wait: Duration,
    ) -> StoreFuture<'a, Turn> {
        (**self).take_turn(name, interval, burst, max_wait)
    }
}
