//! The fleet protocol on tokio's paused clock: several layers ("replicas") in one process share
//! a `MemoryCredentialStore` and behave like one client. The same protocol against a real
//! `redis-server` is in `tests/fleet.rs` (feature `redis`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::front::{self, Call, FRONTS};
use futures_util::future::join_all;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot};
use thoughtspot_auth::store::{
    CredentialStore, Generation, MemoryCredentialStore, StoreFuture, StoredEntry,
};
use thoughtspot_auth::{AuthBuilder, AuthHandle, ErrorKind, ThoughtSpotAuthLayer};
use tokio::sync::{Notify, Semaphore};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

fn replica(
    ts: &MockThoughtSpot,
    store: &MemoryCredentialStore,
    configure: impl FnOnce(AuthBuilder) -> AuthBuilder,
) -> (common::AuthService, AuthHandle) {
    common::layered(configure(
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .org(1)
            .credential_store(store.clone()),
    ))
}

fn fleet(
    ts: &MockThoughtSpot,
    store: &MemoryCredentialStore,
    n: usize,
) -> Vec<(common::AuthService, AuthHandle)> {
    (0..n).map(|_| replica(ts, store, |b| b)).collect()
}

/// `per_replica` concurrent requests through every replica at once; the statuses (or errors).
async fn storm(
    ts: &MockThoughtSpot,
    replicas: &[(common::AuthService, AuthHandle)],
    per_replica: usize,
) -> Vec<Result<u16, ErrorKind>> {
    let base = ts.base_url();
    let mut requests = Vec::new();
    for (service, _) in replicas {
        for _ in 0..per_replica {
            let request = common::search_request(&base);
            requests.push(async move {
                match common::send(service, request).await {
                    Ok(status) => Ok(status.as_u16()),
                    Err(error) => Err(error
                        .downcast_ref::<thoughtspot_auth::Error>()
                        .map_or(ErrorKind::Shutdown, |e| e.kind())),
                }
            });
        }
    }
    join_all(requests).await
}

fn all_ok(results: &[Result<u16, ErrorKind>]) {
    let bad: Vec<_> = results.iter().filter(|r| **r != Ok(200)).take(5).collect();
    assert!(bad.is_empty(), "{bad:?}");
}

fn sum(replicas: &[(common::AuthService, AuthHandle)], f: impl Fn(&AuthHandle) -> u64) -> u64 {
    replicas.iter().map(|(_, h)| f(h)).sum()
}

#[tokio::test(start_paused = true)]
async fn eight_replicas_at_cold_start_make_one_login() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let replicas = fleet(&ts, &store, 8);
    all_ok(&storm(&ts, &replicas, 100).await);
    assert_eq!(ts.logins(), 1);
    assert_eq!(sum(&replicas, |h| h.stats().logins), 1);
    assert_eq!(sum(&replicas, |h| h.stats().store_publications), 1);
    assert_eq!(sum(&replicas, |h| h.stats().store_adoptions), 7);
    // Without a store the same fleet makes eight.
    let alone: Vec<_> = (0..8)
        .map(|_| {
            common::layered(
                ThoughtSpotAuthLayer::builder(ts.base_url())
                    .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
                    .org(1),
            )
        })
        .collect();
    all_ok(&storm(&ts, &alone, 100).await);
    assert_eq!(ts.logins(), 1 + 8);
}

#[tokio::test(start_paused = true)]
async fn across_three_lifetimes_the_fleet_refreshes_once_per_lifetime() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let replicas = fleet(&ts, &store, 8);
    // 300 s tokens; every replica sends a request every 5 s for three lifetimes.
    let mut results = Vec::new();
    for _ in 0..(3 * 300 / 5) {
        results.extend(storm(&ts, &replicas, 2).await);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    all_ok(&results);
    // A login at 0 and a refresh in each lifetime's soft window (~263 s, ~526 s, ~789 s).
    assert_eq!(ts.logins(), 4, "one per lifetime");
    assert_eq!(
        sum(&replicas, |h| h.stats().store_adoptions),
        4 * 7,
        "everybody else adopted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_revoked_token_means_one_fleet_wide_login_and_a_stale_401_evicts_nothing_newer() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let replicas = fleet(&ts, &store, 8);
    all_ok(&storm(&ts, &replicas, 10).await);
    assert_eq!(ts.logins(), 1);
    ts.revoke_all_tokens();
    // Replica 0 meets the revocation first: it removes the stored token and logs in.
    all_ok(&storm(&ts, &replicas[..1], 10).await);
    assert_eq!(ts.logins(), 2);
    // The others still hold the revoked token: their 401s are late, and must not evict the
    // newer one replica 0 published. They adopt it.
    all_ok(&storm(&ts, &replicas[1..], 10).await);
    assert_eq!(ts.logins(), 2, "one fleet-wide login");
    assert_eq!(
        sum(&replicas, |h| h.stats().rejected_responses),
        80,
        "every request met the revocation once"
    );
    assert_eq!(
        sum(&replicas, |h| h.stats().replays),
        80,
        "and was replayed"
    );
    // A newcomer adopts it too.
    let newcomer = fleet(&ts, &store, 1);
    all_ok(&storm(&ts, &newcomer, 10).await);
    assert_eq!(ts.logins(), 2);
    assert_eq!(newcomer[0].1.stats().store_adoptions, 1);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_password_is_tried_once_per_window_by_the_whole_fleet() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let replicas: Vec<_> = (0..8)
        .map(|_| {
            replica(&ts, &store, |b| {
                b.password(mock::DEFAULT_USER, "wrong-password")
                    .permanent_failure_backoff(Duration::from_secs(60), Duration::from_secs(60))
            })
        })
        .collect();
    let mut results = Vec::new();
    // Requests from every replica every 5 s for 170 s: windows start at ~0, ~60 and ~120 s.
    for _ in 0..34 {
        results.extend(storm(&ts, &replicas, 5).await);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert!(
        results.iter().all(|r| *r == Err(ErrorKind::Unauthorized)),
        "every replica reports the same kind"
    );
    assert_eq!(ts.logins(), 3, "one attempt per window, fleet-wide");
    assert_eq!(sum(&replicas, |h| h.stats().login_attempts), 3);
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_dies_mid_login_is_replaced_when_its_lease_expires() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let lease = Duration::from_secs(2);
    let (leader, leader_handle) = replica(&ts, &store, |b| b.credential_store_lease(lease));
    // The leader's login hangs at the server.
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(600)), 1);
    let base = ts.base_url();
    let stuck = tokio::spawn(async move {
        let _ = common::send(&leader, common::search_request(&base)).await;
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ts.logins(), 1, "the leader is logging in");
    let others: Vec<_> = (0..4)
        .map(|_| replica(&ts, &store, |b| b.credential_store_lease(lease)))
        .collect();
    let started = tokio::time::Instant::now();
    let waiting = tokio::spawn({
        let ts = ts.clone();
        let others = others.clone();
        async move { storm(&ts, &others, 20).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The leader dies: its task and layer go, its lease is left behind.
    stuck.abort();
    drop(leader_handle);
    let results = waiting.await.unwrap();
    all_ok(&results);
    assert!(
        started.elapsed() <= lease + Duration::from_millis(500),
        "taken over within the lease: {:?}",
        started.elapsed()
    );
    assert_eq!(ts.logins(), 2, "the dead leader's and one more");
}

#[tokio::test(start_paused = true)]
async fn without_the_store_replicas_log_in_alone_and_rejoin_when_it_is_back() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let replicas = fleet(&ts, &store, 4);
    all_ok(&storm(&ts, &replicas, 10).await);
    assert_eq!(ts.logins(), 1);
    store.set_available(false);
    ts.revoke_all_tokens();
    all_ok(&storm(&ts, &replicas, 10).await);
    assert_eq!(ts.logins(), 1 + 4, "alone, each replica logs in");
    assert_eq!(sum(&replicas, |h| h.stats().store_outages), 4);
    // Another request while it is still down: no new warning, no login.
    all_ok(&storm(&ts, &replicas, 10).await);
    assert_eq!(sum(&replicas, |h| h.stats().store_outages), 4);
    store.set_available(true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    ts.revoke_all_tokens();
    all_ok(&storm(&ts, &replicas, 10).await);
    assert_eq!(ts.logins(), 1 + 4 + 1, "back to one fleet-wide login");
}

#[tokio::test(start_paused = true)]
async fn multi_user_fleets_share_per_user_and_org() {
    let ts = MockThoughtSpot::start().await.unwrap();
    for i in 0..3 {
        ts.add_user(mock::MockUser::new(format!("user-{i}"), "unused").orgs([0, 1]));
    }
    let store = MemoryCredentialStore::new();
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            common::layered(
                ThoughtSpotAuthLayer::builder(ts.base_url())
                    .act_as_users(mock::DEFAULT_SECRET_KEY)
                    .credential_store(store.clone()),
            )
        })
        .collect();
    let base = ts.base_url();
    let mut requests = Vec::new();
    for (service, _) in &replicas {
        for user in 0..3 {
            for org in 0..2i64 {
                let mut request = common::search_request(&base);
                request
                    .extensions_mut()
                    .insert(thoughtspot_auth::ActAs::user(format!("user-{user}")).org(org));
                requests.push(common::send(service, request));
            }
        }
    }
    let results = join_all(requests).await;
    assert!(results.iter().all(|r| r.as_ref().unwrap().as_u16() == 200));
    assert_eq!(
        ts.logins(),
        3 * 2,
        "one per (user, org) for the whole fleet"
    );
    // What the store holds names no user and carries no token.
    for (name, value) in store.dump() {
        assert!(!name.contains("user-"), "{name}");
        let text = String::from_utf8_lossy(&value);
        assert!(!text.contains("user-") && !text.contains("token"), "{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_static_token_is_never_stored() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let (service, _) = common::layered(
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .token("some-static-token")
            .credential_store(store.clone()),
    );
    let _ = common::send(&service, common::search_request(&ts.base_url())).await;
    assert!(store.is_empty());
}

/// A credential store whose writes wait until the test lets them through, and that says what
/// became of them.
#[derive(Clone)]
struct GatedWrites {
    inner: MemoryCredentialStore,
    gate: Arc<Semaphore>,
    started: Arc<AtomicUsize>,
    /// Writes dropped before they were let through: the authenticator gave up on them.
    abandoned: Arc<AtomicUsize>,
    written: Arc<Notify>,
    /// A lease was asked for and refused: another flight holds it.
    lease_refused: Arc<Notify>,
    write_started: Arc<Notify>,
}

impl GatedWrites {
    fn closed() -> Self {
        Self {
            inner: MemoryCredentialStore::new(),
            gate: Arc::new(Semaphore::new(0)),
            started: Arc::default(),
            abandoned: Arc::default(),
            written: Arc::default(),
            lease_refused: Arc::default(),
            write_started: Arc::default(),
        }
    }
}

/// Counts a write as abandoned unless it finished.
struct Unfinished<'a>(Option<&'a AtomicUsize>);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(abandoned) = self.0 {
            abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl CredentialStore for GatedWrites {
    fn read<'a>(&'a self, names: &'a [String]) -> StoreFuture<'a, Vec<Option<StoredEntry>>> {
        self.inner.read(names)
    }

    fn write<'a>(&'a self, name: &'a str, entry: StoredEntry) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            self.write_started.notify_one();
            let mut unfinished = Unfinished(Some(&self.abandoned));
            let _let_through = self.gate.acquire().await.expect("the gate is never closed");
            let written = self.inner.write(name, entry).await;
            unfinished.0 = None;
            self.written.notify_one();
            written
        })
    }

    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool> {
        self.inner.remove_if(name, generation)
    }

    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        holder: Generation,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let leased = self.inner.try_lease(name, holder, ttl).await;
            if matches!(leased, Ok(false)) {
                self.lease_refused.notify_one();
            }
            leased
        })
    }
}

/// The requests waiting for a login are answered when the credential is made, not when the
/// credential store has it too: a slow store costs the fleet's first request nothing. (On the
/// real clock: the assertion is on order, what the store's write was doing when the request
/// was answered, and the paused clock would jump to the store's time-out while the request is
/// on the wire.)
#[tokio::test]
async fn the_first_request_does_not_wait_for_the_credential_store() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let store = GatedWrites::closed();
    let (service, handle) = replica(&ts, &store.inner, |b| {
        b.credential_store(store.clone())
            .credential_store_timeout(Duration::from_secs(5))
    });
    let status = tokio::time::timeout(
        Duration::from_secs(4),
        common::send(&service, common::search_request(&ts.base_url())),
    )
    .await
    .expect("answered before the store's write could time out")
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        store.started.load(Ordering::SeqCst),
        1,
        "the publication began"
    );
    assert_eq!(
        store.abandoned.load(Ordering::SeqCst),
        0,
        "and was still under way when the request was answered"
    );
    let written = store.written.notified();
    store.gate.add_permits(1);
    written.await;
    assert_eq!(store.abandoned.load(Ordering::SeqCst), 0);
    assert_eq!(handle.stats().store_publications, 1);
    assert_eq!(handle.stats().store_errors, 0);
    assert_eq!(ts.logins(), 1);
}

/// A credential rejected while the flight that made it is still finishing (here: still writing
/// it to the credential store, after its waiters were answered) is never handed back by that
/// flight: the replay waits for a new login instead of carrying the token just rejected. The
/// store holds the first flight's task at exactly that moment, so the window is always open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_while_its_flight_finishes_is_not_replayed_with_the_rejected_token() {
    for front in FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        let base = ts.base_url();
        let store = GatedWrites::closed();
        let (client, handle) = front::Client::build(
            front,
            ThoughtSpotAuthLayer::builder(&base)
                .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
                .org(1)
                .credential_store(store.clone())
                .credential_store_timeout(Duration::from_secs(60)),
        );
        assert_eq!(client.status(Call::search(&base)).await, 200, "{front:?}");
        store.write_started.notified().await;
        assert_eq!(store.abandoned.load(Ordering::SeqCst), 0, "{front:?}");

        // The first flight is still writing the store (its lease held) when its token dies.
        ts.revoke_all_tokens();
        let lease_refused = store.lease_refused.notified();
        let mut second = tokio::spawn({
            let client = client.clone();
            let base = base.clone();
            async move { client.status(Call::search(&base)).await }
        });
        // The relogin waits for the first flight's lease; or, with the bug, the request has
        // already been answered by the finished flight with the rejected token.
        tokio::select! {
            () = lease_refused => {}
            status = &mut second => {
                panic!("{front:?}: answered {status:?} before a new login could start");
            }
        }
        store.gate.add_permits(100);
        let status = second.await.unwrap();
        assert_eq!(status, 200, "{front:?}: the rejection reached the caller");
        let stats = handle.stats();
        assert_eq!(
            (stats.replays, stats.logins),
            (1, 2),
            "{front:?}: {stats:?}"
        );
        assert_eq!(ts.logins(), 2, "{front:?}");
    }
}

/// The store's names and seals derive from the secret each login reads: replicas on a rotated
/// key share among themselves, and a replica still holding the old key can neither read nor
/// adopt what they publish (it logs in itself, and ThoughtSpot refuses its old key).
#[tokio::test(start_paused = true)]
async fn a_rotated_secret_moves_the_fleet_to_new_names_the_old_key_cannot_read() {
    use thoughtspot_auth::secrets::PerOrgSecrets;

    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    let rotating = PerOrgSecrets::new().default_secret(mock::DEFAULT_SECRET_KEY);
    let with_source = |b: AuthBuilder| b.secret_key_from(mock::DEFAULT_USER, rotating.clone());
    let rotated = [
        replica(&ts, &store, with_source),
        replica(&ts, &store, with_source),
    ];
    let stale = replica(&ts, &store, |b| {
        b.secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
    });
    let base = ts.base_url();
    for (service, _) in rotated.iter().chain([&stale]) {
        let status = common::send(service, common::search_request(&base)).await;
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(ts.count(TOKEN_FULL), 1, "one key, one fleet, one login");

    // (A credential minted in the same instant as the rejected one is never adopted.)
    tokio::time::advance(Duration::from_secs(1)).await;
    rotating.set(1, "the-rotated-key");
    ts.set_secret_key("the-rotated-key");
    ts.revoke_all_tokens();
    for (service, _) in &rotated {
        // The first request meets the revocation; its replay carries the new login's token.
        let status = common::send(service, common::search_request(&base)).await;
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(
        ts.count(TOKEN_FULL),
        2,
        "the rotated replicas share one new login"
    );
    assert_eq!(
        sum(&rotated, |h| h.stats().store_adoptions),
        2,
        "cold start, then now"
    );

    let adoptions = stale.1.stats().store_adoptions;
    let status = common::send(&stale.0, common::search_request(&base)).await;
    assert_eq!(
        status.unwrap(),
        401,
        "its relogin with the old key was refused"
    );
    assert_eq!(
        stale.1.stats().store_adoptions,
        adoptions,
        "it adopted nothing"
    );
    assert_eq!(ts.count(TOKEN_FULL), 3);
}

/// A leader whose login found its key rotated (refused, then the source gave the new key) gives
/// up the lease it took under the old key's names: a replica still on the old key takes that
/// lease at once rather than wait for it to expire.
#[tokio::test(start_paused = true)]
async fn a_lease_taken_before_a_rotation_is_released_after_it() {
    use thoughtspot_auth::secrets::SecretFn;

    let ts = MockThoughtSpot::start().await.unwrap();
    ts.set_secret_key("the-rotated-key");
    let store = MemoryCredentialStore::new();
    // The first read still gives the old key; every later one the new key.
    let reads = Arc::new(AtomicUsize::new(0));
    let source = {
        let reads = reads.clone();
        SecretFn::new(move |_org| {
            let first = reads.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                Ok::<_, thoughtspot_auth::secrets::SourceError>(if first {
                    mock::DEFAULT_SECRET_KEY
                } else {
                    "the-rotated-key"
                })
            }
        })
    };
    let leader = replica(&ts, &store, |b| {
        b.secret_key_from(mock::DEFAULT_USER, source)
    });
    let base = ts.base_url();
    let status = common::send(&leader.0, common::search_request(&base)).await;
    assert_eq!(status.unwrap(), 200);
    assert_eq!(ts.count(TOKEN_FULL), 2, "the old key, then the new one");

    let stale = replica(&ts, &store, |b| {
        b.secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
    });
    let asked = tokio::time::Instant::now();
    let status = common::send(&stale.0, common::search_request(&base)).await;
    assert!(status.is_err(), "ThoughtSpot refuses the old key");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "the old names' lease was free: waited {:?}",
        asked.elapsed()
    );
}

/// A leader waiting for its turn of a slow mint budget keeps its lease renewed meanwhile: the
/// other replica waits for what it publishes rather than take the lease over and log in too.
#[tokio::test(start_paused = true)]
async fn a_leader_waiting_for_the_mint_budget_keeps_its_lease() {
    use thoughtspot_auth::{MintBudget, MintRate};

    let ts = MockThoughtSpot::start().await.unwrap();
    let store = MemoryCredentialStore::new();
    // One login a minute each: after its first, the leader's next turn is a minute away, far
    // beyond the five-second lease; the deadlines allow for it.
    let configure = |budget: MintBudget| {
        move |b: AuthBuilder| {
            b.mint_budget(budget)
                .login_deadline(Duration::from_secs(120))
        }
    };
    let leader_budget = MintBudget::new(MintRate::per_minute(1, 1));
    let leader = replica(&ts, &store, configure(leader_budget.clone()));
    let other = replica(
        &ts,
        &store,
        configure(MintBudget::new(MintRate::per_minute(1, 1))),
    );
    let base = ts.base_url();
    assert_eq!(
        common::send(&leader.0, common::search_request(&base))
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        common::send(&other.0, common::search_request(&base))
            .await
            .unwrap(),
        200
    );
    assert_eq!(ts.count(TOKEN_FULL), 1, "the other replica adopted");

    tokio::time::sleep(Duration::from_secs(1)).await;
    ts.revoke_all_tokens();
    let first = tokio::spawn({
        let (service, base) = (leader.0.clone(), base.clone());
        async move { common::send(&service, common::search_request(&base)).await }
    });
    // The leader holds the lease and waits for its turn; the other replica comes a little later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = common::send(&other.0, common::search_request(&base)).await;
    assert_eq!(second.unwrap(), 200);
    assert_eq!(first.await.unwrap().unwrap(), 200);
    assert_eq!(
        ts.count(TOKEN_FULL),
        2,
        "one relogin, by the leader, adopted by the other replica"
    );
    assert!(leader_budget.waited() >= Duration::from_secs(50));
}
