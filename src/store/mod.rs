//! Where credentials are kept so that a fleet of replicas shares them.
//!
//! By default a layer keeps its credentials in process and nothing else: every replica of a
//! service logs in on its own. Give the builder a [`CredentialStore`]
//! ([`AuthBuilder::credential_store`](crate::AuthBuilder::credential_store)) — with the `redis`
//! feature, a [`RedisCredentialStore`] on one Redis or a Redis Cluster — and the replicas behave
//! like one well-behaved client:
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
//! # Names, and Redis Cluster's slots
//!
//! Per user the store holds a few entries: each org's credential (`cred:…`), lease
//! (`lease:…`) and permanent failure (`fail:…`), and with a password the account's failure.
//! Every name of one user begins with the same Redis Cluster hash tag, `{` and 16 hex digits of
//! a keyed hash of the user `}`, as in `{9a0e52c1d0b47f3e}cred:4f1c…`: a Redis Cluster (or a
//! Valkey cluster) hashes only the tag, so one user's entries share a slot and each call that
//! reads or changes several of them at once runs on one node, while different users spread over
//! the slots. [`RedisCredentialStore`] puts its key prefix (default `thoughtspot-auth:`) before
//! the name; a prefix with a `{…}` of its own pins every key to that tag's one slot, which is
//! correct but spreads nothing, and one that would split a user's names (`{}`) is refused.
//! Names written by a version before the tags were added are not read: they expire by their
//! time to live.
//!
//! # Writing a store
//!
//! The trait is small and knows nothing of ThoughtSpot: named entries of opaque bytes, each with
//! a random [`Generation`] and a time to live, plus a lease. See [`CredentialStore`] for the
//! contract. [`MemoryCredentialStore`] is the reference implementation (one process).

mod credential_store;
mod memory;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod sealed;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisCredentialStore, RedisStoreBuilder};
pub use credential_store::{
    CredentialStore, Generation, StoreError, StoreFuture, StoredEntry, Turn,
};
pub use memory::MemoryCredentialStore;
