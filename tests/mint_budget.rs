//! One mint budget per layer (`MintBudget`), on the paused clock through both front doors:
//! a thousand users at cold start stay within it while a warm user's requests go by without
//! waiting, a layer and the embed endpoint given one budget share it, and a fleet's replicas
//! share one through their credential store.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use thoughtspot_auth::embed::EmbedTokenService;
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::store::{CredentialStore, MemoryCredentialStore};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{ActAs, ErrorKind, MintBudget, MintRate, ThoughtSpotAuthLayer};
use tower::ServiceExt;

use common::front::{Call, Client, Front};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const USERS: usize = 1_000;
const RATE: u32 = 100;
const BURST: u32 = 10;

async fn a_thousand_users_at_cold_start_stay_within_the_budget(front: Front) {
    let ts = MockThoughtSpot::builder()
        .record_requests(false)
        .start()
        .await
        .unwrap();
    for i in 0..USERS {
        ts.add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0]));
    }
    let budget = MintBudget::per_second(RATE, BURST);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .mint_budget(budget.clone())
        .org(0);
    let (client, handle) = Client::build(front, builder);
    let base = ts.base_url();
    let as_user = |user: &str| Call::search(&base).acting_as(ActAs::user(user));
    assert_eq!(
        client.status(as_user(mock::DEFAULT_USER)).await,
        200,
        "warm"
    );

    // Every paused second, the mints since the last look: never more than the rate and a burst.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = sample_mints_per_second(&ts, done.clone());
    let storm = join_all((0..USERS).map(|i| client.status(as_user(&format!("user-{i}")))));
    let warm = async {
        // While the storm waits for its turns, the warm user's requests mint nothing and
        // are answered before the storm is.
        common::load::until(|| ts.count(TOKEN_FULL) > 1 + BURST as usize).await;
        for _ in 0..20 {
            assert_eq!(client.status(as_user(mock::DEFAULT_USER)).await, 200);
        }
        ts.count(TOKEN_FULL)
    };
    let (statuses, minted_when_warm_done) = tokio::join!(storm, warm);
    done.store(true, Ordering::SeqCst);
    let per_second = sampler.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(
        ts.count(TOKEN_FULL),
        USERS + 1,
        "one mint per user, none for the warm one"
    );
    assert!(
        minted_when_warm_done < USERS / 2,
        "the warm requests waited for the storm ({minted_when_warm_done} mints by then)"
    );
    let most = per_second.iter().max().copied().unwrap_or(0);
    assert!(
        most <= (RATE + BURST) as usize,
        "{most} mints in a second: {per_second:?}"
    );
    assert!(
        per_second.len() >= 9,
        "a thousand mints take ten seconds: {per_second:?}"
    );
    let waited = handle.stats().mint_budget_waited;
    assert_eq!(waited, budget.waited());
    assert!(waited > Duration::from_secs(60), "{waited:?} in all");
}

both_fronts!(a_thousand_users_at_cold_start_stay_within_the_budget);

/// Every paused second until `done`, how many mints ThoughtSpot saw in it.
fn sample_mints_per_second(
    ts: &MockThoughtSpot,
    done: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<usize>> {
    let ts = ts.clone();
    tokio::spawn(async move {
        let mut per_second = Vec::new();
        let mut last = ts.count(TOKEN_FULL);
        while !done.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = ts.count(TOKEN_FULL);
            per_second.push(now - last);
            last = now;
        }
        per_second
    })
}

/// Eight replicas (layers of their own, as in eight processes) minting for a thousand cold
/// users keep together to one budget shared through their credential store; with the store
/// down, each keeps to its eighth.
#[tokio::test(start_paused = true)]
async fn eight_replicas_keep_to_one_fleet_budget_through_their_store() {
    const REPLICAS: usize = 8;
    let ts = MockThoughtSpot::builder()
        .record_requests(false)
        .start()
        .await
        .unwrap();
    for i in 0..USERS {
        ts.add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0]));
    }
    let store = MemoryCredentialStore::new();
    let replicas: Vec<_> = (0..REPLICAS)
        .map(|_| {
            let shared: Arc<dyn CredentialStore> = Arc::new(store.clone());
            let budget =
                MintBudget::per_second(RATE, BURST).shared_through(shared, REPLICAS as u32);
            assert!(budget.is_shared());
            Client::build(
                Front::Tower,
                ThoughtSpotAuthLayer::builder(ts.base_url())
                    .act_as_users(mock::DEFAULT_SECRET_KEY)
                    .credential_store(store.clone())
                    .mint_budget(budget),
            )
        })
        .collect();
    let base = ts.base_url();
    for (round, users) in [(0, 0..USERS / 2), (1, USERS / 2..USERS)] {
        // The second round with the store down: each replica alone, at its share.
        store.set_available(round == 0);
        let done = Arc::new(AtomicBool::new(false));
        let sampler = sample_mints_per_second(&ts, done.clone());
        let started = tokio::time::Instant::now();
        let storm = join_all(users.clone().map(|i| {
            let (client, _) = &replicas[i % REPLICAS];
            let call = Call::search(&base).acting_as(ActAs::user(format!("user-{i}")));
            client.status(call)
        }));
        let statuses = storm.await;
        done.store(true, Ordering::SeqCst);
        let per_second = sampler.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 200), "round {round}");
        let most = per_second.iter().max().copied().unwrap_or(0);
        // The fleet's burst once, then its rate; alone, each replica's share of both.
        assert!(
            most <= (RATE + BURST) as usize,
            "round {round}: {most} mints in a second: {per_second:?}"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(4),
            "round {round}: 500 mints at 100 a second took {took:?}"
        );
    }
    assert_eq!(ts.count(TOKEN_FULL), USERS);
}

/// A layer and the embed endpoint given one budget draw on it together: the endpoint's second
/// mint finds the budget spent by the layer's login and its own first, and is turned away
/// (its wait would pass the endpoint's queue limit); the layer's next login waits for its turn.
#[tokio::test(start_paused = true)]
async fn a_layer_and_the_embed_endpoint_share_one_budget() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let budget = MintBudget::new(MintRate::per_minute(1, 2));
    let layer = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .mint_budget(budget.clone())
        .login_deadline(Duration::from_secs(120))
        .org(0);
    let (client, handle) = Client::build(Front::Tower, layer);
    let endpoint = EmbedTokenService::builder(ts.base_url(), mock::DEFAULT_SECRET_KEY)
        .transport(ServiceTransport::new(common::hyper_client()))
        .identity(|_| {
            thoughtspot_auth::embed::EmbedIdentity::User(thoughtspot_auth::embed::EmbedUser::new(
                ActAs::user(mock::ANALYST_USER),
            ))
        })
        .mint_budget(budget.clone())
        .build()
        .unwrap();
    let mint = || async {
        let request = http::Request::get("/token")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        endpoint.clone().oneshot(request).await.unwrap().status()
    };
    let base = ts.base_url();
    assert_eq!(client.status(Call::search(&base)).await, 200);
    assert_eq!(mint().await, 200);
    assert_eq!(mint().await, 503, "a minute away: past the queue's 10 s");
    assert_eq!(ts.count(TOKEN_FULL), 2);
    // The layer's next login (org 2) waits the minute for its turn, within its deadline.
    let started = tokio::time::Instant::now();
    handle.switch_org(2).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(50),
        "{:?}",
        started.elapsed()
    );
    assert!(handle.stats().mint_budget_waited >= Duration::from_secs(50));
    // With a deadline shorter than the wait, the login is not sent and the caller hears so.
    let (short, short_handle) = Client::build(
        Front::Tower,
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .mint_budget(budget)
            .login_deadline(Duration::from_secs(5)),
    );
    let failure = short.send(Call::search(&base)).await.unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::Transport), "{failure:?}");
    assert_eq!(short_handle.stats().login_attempts, 0);
    assert_eq!(ts.count(TOKEN_FULL), 3);
}

/// At a budget of R mints a second and tokens valid V seconds, at most R × V users stay served:
/// the layer warns once when the cached users come near it, and again only after they fell
/// well below it.
#[tokio::test(start_paused = true)]
async fn the_cached_users_coming_near_the_budgets_ceiling_are_warned_of_once() {
    let (logs, _guard) = common::LogCapture::install();
    let ts = MockThoughtSpot::start().await.unwrap();
    for i in 0..12 {
        ts.add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0]));
    }
    // One a second, tokens of ten seconds: ten users at most; the warning from the eighth.
    let budget = MintBudget::per_second(1, 10);
    assert_eq!(budget.sustainable(Duration::from_secs(10)), Some(10));
    let (client, _handle) = Client::build(
        Front::Tower,
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .act_as_users(mock::DEFAULT_SECRET_KEY)
            .token_validity(Duration::from_secs(10))
            .mint_budget(budget),
    );
    let base = ts.base_url();
    let warnings = || {
        logs.text()
            .matches("come near what the mint budget")
            .count()
    };
    for i in 0..12 {
        let call = Call::search(&base).acting_as(ActAs::user(format!("user-{i}")));
        assert_eq!(client.status(call).await, 200);
        assert_eq!(warnings(), usize::from(i >= 7), "after user {i}");
    }
    let shared: Arc<dyn CredentialStore> = Arc::new(MemoryCredentialStore::new());
    let fleet = MintBudget::per_second(100, 10).shared_through(shared, 8);
    assert_eq!(
        fleet.sustainable(Duration::from_secs(300)),
        Some(30_000 / 8)
    );
}
