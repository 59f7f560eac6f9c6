//! Stage 3 of a flight (see `flight`): one attempt, with its secret read from the source for
//! it and looked at again once after a rejection; and the look into the source while a
//! permanent failure's window lasts (stage 1). So a rotated secret is used at once and never
//! waits for a window the old one opened.

use std::sync::atomic::Ordering;

use tokio::time::Instant;
use tracing::Instrument;

use super::credential::{CacheKey, Credential};
use super::slot::Slot;
use super::{Core, login};
use crate::config::{Secret, Source};
use crate::error::Error;
use crate::secrets::{Fingerprint, SourceError, rotation};
use crate::session::Login;
use crate::store::Generation;
use crate::sync::lock;

/// How long a provided token ThoughtSpot rejected is refused when the provider gives it back.
const REJECTED_TOKEN_REMEMBERED: std::time::Duration = std::time::Duration::from_secs(300);

/// The secret one attempt logs in with, and which one it is.
pub(super) struct AttemptSecret {
    pub(super) secret: Secret,
    pub(super) fingerprint: Fingerprint,
}

impl Core {
    /// Reads the secret for a login for `key` from the configured source; `None` for a static
    /// token, which has none. With a credential store, the store's names follow the secret.
    pub(super) async fn read_secret(&self, key: &CacheKey) -> Result<Option<AttemptSecret>, Error> {
        let Some((kind, source)) = self.config.secret_source() else {
            return Ok(None);
        };
        let value = rotation::read(&**source, key.org).await?;
        let fingerprint = Fingerprint::of(&value);
        if let Some(fleet) = &self.fleet {
            fleet.use_secret(key.org, &value, fingerprint);
        }
        Ok(Some(AttemptSecret {
            secret: Secret::new(kind, value),
            fingerprint,
        }))
    }

    /// After a login with `used` was rejected by `error`: the source's secret, if it changed
    /// since (the key was rotated). One look per rejection, none for a fixed secret.
    pub(super) async fn rotated_secret(
        &self,
        key: &CacheKey,
        used: &AttemptSecret,
        error: &Error,
    ) -> Option<AttemptSecret> {
        if !rotation::may_be_stale(error) {
            return None;
        }
        let (kind, source) = self.config.secret_source()?;
        let value = rotation::changed_since(&**source, key.org, used.fingerprint).await?;
        let fingerprint = Fingerprint::of(&value);
        // What this login publishes goes under the names of the secret that made it.
        if let Some(fleet) = &self.fleet {
            fleet.use_secret(key.org, &value, fingerprint);
        }
        tracing::info!(
            user = key.user.as_deref(),
            org = ?key.org,
            "ThoughtSpot rejected the login, and the secret source now gives another secret: \
             logging in once with it"
        );
        Some(AttemptSecret {
            fingerprint,
            secret: Secret::new(kind, value),
        })
    }

    /// Inside a permanent failure's window: whether the source now gives a secret that has not
    /// failed in the window's streak, which ends the window (looked at once a second at most).
    pub(super) async fn window_outlived(&self, slot: &Slot, account: bool) -> bool {
        let Some((_, source)) = self.config.secret_source() else {
            return false;
        };
        if !source.may_change() {
            return false;
        }
        let failures = if account {
            &self.account_failures
        } else {
            &slot.failures
        };
        if !lock(failures).book_secret_look(Instant::now()) {
            return false;
        }
        let Ok(value) = rotation::read(&**source, slot.key.org).await else {
            return false;
        };
        let ended = lock(failures).forgive_if_changed(Instant::now(), Fingerprint::of(&value));
        if ended {
            tracing::info!(
                user = slot.key.user.as_deref(),
                org = ?slot.key.org,
                "the secret source gives another secret: the backoff window of the old one ends"
            );
        }
        ended
    }

    /// Stage 3: one login, in a span of its own, with the secret just read (a source's failure
    /// is the attempt's, with nothing sent); if ThoughtSpot rejects it and the source now gives
    /// another secret, one more with that. While leading the fleet's login, its lease is renewed
    /// for as long as the attempt takes. Also gives the login's place in the order logins are
    /// sent (see `Core::login_sends`), and which secret it used last.
    pub(super) async fn attempt(
        &self,
        slot: &Slot,
        leading: Option<Generation>,
        secret: Result<Option<AttemptSecret>, Error>,
        deadline: Instant,
    ) -> Result<AttemptResult, Error> {
        let session = self.session()?;
        let span = tracing::info_span!(
            "thoughtspot.login",
            user = slot.key.user.as_deref(),
            org = ?slot.key.org,
            generation = tracing::field::Empty,
            lifetime_secs = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let mut secret = match secret {
            Ok(secret) => secret,
            Err(error) => return Ok((span, 0, Err(error), None)),
        };
        let mut login_sent;
        let mut rotated = false;
        let attempt = loop {
            self.counters.login_attempts.bump();
            // Counted before the request leaves: a rejection that read this counter before the
            // increment was seen before the login was sent.
            login_sent = self.login_sends.fetch_add(1, Ordering::SeqCst) + 1;
            let provisioning = lock(&slot.provisioning).clone();
            let attempt = login::login(
                session,
                &self.config,
                &slot.key,
                secret.as_ref().map(|s| &s.secret),
                provisioning.as_deref(),
                &self.mint_history,
            )
            .instrument(span.clone());
            let attempt = match (&self.fleet, leading) {
                (Some(fleet), Some(holder)) => {
                    fleet
                        .renewing(&self.counters, &slot.key, holder, attempt)
                        .await
                }
                _ => attempt.await,
            };
            let (Err(error), Some(used), false) = (&attempt, &secret, rotated) else {
                break attempt;
            };
            match self.rotated_secret(&slot.key, used, error).await {
                // One more login: one more turn of the budget.
                Some(new) if self.budget_turn(leading, slot, deadline).await => {
                    secret = Some(new);
                    rotated = true;
                }
                _ => break attempt,
            }
        };
        let used = secret.map(|s| s.fingerprint);
        let attempt = attempt.and_then(|login| self.unless_just_rejected(&slot.key, login));
        Ok((span, login_sent, attempt, used))
    }

    /// A turn of the mint budget before `deadline`; while leading the fleet's login, its lease
    /// is renewed while the turn is waited for (a fleet's budget may queue for seconds).
    pub(super) async fn budget_turn(
        &self,
        leading: Option<Generation>,
        slot: &Slot,
        deadline: Instant,
    ) -> bool {
        let cluster = self.config.base.authority().as_str();
        let turn = self.config.budget.turn(cluster, deadline);
        match (&self.fleet, leading) {
            (Some(fleet), Some(holder)) => {
                fleet
                    .renewing(&self.counters, &slot.key, holder, turn)
                    .await
            }
            _ => turn.await,
        }
    }

    /// A provided token ThoughtSpot rejected is remembered (its fingerprint), per org.
    pub(super) fn provided_token_rejected(&self, key: &CacheKey, credential: &Credential) {
        if !matches!(self.config.source, Source::Provider(_)) {
            return;
        }
        if let Some(token) = credential.session.token() {
            let mut rejected = lock(&self.rejected_provided);
            if rejected.len() >= 1_024 {
                rejected.clear();
            }
            rejected.insert(key.org, (Fingerprint::of(token), Instant::now()));
        }
    }

    /// The provider gave back the token ThoughtSpot rejected last (a stale cache of its own):
    /// a transient failure of the source, so that it is asked again after a pause, and the
    /// dead token is never sent again.
    fn unless_just_rejected(&self, key: &CacheKey, login: Login) -> Result<Login, Error> {
        if !matches!(self.config.source, Source::Provider(_)) {
            return Ok(login);
        }
        // Remembered for a while only: a token judged rejected by mistake is not refused for good.
        let rejected = lock(&self.rejected_provided)
            .get(&key.org)
            .filter(|(_, at)| at.elapsed() < REJECTED_TOKEN_REMEMBERED)
            .map(|(fingerprint, _)| *fingerprint);
        match login.credential.token() {
            Some(token) if rejected == Some(Fingerprint::of(token)) => {
                Err(Error::Source(SourceError::transient(
                    "the token provider gave back the token ThoughtSpot just rejected",
                )))
            }
            _ => Ok(login),
        }
    }
}

/// An attempt's span, its place in the order logins were sent, its result, and the secret it
/// used last.
pub(super) type AttemptResult = (
    tracing::Span,
    u64,
    Result<Login, Error>,
    Option<Fingerprint>,
);
