//! A fleet of replicas sharing one credential through a real `redis-server` (feature `redis`):
//! `cargo test --features redis --test fleet`. Every test starts its own `redis-server` on a
//! free loopback port and stops it at the end. These run on real time (Redis counts time to
//! live on its own clock), with two-second tokens from MockThoughtSpot. The cases shared with
//! a Redis Cluster (`tests/fleet_cluster.rs`) are in `fleet_support/cases.rs`.
#![cfg(feature = "redis")]

mod fleet_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleet_support::servers::RedisServer;
use fleet_support::{Fleet, Kind, Redis, TOKEN_FULL, all_ok, send, storm, sum, traffic};
use futures_util::future::join_all;
use thoughtspot_auth::mock::Fault;
use thoughtspot_auth::store::RedisCredentialStore;

fleet_support::cases::shared_cases!(Kind::Server);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_mid_login_is_replaced_within_its_lease() {
    let fleet = Fleet::start(Kind::Server).await;
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
async fn redis_stopped_and_restarted_mid_run_fails_no_request() {
    let mut fleet = Fleet::start_with(Kind::Server, Duration::from_secs(60)).await;
    let replicas = fleet.replicas(4);
    all_ok(&storm(&fleet, &replicas, 20).await);
    assert_eq!(fleet.ts.logins(), 1);

    fleet.redis.server_mut().stop();
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

    fleet.redis.server_mut().restart();
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
async fn an_acl_user_and_password_set_apart_from_the_url() {
    let mut fleet = Fleet::start(Kind::Server).await;
    fleet.redis.server_mut().stop();
    fleet.redis = Redis::Server(RedisServer::start_with(&[
        "--user",
        "default",
        "off",
        "--user",
        "fleet",
        "on",
        ">fleet-redis-pw",
        "~test:*",
        "+@all",
    ]));
    let redis = fleet.redis.server();
    let store = || {
        RedisCredentialStore::builder(redis.url())
            .username("fleet")
            .password("fleet-redis-pw")
            .key_prefix("test:")
            .build()
            .unwrap()
    };
    let replicas: Vec<_> = (0..3)
        .map(|_| fleet.layered(fleet.builder().credential_store(store())))
        .collect();
    all_ok(&storm(&fleet, &replicas, 50).await);
    assert_eq!(fleet.ts.logins(), 1);
    assert_eq!(sum(&replicas, |h| h.stats().store_errors), 0);
    // The password in the URL works too; a wrong one only makes the replica go alone.
    let in_url = RedisCredentialStore::open(format!(
        "redis://fleet:fleet-redis-pw@127.0.0.1:{}",
        redis.port
    ))
    .unwrap();
    let (service, handle) = fleet.layered(fleet.builder().credential_store(in_url));
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
    let fleet = Fleet::start(Kind::Server).await;
    let redis = fleet.redis.server();
    let started = Instant::now();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&example)
                .args(["--replica", "--thoughtspot", &fleet.ts.base_url()])
                .args(["--redis", &redis.url(), "--millis", "4600"])
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
