//! Survival of every recovery path on the real clock and the multi-threaded runtime, where real
//! scheduling can break what the paused clock proves (tests/conformance.rs has the logic).
//!
//! Each path runs through both front doors, with 1 caller and with 64, against MockThoughtSpot
//! over loopback with tokens of 1 or 2 s. What must hold for every run:
//! - every request succeeds: no rejection (a 401, or a beta 500 that rejects the credential)
//!   and no error reaches a caller;
//! - logins stay within one per credential lifetime (per org or user) plus what the
//!   perturbations cost, computed from the real time the run took (`common::load::login_bound`),
//!   and at least as many as the perturbations forced;
//! - the layer and the mock agree on the login attempts, and none failed.
//!
//! `cargo test --test realtime` runs the short variants (each path a few seconds);
//! `cargo test --test realtime -- --ignored --nocapture` the long ones (ten times the rounds) and
//! prints their figures.

#[path = "../common/mod.rs"]
mod common;
mod record;
mod run;

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use thoughtspot_auth::mock::{self, Fault, MockUser};
use thoughtspot_auth::secrets::{ProvidedToken, SecretFn, SourceError, TokenFn};
use thoughtspot_auth::session::TokenRequest;
use thoughtspot_auth::store::MemoryCredentialStore;
use thoughtspot_auth::{ActAs, ApiVersion};

use common::front::{Call, Front};
use common::load::{Load, Tally, burst, login_bound, until};
use run::{Run, SlowStore, Verdict, everywhere, password};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
/// Tokens for paths that wait for expiry.
const SHORT: Duration = Duration::from_secs(1);
/// Tokens for the other paths: they expire too, a few times per run.
const LIFETIME: Duration = Duration::from_secs(2);
const USERS: usize = 8;
/// A round of `revocation_right_after_a_login` that takes longer is stuck.
const ROUND_STALLED: Duration = Duration::from_secs(10);

// ----- the paths ---------------------------------------------------------------------------------

/// Revokes everything under load, `rounds` times, one revocation per epoch.
async fn revoke_under_load(run: &Run, load: &Load, rounds: usize) {
    for _ in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        run.ts.revoke_all_tokens();
    }
    let epoch = load.next_epoch();
    load.settled(epoch, run.between()).await;
}

// ----- the paths ---------------------------------------------------------------------------------

async fn revocation(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, password).await;
    let load = Load::start(&run.client, callers, run.search());
    let rounds = 6 * scale;
    revoke_under_load(&run, &load, rounds).await;
    let tally = load.stop().await;
    run.verdict(&tally, 1, rounds, rounds + 1, String::new())
}

/// Every request of a burst waits for one login (forced by `invalidate`), and the credential it
/// brings is revoked as soon as it lands: each burst request's first try is rejected, and its
/// one replay must carry a newer credential. The flight that answered them must not be rejoined,
/// however long it stays after answering. Without a store, that window is microseconds (the
/// flight's thread must be preempted in it); with `store_write`, a credential store whose writes
/// take that long (as a distant Redis's do) keeps the flight there every time.
async fn revocation_right_after_a_login(
    front: Front,
    callers: usize,
    scale: usize,
    store_write: Option<Duration>,
) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, |b| match store_write {
        Some(latency) => password(b).credential_store(SlowStore {
            inner: MemoryCredentialStore::default(),
            write_latency: latency,
        }),
        None => password(b),
    })
    .await;
    let tally = Arc::new(Tally::default());
    let rounds = 30 * scale;
    let mut rounds_with_rejections = 0;
    let mut stalled = None;
    for round in 0..rounds {
        let failed_before = tally.violations().len();
        let one_round = async {
            run.handle.invalidate();
            // A credential lands by a login, or by an adoption from the store.
            let landed = || {
                let stats = run.handle.stats();
                stats.logins + stats.store_adoptions
            };
            let before = landed();
            let requests = tokio::spawn({
                let (client, tally, call) = (run.client.clone(), tally.clone(), run.search());
                async move { burst(&client, &tally, callers, 1, call).await }
            });
            // Requests answered with no login after `invalidate` were handed a forgotten (or
            // rejected) credential: the tally has their rejections.
            until(|| landed() > before || requests.is_finished()).await;
            run.ts.revoke_all_tokens();
            requests.await.unwrap();
            // One request more, which a credential made after the revocation answers: an
            // accepted response ends the rejection streak (which slows relogins).
            burst(&run.client, &tally, 1, 1, run.search()).await;
        };
        // A stuck round is a failure of its own: stop there.
        if tokio::time::timeout(ROUND_STALLED, one_round)
            .await
            .is_err()
        {
            stalled = Some(format!(
                "round {round} stalled for {ROUND_STALLED:?}: {:?}",
                run.handle.stats()
            ));
            break;
        }
        if tally.violations().len() > failed_before {
            rounds_with_rejections += 1;
        }
    }
    let extra = format!("; {rounds_with_rejections} of {rounds} rounds let a rejection through");
    let mut verdict = run.verdict(&tally, 1, 2 * rounds, rounds + 1, extra);
    verdict.violations.extend(stalled);
    verdict
}

/// A revocation right after a refresh kills two live credentials at once: the one requests in
/// flight still carry, and the new one. A request rejected with the old one must not be
/// replayed with the new one on trust.
async fn revocation_right_after_a_refresh(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, password).await;
    let load = Load::start(&run.client, callers, run.search());
    let rounds = 8 * scale;
    let mut failed = Vec::new();
    for _ in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        if let Err(error) = run.handle.refresh().await {
            failed.push(format!("refresh: {error}"));
        }
        run.ts.revoke_all_tokens();
    }
    let epoch = load.next_epoch();
    load.settled(epoch, run.between()).await;
    let tally = load.stop().await;
    let mut verdict = run.verdict(&tally, 1, 2 * rounds, rounds + 1, String::new());
    verdict.violations.extend(failed);
    verdict
}

async fn soft_expiry(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, SHORT, password).await;
    let load = Load::start(&run.client, callers, run.search());
    // Real time for the tokens to age: the callers keep every credential busy into its soft
    // window, so each is refreshed in the background.
    tokio::time::sleep(SHORT * (3 * scale as u32) + SHORT / 2).await;
    let tally = load.stop().await;
    let lifetimes = (run.started.elapsed().as_secs_f64() / SHORT.as_secs_f64()).floor() as usize;
    let refreshes = run.handle.stats().refreshes;
    let mut verdict = run.verdict(&tally, 1, 0, lifetimes, String::new());
    if refreshes == 0 {
        verdict.violations.push("no refresh".into());
    }
    verdict
}

async fn hard_expiry(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, SHORT, password).await;
    let tally = Arc::new(Tally::default());
    let rounds = 3 * scale;
    for round in 0..=rounds {
        if round > 0 {
            // Idle for a lifetime: nothing asks for a refresh, so the credential expires.
            tokio::time::sleep(SHORT).await;
        }
        burst(&run.client, &tally, callers, 4, run.search()).await;
    }
    run.verdict(&tally, 1, 0, rounds + 1, String::new())
}

/// The refresh is held 300 ms at the server, and every token is revoked meanwhile: the requests
/// rejected then join the refresh in flight, whose token (minted after the revocation) is good.
async fn a_401_while_a_refresh_is_in_flight(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, password).await;
    let load = Load::start(&run.client, callers, run.search());
    // The delay is for a refresh, not for the first login.
    until(|| run.handle.stats().logins >= 1).await;
    let rounds = 2 * scale;
    for _ in 0..rounds {
        let (arrived, landed) = (run.ts.logins(), run.handle.stats().logins);
        run.ts
            .inject(TOKEN_FULL, Fault::Delay(Duration::from_millis(300)), 1);
        until(|| run.ts.logins() > arrived).await;
        run.ts.revoke_all_tokens();
        let epoch = load.next_epoch();
        until(|| run.handle.stats().logins > landed).await;
        load.settled(epoch, run.between()).await;
    }
    let tally = load.stop().await;
    run.verdict(&tally, 1, rounds, rounds + 1, String::new())
}

async fn org_switch(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, |b| password(b).org(0)).await;
    let load = Load::start(&run.client, callers, run.search());
    let rounds = 9 * scale;
    let mut failed = Vec::new();
    for round in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        let org = (round as i64 + 1) % 3;
        if let Err(error) = run.handle.switch_org(org).await {
            failed.push(format!("switching to org {org}: {error}"));
        }
    }
    let tally = load.stop().await;
    let mut verdict = run.verdict(&tally, 3, 0, 3, String::new());
    verdict.violations.extend(failed);
    verdict
}

/// `invalidate`, `refresh` and `revoke` from the handle, in turn, under load.
async fn forced_relogin(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, password).await;
    let load = Load::start(&run.client, callers, run.search());
    let rounds = 9 * scale;
    let mut failed = Vec::new();
    for round in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        let result = match round % 3 {
            0 => {
                run.handle.invalidate();
                Ok(())
            }
            1 => run.handle.refresh().await,
            _ => run.handle.revoke().await,
        };
        if let Err(error) = result {
            failed.push(format!("handle operation {}: {error}", round % 3));
        }
    }
    let epoch = load.next_epoch();
    load.settled(epoch, run.between()).await;
    let tally = load.stop().await;
    let mut verdict = run.verdict(&tally, 1, rounds, rounds + 1, String::new());
    verdict.violations.extend(failed);
    verdict
}

/// Cookie sessions ended at ThoughtSpot by `logout` under load.
async fn logout(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, |b| password(b).cookie_session()).await;
    let load = Load::start(&run.client, callers, run.search());
    let rounds = 6 * scale;
    let mut failed = Vec::new();
    for _ in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        if let Err(error) = run.handle.logout().await {
            failed.push(format!("logout: {error}"));
        }
    }
    let epoch = load.next_epoch();
    load.settled(epoch, run.between()).await;
    let tally = load.stop().await;
    let mut verdict = run.verdict(&tally, 1, rounds, rounds + 1, String::new());
    verdict.violations.extend(failed);
    verdict
}

/// Beta: a revoked token's requests get a 500 whose body says upstream 401 (`bare == false`),
/// or the bare, ambiguous 500, which the layer must check.
async fn beta_revocation(front: Front, callers: usize, scale: usize, bare: bool) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, |b| {
        password(b).api(ApiVersion::Beta)
    })
    .await;
    run.ts.set_bare_beta_rejections(bare);
    let load = Load::start(&run.client, callers, run.beta_data());
    let rounds = 6 * scale;
    revoke_under_load(&run, &load, rounds).await;
    let tally = load.stop().await;
    let checks = run.handle.stats().credential_checks;
    let mut verdict = run.verdict(&tally, 1, rounds, rounds + 1, String::new());
    match (bare, checks) {
        (false, 0) => {}
        (false, n) => verdict
            .violations
            .push(format!("{n} checks for upstream 401s")),
        (true, 0) => verdict.violations.push("bare 500s but no check".into()),
        (true, _) => {}
    }
    verdict
}

/// A secret source that gives whatever `key` holds when asked.
fn current_key(key: Arc<std::sync::Mutex<String>>) -> impl thoughtspot_auth::secrets::SecretSource {
    SecretFn::new(move |_org| {
        let current = key.lock().unwrap().clone();
        async move { Ok::<_, SourceError>(current) }
    })
}

/// The trusted-authentication key rotated under load, `rounds` times: the new key at
/// ThoughtSpot (which refuses the old one at once) and at the source in one step, then every
/// token revoked. A login that read the old key just before is refused, reads the source again
/// and logs in with the new one; no request fails.
async fn key_rotation(front: Front, callers: usize, scale: usize) -> Verdict {
    // The source and ThoughtSpot change under one lock: no login reads a key that ThoughtSpot
    // does not know yet.
    let key = Arc::new(std::sync::Mutex::new(mock::DEFAULT_SECRET_KEY.to_owned()));
    let source = key.clone();
    let run = Run::start(front, callers, LIFETIME, move |b| {
        b.secret_key_from(mock::DEFAULT_USER, current_key(source))
    })
    .await;
    let load = Load::start(&run.client, callers, run.search());
    let rounds = 6 * scale;
    for round in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        {
            let mut current = key.lock().unwrap();
            *current = format!("rotated-key-{round}");
            run.ts.set_secret_key(&current);
        }
        run.ts.revoke_all_tokens();
    }
    let epoch = load.next_epoch();
    load.settled(epoch, run.between()).await;
    let tally = load.stop().await;
    let stats = run.handle.stats();
    let retried = stats.login_attempts - stats.logins;
    run.verdict(
        &tally,
        1,
        rounds,
        rounds + 1,
        format!("; {retried} logins retried with a new key"),
    )
}

/// Tokens from a provider (which mints them with the mock's token API, as an identity provider
/// would) revoked under load: each revocation asks the provider once, and the rejected requests
/// are replayed with its new token.
async fn provider_revocation(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start_with(front, callers, LIFETIME, |b, ts| {
        let session = Arc::new(common::session_for(ts));
        b.token_provider(TokenFn::new(move |_org| {
            let session = session.clone();
            async move {
                let request = TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
                    .validity_secs(LIFETIME.as_secs());
                let login = session.v2().token_full(&request).await.map_err(|e| {
                    SourceError::transient("the identity provider failed").with_cause(e)
                })?;
                let token = login
                    .credential
                    .token()
                    .map(|t| t.expose_secret().to_owned());
                let token = token.ok_or_else(|| SourceError::transient("no token"))?;
                Ok(ProvidedToken::new(token).lifetime(login.lifetime.unwrap_or(LIFETIME)))
            }
        }))
    })
    .await;
    let load = Load::start(&run.client, callers, run.search());
    let rounds = 6 * scale;
    revoke_under_load(&run, &load, rounds).await;
    let tally = load.stop().await;
    run.verdict(&tally, 1, rounds, rounds + 1, String::new())
}

/// Multi-user mode: one user's tokens revoked at a time, under load spread over every user.
async fn one_users_revocation(front: Front, callers: usize, scale: usize) -> Verdict {
    let run = Run::start(front, callers, LIFETIME, |b| {
        b.act_as_users(mock::DEFAULT_SECRET_KEY)
    })
    .await;
    for i in 0..USERS {
        run.ts
            .add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0, 1, 2]));
    }
    let base = run.ts.base_url();
    let load = Load::start(&run.client, callers, move |caller, n| {
        Call::search(&base).acting_as(ActAs::user(format!("user-{}", (caller + n) % USERS)))
    });
    let rounds = 8 * scale;
    for round in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        run.ts.revoke_tokens_of(&format!("user-{}", round % USERS));
    }
    let epoch = load.next_epoch();
    load.settled(epoch, run.between()).await;
    let tally = load.stop().await;
    let mut verdict = run.verdict(&tally, USERS, rounds, USERS + rounds, String::new());
    let elapsed = run.started.elapsed();
    for i in 0..USERS {
        let user = format!("user-{i}");
        let revocations = (0..rounds).filter(|r| r % USERS == i).count();
        let (logins, bound) = (
            run.ts.login_attempts_for(&user),
            login_bound(elapsed, LIFETIME, revocations),
        );
        if logins > bound {
            verdict
                .violations
                .push(format!("{user}: {logins} logins > {bound}"));
        }
    }
    verdict
}

/// Multi-user mode: every token revoked under load spread over every user, then the
/// trusted-authentication key rotated (at ThoughtSpot and at the source in one step). Each user's next
/// mint reads the new key, or, having read the old one just before, is refused, reads again and
/// mints with the new one: no request fails, and the key held for stale ones never holds the
/// new key.
async fn key_rotation_for_many_users(front: Front, callers: usize, scale: usize) -> Verdict {
    let key = Arc::new(std::sync::Mutex::new(mock::DEFAULT_SECRET_KEY.to_owned()));
    let source = key.clone();
    let run = Run::start(front, callers, LIFETIME, move |b| {
        b.act_as_users_from(current_key(source))
            .mint_budget(thoughtspot_auth::MintBudget::unlimited())
    })
    .await;
    for i in 0..USERS {
        run.ts
            .add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0]));
    }
    let base = run.ts.base_url();
    let load = Load::start(&run.client, callers, move |caller, n| {
        Call::search(&base).acting_as(ActAs::user(format!("user-{}", (caller + n) % USERS)))
    });
    let rounds = 4 * scale;
    for round in 0..rounds {
        let epoch = load.next_epoch();
        load.settled(epoch, run.between()).await;
        // Revoked first: a token minted with the new key between the two steps would be revoked
        // too, and its replay's 401 would be this test's doing, not the layer's.
        let before: Vec<usize> = (0..USERS)
            .map(|i| run.ts.login_attempts_for(&format!("user-{i}")))
            .collect();
        run.ts.revoke_all_tokens();
        {
            let mut current = key.lock().unwrap();
            *current = format!("rotated-key-{round}");
            run.ts.set_secret_key(&current);
        }
        // Every user logged in again before the next round: a request that met this round's
        // revocation with a credential not yet replaced must not meet the next one in its replay.
        until(|| (0..USERS).all(|i| run.ts.login_attempts_for(&format!("user-{i}")) > before[i]))
            .await;
    }
    let epoch = load.next_epoch();
    load.settled(epoch, run.between()).await;
    let tally = load.stop().await;
    let stats = run.handle.stats();
    let retried = stats.login_attempts - stats.logins;
    run.verdict(
        &tally,
        USERS,
        rounds * USERS,
        USERS,
        format!("; {retried} mints retried with a new key"),
    )
}

// ----- the tests ---------------------------------------------------------------------------------

macro_rules! realtime {
    ($($name:ident => $case:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                everywhere($case, 1).await
            }
        )*
        /// Ten times the rounds (and lifetimes) of each path:
        /// `cargo test --test realtime -- --ignored --nocapture`.
        mod long {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[ignore = "long: run with `cargo test --test realtime -- --ignored --nocapture`"]
                async fn $name() {
                    everywhere($case, 10).await
                }
            )*
        }
    };
}

realtime!(
    revocation_under_load => revocation,
    key_rotation_under_load => key_rotation,
    provided_tokens_revoked_under_load => provider_revocation,
    revocation_right_after_a_login_that_answered_waiters =>
        |f, c, s| revocation_right_after_a_login(f, c, s, None),
    revocation_right_after_a_login_that_answered_waiters_while_it_writes_to_the_store =>
        |f, c, s| revocation_right_after_a_login(f, c, s, Some(Duration::from_millis(20))),
    revocation_right_after_a_refresh_under_load => revocation_right_after_a_refresh,
    soft_expiry_under_load => soft_expiry,
    hard_expiry_between_bursts => hard_expiry,
    a_401_arriving_while_a_refresh_is_in_flight => a_401_while_a_refresh_is_in_flight,
    org_switches_under_load => org_switch,
    invalidate_refresh_and_revoke_from_the_handle_under_load => forced_relogin,
    logout_of_cookie_sessions_under_load => logout,
    beta_500_with_upstream_401_under_load => |f, c, s| beta_revocation(f, c, s, false),
    beta_bare_500_of_a_dead_token_under_load => |f, c, s| beta_revocation(f, c, s, true),
    one_users_revocation_in_multi_user_mode => one_users_revocation,
    key_rotation_for_many_users_under_load => key_rotation_for_many_users,
);
