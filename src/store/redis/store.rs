//! [`RedisCredentialStore`]: its connection (one server or a cluster), its keys, and the four
//! calls of [`CredentialStore`], each one command or one script.

use std::fmt;
use std::time::Duration;

use redis::Value;
use secrecy::{ExposeSecret, SecretString};

use super::cluster::{Cluster, hash_tag};
use super::scripts::{Call, Scripts};
use super::single::Single;
use crate::store::credential_store::{
    CredentialStore, Generation, StoreError, StoreFuture, StoredEntry, Turn,
};

/// A [`CredentialStore`] in Redis (or Valkey), a single server or a Redis Cluster: `redis://`
/// and `rediss://` (TLS through rustls) URLs, an ACL user and password in the URL or set apart,
/// and a key prefix (default `thoughtspot-auth:`). Feature `redis`.
///
/// Each entry is one string key, `prefix + name`, whose value is the 16-byte generation followed
/// by the sealed bytes, with the entry's time to live as the key's (`SET … PX`). Reads, the
/// compare-and-delete and the lease are Lua scripts, so each is one atomic round trip. Nothing
/// connects until the first login needs the store; the connection is kept and re-made after a
/// failure, and every call is bounded by the layer's
/// [store time-out](crate::AuthBuilder::credential_store_timeout).
///
/// ```no_run
/// use thoughtspot_auth::ThoughtSpotAuthLayer;
/// use thoughtspot_auth::store::RedisCredentialStore;
///
/// # fn run() -> Result<(), thoughtspot_auth::Error> {
/// let store = RedisCredentialStore::builder("rediss://redis.internal:6380/0")
///     .username("thoughtspot-auth")
///     .password(std::env::var("REDIS_PASSWORD").unwrap_or_default())
///     .key_prefix("reporting-svc:")
///     .build()?;
/// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
///     .secret_key("svc-reporting", std::env::var("TS_SECRET_KEY").unwrap_or_default())
///     .credential_store(store)
///     .build()?;
/// # Ok(()) }
/// ```
///
/// # Redis Cluster
///
/// [`cluster_builder`](Self::cluster_builder) takes the URLs of a few of the cluster's nodes
/// (or the one address of a managed cluster's configuration endpoint); the store learns the
/// rest from them, sends each call to the primary of its slot and follows `MOVED` and `ASK`.
/// Every name of one user carries the same hash tag (see [the module docs](crate::store)), so
/// each script's keys are in one slot.
///
/// When a primary fails, the calls for its slots wait, trying again every 25 to 250 ms, until
/// its replica is promoted (about the cluster's `cluster-node-timeout` and a second), for up
/// to five seconds and never past the layer's store time-out: with a time-out above the
/// failover time, the fleet keeps sharing through a failover; with the default 500 ms, the
/// replicas that need a login during it log in alone, as when the store is down. A credential
/// written just before the primary died may not have reached its replica: then one replica
/// logs in again, and the fleet shares that one.
///
/// ```no_run
/// use std::time::Duration;
/// use thoughtspot_auth::ThoughtSpotAuthLayer;
/// use thoughtspot_auth::store::RedisCredentialStore;
///
/// # fn run() -> Result<(), thoughtspot_auth::Error> {
/// let store = RedisCredentialStore::cluster_builder([
///     "rediss://redis-0.internal:6379",
///     "rediss://redis-1.internal:6379",
///     "rediss://redis-2.internal:6379",
/// ])
/// .username("thoughtspot-auth")
/// .password(std::env::var("REDIS_PASSWORD").unwrap_or_default())
/// .build()?;
/// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
///     .secret_key("svc-reporting", std::env::var("TS_SECRET_KEY").unwrap_or_default())
///     .credential_store(store)
///     // Above the cluster's failover time: a failover costs a wait, not a login per replica.
///     .credential_store_timeout(Duration::from_secs(3))
///     .build()?;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisCredentialStore {
    connection: Connection,
    prefix: String,
    /// Where, for `Debug` and messages: hosts and ports, never a password.
    address: String,
    /// Scrubbed from error messages.
    password: Option<SecretString>,
    scripts: Scripts,
}

/// How calls reach Redis. (Made once per store: the size of its variants does not matter.)
#[allow(clippy::large_enum_variant)]
pub(super) enum Connection {
    Single(Single),
    Cluster(Cluster),
}

impl fmt::Debug for RedisCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCredentialStore")
            .field("address", &self.address)
            .field(
                "cluster",
                &matches!(self.connection, Connection::Cluster(_)),
            )
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCredentialStore {
    /// A store reaching Redis through `connection`, for the builder.
    pub(super) fn new(
        connection: Connection,
        prefix: String,
        address: String,
        password: Option<SecretString>,
    ) -> Self {
        Self {
            connection,
            prefix,
            address,
            password,
            scripts: Scripts::new(),
        }
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Sends `call` the way this store reaches Redis.
    async fn send<T: redis::FromRedisValue>(&self, call: &Call<'_>) -> Result<T, StoreError> {
        match &self.connection {
            Connection::Single(single) => single.send(call).await,
            Connection::Cluster(cluster) => cluster.send(call).await,
        }
        .map_err(|e| self.error(&e))
    }

    fn error(&self, error: &redis::RedisError) -> StoreError {
        let what = match self.connection {
            Connection::Single(_) => "Redis",
            Connection::Cluster(_) => "Redis Cluster",
        };
        let mut message = format!("{what} at {}: {error}", self.address);
        if let Some(password) = &self.password {
            let password = password.expose_secret();
            if password.len() >= 4 {
                message = message.replace(password, "[REDACTED]");
            }
        }
        StoreError::new(message)
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn as_bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

impl CredentialStore for RedisCredentialStore {
    fn read<'a>(&'a self, names: &'a [String]) -> StoreFuture<'a, Vec<Option<StoredEntry>>> {
        Box::pin(async move {
            let keys: Vec<String> = names.iter().map(|name| self.key(name)).collect();
            if matches!(self.connection, Connection::Cluster(_))
                && keys.iter().any(|key| hash_tag(key) != hash_tag(&keys[0]))
            {
                // Redis would refuse it (CROSSSLOT): say why instead.
                return Err(StoreError::new(
                    "Redis Cluster: the names of one read must share a hash tag ({…}), so that \
                     their keys are in one slot",
                ));
            }
            let call = self.scripts.read.call(keys, Vec::new());
            let values: Vec<Value> = self.send(&call).await?;
            if values.len() != names.len() * 2 {
                return Err(StoreError::new(
                    "Redis answered the read with the wrong shape",
                ));
            }
            Ok(values
                .chunks(2)
                .map(|pair| {
                    let bytes = as_bytes(&pair[0])?;
                    let ttl = as_int(&pair[1]).filter(|t| *t > 0)?;
                    if bytes.len() < 16 {
                        return None;
                    }
                    let (generation, value) = bytes.split_at(16);
                    Some(StoredEntry {
                        generation: Generation::from_bytes(generation.try_into().ok()?),
                        value: bytes::Bytes::copy_from_slice(value),
                        ttl: Duration::from_millis(ttl as u64),
                    })
                })
                .collect())
        })
    }

    fn write<'a>(&'a self, name: &'a str, entry: StoredEntry) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut value = Vec::with_capacity(16 + entry.value.len());
            value.extend_from_slice(entry.generation.as_bytes());
            value.extend_from_slice(&entry.value);
            let mut command = redis::cmd("SET");
            command
                .arg(self.key(name))
                .arg(value)
                .arg("PX")
                .arg(ttl_ms(entry.ttl));
            self.send(&Call::Command(command)).await
        })
    }

    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let call = self
                .scripts
                .remove_if
                .call(vec![self.key(name)], vec![generation.as_bytes().to_vec()]);
            let removed: i64 = self.send(&call).await?;
            Ok(removed > 0)
        })
    }

    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        holder: Generation,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let call = self.scripts.try_lease.call(
                vec![self.key(name)],
                vec![
                    holder.as_bytes().to_vec(),
                    ttl_ms(ttl).to_string().into_bytes(),
                ],
            );
            let held: i64 = self.send(&call).await?;
            Ok(held == 1)
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
            let micros = |d: Duration| {
                u64::try_from(d.as_micros())
                    .unwrap_or(u64::MAX)
                    // Beyond a year is as good as forever, and stays exact in Lua's doubles.
                    .min(365 * 24 * 3_600 * 1_000_000)
                    .to_string()
                    .into_bytes()
            };
            let interval = interval.max(Duration::from_micros(1));
            let tolerance = interval.saturating_mul(burst.max(1) - 1);
            let call = self.scripts.take_turn.call(
                vec![self.key(name)],
                vec![micros(interval), micros(tolerance), micros(max_wait)],
            );
            let (taken, micros): (i64, i64) = self.send(&call).await?;
            let micros = Duration::from_micros(u64::try_from(micros).unwrap_or(0));
            Ok(if taken == 1 {
                Turn::Taken { wait: micros }
            } else {
                Turn::NotWithin { beyond: micros }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_prefix_then_the_name() {
        let store = RedisCredentialStore::builder("redis://127.0.0.1:6390")
            .key_prefix("p:")
            .build()
            .unwrap();
        assert_eq!(store.key("{9a0e}cred:x"), "p:{9a0e}cred:x");
    }

    #[test]
    fn error_messages_carry_no_password() {
        let store = RedisCredentialStore::cluster_builder([
            "redis://svc:hunter2-pw@10.0.0.1:6379",
            "redis://svc:hunter2-pw@10.0.0.2:6380",
        ])
        .build()
        .unwrap();
        let error = store.error(&redis::RedisError::from((
            redis::ErrorKind::Io,
            "refused",
            "hunter2-pw".to_owned(),
        )));
        assert!(
            error
                .to_string()
                .starts_with("Redis Cluster at 10.0.0.1:6379, 10.0.0.2:6380: ")
                && !error.to_string().contains("hunter2"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_cluster_read_of_names_without_one_tag_fails_before_it_is_sent() {
        // Nothing listens there: the check comes first.
        let store = RedisCredentialStore::cluster_builder(["redis://127.0.0.1:9"])
            .build()
            .unwrap();
        let names = ["{aaaa}cred:1".to_owned(), "{bbbb}fail:1".to_owned()];
        let err = store.read(&names).await.unwrap_err();
        assert!(err.to_string().contains("hash tag"), "{err}");
    }
}
