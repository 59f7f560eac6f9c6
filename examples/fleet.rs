//! A fleet of replicas sharing one ThoughtSpot credential through Redis.
//!
//! ```text
//! cargo run --example fleet --features redis
//! ```
//!
//! Starts a `MockThoughtSpot` with two-second tokens and, unless `THOUGHTSPOT_REDIS_URL` names a
//! Redis, a `redis-server` of its own on a free loopback port (if one is on the `PATH`; it is
//! stopped at the end). Then 1, 4 and 16 replicas — each a layer of its own, as in separate
//! processes — send requests for three token lifetimes, once alone, once sharing the Redis and
//! once sharing a Redis Cluster, and the logins ThoughtSpot saw are printed. Last, four real
//! processes of this example (`--replica`) share the Redis the same way.
//!
//! The cluster is `THOUGHTSPOT_REDIS_CLUSTER` (the URLs of some of its nodes, separated by
//! commas) or, when `redis-server` and `redis-cli` are both on the `PATH`, a cluster of its own:
//! three primaries and three replicas on free loopback ports (its start, about two seconds,
//! overlaps the other runs; its processes are killed at the end). Without either, or with
//! `--no-cluster`, the cluster rows are left out.
//!
//! Options: `--lifetimes N` (default 3), `--validity-ms N` (default 2000), `--replicas 1,4,16`,
//! `--processes N` (default 4; 0 for none), `--no-cluster`. A replica process is
//! `fleet --replica --thoughtspot URL --redis URL --millis N`: it prints its stats and exits
//! non-zero if a request failed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::store::RedisCredentialStore;
use thoughtspot_auth::{AuthHandle, ThoughtSpotAuthLayer};
use tower::{BoxError, Layer, ServiceExt};

/// The Redis processes the fleet tests start (one server, or a six-node cluster), killed on drop.
#[allow(dead_code)]
#[path = "../tests/fleet_support/servers.rs"]
mod servers;

use servers::{RedisCluster, RedisServer};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--replica") {
        return replica_process(&args).await;
    }
    let lifetimes: u32 = arg(&args, "--lifetimes").map_or(Ok(3), |v| v.parse())?;
    let validity =
        Duration::from_millis(arg(&args, "--validity-ms").map_or(Ok(2000), |v| v.parse())?);
    let sizes: Vec<usize> = arg(&args, "--replicas")
        .unwrap_or_else(|| "1,4,16".into())
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let processes: usize = arg(&args, "--processes").map_or(Ok(4), |v| v.parse())?;
    let run_for = validity * lifetimes;

    let local_redis;
    let redis_url = match std::env::var("THOUGHTSPOT_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            local_redis = installed(&["redis-server"]).then(RedisServer::start);
            local_redis.as_ref().map(RedisServer::url)
        }
    };
    // The cluster: named, or started beside the first runs (it takes a moment), or none.
    let cluster = {
        let named = std::env::var("THOUGHTSPOT_REDIS_CLUSTER")
            .ok()
            .filter(|seeds| !seeds.trim().is_empty());
        let local = named.is_none()
            && !args.iter().any(|a| a == "--no-cluster")
            && installed(&["redis-server", "redis-cli"]);
        tokio::task::spawn_blocking(move || match named {
            Some(seeds) => Some(Cluster::Named(seeds)),
            None => local.then(|| Cluster::Local(RedisCluster::start())),
        })
    };
    match &redis_url {
        Some(_) => println!("Redis: yes (a fresh key prefix per run)"),
        None => println!(
            "Redis: none (no THOUGHTSPOT_REDIS_URL and no redis-server on the PATH): runs \
             without a store only"
        ),
    }
    println!(
        "{} s tokens, {lifetimes} lifetimes ({} s) per run; every replica sends a request every \
         25 ms\n",
        validity.as_secs_f64(),
        run_for.as_secs_f64()
    );

    // Every run at once, each against a mock ThoughtSpot of its own; the cluster's as soon as
    // it is there.
    let prefix = |i: usize| format!("fleet-example-{}-{i}:", std::process::id());
    let mut runs = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        runs.push(run(n, Shared::None, validity, run_for));
        if let Some(url) = &redis_url {
            runs.push(run(
                n,
                Shared::Redis(url.clone(), prefix(i)),
                validity,
                run_for,
            ));
        }
    }
    let cluster_runs = async {
        let cluster = cluster.await?;
        let mut runs = Vec::new();
        if let Some(cluster) = &cluster {
            for (i, &n) in sizes.iter().enumerate() {
                let shared = Shared::Cluster(cluster.seeds(), prefix(i));
                runs.push(run(n, shared, validity, run_for));
            }
        }
        let results = futures_util::future::join_all(runs).await;
        Ok::<_, BoxError>((cluster, results))
    };
    let (mut results, cluster_runs) =
        futures_util::join!(futures_util::future::join_all(runs), cluster_runs);
    let (cluster, cluster_results) = cluster_runs?;
    results.extend(cluster_results);
    match &cluster {
        Some(Cluster::Local(_)) => println!("Redis Cluster: three primaries, three replicas"),
        Some(Cluster::Named(_)) => println!("Redis Cluster: THOUGHTSPOT_REDIS_CLUSTER"),
        None => println!(
            "Redis Cluster: none (no THOUGHTSPOT_REDIS_CLUSTER, and no redis-server and \
             redis-cli on the PATH, or --no-cluster)"
        ),
    }
    println!("replicas  store    logins  per lifetime  failed requests  requests");
    let mut failed = 0;
    for result in &results {
        let r = result.as_ref().map_err(|e| e.to_string())?;
        failed += r.failed;
        println!(
            "{:>8}  {:<7}  {:>6}  {:>12.2}  {:>15}  {:>8}",
            r.replicas,
            r.store,
            r.logins,
            r.logins as f64 / f64::from(lifetimes),
            r.failed,
            r.requests,
        );
    }
    drop(cluster);

    if let (Some(url), true) = (&redis_url, processes > 0) {
        let (logins, ok) = run_processes(processes, url, validity, run_for).await?;
        println!(
            "{processes:>8}  redis    {logins:>6}  {:>12.2}  processes: {}",
            logins as f64 / f64::from(lifetimes),
            if ok { "all succeeded" } else { "SOME FAILED" }
        );
        if !ok {
            failed += 1;
        }
    }
    println!(
        "\nA token is refreshed at about 88 % of its life, so over {lifetimes} lifetimes one client \
         makes {} logins: the first and one refresh per lifetime.",
        lifetimes + 1
    );
    if failed > 0 {
        return Err(format!("{failed} requests failed").into());
    }
    Ok(())
}

/// Whether every one of `programs` runs (is on the `PATH`).
fn installed(programs: &[&str]) -> bool {
    programs.iter().all(|program| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// The Redis Cluster of the cluster rows.
enum Cluster {
    /// `THOUGHTSPOT_REDIS_CLUSTER`: seed URLs, separated by commas.
    Named(String),
    Local(RedisCluster),
}

impl Cluster {
    fn seeds(&self) -> Vec<String> {
        match self {
            Self::Named(seeds) => seeds.split(',').map(|s| s.trim().to_owned()).collect(),
            Self::Local(cluster) => cluster.urls(),
        }
    }
}

/// What a run's replicas share, with the key prefix of the run.
enum Shared {
    None,
    Redis(String, String),
    Cluster(Vec<String>, String),
}

struct RunResult {
    replicas: usize,
    store: &'static str,
    logins: usize,
    requests: usize,
    failed: usize,
}

/// `n` replicas against a fresh mock for `run_for`, sharing a Redis or a cluster, or not.
async fn run(
    n: usize,
    shared: Shared,
    validity: Duration,
    run_for: Duration,
) -> Result<RunResult, BoxError> {
    let ts = MockThoughtSpot::builder()
        .default_token_validity(validity)
        .start()
        .await?;
    let mut replicas = Vec::new();
    for _ in 0..n {
        let mut builder = ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .org(1);
        match &shared {
            Shared::None => {}
            Shared::Redis(url, prefix) => {
                builder = builder.credential_store(
                    RedisCredentialStore::builder(url)
                        .key_prefix(prefix)
                        .build()?,
                );
            }
            Shared::Cluster(seeds, prefix) => {
                builder = builder.credential_store(
                    RedisCredentialStore::cluster_builder(seeds.clone())
                        .key_prefix(prefix)
                        .build()?,
                );
            }
        }
        replicas.push(builder.build()?);
    }
    let until = Instant::now() + run_for;
    let tasks: Vec<_> = replicas
        .iter()
        .map(|layer| tokio::spawn(replica_loop(layer.clone(), ts.base_url(), until)))
        .collect();
    let mut requests = 0;
    let mut failed = 0;
    for task in tasks {
        let (sent, failures) = task.await?;
        requests += sent;
        failed += failures;
    }
    Ok(RunResult {
        replicas: n,
        store: match shared {
            Shared::None => "none",
            Shared::Redis(..) => "redis",
            Shared::Cluster(..) => "cluster",
        },
        logins: ts.logins(),
        requests,
        failed,
    })
}

/// One replica's traffic: a request every 25 ms until `until`. Returns (sent, failed).
async fn replica_loop(layer: ThoughtSpotAuthLayer, base: String, until: Instant) -> (usize, usize) {
    let service = layer.layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let (mut sent, mut failed) = (0, 0);
    while Instant::now() < until {
        let request = http::Request::post(format!("{base}/api/rest/2.0/metadata/search"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{}")))
            .expect("a valid request");
        sent += 1;
        match service.clone().oneshot(request).await {
            Ok(response) if response.status() == 200 => {}
            Ok(response) => {
                failed += 1;
                eprintln!("request answered {}", response.status());
            }
            Err(error) => {
                failed += 1;
                eprintln!("request failed: {error}");
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (sent, failed)
}

/// `n` processes of this example as replicas against one mock, sharing the Redis at `url`.
async fn run_processes(
    n: usize,
    url: &str,
    validity: Duration,
    run_for: Duration,
) -> Result<(usize, bool), BoxError> {
    let ts = MockThoughtSpot::builder()
        .default_token_validity(validity)
        .start()
        .await?;
    let exe = std::env::current_exe()?;
    let prefix = format!("fleet-example-{}-processes:", std::process::id());
    let children: Vec<Child> = (0..n)
        .map(|_| {
            Command::new(&exe)
                .args(["--replica", "--thoughtspot", &ts.base_url(), "--redis", url])
                .args([
                    "--prefix",
                    &prefix,
                    "--millis",
                    &run_for.as_millis().to_string(),
                ])
                .stdout(Stdio::null())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let statuses = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|mut c| c.wait().is_ok_and(|s| s.success()))
            .collect::<Vec<_>>()
    })
    .await?;
    Ok((ts.logins(), statuses.iter().all(|ok| *ok)))
}

/// `--replica`: one replica in a process of its own.
async fn replica_process(args: &[String]) -> Result<(), BoxError> {
    let base = arg(args, "--thoughtspot").ok_or("--thoughtspot URL is required")?;
    let millis: u64 = arg(args, "--millis").map_or(Ok(6000), |v| v.parse())?;
    let mut builder = ThoughtSpotAuthLayer::builder(&base)
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(1);
    if let Some(url) = arg(args, "--redis") {
        let mut store = RedisCredentialStore::builder(url);
        if let Some(prefix) = arg(args, "--prefix") {
            store = store.key_prefix(prefix);
        }
        builder = builder.credential_store(store.build()?);
    }
    let layer = builder.build()?;
    let handle: AuthHandle = layer.handle();
    let until = Instant::now() + Duration::from_millis(millis);
    let (sent, failed) = replica_loop(layer, base, until).await;
    let stats = handle.stats();
    println!(
        "replica {}: {sent} requests, {failed} failed, {} logins, {} adopted, {} store errors",
        std::process::id(),
        stats.logins,
        stats.store_adoptions,
        stats.store_errors
    );
    if failed > 0 {
        return Err(format!("{failed} requests failed").into());
    }
    Ok(())
}
