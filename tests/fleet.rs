//! A fleet of replicas sharing one credential through a real `redis-server` (feature `redis`):
//! `cargo test --features redis --test fleet`. Every test starts its own `redis-server` on a
//! free loopback port and stops it at the end. These run on real time (Redis counts time to
//! live on its own clock), with two-second tokens from MockThoughtSpot.
#![cfg(feature = "redis")]

use std::collections::HashSet;
use std::future::Future;
use std::net::TcpStream;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
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
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, MockUser};
use thoughtspot_auth::store::RedisCredentialStore;
use thoughtspot_auth::{
    ActAs, AuthBuilder, AuthHandle, ErrorKind, ThoughtSpotAuthLayer, ThoughtSpotAuthService,
};
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const SEARCH: &str = "/api/rest/2.0/metadata/search";
const VALIDITY: Duration = Duration::from_secs(2);

// ----- a real redis-server -----------------------------------------------------------------------

/// A `redis-server` of our own on a free loopback port, killed on drop.
struct RedisServer {
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().unwrap().port()
        };
        let mut server = Self {
            port,
            args: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        server.restart();
        server
    }

    /// Starts it (again) on the same port, and waits until it answers.
    fn restart(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        self.child = Some(child);
        let started = Instant::now();
        while !self.answers() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 64];
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Every key and its value, through a plain connection.
    async fn dump(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let client = redis::Client::open(self.url()).unwrap();
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
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// ----- replicas ----------------------------------------------------------------------------------

type HyperClient = Client<HttpConnector, Full<Bytes>>;

/// The wire under each replica: a hyper client that lets 32 requests out at a time (so that a
/// thousand concurrent requests per replica wait *in the layer*, not for sockets), and writes
/// down every credential it carried.
#[derive(Clone)]
struct Wire {
    client: HyperClient,
    permits: Arc<Semaphore>,
    seen: Arc<Mutex<HashSet<String>>>,
}

impl Wire {
    fn new(seen: &Arc<Mutex<HashSet<String>>>) -> Self {
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

type Replica = (ThoughtSpotAuthService<Wire>, AuthHandle);

struct Fleet {
    ts: MockThoughtSpot,
    redis: RedisServer,
    /// Every credential value that went over the wire.
    seen: Arc<Mutex<HashSet<String>>>,
    prefix: String,
}

impl Fleet {
    async fn start() -> Self {
        Self::start_with(VALIDITY).await
    }

    async fn start_with(validity: Duration) -> Self {
        Self {
            ts: MockThoughtSpot::builder()
                .default_token_validity(validity)
                .start()
                .await
                .unwrap(),
            redis: RedisServer::start(),
            seen: Arc::default(),
            prefix: "test:".to_owned(),
        }
    }

    fn store(&self) -> RedisCredentialStore {
        RedisCredentialStore::builder(self.redis.url())
            .key_prefix(self.prefix.clone())
            .build()
            .unwrap()
    }

    fn builder(&self) -> AuthBuilder {
        ThoughtSpotAuthLayer::builder(self.ts.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .org(1)
    }

    fn replica(&self, configure: impl FnOnce(AuthBuilder) -> AuthBuilder) -> Replica {
        // A generous store time-out: on a loaded two-core CI machine a starved Redis call may
        // take longer than the default 500 ms, and the replica would (rightly) go alone.
        let layer = configure(
            self.builder()
                .credential_store(self.store())
                .credential_store_timeout(Duration::from_secs(3)),
        )
        .build()
        .unwrap();
        let handle = layer.handle();
        (tower::Layer::layer(&layer, Wire::new(&self.seen)), handle)
    }

    fn replicas(&self, n: usize) -> Vec<Replica> {
        (0..n).map(|_| self.replica(|b| b)).collect()
    }

    fn request(&self) -> http::Request<Full<Bytes>> {
        http::Request::post(format!("{}{SEARCH}", self.ts.base_url()))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::new()))
            .unwrap()
    }
}

async fn send(
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
async fn storm(fleet: &Fleet, replicas: &[Replica], n: usize) -> Vec<Result<u16, String>> {
    let mut requests = Vec::new();
    for (service, _) in replicas {
        for _ in 0..n {
            requests.push(send(service, fleet.request()));
        }
    }
    join_all(requests).await
}

fn all_ok(results: &[Result<u16, String>]) {
    let bad: Vec<_> = results.iter().filter(|r| **r != Ok(200)).take(5).collect();
    assert!(
        bad.is_empty(),
        "{} of {} failed: {bad:?}",
        results.iter().filter(|r| **r != Ok(200)).count(),
        results.len()
    );
}

fn sum(replicas: &[Replica], f: impl Fn(&AuthHandle) -> u64) -> u64 {
    replicas.iter().map(|(_, h)| f(h)).sum()
}

/// Every replica sends a few requests every 50 ms until `until`.
async fn traffic(fleet: &Fleet, replicas: &[Replica], until: Instant) -> Vec<Result<u16, String>> {
    let mut results = Vec::new();
    while Instant::now() < until {
        results.extend(storm(fleet, replicas, 3).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    results
}

// ----- the cases ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_with_a_thousand_concurrent_first_requests_each_make_one_login() {
    // Long tokens: on a loaded machine the storm itself may outlast a two-second token's soft
    // deadline, and its refresh is not what this test counts.
    let fleet = Fleet::start_with(Duration::from_secs(60)).await;
    let replicas = fleet.replicas(8);
    all_ok(&storm(&fleet, &replicas, 1000).await);
    assert_eq!(
        fleet.ts.logins(),
        1,
        "8 × 1,000 concurrent first requests, one login (store errors: {})",
        sum(&replicas, |h| h.stats().store_errors)
    );
    assert_eq!(sum(&replicas, |h| h.stats().logins), 1);
    assert_eq!(sum(&replicas, |h| h.stats().store_adoptions), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_make_one_login_per_lifetime() {
    let fleet = Fleet::start().await;
    let replicas = fleet.replicas(8);
    let started = Instant::now();
    // Two-second tokens refresh at 1.7-1.8 s of their life: logins at ~0, ~1.75 and ~3.5 s
    // (the next would be ~5.25 s). Three lifetimes' worth of traffic: three logins.
    let results = traffic(&fleet, &replicas, started + Duration::from_millis(4600)).await;
    all_ok(&results);
    assert_eq!(
        fleet.ts.logins(),
        3,
        "one login per lifetime for the whole fleet (store errors: {})",
        sum(&replicas, |h| h.stats().store_errors)
    );
    assert_eq!(sum(&replicas, |h| h.stats().logins), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_mid_login_is_replaced_within_its_lease() {
    let fleet = Fleet::start().await;
    let lease = Duration::from_secs(1);
    let (leader, leader_handle) = fleet.replica(|b| b.credential_store_lease(lease));
    fleet
        .ts
        .inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(30)), 1);
    let request = fleet.request();
    let stuck = tokio::spawn(async move { send(&leader, request).await });
    while fleet.ts.logins() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let others: Vec<_> = (0..7)
        .map(|_| fleet.replica(|b| b.credential_store_lease(lease)))
        .collect();
    let started = Instant::now();
    let waiting = {
        let requests: Vec<_> = others
            .iter()
            .flat_map(|(service, _)| (0..100).map(|_| send(service, fleet.request())))
            .collect();
        join_all(requests)
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The leader dies: its task and layer go; its lease is left in Redis.
        stuck.abort();
        drop(leader_handle);
    };
    let (results, ()) = futures_util::join!(waiting, kill);
    all_ok(&results);
    assert!(
        started.elapsed() < lease + Duration::from_millis(1500),
        "another replica took over within the lease: {:?}",
        started.elapsed()
    );
    assert_eq!(
        fleet.ts.logins(),
        2,
        "the dead leader's attempt and one more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_means_one_fleet_wide_login_and_a_stale_401_evicts_nothing() {
    let fleet = Fleet::start_with(Duration::from_secs(60)).await;
    let replicas = fleet.replicas(8);
    all_ok(&storm(&fleet, &replicas, 20).await);
    assert_eq!(fleet.ts.logins(), 1);
    fleet.ts.revoke_all_tokens();
    // Replica 0 meets the revocation first: compare-and-delete, one login, published. Its
    // requests are answered as soon as the credential is made, and the store written after;
    // replica 0 holds the fleet's lease until then.
    all_ok(&storm(&fleet, &replicas[..1], 20).await);
    assert_eq!(fleet.ts.logins(), 2);
    // The other seven still hold the revoked token: their 401s are stale, and delete nothing
    // newer (else one of them would log in again). They wait for the lease and adopt what
    // replica 0 published.
    all_ok(&storm(&fleet, &replicas[1..], 20).await);
    assert_eq!(fleet.ts.logins(), 2, "one fleet-wide login");
    let stored: Vec<_> = fleet
        .redis
        .dump()
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with(b"test:{") && k.windows(6).any(|w| w == b"}cred:"))
        .collect();
    assert_eq!(stored.len(), 1, "one credential stored");
    assert_eq!(sum(&replicas, |h| h.stats().store_adoptions), 7 + 7);
    // Every key of one user carries one hash tag: a script touches one Redis Cluster slot.
    let tags: HashSet<Vec<u8>> = fleet
        .redis
        .dump()
        .await
        .into_iter()
        .map(|(k, _)| hash_tag(&k).expect("a hash tag").to_vec())
        .collect();
    assert_eq!(tags.len(), 1, "one slot for the user's keys");
}

/// What Redis Cluster hashes of a key: between its first `{` and the next `}`.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let close = key[open + 1..].iter().position(|&b| b == b'}')?;
    (close > 0).then(|| &key[open + 1..open + 1 + close])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_tried_once_per_backoff_window_by_the_whole_fleet() {
    let fleet = Fleet::start().await;
    let window = Duration::from_millis(1500);
    let replicas: Vec<_> = (0..8)
        .map(|_| {
            fleet.replica(|b| {
                b.password(mock::DEFAULT_USER, "wrong-password")
                    .permanent_failure_backoff(window, window)
            })
        })
        .collect();
    let started = Instant::now();
    let results = traffic(&fleet, &replicas, started + Duration::from_millis(4000)).await;
    assert!(results.len() > 8 * 3 * 20, "under load: {}", results.len());
    let kinds: HashSet<_> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .unwrap_err()
                .split(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        HashSet::from([format!("{:?}", ErrorKind::Unauthorized)])
    );
    // Windows open at ~0, ~1.5 and ~3.0 s: three attempts in four seconds, fleet-wide (alone,
    // eight replicas would make 24).
    let attempts = fleet.ts.login_attempts_for(mock::DEFAULT_USER);
    assert!((2..=3).contains(&attempts), "{attempts} attempts");
    assert_eq!(
        sum(&replicas, |h| h.stats().login_attempts),
        attempts as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_and_restarted_mid_run_fails_no_request() {
    let mut fleet = Fleet::start_with(Duration::from_secs(60)).await;
    let replicas = fleet.replicas(4);
    all_ok(&storm(&fleet, &replicas, 20).await);
    assert_eq!(fleet.ts.logins(), 1);

    fleet.redis.stop();
    fleet.ts.revoke_all_tokens();
    let results = traffic(
        &fleet,
        &replicas,
        Instant::now() + Duration::from_millis(500),
    )
    .await;
    all_ok(&results);
    assert_eq!(fleet.ts.logins(), 1 + 4, "alone, every replica logs in");
    for (_, handle) in &replicas {
        assert_eq!(handle.stats().store_outages, 1, "one outage, one warning");
    }

    fleet.redis.restart();
    // Past the one-second pause after a failed call, the next login goes to the store again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fleet.ts.revoke_all_tokens();
    let results = traffic(
        &fleet,
        &replicas,
        Instant::now() + Duration::from_millis(800),
    )
    .await;
    all_ok(&results);
    assert_eq!(fleet.ts.logins(), 1 + 4 + 1, "shared again: one login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_secret_and_no_user_name_in_clear() {
    let fleet = Fleet::start().await;
    fleet
        .ts
        .add_user(MockUser::new("alice.analyst", "unused").orgs([0, 1]));
    // Bearer tokens with a password, cookie sessions, trusted auth for many users, and a
    // failed login: every kind of entry.
    let tokens = fleet.replicas(2);
    all_ok(&storm(&fleet, &tokens, 5).await);
    let cookies: Vec<_> = (0..2)
        .map(|_| fleet.replica(|b| b.cookie_session()))
        .collect();
    all_ok(&storm(&fleet, &cookies, 5).await);
    let many: Vec<_> = (0..2)
        .map(|_| {
            let layer = ThoughtSpotAuthLayer::builder(fleet.ts.base_url())
                .act_as_users(mock::DEFAULT_SECRET_KEY)
                .credential_store(fleet.store())
                .build()
                .unwrap();
            let handle = layer.handle();
            (tower::Layer::layer(&layer, Wire::new(&fleet.seen)), handle)
        })
        .collect();
    for (service, _) in &many {
        let mut request = fleet.request();
        request
            .extensions_mut()
            .insert(ActAs::user("alice.analyst").org(1));
        assert_eq!(send(service, request).await, Ok(200));
    }
    let wrong = fleet.replica(|b| b.password("alice.analyst", "a-wrong-password"));
    assert!(send(&wrong.0, fleet.request()).await.is_err());

    let mut secrets: Vec<String> = fleet.seen.lock().unwrap().iter().cloned().collect();
    assert!(
        secrets.len() >= 4,
        "tokens and cookies were seen: {}",
        secrets.len()
    );
    secrets.extend(
        [
            mock::DEFAULT_PASSWORD,
            mock::DEFAULT_SECRET_KEY,
            "a-wrong-password",
            mock::DEFAULT_USER,
            "alice.analyst",
            "JSESSIONID",
        ]
        .map(str::to_owned),
    );
    let dump = fleet.redis.dump().await;
    let kinds: HashSet<_> = dump
        .iter()
        .map(|(k, _)| {
            // `test:{tag}kind:hash`
            let key = String::from_utf8_lossy(k);
            let after_tag = key.split_once('}').map_or("", |(_, rest)| rest);
            after_tag.split(':').next().unwrap_or("").to_owned()
        })
        .collect();
    assert!(
        kinds.contains("cred") && kinds.contains("fail"),
        "every kind of entry was written: {kinds:?}"
    );
    for (key, value) in &dump {
        for secret in &secrets {
            let needle = secret.as_bytes();
            let found = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
            assert!(
                !found(key),
                "a key carries a secret or user name ({} chars)",
                secret.len()
            );
            assert!(
                !found(value),
                "a value carries a secret or user name ({} chars)",
                secret.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_and_password_set_apart_from_the_url() {
    let mut fleet = Fleet::start().await;
    fleet.redis.stop();
    fleet.redis = RedisServer::start_with(&[
        "--user",
        "default",
        "off",
        "--user",
        "fleet",
        "on",
        ">fleet-redis-pw",
        "~test:*",
        "+@all",
    ]);
    let store = || {
        RedisCredentialStore::builder(fleet.redis.url())
            .username("fleet")
            .password("fleet-redis-pw")
            .key_prefix("test:")
            .build()
            .unwrap()
    };
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            let layer = fleet.builder().credential_store(store()).build().unwrap();
            let handle = layer.handle();
            (tower::Layer::layer(&layer, Wire::new(&fleet.seen)), handle)
        })
        .collect();
    all_ok(&storm(&fleet, &replicas, 50).await);
    assert_eq!(fleet.ts.logins(), 1);
    assert_eq!(sum(&replicas, |h| h.stats().store_errors), 0);
    // The password in the URL works too; a wrong one only makes the replica go alone.
    let in_url = RedisCredentialStore::open(format!(
        "redis://fleet:fleet-redis-pw@127.0.0.1:{}",
        fleet.redis.port
    ))
    .unwrap();
    let layer = fleet.builder().credential_store(in_url).build().unwrap();
    let handle = layer.handle();
    let service = tower::Layer::layer(&layer, Wire::new(&fleet.seen));
    // The default prefix is outside this user's key pattern: it logs in alone, and works.
    assert_eq!(send(&service, fleet.request()).await, Ok(200));
    assert_eq!(handle.stats().store_outages, 1);
}

/// Four processes of `examples/fleet.rs` (built by `.ci/run` before the tests) share one Redis:
/// one login at cold start and one per lifetime for all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_of_the_example_make_one_login_per_lifetime() {
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join("fleet"))
        .filter(|path| path.exists())
        .expect("examples/fleet is built: cargo build --features redis --example fleet");
    let fleet = Fleet::start().await;
    let started = Instant::now();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&example)
                .args(["--replica", "--thoughtspot", &fleet.ts.base_url()])
                .args(["--redis", &fleet.redis.url(), "--millis", "4600"])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for output in &outputs {
        assert!(
            output.status.success(),
            "{:?}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        fleet.ts.logins(),
        3,
        "one at cold start, one per lifetime, for 4 processes"
    );
}
