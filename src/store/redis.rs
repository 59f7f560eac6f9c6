//! [`RedisCredentialStore`]: the fleet's credential store in Redis or Valkey.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, Script, Value};
use secrecy::{ExposeSecret, SecretString};

use super::credential_store::{CredentialStore, Generation, StoreError, StoreFuture, StoredEntry};
use crate::error::Error;

/// The key prefix used unless another is set.
pub const DEFAULT_KEY_PREFIX: &str = "thoughtspot-auth:";

/// Reads several entries and their remaining time to live at one moment.
const READ: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value then
    out[2 * i - 1] = value
    out[2 * i] = redis.call('PTTL', key)
  else
    out[2 * i - 1] = ''
    out[2 * i] = -2
  end
end
return out
";

/// Deletes the key if its value begins with the given generation (16 bytes).
const REMOVE_IF: &str = r"
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 16) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Takes the lease if free, or extends it if the holder holds it.
const TRY_LEASE: &str = r"
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if value == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// A [`CredentialStore`] in Redis (or Valkey): `redis://` and `rediss://` (TLS through
/// rustls) URLs, an ACL user and password in the URL or set apart, and a key prefix (default
/// `thoughtspot-auth:`). Feature `redis`.
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
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisCredentialStore {
    client: Client,
    manager: OnceLock<ConnectionManager>,
    prefix: String,
    /// Where, for `Debug` and messages: host and port, never a password.
    address: String,
    /// Scrubbed from error messages.
    password: Option<SecretString>,
    read: Script,
    remove_if: Script,
    try_lease: Script,
}

impl fmt::Debug for RedisCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCredentialStore")
            .field("address", &self.address)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisCredentialStore`]. From [`RedisCredentialStore::builder`].
#[must_use]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisStoreBuilder {
    url: String,
    username: Option<String>,
    password: Option<SecretString>,
    prefix: String,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// The ACL user (overrides one in the URL).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The password (overrides one in the URL).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(SecretString::from(password.into()));
        self
    }

    /// The prefix of every key (default `thoughtspot-auth:`): to keep several services, or
    /// several environments, apart in one Redis.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Checks the URL and makes the store. Nothing connects yet: a Redis that is down at start
    /// does not stop the service, whose replicas then log in alone until it answers.
    pub fn build(self) -> Result<RedisCredentialStore, Error> {
        let bad_url =
            || Error::config("the Redis URL is not valid: use redis://host:port/db or rediss://…");
        let trimmed = self.url.trim();
        let tls = trimmed.starts_with("rediss://");
        if !tls && !trimmed.starts_with("redis://") {
            return Err(bad_url());
        }
        let mut info = trimmed.into_connection_info().map_err(|_| bad_url())?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &self.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password.expose_secret());
        }
        let password = settings
            .password()
            .map(|p| SecretString::from(p.to_owned()));
        info = info.set_redis_settings(settings);
        let address = info.addr().to_string();
        if tls {
            // rustls needs a process-wide crypto provider here; this crate brings aws-lc-rs,
            // rustls's own default. If the application installed one already, that one stays.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let client = Client::open(info).map_err(|_| bad_url())?;
        Ok(RedisCredentialStore {
            client,
            manager: OnceLock::new(),
            prefix: self.prefix,
            address,
            password,
            read: Script::new(READ),
            remove_if: Script::new(REMOVE_IF),
            try_lease: Script::new(TRY_LEASE),
        })
    }
}

impl RedisCredentialStore {
    /// A builder for the Redis at `url`: `redis://[user:password@]host[:port][/db]`, or
    /// `rediss://…` for TLS.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            username: None,
            password: None,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
        }
    }

    /// The store at `url` with the default key prefix.
    pub fn open(url: impl Into<String>) -> Result<Self, Error> {
        Self::builder(url).build()
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The connection, made on first use (it needs a tokio runtime); it reconnects by itself.
    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(manager) = self.manager.get() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| self.error(&e))?;
        Ok(self.manager.get_or_init(|| manager).clone())
    }

    /// Runs `call` on the connection, and once more if the connection broke: the connection
    /// manager reconnects after a broken connection, but only when the next call comes, which it
    /// fails. Without the second try, every replica would spend its first call after a Redis
    /// restart finding that out, and log in alone.
    async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection()?;
        match call(connection.clone()).await {
            Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => {
                call(connection).await.map_err(|e| self.error(&e))
            }
            other => other.map_err(|e| self.error(&e)),
        }
    }

    fn error(&self, error: &redis::RedisError) -> StoreError {
        let mut message = format!("Redis at {}: {error}", self.address);
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
            let mut invocation = self.read.prepare_invoke();
            for name in names {
                invocation.key(self.key(name));
            }
            let invocation = &invocation;
            let values: Vec<Value> = self
                .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
                .await?;
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
            let command = &command;
            self.run(
                |mut connection| async move { command.query_async::<()>(&mut connection).await },
            )
            .await
        })
    }

    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut invocation = self.remove_if.key(self.key(name));
            invocation.arg(&generation.as_bytes()[..]);
            let invocation = &invocation;
            let removed: i64 = self
                .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
                .await?;
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
            let mut invocation = self.try_lease.key(self.key(name));
            invocation.arg(&holder.as_bytes()[..]).arg(ttl_ms(ttl));
            let invocation = &invocation;
            let held: i64 = self
                .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
                .await?;
            Ok(held == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_secrets_kept_out_of_debug() {
        for bad in ["", "http://localhost", "localhost:6379", "redis://[::1"] {
            assert!(RedisCredentialStore::open(bad).is_err(), "{bad}");
        }
        let store = RedisCredentialStore::builder("redis://svc:hunter2-pw@127.0.0.1:6390/2")
            .key_prefix("p:")
            .build()
            .unwrap();
        let debug = format!("{store:?}");
        assert!(
            debug.contains("127.0.0.1:6390") && !debug.contains("hunter2"),
            "{debug}"
        );
        assert_eq!(store.key("cred:x"), "p:cred:x");
        let store = RedisCredentialStore::builder("rediss://redis.example.com")
            .username("u")
            .password("secret-pw")
            .build()
            .unwrap();
        assert!(!format!("{store:?}").contains("secret-pw"));
        let err = RedisCredentialStore::open("redis://u:pw-in-url@").unwrap_err();
        assert!(!err.to_string().contains("pw-in-url"), "{err}");
    }
}
