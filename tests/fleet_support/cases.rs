//! The cases every kind of Redis runs: the same bodies on one `redis-server` and on a Redis
//! Cluster. [`shared_cases!`] makes one test of each for a [`Kind`].

use std::collections::HashSet;
use std::time::{Duration, Instant};

use thoughtspot_auth::mock::{self, MockUser};
use thoughtspot_auth::{ActAs, ErrorKind, ThoughtSpotAuthLayer};

use super::{Fleet, Kind, all_ok, hash_tag, is_kind, send, storm, sum, traffic};

/// One `#[tokio::test]` per shared case, on the Redis of `$kind` (a [`Kind`]).
macro_rules! shared_cases {
    ($kind:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn eight_replicas_with_a_thousand_concurrent_first_requests_each_make_one_login() {
            $crate::fleet_support::cases::a_thousand_concurrent_first_requests_each($kind).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn eight_replicas_make_one_login_per_lifetime() {
            $crate::fleet_support::cases::one_login_per_lifetime($kind).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_revoked_token_means_one_fleet_wide_login_and_a_stale_401_evicts_nothing() {
            $crate::fleet_support::cases::a_revoked_token($kind).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_wrong_password_is_tried_once_per_backoff_window_by_the_whole_fleet() {
            $crate::fleet_support::cases::a_wrong_password($kind).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn redis_holds_no_secret_and_no_user_name_in_clear() {
            $crate::fleet_support::cases::no_secret_in_clear($kind).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn eight_replicas_minting_for_a_thousand_users_keep_to_one_fleet_budget() {
            $crate::fleet_support::cases::one_fleet_budget($kind).await
        }
    };
}
pub(crate) use shared_cases;

pub async fn a_thousand_concurrent_first_requests_each(kind: Kind) {
    // Long tokens: on a loaded machine the storm itself may outlast a two-second token's soft
    // deadline, and its refresh is not what this test counts.
    let fleet = Fleet::start_with(kind, Duration::from_secs(60)).await;
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

pub async fn one_login_per_lifetime(kind: Kind) {
    let fleet = Fleet::start(kind).await;
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

pub async fn a_revoked_token(kind: Kind) {
    let fleet = Fleet::start_with(kind, Duration::from_secs(60)).await;
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
    let dump = fleet.redis.dump().await;
    let stored = dump
        .iter()
        .filter(|(k, _)| k.starts_with(b"test:{") && is_kind(k, "cred"))
        .count();
    assert_eq!(stored, 1, "one credential stored");
    assert_eq!(sum(&replicas, |h| h.stats().store_adoptions), 7 + 7);
    // Every key of one user carries one hash tag: a script touches one Redis Cluster slot.
    let tags: HashSet<Vec<u8>> = dump
        .iter()
        .map(|(k, _)| hash_tag(k).expect("a hash tag").to_vec())
        .collect();
    assert_eq!(tags.len(), 1, "one slot for the user's keys");
}

pub async fn a_wrong_password(kind: Kind) {
    let fleet = Fleet::start(kind).await;
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

pub async fn no_secret_in_clear(kind: Kind) {
    let fleet = Fleet::start(kind).await;
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
            fleet.layered(
                ThoughtSpotAuthLayer::builder(fleet.ts.base_url())
                    .act_as_users(mock::DEFAULT_SECRET_KEY)
                    .credential_store(fleet.store()),
            )
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

/// Eight replicas minting for a thousand cold users at once, their budget shared through the
/// store: together they keep to its rate. On the real clock the mock sees a mint a little after
/// its turn, so each second sampled is allowed the rate over the second and a quarter more, and
/// the burst; the thousand mints cannot take less than (1,000 - burst) / rate.
pub async fn one_fleet_budget(kind: Kind) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use thoughtspot_auth::MintBudget;
    use thoughtspot_auth::store::CredentialStore;

    const USERS: usize = 1_000;
    const RATE: u32 = 250;
    const BURST: u32 = 10;
    let fleet = Fleet::start_with(kind, Duration::from_secs(60)).await;
    for i in 0..USERS {
        fleet
            .ts
            .add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0]));
    }
    let replicas: Vec<_> = (0..8)
        .map(|_| {
            let store: Arc<dyn CredentialStore> = Arc::new(fleet.store());
            fleet.layered(
                ThoughtSpotAuthLayer::builder(fleet.ts.base_url())
                    .act_as_users(mock::DEFAULT_SECRET_KEY)
                    .credential_store(fleet.store())
                    .credential_store_timeout(Duration::from_secs(3))
                    .mint_budget(MintBudget::per_second(RATE, BURST).shared_through(store, 8)),
            )
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (ts, done) = (fleet.ts.clone(), done.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let (mut last, mut at) = (ts.count(super::TOKEN_FULL), Instant::now());
            while !done.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let (now, now_at) = (ts.count(super::TOKEN_FULL), Instant::now());
                samples.push((now - last, now_at - at));
                (last, at) = (now, now_at);
            }
            samples
        })
    };
    let started = Instant::now();
    let requests = (0..USERS).map(|i| {
        let mut request = fleet.request();
        request
            .extensions_mut()
            .insert(ActAs::user(format!("user-{i}")).org(0));
        send(&replicas[i % replicas.len()].0, request)
    });
    let results = futures_util::future::join_all(requests).await;
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let samples = sampler.await.unwrap();
    all_ok(&results);
    assert_eq!(fleet.ts.count(super::TOKEN_FULL), USERS);
    let least = Duration::from_secs_f64((USERS as u32 - BURST) as f64 / RATE as f64);
    assert!(took >= least.mul_f64(0.98), "{USERS} mints in {took:?}");
    for (mints, over) in &samples {
        let allowed = RATE as f64 * (over.as_secs_f64() + 0.25) + BURST as f64;
        assert!(
            *mints as f64 <= allowed,
            "{mints} mints in {over:?}: {samples:?}"
        );
    }
    let waited: Duration = replicas
        .iter()
        .map(|(_, h)| h.stats().mint_budget_waited)
        .sum();
    assert!(waited > Duration::from_secs(8), "{waited:?} waited in all");
}
