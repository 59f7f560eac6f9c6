//! Single flight: the one login for a cache key that every waiting request shares, run as a
//! task of its own so that a caller who goes away never cancels it; publication of what it
//! made; adoption from the credential store; and the credential's life timer.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::backoff::Failures;
use super::credential::{CacheKey, Credential, Phase};
use super::slot::{Flight, Lease, Origin, Slot};
use super::{Core, Counters, deadlines, fleet, lock, login, spawn};
use crate::Error;
use crate::config::Source;
use crate::session::{ErrorKind, Login};
use crate::store::Generation;

pub(super) type Outcome = Option<Result<Arc<Credential>, Error>>;

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
            let answer =
                match tokio::time::timeout_at(give_up, outcome.wait_for(Option::is_some)).await {
                    Ok(Ok(result)) => result.clone().unwrap_or(Err(Error::Shutdown)),
                    Ok(Err(_)) => Err(Error::Shutdown),
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
                }
                answer => {
                    // Counted here, once per caller that got the refusal: callers joining one
                    // refused flight share its one answer, and how many flights a burst makes
                    // depends on scheduling.
                    if matches!(&answer, Err(e) if e.is_refused_by_backoff()) {
                        Counters::bump(&self.counters.refused_by_backoff);
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
    ) -> Result<watch::Receiver<Outcome>, Error> {
        self.session()?;
        let mut flight = lock(&slot.flight);
        // Only a login still under way is joined. One that has answered may linger (arming the
        // life timer, writing the credential store), but its answer may since have been
        // rejected or forgotten: whoever comes now needs the next login.
        if let Some(flight) = flight.as_ref().filter(|f| f.outcome.borrow().is_none()) {
            return Ok(flight.outcome.clone());
        }
        let (tx, rx) = watch::channel(None);
        let id = self.tick.fetch_add(1, Ordering::Relaxed);
        let core = self.clone();
        let task_slot = slot.clone();
        let task = spawn(async move {
            let result = core.run_flight(&task_slot, &tx).await;
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
            tx.send_if_modified(|outcome| {
                let unanswered = outcome.is_none();
                if unanswered {
                    *outcome = Some(result);
                }
                unanswered
            });
        })
        .ok_or_else(|| Error::config("logging in needs a tokio runtime"))?;
        *flight = Some(Flight {
            id,
            outcome: rx.clone(),
            task,
        });
        Ok(rx)
    }

    /// Logs in for `slot`, living through transient failures until the login deadline, and
    /// refusing to try at all while a permanent failure's window lasts. With a credential store,
    /// the fleet protocol decides first whether this replica logs in at all (see `fleet`).
    ///
    /// `landed` answers the flight's waiters the moment a credential is published, before what
    /// is left to do (the credential's life timer, the credential store).
    pub(super) async fn run_flight(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        landed: &watch::Sender<Outcome>,
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
        landed: &watch::Sender<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let timings = self.config.timings;
        let deadline = Instant::now() + timings.login_deadline;
        let mut last_error = None;
        loop {
            // One login attempt at a time for the account (single-user modes): a burst that
            // reaches several orgs at once then meets the first attempt's verdict instead of
            // sending the same wrong password once per org.
            let account_turn = if self.config.multi_user() {
                None
            } else {
                Some(self.account_login.lock().await)
            };
            let now = Instant::now();
            let account_block = if self.config.multi_user() {
                None
            } else {
                lock(&self.account_failures).blocking_error(now)
            };
            let wait_until = {
                let failures = lock(&slot.failures);
                if let Some(error) = account_block.or_else(|| failures.blocking_error(now)) {
                    return Err(error);
                }
                failures.not_before().filter(|t| *t > now)
            };
            let streak = self.rejection_streak.load(Ordering::Relaxed);
            let wait_until = match (wait_until, streak) {
                (w, 0 | 1) => w,
                (w, n) => {
                    let pause = timings
                        .transient_backoff
                        .saturating_mul(1 << (n - 1).min(16))
                        .min(timings.transient_backoff_max);
                    Some(w.unwrap_or(now).max(now + pause))
                }
            };
            if let Some(at) = wait_until {
                if at > deadline {
                    return Err(last_error.unwrap_or_else(|| {
                        Error::Transport(crate::transport::TransportError::timeout())
                    }));
                }
                tokio::time::sleep_until(at).await;
            }
            let session = self.session()?;
            let mut leading = None;
            if let (Some(fleet), Some(lease)) = (&self.fleet, lease.as_deref_mut()) {
                match fleet
                    .before_login(
                        &self.counters,
                        &slot.key,
                        &slot.fleet,
                        lease.holder,
                        deadline,
                    )
                    .await
                {
                    fleet::Step::Adopt(adopted) => {
                        lease.held = false;
                        let credential = self.adopt(slot, adopted, landed)?;
                        lock(&slot.failures).reset();
                        return Ok(credential);
                    }
                    fleet::Step::Blocked {
                        error,
                        until,
                        in_a_row,
                    } => {
                        lease.held = false;
                        lock(self.failures_for(slot, &error))
                            .adopt_permanent(&error, until, in_a_row);
                        tracing::warn!(
                            user = slot.key.user.as_deref(),
                            org = ?slot.key.org,
                            %error,
                            "another replica's ThoughtSpot login failed permanently; not trying \
                             these credentials until its window ends"
                        );
                        return Err(Error::refused_by_backoff(error, until));
                    }
                    fleet::Step::Lead => {
                        lease.held = true;
                        leading = Some(lease.holder);
                    }
                    fleet::Step::Alone => {}
                    fleet::Step::TimedOut => {
                        return Err(last_error.unwrap_or_else(|| {
                            Error::Transport(crate::transport::TransportError::timeout())
                        }));
                    }
                }
            }
            let span = tracing::info_span!(
                "thoughtspot.login",
                user = slot.key.user.as_deref(),
                org = ?slot.key.org,
                generation = tracing::field::Empty,
                lifetime_secs = tracing::field::Empty,
                outcome = tracing::field::Empty,
            );
            Counters::bump(&self.counters.login_attempts);
            let provisioning = lock(&slot.provisioning).clone();
            let attempt = login::login(session, &self.config, &slot.key, provisioning.as_deref())
                .instrument(span.clone());
            let attempt = match (&self.fleet, leading) {
                (Some(fleet), Some(holder)) => {
                    fleet
                        .renewing(&self.counters, &slot.key, holder, attempt)
                        .await
                }
                _ => attempt.await,
            };
            // Each branch gives the account's turn back once the verdict is recorded: what is
            // left (the credential store) is no login attempt, and a relogin need not wait for it.
            match attempt {
                Ok(login) => {
                    let sent_at = login.sent_at;
                    let (user, org) = (login.user.clone(), login.org);
                    let stored = self.fleet.as_ref().map(|_| Generation::random());
                    let credential = self.publish_as(
                        slot,
                        login,
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
                        if let Some(lease) = lease.as_deref_mut() {
                            lease.held = false;
                        }
                    }
                    return Ok(credential);
                }
                Err(error) if error.is_permanent() => {
                    self.counters.failure(error.kind());
                    slot.failed_logins.fetch_add(1, Ordering::Relaxed);
                    // Bad credentials are the account's, not one org's; in multi-user mode
                    // they are one user's.
                    let (window, in_a_row) = {
                        let mut failures = lock(self.failures_for(slot, &error));
                        let window = failures.record_permanent(&error, Instant::now(), &timings);
                        (window, failures.permanent_in_a_row())
                    };
                    drop(account_turn);
                    span.record("outcome", tracing::field::debug(error.kind()));
                    span.in_scope(|| {
                        tracing::warn!(
                            %error,
                            no_retry_for_secs = window.as_secs(),
                            "ThoughtSpot login failed permanently; not trying these credentials again for a while"
                        )
                    });
                    if let Some(fleet) = &self.fleet {
                        fleet
                            .record_failure(
                                &self.counters,
                                &slot.key,
                                leading,
                                &error,
                                window,
                                in_a_row,
                            )
                            .await;
                        if let Some(lease) = lease.as_deref_mut() {
                            lease.held = false;
                        }
                    }
                    return Err(error);
                }
                Err(error) => {
                    self.counters.failure(error.kind());
                    slot.failed_logins.fetch_add(1, Ordering::Relaxed);
                    let delay =
                        lock(&slot.failures).record_transient(&error, Instant::now(), &timings);
                    drop(account_turn);
                    span.record("outcome", tracing::field::debug(error.kind()));
                    span.in_scope(|| {
                        tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "ThoughtSpot login failed; retrying")
                    });
                    if let (Some(fleet), Some(holder)) = (&self.fleet, leading) {
                        // The fleet waits for this replica's next attempt, not makes its own.
                        fleet.hold(&self.counters, &slot.key, holder, delay).await;
                    }
                    last_error = Some(error);
                }
            }
        }
    }

    /// Where a permanent failure is remembered: bad credentials are the account's (every org)
    /// except in multi-user mode, where they are one user's; everything else the slot's.
    pub(super) fn failures_for<'a>(&'a self, slot: &'a Slot, error: &Error) -> &'a Mutex<Failures> {
        if error.kind() == ErrorKind::Unauthorized && !self.config.multi_user() {
            &self.account_failures
        } else {
            &slot.failures
        }
    }

    /// Makes a credential another replica published the slot's, its lifetime what the store
    /// said was left, counted from when this replica asked.
    pub(super) fn adopt(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        adopted: fleet::Adopted,
        landed: &watch::Sender<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let login = Login {
            credential: adopted.credential,
            lifetime: Some(adopted.remaining),
            user: adopted.user,
            org: adopted.org,
            sent_at: adopted.asked_at,
        };
        let credential = self.publish_as(
            slot,
            login,
            Origin::Adopted,
            Some((adopted.generation, adopted.minted_at)),
            landed,
        )?;
        tracing::info!(
            user = slot.key.user.as_deref(),
            org = ?slot.key.org,
            generation = credential.generation,
            remaining_secs = adopted.remaining.as_secs_f64(),
            "adopted a ThoughtSpot credential another replica published"
        );
        Ok(credential)
    }

    /// Makes a login the slot's credential (and the hot path's, if it is the current org's),
    /// answers the requests waiting for it (`landed`), and then arms the timer that moves it
    /// through its phases: spawning that task can cost a waiter tens of microseconds (it wakes
    /// an idle worker thread), and nobody needs to wait for it.
    ///
    /// `stored` is the credential's generation in the credential store, if it has one, and when
    /// it was minted.
    pub(super) fn publish_as(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        login: Login,
        origin: Origin,
        stored: Option<(Generation, Instant)>,
        landed: &watch::Sender<Outcome>,
    ) -> Result<Arc<Credential>, Error> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let lifetime = match (&self.config.source, login.lifetime) {
            (Source::Static(_), _) => None,
            (_, Some(lifetime)) => Some(lifetime),
            (_, None) => Some(self.config.timings.session_lifetime),
        };
        let (soft_at, hard_at) = match lifetime {
            Some(lifetime) => {
                let (soft, hard) = deadlines(lifetime, self.config.timings.refresh_margin);
                (Some(login.sent_at + soft), Some(login.sent_at + hard))
            }
            None => (None, None),
        };
        let credential = Arc::new(Credential::new(
            login.credential,
            slot.key.clone(),
            generation,
            lifetime,
            soft_at,
            hard_at,
        ));
        if let Some((stored, minted_at)) = stored {
            lock(&slot.fleet).holding(generation, stored, minted_at);
        }
        let previous = slot.credential.swap(Some(credential.clone()));
        match origin {
            Origin::Login => {
                if previous.is_some() {
                    Counters::bump(&self.counters.refreshes);
                }
                Counters::bump(&self.counters.logins);
                slot.logins.fetch_add(1, Ordering::Relaxed);
            }
            Origin::Adopted => Counters::bump(&self.counters.store_adoptions),
        }
        self.mirror_if_current(slot, &credential);
        landed.send_replace(Some(Ok(credential.clone())));
        let timer = match (soft_at, hard_at) {
            (Some(soft_at), Some(hard_at)) => self.life_timer(&credential, soft_at, hard_at),
            _ => None,
        };
        let mut armed = lock(&slot.timer);
        // A later login may have published (and armed its timer) while this one was answering:
        // the slot keeps the timer of the credential it holds.
        let still_current = slot
            .credential
            .load()
            .as_deref()
            .is_some_and(|c| c.generation == generation);
        let stale = if still_current {
            std::mem::replace(&mut *armed, timer)
        } else {
            timer
        };
        drop(armed);
        if let Some(stale) = stale {
            stale.abort();
        }
        Ok(credential)
    }

    /// Moves `credential` through its life: soft-expired at `soft_at`, hard-expired at
    /// `hard_at`, and in between a refresh each time a request asks for one. Holds the
    /// credential and the core weakly: a credential replaced or forgotten is not kept alive.
    pub(super) fn life_timer(
        &self,
        credential: &Arc<Credential>,
        soft_at: Instant,
        hard_at: Instant,
    ) -> Option<AbortHandle> {
        let weak = Arc::downgrade(credential);
        let wanted = credential.refresh_wanted.clone();
        let core = self.myself.get().cloned().unwrap_or_default();
        spawn(async move {
            tokio::time::sleep_until(soft_at).await;
            let Some(c) = weak.upgrade() else { return };
            c.advance(Phase::Soft);
            drop(c);
            let mut hard = std::pin::pin!(tokio::time::sleep_until(hard_at));
            loop {
                let mut asked = std::pin::pin!(wanted.notified());
                let asked = std::future::poll_fn(|cx| {
                    if hard.as_mut().poll(cx).is_ready() {
                        return std::task::Poll::Ready(false);
                    }
                    asked.as_mut().poll(cx).map(|()| true)
                })
                .await;
                if !asked {
                    break;
                }
                let (Some(core), Some(c)) = (core.upgrade(), weak.upgrade()) else {
                    return;
                };
                core.start_refresh(&c);
            }
            if let Some(c) = weak.upgrade() {
                c.advance(Phase::Hard);
            }
        })
    }

    /// Starts the refresh a request asked for (from the credential's life timer).
    pub(super) fn start_refresh(self: &Arc<Self>, credential: &Credential) {
        if matches!(self.config.source, Source::Static(_)) || self.session.get().is_none() {
            return;
        }
        let slot = self.slot(&credential.key);
        if slot
            .current()
            .is_none_or(|current| current.generation != credential.generation)
        {
            // Already replaced, or retired: whatever comes next logs in anyway.
            return;
        }
        tracing::debug!(org = ?credential.key.org, generation = credential.generation, "credential near expiry: refreshing in the background");
        let _ = self.join_flight(&slot);
    }
}
