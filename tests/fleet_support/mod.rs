//! What the fleet tests share (`tests/fleet.rs` on one `redis-server`, `tests/fleet_cluster.rs`
//! on a Redis Cluster): the Redis processes, replicas over hyper, the traffic they send, and the
//! cases both run, once per kind of Redis.
#![allow(dead_code)]

pub mod cases;
pub mod servers;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use servers::{RedisCluster, RedisServer};
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::store::RedisCredentialStore;
use thoughtspot_auth::{AuthBuilder, AuthHandle, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

pub const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
pub const SEARCH: &str = "/api/rest/2.0/metadata/search";
/// MockThoughtSpot's tokens in these tests: two seconds.
pub const VALIDITY: Duration = Duration::from_secs(2);

/// Which Redis a fleet shares.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Server,
    Cluster,
}

/// The Redis of a fleet.
pub enum Redis {
    Server(RedisServer),
    Cluster(RedisCluster),
}

impl Redis {
    pub fn start(kind: Kind) -> Self {
        match kind {
            Kind::Server => Self::Server(RedisServer::start()),
            Kind::Cluster => Self::Cluster(RedisCluster::start()),
        }
    }

    /// Every key and its value (on a cluster, of every primary).
    pub async fn dump(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        match self {
            Self::Server(server) => {
                let client = redis::Client::open(server.url()).unwrap();
                let mut connection = client.get_multiplexed_async_connection().await.unwrap();
                let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
                    .arg("*")
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                let mut all = Vec::new();
                for key in keys {
                    let value: Option<Vec<u8>> = redis::cmd("GET")
                        .arg(&key)
                        .query_async(&mut connection)
                        .await
                        .unwrap();
                    all.push((key, value.unwrap_or_default()));
                }
                all
            }
            Self::Cluster(cluster) => cluster.dump(),
        }
    }

    pub fn server(&self) -> &RedisServer {
        match self {
            Self::Server(server) => server,
            Self::Cluster(_) => panic!("a single redis-server was expected"),
        }
    }

    pub fn server_mut(&mut self) -> &mut RedisServer {
        match self {
            Self::Server(server) => server,
            Self::Cluster(_) => panic!("a single redis-server was expected"),
        }
    }

    pub fn cluster(&self) -> &RedisCluster {
        match self {
            Self::Cluster(cluster) => cluster,
            Self::Server(_) => panic!("a Redis Cluster was expected"),
        }
    }

    /// A store builder for this Redis.
    pub fn store_builder(&self) -> thoughtspot_auth::store::RedisStoreBuilder {
        match self {
            Self::Server(server) => RedisCredentialStore::builder(server.url()),
            Self::Cluster(cluster) => RedisCredentialStore::cluster_builder(cluster.urls()),
        }
    }
}

// ----- replicas ----------------------------------------------------------------------------------

type HyperClient = Client<HttpConnector, Full<Bytes>>;

/// The wire under each replica: a hyper client that lets 32 requests out at a time (so that a
/// thousand concurrent requests per replica wait *in the layer*, not for sockets), and writes
/// down every credential it carried.
#[derive(Clone)]
pub struct Wire {
    client: HyperClient,
    permits: Arc<Semaphore>,
    seen: Arc<Mutex<HashSet<String>>>,
}

impl Wire {
    pub fn new(seen: &Arc<Mutex<HashSet<String>>>) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            permits: Arc::new(Semaphore::new(32)),
            seen: seen.clone(),
        }
    }
}

impl Service<http::Request<Full<Bytes>>> for Wire {
    type Response = http::Response<Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Full<Bytes>>) -> Self::Future {
        {
            let mut seen = self.seen.lock().unwrap();
            if let Some(v) = request.headers().get(http::header::AUTHORIZATION) {
                let v = v.to_str().unwrap_or_default();
                seen.insert(v.trim_start_matches("Bearer ").to_owned());
            }
            if let Some(v) = request.headers().get(http::header::COOKIE) {
                for pair in v.to_str().unwrap_or_default().split(';') {
                    if let Some((_, value)) = pair.split_once('=') {
                        seen.insert(value.trim().to_owned());
                    }
                }
            }
        }
        let client = self.client.clone();
        let permits = self.permits.clone();
        Box::pin(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            client.request(request).await
        })
    }
}

pub type Replica = (ThoughtSpotAuthService<Wire>, AuthHandle);

pub struct Fleet {
    pub ts: MockThoughtSpot,
    pub redis: Redis,
    /// Every credential value that went over the wire.
    pub seen: Arc<Mutex<HashSet<String>>>,
    pub prefix: String,
}

impl Fleet {
    pub async fn start(kind: Kind) -> Self {
        Self::start_with(kind, VALIDITY).await
    }

    pub async fn start_with(kind: Kind, validity: Duration) -> Self {
        Self {
            ts: MockThoughtSpot::builder()
                .default_token_validity(validity)
                .start()
                .await
                .unwrap(),
            redis: Redis::start(kind),
            seen: Arc::default(),
            prefix: "test:".to_owned(),
        }
    }

    pub fn store(&self) -> RedisCredentialStore {
        self.redis
            .store_builder()
            .key_prefix(self.prefix.clone())
            .build()
            .unwrap()
    }

    pub fn builder(&self) -> AuthBuilder {
        ThoughtSpotAuthLayer::builder(self.ts.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .org(1)
    }

    /// A replica of the fleet, its layer configured further by `configure`.
    pub fn replica(&self, configure: impl FnOnce(AuthBuilder) -> AuthBuilder) -> Replica {
        // A generous store time-out: on a loaded two-core CI machine a starved Redis call may
        // take longer than the default 500 ms, and the replica would (rightly) go alone.
        self.layered(configure(
            self.builder()
                .credential_store(self.store())
                .credential_store_timeout(Duration::from_secs(3)),
        ))
    }

    /// A replica with exactly this layer.
    pub fn layered(&self, builder: AuthBuilder) -> Replica {
        let layer = builder.build().unwrap();
        let handle = layer.handle();
        (tower::Layer::layer(&layer, Wire::new(&self.seen)), handle)
    }

    pub fn replicas(&self, n: usize) -> Vec<Replica> {
        (0..n).map(|_| self.replica(|b| b)).collect()
    }

    pub fn request(&self) -> http::Request<Full<Bytes>> {
        http::Request::post(format!("{}{SEARCH}", self.ts.base_url()))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::new()))
            .unwrap()
    }
}

pub async fn send(
    service: &ThoughtSpotAuthService<Wire>,
    request: http::Request<Full<Bytes>>,
) -> Result<u16, String> {
    match service.clone().oneshot(request).await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => Err(match error.downcast_ref::<thoughtspot_auth::Error>() {
            Some(e) => format!("{:?}: {e}", e.kind()),
            None => error.to_string(),
        }),
    }
}

/// `n` concurrent requests through every replica.
pub async fn storm(fleet: &Fleet, replicas: &[Replica], n: usize) -> Vec<Result<u16, String>> {
    let mut requests = Vec::new();
    for (service, _) in replicas {
        for _ in 0..n {
            requests.push(send(service, fleet.request()));
        }
    }
    join_all(requests).await
}

pub fn all_ok(results: &[Result<u16, String>]) {
    let bad: Vec<_> = results.iter().filter(|r| **r != Ok(200)).take(5).collect();
    assert!(
        bad.is_empty(),
        "{} of {} failed: {bad:?}",
        results.iter().filter(|r| **r != Ok(200)).count(),
        results.len()
    );
}

pub fn sum(replicas: &[Replica], f: impl Fn(&AuthHandle) -> u64) -> u64 {
    replicas.iter().map(|(_, h)| f(h)).sum()
}

/// Every replica sends a few requests every 50 ms until `until`.
pub async fn traffic(
    fleet: &Fleet,
    replicas: &[Replica],
    until: Instant,
) -> Vec<Result<u16, String>> {
    let mut results = Vec::new();
    while Instant::now() < until {
        results.extend(storm(fleet, replicas, 3).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    results
}

/// What Redis Cluster hashes of a key: between its first `{` and the next `}`.
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let close = key[open + 1..].iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &key[open + 1..open + 1 + close])
}

/// Whether `key` (`prefix{tag}kind:hash`) is of `kind` (`cred`, `lease`, `fail`).
pub fn is_kind(key: &[u8], kind: &str) -> bool {
    let needle = format!("}}{kind}:");
    key.windows(needle.len()).any(|w| w == needle.as_bytes())
}
