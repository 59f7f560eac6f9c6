//! A flight's failed attempts (stage 4 of a flight, see `flight`): what a permanent failure and
//! a transient one leave behind for the next attempt, here and in the fleet.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::Core;
use super::backoff::Failures;
use super::flight_attempt::AttemptSecret;
use super::slot::{Lease, Slot};
use crate::error::{Error, ErrorKind};
use crate::secrets::{Fingerprint, rotation};
use crate::store::Generation;
use crate::sync::lock;

/// A permanent failure, and the secret of the login that met it (`None`: none was read).
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) secret: Option<Fingerprint>,
}

impl Core {
    /// Stage 4, a permanent failure: opens a backoff window (the account's for bad credentials,
    /// else the slot's) and shares it with the fleet. Returns the flight's error. `secret` is
    /// the secret the login used: a source that gives another ends the window early.
    pub(super) async fn failed_for_good(
        &self,
        slot: &Slot,
        failed: Failed,
        span: &tracing::Span,
        account_turn: Option<tokio::sync::MutexGuard<'_, ()>>,
        leading: Option<Generation>,
        lease: Option<&mut Lease>,
    ) -> Error {
        let Failed { error, secret } = failed;
        self.counters.failure(error.kind());
        slot.failed_logins.fetch_add(1, Ordering::Relaxed);
        let (window, in_a_row) = {
            let mut failures = lock(self.failures_for(slot, &error));
            let window =
                failures.record_permanent(&error, secret, Instant::now(), &self.config.timings);
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
                .record_failure(&self.counters, &slot.key, leading, &error, window, in_a_row)
                .await;
            if let Some(lease) = lease {
                lease.held = false;
            }
        }
        error
    }

    /// Stage 4, a transient failure: records its backoff; a fleet's leader keeps its lease
    /// through the pause, so that the fleet waits for this replica's next attempt.
    pub(super) async fn failed_for_now(
        &self,
        slot: &Slot,
        error: &Error,
        span: &tracing::Span,
        account_turn: Option<tokio::sync::MutexGuard<'_, ()>>,
        leading: Option<Generation>,
    ) {
        self.counters.failure(error.kind());
        slot.failed_logins.fetch_add(1, Ordering::Relaxed);
        let delay =
            lock(&slot.failures).record_transient(error, Instant::now(), &self.config.timings);
        drop(account_turn);
        span.record("outcome", tracing::field::debug(error.kind()));
        span.in_scope(|| {
            tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "ThoughtSpot login failed; retrying")
        });
        if let (Some(fleet), Some(holder)) = (&self.fleet, leading) {
            fleet.hold(&self.counters, &slot.key, holder, delay).await;
        }
    }

    /// Where a permanent failure is remembered: a rejected password is the account's (every
    /// org); everything else the slot's (a secret key may be one org's, a user one of many).
    pub(super) fn failures_for<'a>(&'a self, slot: &'a Slot, error: &Error) -> &'a Mutex<Failures> {
        if error.kind() == ErrorKind::Unauthorized && self.config.rejection_is_the_accounts() {
            &self.account_failures
        } else {
            &slot.failures
        }
    }
}

impl Core {
    /// Multi-user mode: a mint with a key held as rotated (see `secrets::stale_keys`) is a
    /// permanent failure with nothing sent.
    pub(super) fn held_key(
        &self,
        slot: &Slot,
        secret: &Result<Option<AttemptSecret>, Error>,
    ) -> Option<Failed> {
        if !self.config.multi_user() {
            return None;
        }
        let fingerprint = secret.as_ref().ok()?.as_ref()?.fingerprint;
        let error = self.stale_keys.held(slot.key.org, fingerprint)?;
        Some(Failed {
            error,
            secret: Some(fingerprint),
        })
    }

    /// Multi-user mode: a login with `used` worked; the key is good.
    pub(super) fn key_worked(&self, slot: &Slot, used: Option<Fingerprint>) {
        if let (true, Some(used)) = (self.config.multi_user(), used) {
            slot.good_secret.store(used.short(), Ordering::Relaxed);
            self.stale_keys.succeeded(slot.key.org, used);
        }
    }

    /// Multi-user mode: a login with `used` was refused for good. If this user minted with that
    /// key before, the key may be dead (rotated), not the user unknown.
    pub(super) fn key_refused(&self, slot: &Slot, used: Option<Fingerprint>, error: &Error) {
        let (true, Some(used), Some(user)) =
            (self.config.multi_user(), used, slot.key.user.as_ref())
        else {
            return;
        };
        if rotation::may_be_stale(error) && slot.good_secret.load(Ordering::Relaxed) == used.short()
        {
            let hold = self.config.timings.permanent_backoff;
            self.stale_keys
                .refused(slot.key.org, user, used, error, hold);
        }
    }
}
