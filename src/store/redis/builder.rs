//! [`RedisStoreBuilder`]: one server's URL or a cluster's seed nodes, checked, with the user,
//! password and key prefix, made into a [`RedisCredentialStore`].

use std::fmt;

use redis::{Client, ConnectionInfo, IntoConnectionInfo};
use secrecy::{ExposeSecret, SecretString};

use super::cluster::{Cluster, hash_tag};
use super::single::Single;
use super::store::{Connection, RedisCredentialStore};
use crate::error::Error;

/// The key prefix used unless another is set.
const DEFAULT_KEY_PREFIX: &str = "thoughtspot-auth:";

/// Configures a [`RedisCredentialStore`]. From [`RedisCredentialStore::builder`] (one server)
/// or [`RedisCredentialStore::cluster_builder`].
#[must_use]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisStoreBuilder {
    target: Target,
    username: Option<String>,
    password: Option<SecretString>,
    prefix: String,
}

/// One server's URL, or a cluster's seed nodes.
enum Target {
    Server(String),
    Cluster(Vec<String>),
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("cluster", &matches!(self.target, Target::Cluster(_)))
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
    /// several environments, apart in one Redis. On a cluster, a prefix with a hash tag of its
    /// own (`{reporting}:`) puts every key in that tag's one slot.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Checks the URLs and makes the store. Nothing connects yet: a Redis that is down at start
    /// does not stop the service, whose replicas then log in alone until it answers.
    pub fn build(self) -> Result<RedisCredentialStore, Error> {
        let (connection, infos) = match &self.target {
            Target::Server(url) => {
                let info = self.node(url)?;
                let client = Client::open(info.clone()).map_err(|_| bad_url())?;
                (Connection::Single(Single::new(client)), vec![info])
            }
            Target::Cluster(seeds) => {
                if seeds.is_empty() {
                    return Err(Error::config(
                        "a Redis Cluster needs the URL of at least one of its nodes",
                    ));
                }
                let infos = seeds
                    .iter()
                    .map(|url| self.node(url))
                    .collect::<Result<Vec<_>, _>>()?;
                let cluster = Cluster::new(infos.clone()).map_err(|_| {
                    Error::config(
                        "the Redis Cluster's seed URLs differ in TLS, database, user or \
                         password: give them alike, the user and password with .username() and \
                         .password()",
                    )
                })?;
                if !keeps_tags(&self.prefix) {
                    return Err(Error::config(
                        "the Redis key prefix would split one user's keys over several cluster \
                         slots: give a prefix without `{`, or with a whole hash tag such as \
                         `{reporting}:`",
                    ));
                }
                (Connection::Cluster(cluster), infos)
            }
        };
        if infos
            .iter()
            .any(|info| matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }))
        {
            // rustls needs a process-wide crypto provider here; this crate brings aws-lc-rs,
            // rustls's own default. If the application installed one already, that one stays.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let password = infos[0]
            .redis_settings()
            .password()
            .map(|p| SecretString::from(p.to_owned()));
        let address = infos
            .iter()
            .map(|info| info.addr().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(RedisCredentialStore::new(
            connection,
            self.prefix,
            address,
            password,
        ))
    }

    /// One node's URL, checked, with the user and password set apart applied.
    fn node(&self, url: &str) -> Result<ConnectionInfo, Error> {
        let trimmed = url.trim();
        if !trimmed.starts_with("rediss://") && !trimmed.starts_with("redis://") {
            return Err(bad_url());
        }
        let info = trimmed.into_connection_info().map_err(|_| bad_url())?;
        let mut settings = info.redis_settings().clone();
        if let Some(user) = &self.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password.expose_secret());
        }
        Ok(info.set_redis_settings(settings))
    }
}

fn bad_url() -> Error {
    Error::config("the Redis URL is not valid: use redis://host:port/db or rediss://…")
}

/// Whether every key of one user, `prefix` then a name that begins with the user's tag, still
/// hashes by one tag: the user's, or one in the prefix.
fn keeps_tags(prefix: &str) -> bool {
    hash_tag(&format!("{prefix}{{0123456789abcdef}}cred:1"))
        == hash_tag(&format!("{prefix}{{0123456789abcdef}}fail:2"))
}

impl RedisCredentialStore {
    /// A builder for the Redis at `url`: `redis://[user:password@]host[:port][/db]`, or
    /// `rediss://…` for TLS.
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder::new(Target::Server(url.into()))
    }

    /// A builder for the Redis Cluster that these nodes belong to: the URLs of some of its
    /// nodes (`redis://[user:password@]host[:port]`, or `rediss://…` for TLS, all alike), or of
    /// a managed cluster's configuration endpoint. The store learns the other nodes and the
    /// slots from whichever answers first, when it first connects. Database 0.
    ///
    /// ```no_run
    /// use thoughtspot_auth::store::RedisCredentialStore;
    ///
    /// # fn run() -> Result<(), thoughtspot_auth::Error> {
    /// let store = RedisCredentialStore::cluster_builder([
    ///     "redis://10.0.0.1:6379",
    ///     "redis://10.0.0.2:6379",
    ///     "redis://10.0.0.3:6379",
    /// ])
    /// .key_prefix("reporting-svc:")
    /// .build()?;
    /// # Ok(()) }
    /// ```
    pub fn cluster_builder<I>(nodes: I) -> RedisStoreBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        RedisStoreBuilder::new(Target::Cluster(nodes.into_iter().map(Into::into).collect()))
    }

    /// The store at `url` with the default key prefix.
    pub fn open(url: impl Into<String>) -> Result<Self, Error> {
        Self::builder(url).build()
    }
}

impl RedisStoreBuilder {
    fn new(target: Target) -> Self {
        Self {
            target,
            username: None,
            password: None,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
        }
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
        assert_eq!(store.key_prefix(), "p:");
        let store = RedisCredentialStore::builder("rediss://redis.example.com")
            .username("u")
            .password("secret-pw")
            .build()
            .unwrap();
        assert!(!format!("{store:?}").contains("secret-pw"));
        let err = RedisCredentialStore::open("redis://u:pw-in-url@").unwrap_err();
        assert!(!err.to_string().contains("pw-in-url"), "{err}");
    }

    #[test]
    fn cluster_seeds_are_checked_and_secrets_kept_out_of_debug() {
        let store = RedisCredentialStore::cluster_builder([
            "redis://svc:hunter2-pw@10.0.0.1:6379",
            "redis://svc:hunter2-pw@10.0.0.2:6380",
        ])
        .build()
        .unwrap();
        let debug = format!("{store:?}");
        assert!(
            debug.contains("10.0.0.1:6379, 10.0.0.2:6380")
                && debug.contains("cluster: true")
                && !debug.contains("hunter2"),
            "{debug}"
        );
        let builder =
            RedisCredentialStore::cluster_builder(["rediss://a:6379"]).password("s3cret-pw");
        assert!(!format!("{builder:?}").contains("s3cret"));
        // No seeds, a bad URL among them, TLS on some only, different passwords in the URLs.
        let none: [&str; 0] = [];
        for seeds in [
            &none[..],
            &["redis://10.0.0.1:6379", "http://10.0.0.2"][..],
            &["redis://10.0.0.1:6379", "rediss://10.0.0.2:6379"][..],
            &[
                "redis://:pw-one@10.0.0.1:6379",
                "redis://:pw-two@10.0.0.2:6379",
            ][..],
        ] {
            let err = RedisCredentialStore::cluster_builder(seeds.iter().copied())
                .build()
                .unwrap_err();
            assert!(!err.to_string().contains("pw-"), "{err}");
        }
        // The user and password set apart apply to every seed.
        RedisCredentialStore::cluster_builder([
            "redis://:pw-one@10.0.0.1:6379",
            "redis://:pw-two@10.0.0.2:6379",
        ])
        .password("the-same")
        .build()
        .unwrap();
    }

    #[test]
    fn a_cluster_key_prefix_must_keep_one_users_keys_in_one_slot() {
        for spread_or_pinned in ["", "svc:", "svc{", "svc}", "{svc}:", "a{b"] {
            RedisCredentialStore::cluster_builder(["redis://127.0.0.1:7000"])
                .key_prefix(spread_or_pinned)
                .build()
                .unwrap();
        }
        // `{}` makes Redis hash whole keys: one user's keys would land in different slots.
        let err = RedisCredentialStore::cluster_builder(["redis://127.0.0.1:7000"])
            .key_prefix("svc{}:")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("prefix"), "{err}");
        // One server has no slots.
        RedisCredentialStore::builder("redis://127.0.0.1:7000")
            .key_prefix("svc{}:")
            .build()
            .unwrap();
    }
}
