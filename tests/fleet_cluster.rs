//! A fleet of replicas sharing one credential through a real Redis Cluster (feature `redis`):
//! `cargo test --features redis --test fleet_cluster`. Every test starts a cluster of its own —
//! three primaries and three replicas of `redis-server` on free loopback ports, joined with
//! `redis-cli --cluster create` — and kills it at the end. The cases a single `redis-server`
//! runs too are in `fleet_support/cases.rs`; here are those only a cluster has: users spread
//! over the slots, an ACL user on every node, and a primary's failover.
#![cfg(feature = "redis")]

mod fleet_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fleet_support::servers::RedisCluster;
use fleet_support::{Fleet, Kind, Redis, Replica, all_ok, hash_tag, is_kind, send, storm, sum};
use thoughtspot_auth::mock::{self, MockUser};
use thoughtspot_auth::store::{CredentialStore, Generation, RedisCredentialStore, StoredEntry};
use thoughtspot_auth::{ActAs, ThoughtSpotAuthLayer};

fleet_support::cases::shared_cases!(Kind::Cluster);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_spread_over_the_primaries_and_each_logs_in_once_for_the_fleet() {
    let fleet = Fleet::start_with(Kind::Cluster, Duration::from_secs(60)).await;
    let users: Vec<String> = (0..24).map(|i| format!("analyst-{i}")).collect();
    for user in &users {
        fleet
            .ts
            .add_user(MockUser::new(user.as_str(), "unused").orgs([0, 1]));
    }
    let replicas: Vec<Replica> = (0..4)
        .map(|_| {
            fleet.layered(
                ThoughtSpotAuthLayer::builder(fleet.ts.base_url())
                    .act_as_users(mock::DEFAULT_SECRET_KEY)
                    .credential_store(fleet.store())
                    .credential_store_timeout(Duration::from_secs(3)),
            )
        })
        .collect();
    // Every replica asks for every user at once, a few times over.
    let mut requests = Vec::new();
    for (service, _) in &replicas {
        for user in &users {
            for _ in 0..3 {
                let mut request = fleet.request();
                request
                    .extensions_mut()
                    .insert(ActAs::user(user.as_str()).org(1));
                requests.push(send(service, request));
            }
        }
    }
    all_ok(&futures_util::future::join_all(requests).await);
    assert_eq!(
        fleet.ts.logins(),
        users.len(),
        "one login per user for the whole fleet (store errors: {})",
        sum(&replicas, |h| h.stats().store_errors)
    );
    assert_eq!(
        sum(&replicas, |h| h.stats().store_adoptions),
        3 * users.len() as u64
    );
    // Each user's keys share one tag; the users' tags spread over the primaries.
    let by_primary = fleet.redis.cluster().keys_by_primary();
    let mut tags = HashSet::new();
    let mut holding = 0;
    for entries in by_primary.values() {
        let creds: Vec<_> = entries.iter().filter(|(k, _)| is_kind(k, "cred")).collect();
        holding += usize::from(!creds.is_empty());
        for (key, _) in creds {
            tags.insert(hash_tag(key).expect("a hash tag").to_vec());
        }
    }
    assert_eq!(tags.len(), users.len(), "one tag per user");
    assert!(
        holding > 1,
        "the users' credentials are on more than one primary: {holding} of {}",
        by_primary.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_and_password_set_apart_on_every_node() {
    let mut fleet = Fleet::start(Kind::Cluster).await;
    // The cluster again, with the default user off and a user of our own, which the replicas
    // also sync with.
    fleet.redis = Redis::Cluster(RedisCluster::start_with(
        &[
            "--user",
            "default",
            "off",
            "--user",
            "fleet",
            "on",
            ">fleet-redis-pw",
            "~*",
            "+@all",
            "--masteruser",
            "fleet",
            "--masterauth",
            "fleet-redis-pw",
        ],
        Some(("fleet", "fleet-redis-pw")),
    ));
    let seeds = fleet.redis.cluster().urls();
    let store = || {
        RedisCredentialStore::cluster_builder(seeds.clone())
            .username("fleet")
            .password("fleet-redis-pw")
            .key_prefix("test:")
            .build()
            .unwrap()
    };
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            fleet.layered(
                fleet
                    .builder()
                    .credential_store(store())
                    .credential_store_timeout(Duration::from_secs(3)),
            )
        })
        .collect();
    all_ok(&storm(&fleet, &replicas, 50).await);
    assert_eq!(fleet.ts.logins(), 1);
    assert_eq!(sum(&replicas, |h| h.stats().store_errors), 0);
    // Without the password the replica goes alone (and works), and says so without it.
    let anonymous = RedisCredentialStore::cluster_builder(seeds.clone())
        .username("fleet")
        .password("not-the-password")
        .build()
        .unwrap();
    let (service, handle) = fleet.layered(fleet.builder().credential_store(anonymous));
    assert_eq!(send(&service, fleet.request()).await, Ok(200));
    assert_eq!(handle.stats().store_outages, 1);
}

/// One store kept across runtimes (as a layer may be), on a cluster whose nodes forgot their
/// scripts: it connects again on the new runtime, and sends each script whole where it is not
/// known.
#[test]
fn a_store_kept_across_runtimes_and_script_flushes_still_answers() {
    let cluster = RedisCluster::start();
    let store = RedisCredentialStore::cluster_builder(cluster.urls())
        .key_prefix("test:")
        .build()
        .unwrap();
    let names = [
        "{0123456789abcdef}cred:x".to_owned(),
        "{0123456789abcdef}fail:x".to_owned(),
    ];
    let entry = StoredEntry {
        generation: Generation::random(),
        value: bytes::Bytes::from_static(b"sealed"),
        ttl: Duration::from_secs(60),
    };
    let first = tokio::runtime::Runtime::new().unwrap();
    first.block_on(async {
        store.write(&names[0], entry.clone()).await.unwrap();
        let read = store.read(&names).await.unwrap();
        assert_eq!(read[0].as_ref().map(|e| &e.value), Some(&entry.value));
        assert!(read[1].is_none());
    });
    drop(first);
    for port in cluster.ports() {
        let _: () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query(&mut cluster.connect(port))
            .unwrap();
    }
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let read = store.read(&names).await.unwrap();
        assert_eq!(
            read[0].as_ref().map(|e| e.generation),
            Some(entry.generation)
        );
        assert!(
            !store
                .remove_if(&names[0], Generation::random())
                .await
                .unwrap()
        );
        assert!(store.remove_if(&names[0], entry.generation).await.unwrap());
        assert!(store.read(&names).await.unwrap()[0].is_none());
        let holder = Generation::random();
        let lease = "{0123456789abcdef}lease:x";
        assert!(
            store
                .try_lease(lease, holder, Duration::from_secs(5))
                .await
                .unwrap()
        );
        assert!(
            !store
                .try_lease(lease, Generation::random(), Duration::from_secs(5))
                .await
                .unwrap()
        );
    });
}

/// Requests through every replica, a few every 50 ms, until `stop`.
async fn traffic_until(
    fleet: &Fleet,
    replicas: &[Replica],
    stop: &AtomicBool,
) -> Vec<Result<u16, String>> {
    let mut results = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        results.extend(storm(fleet, replicas, 3).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    results
}

/// Polls (at most `within`) until ThoughtSpot has seen `n` logins.
async fn logins_reach(fleet: &Fleet, n: usize, within: Duration) {
    let started = Instant::now();
    while fleet.ts.logins() < n {
        assert!(
            started.elapsed() < within,
            "{} logins, not {n}, within {within:?}",
            fleet.ts.logins()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_mid_traffic_fails_no_request_and_then_the_whole_cluster_neither() {
    let fleet = Fleet::start(Kind::Cluster).await;
    // A store time-out above the failover's time (a one-second node time-out, and the
    // promotion): the fleet waits for the cluster rather than logging in replica by replica.
    let replicas: Vec<_> = (0..8)
        .map(|_| fleet.replica(|b| b.credential_store_timeout(Duration::from_secs(6))))
        .collect();
    // Before the first login is sent: what follows is counted from here.
    let started = Instant::now();
    all_ok(&storm(&fleet, &replicas, 5).await);
    assert_eq!(fleet.ts.logins(), 1);

    // The primary of the user's slot: every name of the user has the credential's tag.
    let dump = fleet.redis.dump().await;
    let (credential, _) = dump
        .iter()
        .find(|(k, _)| is_kind(k, "cred"))
        .expect("the credential is stored");
    let owner = fleet.redis.cluster().owner_of(credential);

    let stop = Arc::new(AtomicBool::new(false));
    let (results, (failover, after)) = {
        let fleet = &fleet;
        let stop = stop.clone();
        let run = async {
            // The crash, while the replicas send; then the cluster is ok again once a replica
            // has been promoted (polled on a blocking thread, bounded).
            let killed = Instant::now();
            fleet.redis.cluster().kill(owner);
            tokio::task::spawn_blocking(fleet.redis.cluster().waiter())
                .await
                .unwrap();
            let failover = killed.elapsed();
            // Two more refreshes after the promotion: the fleet shares through the new primary.
            let before = fleet.ts.logins();
            logins_reach(fleet, before + 2, Duration::from_secs(20)).await;
            stop.store(true, Ordering::Relaxed);
            (failover, started.elapsed())
        };
        futures_util::join!(traffic_until(fleet, &replicas, &stop), run)
    };
    all_ok(&results);
    let logins = fleet.ts.logins();
    // Two-second tokens refresh at 1.7 s of their life at the soonest: without the failover,
    // the fleet logs in once at the start and at most once per 1.7 s since (1.65 s: a little
    // room for rounding).
    let unhurried = 1 + (after.as_millis() / 1650) as usize;
    eprintln!(
        "failover in {failover:?}; {logins} logins over {after:?} ({unhurried} without it); \
         {} requests, none failed; store errors {}, adoptions {}",
        results.len(),
        sum(&replicas, |h| h.stats().store_errors),
        sum(&replicas, |h| h.stats().store_adoptions),
    );
    assert!(
        logins <= unhurried + 1,
        "at most one login more than without the failover: {logins} logins, {unhurried} expected"
    );

    // The whole cluster gone: every replica logs in alone, and no request fails.
    fleet.redis.cluster().kill_all();
    fleet.ts.revoke_all_tokens();
    let before = fleet.ts.logins();
    let results = storm(&fleet, &replicas, 10).await;
    all_ok(&results);
    assert_eq!(
        fleet.ts.logins(),
        before + replicas.len(),
        "alone, each once"
    );
    assert!(sum(&replicas, |h| h.stats().store_outages) >= replicas.len() as u64);
}
