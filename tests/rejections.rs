//! How rejected credentials are judged and recovered from, where the conformance suite does not
//! look: a rejection streak that a good response must reset, that a key rejected again and
//! again makes and a revocation of many keys at once does not, and a beta 500 whose body names
//! code 10097 but no upstream status. Both front doors, on tokio's paused clock.

mod common;

use std::time::Duration;

use bytes::Bytes;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, PresentedCredential};
use thoughtspot_auth::{ApiVersion, ThoughtSpotAuthLayer};
use tokio::time::Instant;

use common::front::{Call, Client, Front};

const BETA_SESSION: &str = "/tspublic/rest/v2/session";
const SEARCH: &str = "/api/rest/2.0/metadata/search";
const GET_TOKEN: &str = "/tspublic/rest/v2/session/gettoken";

fn builder(ts: &MockThoughtSpot) -> thoughtspot_auth::AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

/// Two revocations with good responses between them are two separate rejections, not a streak:
/// each relogin is made at once. (A streak that good responses did not reset held the second
/// relogin back 500 ms, the third 1 s, doubling each time.)
async fn separate_revocations_are_each_relogged_at_once(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts));
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    for revocation in 1..=4u64 {
        ts.revoke_all_tokens();
        let started = Instant::now();
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "revocation {revocation}: the relogin was held back"
        );
        // Good responses between the revocations.
        for _ in 0..3 {
            assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        let stats = handle.stats();
        assert_eq!(
            (stats.invalidations, stats.replays),
            (revocation, revocation)
        );
    }
    assert_eq!(ts.logins(), 5);
}

/// A beta 500 whose body carries ThoughtSpot's code 10097 (bad or expired credentials) but no
/// upstream status is a rejection as it stands: one relogin and a replay, and no liveness check
/// of the credential (the check is for bodies that say nothing).
async fn a_beta_500_with_code_10097_and_no_upstream_status_is_a_rejection(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, builder(&ts).api(ApiVersion::Beta));
    assert_eq!(client.status(Call::beta(&ts.base_url())).await, 200);
    let first = ts.requests().last().unwrap().credential.serial().unwrap();
    ts.clear_log();
    // The token is dead, as 10097 says: judged ambiguous, it would be checked (and found dead)
    // before the relogin, and the request would still succeed: only the log tells.
    ts.revoke_all_tokens();
    ts.inject(
        BETA_SESSION,
        Fault::Respond {
            status: 500,
            content_type: "application/json".into(),
            body: Bytes::from_static(
                br#"{"error":{"message":{"code":10097,"debug":"Token is not valid"}}}"#,
            ),
        },
        1,
    );
    assert_eq!(client.status(Call::beta(&ts.base_url())).await, 200);
    let seen: Vec<PresentedCredential> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == BETA_SESSION)
        .map(|r| r.credential)
        .collect();
    assert_eq!(
        seen.iter().filter(|c| c.serial() == Some(first)).count(),
        1,
        "the rejected token was sent once, with the request, and never to check it: {seen:?}"
    );
    assert_eq!(seen.len(), 2, "the request and its replay: {seen:?}");
    assert_ne!(seen[1].serial(), Some(first), "replayed with a new token");
    assert_eq!(ts.count(GET_TOKEN), 1, "one relogin");
    let stats = handle.stats();
    assert_eq!(
        (stats.credential_checks, stats.invalidations, stats.replays),
        (0, 1, 1)
    );
}

/// A background refresh is minted, then every token is revoked while the refresh's answer is
/// still on its way back: the refresh brings a credential that is already dead, and it lands
/// *after* a request saw its own (older) credential rejected. Its login was sent before that
/// rejection, so its 401 is not final: the request earns one more replay, with a login sent
/// after the rejection. (Judged by when the credential was published, the refresh counted as
/// made after the rejection, and its 401 reached the caller.)
async fn a_refresh_sent_before_a_revocation_and_landing_after_the_rejection_earns_a_second_replay(
    front: Front,
) {
    const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
    let ts = MockThoughtSpot::start().await.unwrap();
    let base = ts.base_url();
    let (client, handle) = Client::build(front, builder(&ts));
    assert_eq!(client.status(Call::search(&base)).await, 200);
    // Into the credential's soft window: the next request asks for a refresh in the
    // background, which ThoughtSpot mints at once and answers 5 s later.
    tokio::time::advance(Duration::from_secs(290)).await;
    ts.inject(TOKEN_FULL, Fault::DelayAfter(Duration::from_secs(5)), 1);
    // The credential's life timer turns it soft when it next runs; a request then asks.
    for _ in 0..100 {
        assert_eq!(client.status(Call::search(&base)).await, 200);
        if ts.logins() == 2 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(ts.logins(), 2, "the refresh was minted");
    assert_eq!(handle.stats().logins, 1, "and has not landed");
    assert_eq!(
        ts.revoke_all_tokens(),
        2,
        "the current token and the refresh's"
    );
    assert_eq!(
        client.status(Call::search(&base)).await,
        200,
        "the refresh's dead token was taken as final"
    );
    let stats = handle.stats();
    assert_eq!(
        (stats.rejected_responses, stats.replays, stats.logins),
        (2, 2, 3),
        "{stats:?}"
    );
    assert_eq!(ts.logins(), 3);
}

/// Every user's token revoked at once (a restart, a rotation): twenty keys rejected together
/// are twenty first rejections, not a streak, and every relogin is made at once. (Counted as a
/// streak, the last users' relogins waited 250 ms x 2^19, capped at 30 s, past their deadline.)
async fn a_revocation_of_every_users_token_at_once_stalls_no_relogin(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    for i in 0..20 {
        ts.add_user(thoughtspot_auth::mock::MockUser::new(format!("user-{i}"), "unused").orgs([0]));
    }
    let (client, _handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .act_as_users(mock::DEFAULT_SECRET_KEY)
            .mint_budget(thoughtspot_auth::MintBudget::unlimited()),
    );
    let call = |i: usize| {
        Call::search(&ts.base_url()).acting_as(thoughtspot_auth::ActAs::user(format!("user-{i}")))
    };
    for i in 0..20 {
        assert_eq!(client.status(call(i)).await, 200);
    }
    ts.revoke_all_tokens();
    // The 401s come back together, then the relogins and replays.
    ts.inject(SEARCH, Fault::Delay(Duration::from_secs(1)), 20);
    let started = Instant::now();
    let statuses = futures_util::future::join_all((0..20).map(|i| client.status(call(i)))).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        started.elapsed() <= Duration::from_secs(2),
        "the relogins were held back: {:?} (1 s of it at the server)",
        started.elapsed()
    );
}

/// A key whose fresh credentials ThoughtSpot rejects again and again (each request and its
/// replay answered 401) is relogged ever more slowly: the rejection streak's pause, from its
/// third rejection on. The first relogins are made at once.
async fn a_key_rejected_again_and_again_is_relogged_ever_more_slowly(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, _handle) = Client::build(front, builder(&ts));
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        12,
    );
    let mut took = Vec::new();
    for _ in 0..6 {
        let started = Instant::now();
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 401);
        took.push(started.elapsed());
    }
    assert_eq!(took[0], Duration::ZERO, "{took:?}");
    assert!(
        took[5] >= Duration::from_secs(2) && took.windows(2).skip(1).all(|w| w[1] >= w[0]),
        "the relogins were not slowed: {took:?}"
    );
}

/// Without replays (nothing ends the streak but time), revocations a minute or more apart are
/// each a first rejection: every relogin is made at once.
async fn without_replays_a_rejection_long_after_the_last_starts_no_streak(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, _handle) = Client::build(front, builder(&ts).replay(false));
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    for revocation in 1..=3 {
        ts.revoke_all_tokens();
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 401);
        let started = Instant::now();
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "revocation {revocation}: the relogin was held back"
        );
        tokio::time::advance(Duration::from_secs(61)).await;
    }
}

/// A key rejected eight times in a row (its pause grown to the cap) is off its streak once it
/// has been quiet, and its pause never outgrows the login deadline: after ThoughtSpot is
/// healthy again and a quiet spell, requests are served. (A pause longer than the deadline
/// failed every login at once, so nothing was rejected or replayed again, and the key never
/// came off its streak.)
async fn a_long_streak_never_locks_the_key_out(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, _handle) = Client::build(
        front,
        builder(&ts)
            .replay(false)
            .login_deadline(Duration::from_secs(20)),
    );
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        8,
    );
    for _ in 0..8 {
        let sent = client.send(Call::search(&ts.base_url())).await;
        assert!(sent.is_ok_and(|reply| reply.status == 401));
    }
    // The next login waits its pause, within the deadline, and is served.
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    // (Slept, not advanced: the credential's own timers run meanwhile.)
    tokio::time::sleep(Duration::from_secs(600)).await;
    let started = Instant::now();
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

both_fronts!(
    a_long_streak_never_locks_the_key_out,
    without_replays_a_rejection_long_after_the_last_starts_no_streak,
    a_revocation_of_every_users_token_at_once_stalls_no_relogin,
    a_key_rejected_again_and_again_is_relogged_ever_more_slowly,
    separate_revocations_are_each_relogged_at_once,
    a_beta_500_with_code_10097_and_no_upstream_status_is_a_rejection,
    a_refresh_sent_before_a_revocation_and_landing_after_the_rejection_earns_a_second_replay,
);

/// A request rejected with an older credential while a newer one already replaced it (a refresh
/// in between), where the same revocation killed the newer one too: the replay carries the newer
/// credential, which was made before the rejection was seen, so its 401 earns one more replay,
/// with a login made after it. Real clock, both doors: the request is held at ThoughtSpot while
/// the refresh and the revocation happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_that_killed_the_newer_credential_too_is_replayed_with_a_new_login() {
    const SEARCH: &str = "/api/rest/2.0/metadata/search";
    for front in common::front::FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        let base = ts.base_url();
        let (client, handle) = Client::build(front, builder(&ts));
        assert_eq!(client.status(Call::search(&base)).await, 200, "{front:?}");
        ts.inject(SEARCH, Fault::Delay(Duration::from_secs(2)), 1);
        let held = tokio::spawn({
            let (client, base) = (client.clone(), base.clone());
            async move { client.status(Call::search(&base)).await }
        });
        // The held request has reached ThoughtSpot with the first token.
        common::load::until(|| ts.count(SEARCH) == 2).await;
        handle.refresh().await.unwrap();
        assert_eq!(ts.revoke_all_tokens(), 2, "{front:?}: both tokens die");
        assert_eq!(
            held.await.unwrap(),
            200,
            "{front:?}: a 401 reached the caller"
        );
        let stats = handle.stats();
        assert_eq!(
            (stats.replays, stats.rejected_responses, stats.logins),
            (2, 2, 3),
            "{front:?}: {stats:?}"
        );
        assert_eq!(ts.count(SEARCH), 4, "{front:?}: sent once, replayed twice");
    }
}
