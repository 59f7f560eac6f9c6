//! Single flight: the one login for a cache key that every waiting request shares, run as a
//! task of its own so that a caller who goes away never cancels it.
//!
//! A flight goes through named stages, each a method, until one of them gives its answer:
//! 1. `await_turn`: the account's turn, any backoff window, and the rejection streak's pause;
//! 2. `consult_fleet` (with a credential store): adopt what another replica published, meet its
//!    failure, lead the fleet's login, or log in alone;
//! 3. `attempt`: one login, with the secret read for it (`flight_attempt`);
//! 4. its verdict: `logged_in` (publish; see `publish`), `failed_for_good` (a backoff window,
//!    shared with the fleet) or `failed_for_now` (retry after a pause), in `flight_failures`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::credential::{CacheKey, Credential, Phase};
use super::flight_failures::Failed;
use super::slot::{Flight, Lease, Origin, Outcome, Slot};
use super::{Core, fleet};
use crate::error::{Error, ErrorKind};
use crate::secrets::Fingerprint;
use crate::session::Login;
use crate::store::Generation;
use crate::sync::{Answer, Pending, lock, shared_answer, spawn};
use crate::telemetry;

/// Attempts a flight makes at a ThoughtSpot that has never been reached and cannot be (refused,
/// no such name, TLS failed) before it gives its callers the error: with the transient backoff
/// (250 ms, doubling) that is under a second and a half, not the login deadline.
const UNREACHABLE_ATTEMPTS: u32 = 3;

impl Core {
    /// The credential for `key`, waiting for the one shared login if there is none usable.
    ///
    /// Never a credential retired for `key` (rejected or forgotten): a login's answer that was
    /// retired before this caller woke up sends it to the next login instead.
    pub(crate) async fn credential(
        self: &Arc<Self>,
        key: &CacheKey,
    ) -> Result<Arc<Credential>, Error> {
        let slot = self.slot(key);
        let give_up =
            Instant::now() + self.config.timings.login_deadline + self.config.timings.call_timeout;
        loop {
            if let Some(credential) = slot.current() {
                match credential.catch_up(Instant::now()) {
                    Phase::Fresh => return Ok(credential),
                    Phase::Soft => {
                        self.refresh_in_background(&credential);
                        return Ok(credential);
                    }
                    Phase::Hard => {}
                }
            }
            let mut outcome = self.join_flight(&slot)?;
            let answer = match tokio::time::timeout_at(give_up, outcome.wait()).await {
                Ok(Some(result)) => result,
                Ok(None) => Err(Error::Shutdown),
                Err(_) => Err(Error::Transport(crate::transport::TransportError::timeout())),
            };
            match answer {
                Ok(credential) if !slot.usable(&credential) => {
                    tracing::debug!(
                        user = key.user.as_deref(),
                        org = ?key.org,
                        generation = credential.generation,
                        "a new ThoughtSpot credential was rejected before it could be used; logging in again"
                    );
                    // This loop goes round again without waiting for anything if it meets an
                    // answered login: let the scheduler in.
                    tokio::task::consume_budget().await;
                }
                answer => {
                    // Counted here, once per caller that got the refusal: callers joining one
                    // refused flight share its one answer, and how many flights a burst makes
                    // depends on scheduling.
                    if matches!(&answer, Err(e) if e.is_refused_by_backoff()) {
                        self.counters.refused_by_backoff.bump();
                        telemetry::count(telemetry::names::REFUSED_BY_BACKOFF, None);
                    }
                    return answer;
                }
            }
        }
    }

    /// Joins the login under way for `slot`, or starts one as a task of its own.
    pub(super) fn join_flight(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
    ) -> Result<Pending<Outcome>, Error> {
        self.session()?;
        let mut flight = lock(&slot.flight);
        // Only a login still under way is joined. One that has answered may linger (handing the
        // credential to `lives`, writing the credential store), but its answer may since have been
        // rejected or forgotten: whoever comes now needs the next login.
        if let Some(flight) = flight.as_ref().filter(|f| !f.outcome.is_answered()) {
            return Ok(flight.outcome.clone());
        }
        // A persisted rule set is claimed for its (user, org) until its credential dies.
        let claim = self.persisted.claim(slot)?;
        self.keep_lives();
        let (answer, pending) = shared_answer();
        let id = self.tick.fetch_add(1, Ordering::Relaxed);
        let core = self.clone();
        let task_slot = slot.clone();
        let task = spawn(async move {
            let _claim = claim;
            let result = core.run_flight(&task_slot, &answer).await;
            {
                let mut flight = lock(&task_slot.flight);
                if flight.as_ref().is_some_and(|f| f.id == id) {
                    *flight = None;
                }
            }
            if result.is_err() {
                // Let a later request start another refresh once the backoff allows.
                if let Some(credential) = task_slot.credential.load_full() {
                    credential.refresh_claimed.store(false, Ordering::Release);
                }
            }
            // Waiters were answered when the credential was published; this is for a failure.
            answer.give(result);
        })
        .ok_or_else(|| Error::config("logging in needs a tokio runtime"))?;
        *flight = Some(Flight {
            id,
            outcome: pending.clone(),
            task,
        });
        Ok(pending)
    }

    /// Logs in for `slot`, living through transient failures until the login deadline, and
    /// refusing to try at all while a permanent failure's window lasts. With a credential store,
    /// the fleet protocol decides first whether this replica logs in at all (see `fleet`).
    ///
    /// `landed` answers the flight's waiters the moment a credential is published, before what
    /// is left to do (handing the credential to `lives`, the credential store).
    pub(super) async fn run_flight(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        landed: &Answer<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let Some(fleet) = &self.fleet else {
            return self.flight_loop(slot, None, landed).await;
        };
        let mut lease = Lease {
            holder: Generation::random(),
            held: false,
        };
        let result = self.flight_loop(slot, Some(&mut lease), landed).await;
        if lease.held {
            fleet.release(&self.counters, &slot.key, lease.holder).await;
        }
        result
    }

    pub(super) async fn flight_loop(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        mut lease: Option<&mut Lease>,
        landed: &Answer<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let deadline = Instant::now() + self.config.timings.login_deadline;
        let mut last_error = None;
        let mut unreachable = 0;
        loop {
            let account_turn = self.account_turn().await;
            self.await_turn(slot, deadline, &mut last_error).await?;
            // Read for each attempt, so that a rotated secret is used from the next one on; a
            // source that fails is an attempt that failed without anything sent.
            let secret = self.read_secret(&slot.key).await;
            if let Some(failed) = self.held_key(slot, &secret) {
                // Not leading this attempt: a lease kept from the last one stays marked held,
                // and `run_flight` gives it up.
                let span = tracing::Span::current();
                return Err(self
                    .failed_for_good(slot, failed, &span, account_turn, None, None)
                    .await);
            }
            let used = secret
                .as_ref()
                .ok()
                .and_then(|s| s.as_ref().map(|s| s.fingerprint));
            let leading = match self
                .consult_fleet(
                    slot,
                    lease.as_deref_mut(),
                    deadline,
                    &mut last_error,
                    landed,
                    used,
                )
                .await
            {
                Stage::LogIn { leading } => leading,
                Stage::Done(answer) => return answer,
            };
            // The process's mint budget, within the login deadline (not for an attempt that
            // sends nothing: its source failed).
            if self.config.mints()
                && secret.is_ok()
                && !self.budget_turn(leading, slot, deadline).await
            {
                return Err(timed_out(&mut last_error));
            }
            let started = Instant::now();
            let (span, login_sent, attempt, used) =
                self.attempt(slot, leading, secret, deadline).await?;
            telemetry::login(
                self.config.mode_label(),
                telemetry::outcome(attempt.as_ref().err().map(Error::kind)),
                slot.key.org,
                started.elapsed(),
            );
            if !matches!(&attempt, Err(e) if matches!(e.kind(), ErrorKind::Transport | ErrorKind::Source))
            {
                // ThoughtSpot answered (whatever it said): it can be reached.
                self.ever_reached.store(true, Ordering::Release);
            }
            // Each verdict gives the account's turn back once it is recorded: what is left (the
            // credential store) is no login attempt, and a relogin need not wait for it.
            match attempt {
                Ok(login) => {
                    self.key_worked(slot, used);
                    let made = Made {
                        login,
                        login_sent,
                        span,
                    };
                    return self
                        .logged_in(slot, made, account_turn, leading, lease, landed)
                        .await;
                }
                Err(error) if error.is_permanent() => {
                    self.key_refused(slot, used, &error);
                    let error = self
                        .failed_for_good(
                            slot,
                            Failed {
                                error,
                                secret: used,
                            },
                            &span,
                            account_turn,
                            leading,
                            lease,
                        )
                        .await;
                    return Err(error);
                }
                Err(error) => {
                    self.failed_for_now(slot, &error, &span, account_turn, leading)
                        .await;
                    // Never reached, and nothing to wait for: say so within a few attempts
                    // rather than at the login deadline. Once reached, patience as usual.
                    if error.is_unreachable() && !self.ever_reached.load(Ordering::Acquire) {
                        unreachable += 1;
                        if unreachable >= UNREACHABLE_ATTEMPTS {
                            return Err(error);
                        }
                    } else {
                        unreachable = 0;
                    }
                    last_error = Some(error);
                }
            }
        }
    }

    /// One login attempt at a time for the account (single-user modes): a burst that reaches
    /// several orgs at once then meets the first attempt's verdict instead of sending the same
    /// wrong password once per org.
    async fn account_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.config.multi_user() {
            None
        } else {
            Some(self.account_login.lock().await)
        }
    }

    /// Stage 1: refuses inside a permanent failure's window, and waits out a transient
    /// failure's backoff and the rejection streak's pause (which slows relogins when
    /// ThoughtSpot rejects even fresh credentials).
    async fn await_turn(
        &self,
        slot: &Slot,
        deadline: Instant,
        last_error: &mut Option<Error>,
    ) -> Result<(), Error> {
        let timings = &self.config.timings;
        let mut now = Instant::now();
        loop {
            let account_block = if self.config.multi_user() {
                None
            } else {
                lock(&self.account_failures).blocking_error(now)
            };
            let slot_block = lock(&slot.failures).blocking_error(now);
            let (account, error) = match (account_block, slot_block) {
                (Some(error), _) => (true, error),
                (None, Some(error)) => (false, error),
                (None, None) => break,
            };
            // A rotated secret need not wait for the window the old one opened.
            if !self.window_outlived(slot, account).await {
                return Err(error);
            }
            now = Instant::now();
        }
        let wait_until = lock(&slot.failures).not_before().filter(|t| *t > now);
        let wait_until = match (wait_until, self.rejected_in_a_row(slot)) {
            (w, 0 | 1) => w,
            (w, n) => {
                // Never a pause the login deadline cannot hold: a key paused past it would fail
                // every login at once, be rejected no more, and never come off its streak.
                let pause = timings
                    .transient_backoff
                    .saturating_mul(1 << (n - 1).min(16))
                    .min(timings.transient_backoff_max)
                    .min(timings.login_deadline / 2);
                Some(w.unwrap_or(now).max(now + pause))
            }
        };
        if let Some(at) = wait_until {
            if at > deadline {
                return Err(timed_out(last_error));
            }
            tokio::time::sleep_until(at).await;
        }
        Ok(())
    }

    /// Stage 2: what the credential store says about this login, if there is one.
    async fn consult_fleet(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        lease: Option<&mut Lease>,
        deadline: Instant,
        last_error: &mut Option<Error>,
        landed: &Answer<Outcome>,
        secret: Option<Fingerprint>,
    ) -> Stage {
        // Without a secret read, the store's names for this login are unknown: alone.
        let (Some(fleet), Some(lease), Some(_)) = (&self.fleet, lease, secret) else {
            return Stage::LogIn { leading: None };
        };
        let step = fleet
            .before_login(
                &self.counters,
                &slot.key,
                &slot.fleet,
                lease.holder,
                deadline,
            )
            .await;
        match step {
            fleet::Step::Adopt(adopted) => {
                lease.held = false;
                let adopted = self.adopt(slot, adopted, landed);
                if adopted.is_ok() {
                    lock(&slot.failures).reset();
                }
                Stage::Done(adopted)
            }
            fleet::Step::Blocked {
                error,
                until,
                in_a_row,
            } => {
                lease.held = false;
                lock(self.failures_for(slot, &error)).adopt_permanent(
                    &error,
                    until,
                    in_a_row,
                    secret,
                    Instant::now(),
                );
                tracing::warn!(
                    user = slot.key.user.as_deref(),
                    org = ?slot.key.org,
                    %error,
                    "another replica's ThoughtSpot login failed permanently; not trying \
                     these credentials until its window ends"
                );
                Stage::Done(Err(Error::refused_by_backoff(error, until)))
            }
            fleet::Step::Lead => {
                lease.held = true;
                Stage::LogIn {
                    leading: Some(lease.holder),
                }
            }
            fleet::Step::Alone => Stage::LogIn { leading: None },
            fleet::Step::TimedOut => Stage::Done(Err(timed_out(last_error))),
        }
    }

    /// Stage 4, success: publishes the credential (answering the waiters), then shares it with
    /// the fleet.
    async fn logged_in(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        made: Made,
        account_turn: Option<tokio::sync::MutexGuard<'_, ()>>,
        leading: Option<Generation>,
        lease: Option<&mut Lease>,
        landed: &Answer<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let Made {
            login,
            login_sent,
            span,
        } = made;
        let span = &span;
        let sent_at = login.sent_at;
        let (user, org) = (login.user.clone(), login.org);
        let stored = self.fleet.as_ref().map(|_| Generation::random());
        let credential = self.publish_as(
            slot,
            login,
            login_sent,
            Origin::Login,
            stored.map(|g| (g, sent_at)),
            landed,
        )?;
        span.record("generation", credential.generation);
        if let Some(lifetime) = credential.lifetime {
            span.record("lifetime_secs", lifetime.as_secs_f64());
        }
        span.record("outcome", "ok");
        span.in_scope(|| tracing::info!("logged in to ThoughtSpot"));
        lock(&slot.failures).reset();
        lock(&self.account_failures).reset();
        self.look_at_the_mint_ceiling();
        drop(account_turn);
        if let (Some(fleet), Some(stored), Some(lifetime)) =
            (&self.fleet, stored, credential.lifetime)
        {
            fleet
                .publish(
                    &self.counters,
                    &slot.key,
                    leading,
                    stored,
                    &credential.session,
                    lifetime,
                    sent_at,
                    user,
                    org,
                )
                .await;
            if let Some(lease) = lease {
                lease.held = false;
            }
        }
        Ok(credential)
    }
}

/// A login that succeeded: what it gave, its place in the order logins were sent, its span.
struct Made {
    login: Login,
    login_sent: u64,
    span: tracing::Span,
}

/// Where a flight is after a stage that may end it.
enum Stage {
    /// Log in now; `leading` the fleet's login if it holds the lease.
    LogIn { leading: Option<Generation> },
    /// The flight's answer.
    Done(Result<Arc<Credential>, Error>),
}

/// The error of a flight whose deadline passed: the last failure it met, if any.
fn timed_out(last_error: &mut Option<Error>) -> Error {
    last_error
        .take()
        .unwrap_or_else(|| Error::Transport(crate::transport::TransportError::timeout()))
}
