//! Account safety: with a wrong password or a locked account, no load pattern makes more than one
//! login attempt per backoff window. Repeated bad logins lock accounts; the layer must never
//! become the thing that locks one.
//!
//! The backoff: a permanent login failure blocks new attempts for 60 s, doubling with each further
//! failure up to 30 min (`AuthBuilder::permanent_failure_backoff(first, max)`); bad credentials
//! (401) block every org, a 403 only the org that met it. Each pattern below sends 10,000 requests, through both front doors, and the
//! attempts the mock saw are held to the number of windows that began during the run.

mod common;

use std::time::Duration;

use futures_util::future::join_all;
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::{AuthBuilder, ErrorKind, ThoughtSpotAuthLayer};
use tokio::time::Instant;

use common::front::{Call, Client, FRONTS, Front};

const REQUESTS: usize = 10_000;
const DEFAULT_FIRST: Duration = Duration::from_secs(60);
const DEFAULT_MAX: Duration = Duration::from_secs(30 * 60);
const ORGS: i64 = 8;

/// The account under test and what ThoughtSpot answers it.
#[derive(Debug, Clone, Copy)]
enum Account {
    /// A real user, a wrong password: 401.
    WrongPassword,
    /// The right password of a locked user: 403.
    Locked,
}

impl Account {
    fn user(self) -> &'static str {
        match self {
            Account::WrongPassword => mock::DEFAULT_USER,
            Account::Locked => "locked-svc",
        }
    }

    fn kind(self) -> ErrorKind {
        match self {
            Account::WrongPassword => ErrorKind::Unauthorized,
            Account::Locked => ErrorKind::Forbidden,
        }
    }

    fn builder(self, ts: &MockThoughtSpot) -> AuthBuilder {
        let password = match self {
            Account::WrongPassword => "not-the-password",
            Account::Locked => "locked-svc-password",
        };
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(self.user(), password)
            .org(0)
    }
}

async fn mock_for(account: Account) -> MockThoughtSpot {
    let mut builder = MockThoughtSpot::builder();
    for org in 3..ORGS {
        builder = builder.org(org, format!("Org {org}"));
    }
    let everywhere = 0..ORGS;
    let ts = builder
        .user_with(
            MockUser::new(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD).orgs(everywhere.clone()),
        )
        .start()
        .await
        .unwrap();
    if let Account::Locked = account {
        ts.add_user(
            MockUser::new("locked-svc", "locked-svc-password")
                .orgs(everywhere)
                .locked(),
        );
    }
    ts
}

/// How many backoff windows begin within `run` when every window's end is met by an attempt at
/// once: the first at 0, then after `first`, `2 first`, `4 first`, ... capped at `max`.
fn windows_begun(run: Duration, first: Duration, max: Duration) -> usize {
    let (mut at, mut window, mut count) = (Duration::ZERO, first, 0);
    while at <= run {
        count += 1;
        at += window;
        window = (window * 2).min(max);
    }
    count
}

/// Sends one request; it must fail with the account's error, from the layer.
async fn refused(client: &Client, call: Call, account: Account) {
    let failure = client
        .send(call)
        .await
        .expect_err("no request gets through with a bad account");
    assert_eq!(failure.kind(), Some(account.kind()), "{failure:?}");
}

/// What a pattern did: the run's virtual duration and the attempts the mock saw.
struct Run {
    took: Duration,
    attempts: usize,
}

async fn all_at_once(front: Front, account: Account) -> Run {
    let ts = mock_for(account).await;
    let (client, _) = Client::build(front, account.builder(&ts));
    let start = Instant::now();
    let call = Call::search(&ts.base_url());
    join_all((0..REQUESTS).map(|_| refused(&client, call.clone(), account))).await;
    Run {
        took: start.elapsed(),
        attempts: ts.login_attempts_for(account.user()),
    }
}

/// One request every 250 ms for 2,500 virtual seconds (42 minutes): past the 30-minute cap.
async fn steady_trickle(front: Front, account: Account) -> Run {
    let ts = mock_for(account).await;
    let (client, _) = Client::build(front, account.builder(&ts));
    let start = Instant::now();
    for _ in 0..REQUESTS {
        refused(&client, Call::search(&ts.base_url()), account).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Run {
        took: start.elapsed(),
        attempts: ts.login_attempts_for(account.user()),
    }
}

/// Bursts of 500 concurrent requests every 30 s, with `OrgOverride`: each burst in the next
/// of 8 orgs (`spread == false`), or each burst spread over all 8 at once.
async fn bursts_across_orgs(front: Front, account: Account, spread: bool) -> Run {
    let ts = mock_for(account).await;
    let (client, _) = Client::build(front, account.builder(&ts));
    let start = Instant::now();
    for burst in 0..REQUESTS / 500 {
        join_all((0..500).map(|i| {
            let org = if spread { i } else { burst } as i64 % ORGS;
            let call = Call::search(&ts.base_url()).in_org(org);
            refused(&client, call, account)
        }))
        .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    Run {
        took: start.elapsed(),
        attempts: ts.login_attempts_for(account.user()),
    }
}

/// Random bursts (1 to 200 requests), random pauses (0 to 20 s), from a seed; in the layer's
/// org, or (`spread`) each request in a random one of 8 orgs.
async fn random_load(front: Front, account: Account, seed: u64, spread: bool) -> Run {
    let ts = mock_for(account).await;
    let (client, _) = Client::build(front, account.builder(&ts));
    let mut state = seed;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let start = Instant::now();
    let mut sent = 0;
    while sent < REQUESTS {
        let burst = (1 + next(200) as usize).min(REQUESTS - sent);
        let orgs: Vec<i64> = (0..burst).map(|_| next(ORGS as u64) as i64).collect();
        join_all(orgs.into_iter().map(|org| {
            let call = Call::search(&ts.base_url());
            let call = if spread { call.in_org(org) } else { call };
            refused(&client, call, account)
        }))
        .await;
        sent += burst;
        tokio::time::sleep(Duration::from_millis(next(20_000))).await;
    }
    Run {
        took: start.elapsed(),
        attempts: ts.login_attempts_for(account.user()),
    }
}

fn check(what: &str, run: Run, first: Duration, max: Duration) {
    let windows = windows_begun(run.took, first, max);
    assert!(run.attempts >= 1, "{what}: it tried at all");
    assert!(
        run.attempts <= windows,
        "{what}: {} login attempts in {:?}, but only {windows} backoff windows began",
        run.attempts,
        run.took
    );
}

#[tokio::test(start_paused = true)]
async fn a_wrong_password_is_tried_once_per_window_under_any_load() {
    let account = Account::WrongPassword;
    for front in FRONTS {
        let run = all_at_once(front, account).await;
        assert_eq!(run.attempts, 1, "{front:?}: 10,000 at once, one attempt");
        check(
            &format!("{front:?} all at once"),
            run,
            DEFAULT_FIRST,
            DEFAULT_MAX,
        );

        let run = steady_trickle(front, account).await;
        // 0, 60, 180, 420, 900 and 1,860 s: six windows in 2,500 s, and each one's end met.
        assert_eq!(
            run.attempts, 6,
            "{front:?}: the trickle tried once per window"
        );
        check(
            &format!("{front:?} trickle"),
            run,
            DEFAULT_FIRST,
            DEFAULT_MAX,
        );

        // Bad credentials block every org: a burst in the next org waits for the same window.
        let run = bursts_across_orgs(front, account, false).await;
        check(
            &format!("{front:?} bursts, org after org"),
            run,
            DEFAULT_FIRST,
            DEFAULT_MAX,
        );

        let run = random_load(front, account, 1, false).await;
        check(
            &format!("{front:?} random load"),
            run,
            DEFAULT_FIRST,
            DEFAULT_MAX,
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_locked_account_is_tried_once_per_window_in_one_org() {
    let account = Account::Locked;
    for front in FRONTS {
        let run = all_at_once(front, account).await;
        assert_eq!(run.attempts, 1, "{front:?}: 10,000 at once, one attempt");

        let run = steady_trickle(front, account).await;
        assert_eq!(
            run.attempts, 6,
            "{front:?}: the trickle tried once per window"
        );
        check(
            &format!("{front:?} trickle"),
            run,
            DEFAULT_FIRST,
            DEFAULT_MAX,
        );
    }
}

/// A burst spread over 8 orgs at once: logins are single-flighted per org, so without the
/// account-wide turn each org would send the wrong password at the same moment.
#[tokio::test(start_paused = true)]
async fn a_wrong_password_is_sent_once_by_a_burst_over_orgs() {
    let account = Account::WrongPassword;
    for front in FRONTS {
        let run = bursts_across_orgs(front, account, true).await;
        check(
            &format!("{front:?} bursts spread over orgs"),
            run,
            DEFAULT_FIRST,
            DEFAULT_MAX,
        );
        for seed in [1, 2, 3] {
            let run = random_load(front, account, seed, true).await;
            check(
                &format!("{front:?} random load over orgs {seed}"),
                run,
                DEFAULT_FIRST,
                DEFAULT_MAX,
            );
        }
    }
}

/// A 403 at login can mean "not a member of this org" as well as "locked", so its window is the
/// org's (only a 401's window is the account's: `failures_for` records other permanent failures
/// in the slot). Traffic that moves from org to org therefore tries a locked account once per
/// org per window — never more — and that is what the README must say.
#[tokio::test(start_paused = true)]
async fn a_locked_account_is_tried_at_most_once_per_org_per_window() {
    let account = Account::Locked;
    for front in FRONTS {
        let run = bursts_across_orgs(front, account, false).await;
        let windows = windows_begun(run.took, DEFAULT_FIRST, DEFAULT_MAX);
        assert!(
            run.attempts <= windows * ORGS as usize,
            "{front:?}: {} attempts in {:?}, more than one per org in each of {windows} windows",
            run.attempts,
            run.took
        );
        assert!(
            run.attempts > windows,
            "{front:?}: {} attempts: the window is the org's, not the account's",
            run.attempts
        );
    }
}

/// A shorter backoff with a low cap, so that the doubling reaches its cap in the run: windows of
/// 10, 20, 40, 40, 40 ... s.
#[tokio::test(start_paused = true)]
async fn the_backoff_doubles_to_its_cap_and_stays_there() {
    let (first, max) = (Duration::from_secs(10), Duration::from_secs(40));
    for front in FRONTS {
        let ts = mock_for(Account::WrongPassword).await;
        let (client, handle) = Client::build(
            front,
            Account::WrongPassword
                .builder(&ts)
                .permanent_failure_backoff(first, max),
        );
        let start = Instant::now();
        let mut attempts_at = Vec::new();
        for _ in 0..2_000 {
            let before = ts.logins();
            refused(
                &client,
                Call::search(&ts.base_url()),
                Account::WrongPassword,
            )
            .await;
            if ts.logins() > before {
                attempts_at.push(start.elapsed().as_secs());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // One attempt at the start of each window, none inside one.
        let gaps: Vec<u64> = attempts_at.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() >= 8, "{front:?}: {attempts_at:?}");
        assert_eq!(&gaps[..4], &[10, 20, 40, 40], "{front:?}: {attempts_at:?}");
        assert!(
            gaps.iter().all(|g| *g >= 10 && *g <= 41),
            "{front:?}: {gaps:?}"
        );
        check(
            &format!("{front:?} capped"),
            Run {
                took: start.elapsed(),
                attempts: ts.logins(),
            },
            first,
            max,
        );
        assert!(handle.stats().refused_by_backoff >= 1_900);
    }
}
