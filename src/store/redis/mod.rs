//! [`RedisCredentialStore`]: the fleet's credential store in Redis or Valkey, one server or a
//! cluster.
//!
//! The store and the four calls of [`CredentialStore`] are in `store`, its builder in `builder`;
//! how a call reaches one server is in `single`, a cluster in `cluster`, and the Lua scripts
//! and how they are sent in `scripts`.
//!
//! [`CredentialStore`]: super::CredentialStore
//!
//! How names carry a Redis Cluster hash tag, and what a key prefix does to it, is told in
//! [the store's docs](super).

mod builder;
mod cluster;
mod scripts;
mod single;
mod store;

pub use self::builder::RedisStoreBuilder;
pub use self::store::RedisCredentialStore;
