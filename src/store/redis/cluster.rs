//! A Redis Cluster (or Valkey cluster): the `redis` crate's async cluster client, which learns
//! the slots from the seed nodes, routes each call by its first key and follows `MOVED` and
//! `ASK`; plus the one rule the store's calls keep, that all keys of one call share a slot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{ConnectionInfo, ErrorKind, FromRedisValue, RedisError, RedisResult, ServerErrorKind};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::scripts::Call;

/// How long one call keeps trying while its slot has no primary that answers — a primary down
/// and its replica not yet promoted, which takes about the cluster's `cluster-node-timeout`
/// and a second. The layer's store time-out, shorter by default, ends a call earlier.
const RIDE_OUT: Duration = Duration::from_secs(5);
/// The pauses between tries, doubling.
const FIRST_PAUSE: Duration = Duration::from_millis(25);
const LONGEST_PAUSE: Duration = Duration::from_millis(250);
/// One try: connecting to a node, and its answer (redirections included).
const TRY_TIMEOUT: Duration = Duration::from_secs(1);

/// The connection to a cluster.
pub(super) struct Cluster {
    client: ClusterClient,
    /// Made on first use, on the runtime of that call; made again when that runtime has shut
    /// down, or when it holds no connection to any node.
    connection: tokio::sync::Mutex<Option<Live>>,
    made: AtomicU64,
}

/// A connection in use, numbered, with a watch on the runtime its task runs on.
struct Live {
    number: u64,
    connection: ClusterConnection,
    /// Closed when the task beside the connection's ends: its runtime shut down.
    runtime: oneshot::Sender<()>,
}

impl Cluster {
    /// The cluster behind `seeds` (their credentials, TLS and database already set alike).
    /// Nothing connects yet.
    pub(super) fn new(seeds: Vec<ConnectionInfo>) -> RedisResult<Self> {
        let client = ClusterClientBuilder::new(seeds)
            .connection_timeout(TRY_TIMEOUT)
            .response_timeout(TRY_TIMEOUT)
            .overall_response_timeout(Some(TRY_TIMEOUT))
            // Redirections and short waits (`TRYAGAIN`, `CLUSTERDOWN`) within one try; the
            // client's default is 16 retries and waits of over a second.
            .retries(4)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .retry_wait_formula(10, 2)
            .build()?;
        Ok(Self {
            client,
            connection: tokio::sync::Mutex::new(None),
            made: AtomicU64::new(0),
        })
    }

    /// The connection and its number. A new one connects to the seeds and learns the slots
    /// before it is used, and fails if no seed answers; then it keeps a connection to every
    /// node it routes to, and reconnects by itself.
    async fn connection(&self) -> RedisResult<(u64, ClusterConnection)> {
        let mut current = self.connection.lock().await;
        if let Some(live) = current.as_ref().filter(|live| !live.runtime.is_closed()) {
            return Ok((live.number, live.connection.clone()));
        }
        let config = ClusterConfig::new()
            .set_connection_timeout(TRY_TIMEOUT)
            .set_response_timeout(TRY_TIMEOUT);
        let connection = self.client.get_async_connection_with_config(config).await?;
        let (runtime, ended) = oneshot::channel::<()>();
        tokio::spawn(async move {
            // Ends when the connection is dropped, or with the runtime.
            let _ = ended.await;
        });
        let number = self.made.fetch_add(1, Ordering::Relaxed);
        *current = Some(Live {
            number,
            connection: connection.clone(),
            runtime,
        });
        Ok((number, connection))
    }

    /// Drops connection `number` if it is still the one in use: the next call makes another,
    /// from the seeds.
    async fn forget(&self, number: u64) {
        let mut current = self.connection.lock().await;
        if current.as_ref().is_some_and(|live| live.number == number) {
            *current = None;
        }
    }

    /// Sends `call`, and again after a short pause while the cluster says the slot is moving
    /// or has no primary that answers, for up to [`RIDE_OUT`]: a failover (about
    /// `cluster-node-timeout` and a second) costs a wait rather than a lone login. A cluster
    /// none of whose seeds answers fails the call at once.
    pub(super) async fn send<T: FromRedisValue>(&self, call: &Call<'_>) -> RedisResult<T> {
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            let (number, mut connection) = self.connection().await?;
            let error = match call.send(&mut connection).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if error.kind() == ErrorKind::ClusterConnectionNotFound {
                // It lost every node, or the one a call was bound to: start again from the
                // seeds, which tells whether any node answers at all.
                self.forget(number).await;
            }
            if !(unreached(&error) || moving(&error)) || started.elapsed() + pause >= RIDE_OUT {
                return Err(error);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }
}

/// Whether the call reached no node that answered: a node down, unreachable or slow, or the
/// connection's task gone.
fn unreached(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.kind() == ErrorKind::ClusterConnectionNotFound
}

/// Whether a node answered that the slot is moving, or has no primary until a replica is
/// promoted. Not a refusal (credentials, permissions, a script's error, keys in different
/// slots): those answer the same next time.
fn moving(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Server(
            ServerErrorKind::ClusterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
                | ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::BusyLoading
        )
    )
}

/// What Redis Cluster hashes of `key` to pick its slot: the part between the first `{` and the
/// next `}` if that is not empty, else the whole key. Keys with the same tag share a slot.
pub(super) fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{') {
        if let Some(len) = key[open + 1..].find('}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_follow_redis_cluster() {
        assert_eq!(hash_tag("p:{9a0e}cred:1"), "9a0e");
        assert_eq!(hash_tag("{user1000}.following"), "user1000");
        assert_eq!(hash_tag("foo{}{bar}"), "foo{}{bar}");
        assert_eq!(hash_tag("foo{{bar}}zap"), "{bar");
        assert_eq!(hash_tag("foo{bar}{zap}"), "bar");
        assert_eq!(hash_tag("no-tag"), "no-tag");
        assert_eq!(hash_tag("open{only"), "open{only");
        // A prefix with a tag of its own pins every key to its slot.
        assert_eq!(hash_tag("{svc}:{9a0e}cred:1"), "svc");
    }
}
