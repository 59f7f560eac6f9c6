//! One fresh token per call: who may mint now, the shared mint of concurrent calls, and what a
//! failure means for the next call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::limits::{Backoff, Failure};
use super::{EmbedStats, EmbedUser};
use crate::budget::MintBudget;
use crate::budget::rate::{Gcra, MintRate};
use crate::error::Error;
use crate::error::ErrorKind;
use crate::identity::{AttributeKey, MintHistory};
use crate::org_names::OrgNames;
use crate::secrets::stale_keys::StaleKeys;
use crate::secrets::{Fingerprint, SecretSource, rotation};
use crate::session::{CustomTokenRequest, RevokeTokenRequest, SharedSession, TokenRequest};
use crate::sync::{Counter, Pending, lock, shared_answer, spawn};
use crate::telemetry;

/// What one mint is for: calls with equal keys that overlap share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MintKey {
    user: Arc<str>,
    org: Option<i64>,
    attributes: Option<AttributeKey>,
    validity: Option<Duration>,
}

/// A minted token, as the endpoint hands it out.
#[derive(Clone)]
pub(crate) struct Minted {
    pub(crate) token: SecretString,
    /// On this server's wall clock.
    pub(crate) expiration_time_in_millis: Option<i64>,
}

/// Why no token: what the endpoint answers instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// ThoughtSpot refused this user (bad key, unknown or locked user, invalid request): 403.
    ThoughtSpot(&'static str),
    /// ThoughtSpot is unavailable or rate-limiting, or the mint queue is full: 503.
    Unavailable(Duration),
    /// This user asked too often: 429.
    TooMany(Duration),
}

type Outcome = Result<Minted, Refusal>;

enum MintError {
    /// The global rate's queue is longer than the longest wait allowed.
    QueueFull(Duration),
    Api(Error),
}

#[derive(Default)]
struct UserState {
    rate: Gcra,
    failure: Option<Failure>,
    /// The org and the key (`Fingerprint::short`) this user's last mint succeeded with.
    good_secret: Option<(Option<i64>, u64)>,
}

#[derive(Default)]
struct Table {
    users: HashMap<Arc<str>, UserState>,
    flights: HashMap<MintKey, Pending<Outcome>>,
}

/// Above this many remembered users, idle ones are forgotten.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) mints: Counter,
    pub(crate) joined: Counter,
    pub(crate) tokens: Counter,
    pub(crate) unauthenticated: Counter,
    pub(crate) refused: Counter,
    pub(crate) thoughtspot_refused: Counter,
    pub(crate) unavailable: Counter,
    pub(crate) rate_limited: Counter,
    pub(crate) suppressed: Counter,
    pub(crate) foreign_origin: Counter,
    pub(crate) misconfigured: Counter,
}

pub(crate) struct Minter {
    pub(crate) session: SharedSession,
    pub(crate) secret_key: Arc<dyn SecretSource>,
    pub(crate) per_user: Option<MintRate>,
    pub(crate) global: Option<MintBudget>,
    pub(crate) max_queue_wait: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) counters: Counters,
    table: Mutex<Table>,
    /// Which persisted rule sets were minted before, so that a refresh replaces them.
    history: MintHistory,
    /// Org names resolved to ids.
    pub(crate) org_names: OrgNames,
    /// Keys refused for users they minted for before.
    stale_keys: StaleKeys,
}

impl Minter {
    pub(crate) fn new(
        session: SharedSession,
        secret_key: Arc<dyn SecretSource>,
        per_user: Option<MintRate>,
        global: Option<MintBudget>,
        max_queue_wait: Duration,
        backoff: Backoff,
    ) -> Self {
        Self {
            session,
            secret_key,
            per_user,
            global,
            max_queue_wait,
            backoff,
            counters: Counters::default(),
            table: Mutex::new(Table::default()),
            history: MintHistory::default(),
            org_names: OrgNames::default(),
            stale_keys: StaleKeys::default(),
        }
    }

    /// A token for `who`: joins a mint in flight for the same key, else starts one (if this user
    /// may mint now). A mint that has answered anyone is never joined: its entry is removed
    /// before its outcome is sent.
    pub(crate) async fn token_for(self: &Arc<Self>, who: EmbedUser) -> Outcome {
        let who = self.settle_org(who).await?;
        self.token(who, true).await
    }

    /// [`token_for`](Self::token_for) with the org settled; `per_user_rate`: whether the call
    /// counts against the user's rate (not the lookup of an org name, which the user's own
    /// call already counts).
    pub(crate) async fn token(self: &Arc<Self>, who: EmbedUser, per_user_rate: bool) -> Outcome {
        let key = MintKey {
            user: who.act_as.user.clone(),
            org: who.act_as.org,
            attributes: who.act_as.attributes.clone(),
            validity: who.validity,
        };
        let mut pending = {
            let now = Instant::now();
            let mut table = lock(&self.table);
            if let Some(flight) = table.flights.get(&key) {
                self.counters.joined.bump();
                flight.clone()
            } else {
                let user = table.users.entry(key.user.clone()).or_default();
                if let Some(failure) = user.failure.filter(|f| now < f.until) {
                    self.counters.suppressed.bump();
                    return Err(if failure.permanent {
                        Refusal::ThoughtSpot("ThoughtSpot refused this user recently")
                    } else {
                        Refusal::Unavailable(failure.until - now)
                    });
                }
                if let Some(rate) = self.per_user.filter(|_| per_user_rate) {
                    if let Err(retry) = user.rate.reserve(rate, now, Duration::ZERO) {
                        return Err(Refusal::TooMany(retry));
                    }
                }
                // A persisted set minted before is sent as REPLACE, never appended again.
                let refresh = key
                    .attributes
                    .as_ref()
                    .is_some_and(|a| self.history.minted_before(a, &key.user, key.org));
                let (answer, pending) = shared_answer();
                table.flights.insert(key.clone(), pending.clone());
                if table.users.len() > PRUNE_ABOVE {
                    table.users.retain(|_, u| {
                        !u.rate.idle(now) || u.failure.is_some_and(|f| now < f.until)
                    });
                }
                // Its own task: a caller that goes away never cancels a mint others wait for.
                let minter = self.clone();
                let task_key = key.clone();
                let started = spawn(async move {
                    let outcome = minter.mint(&who, refresh).await;
                    answer.give(minter.finish(&task_key, outcome, per_user_rate));
                });
                if started.is_none() {
                    // No runtime to mint on: the dropped answer tells whoever joined.
                    table.flights.remove(&key);
                }
                drop(table);
                pending
            }
        };
        pending
            .wait()
            .await
            .unwrap_or(Err(Refusal::Unavailable(Duration::from_secs(1))))
    }

    /// Removes the flight (before anyone is answered) and records what its outcome means for
    /// the user's next call; `charged`: the user's rate was charged for it.
    fn finish(&self, key: &MintKey, outcome: Result<Minted, MintError>, charged: bool) -> Outcome {
        let now = Instant::now();
        let mut table = lock(&self.table);
        table.flights.remove(key);
        let user = table.users.entry(key.user.clone()).or_default();
        match outcome {
            Ok(minted) => {
                user.failure = None;
                if let Some(a) = &key.attributes {
                    self.history.record(a, &key.user, key.org);
                }
                Ok(minted)
            }
            // Nothing was sent: the user's allowance is not spent on the endpoint's own queue.
            Err(MintError::QueueFull(retry)) => {
                if let Some(rate) = self.per_user.filter(|_| charged) {
                    user.rate.release(rate);
                }
                Err(Refusal::Unavailable(retry))
            }
            Err(MintError::Api(error)) => {
                let failure =
                    self.backoff
                        .next(user.failure, error.is_permanent(), error.retry_after(), now);
                user.failure = Some(failure);
                Err(refusal_of(&error, failure.until - now))
            }
        }
    }

    /// Waits for a slot of the global rate, then mints.
    async fn mint(&self, who: &EmbedUser, refresh: bool) -> Result<Minted, MintError> {
        if let Some(budget) = &self.global {
            let cluster = self.session.base_url().authority().as_str();
            let slot = budget.reserve(cluster, self.max_queue_wait).await;
            match slot {
                Ok(wait) if wait.is_zero() => {}
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(retry) => return Err(MintError::QueueFull(retry.max(Duration::from_secs(1)))),
            }
        }
        self.counters.mints.bump();
        telemetry::count(telemetry::names::EMBED_MINTS, None);
        let sent_wall = SystemTime::now();
        let login = self.call(who, refresh).await.map_err(MintError::Api)?;
        let token = login.credential.token().cloned().ok_or_else(|| {
            MintError::Api(Error::malformed(
                http::StatusCode::OK,
                "the mint gave no bearer token",
            ))
        })?;
        let expiration_time_in_millis = login.lifetime.and_then(|l| {
            let at = sent_wall.checked_add(l)?.duration_since(UNIX_EPOCH).ok()?;
            i64::try_from(at.as_millis()).ok()
        });
        Ok(Minted {
            token,
            expiration_time_in_millis,
        })
    }

    /// Mints with the secret key read for the identity's org; if ThoughtSpot rejects it and the
    /// source now gives another key (a rotation), once more with that.
    ///
    /// A key held as rotated (see `secrets::stale_keys`) is not sent at all; what a mint says
    /// of its key is recorded for that.
    async fn call(&self, who: &EmbedUser, refresh: bool) -> Result<crate::session::Login, Error> {
        let org = who.act_as.org;
        let key = rotation::read(&*self.secret_key, org).await?;
        let mut used = Fingerprint::of(&key);
        if let Some(error) = self.stale_keys.held(org, used) {
            return Err(error);
        }
        let outcome = match self.call_with(who, refresh, &key).await {
            Err(error) if rotation::may_be_stale(&error) => {
                drop(key);
                match rotation::changed_since(&*self.secret_key, org, used).await {
                    Some(new) => {
                        tracing::info!(
                            "ThoughtSpot rejected the mint, and the secret source now gives \
                             another key: minting once with it"
                        );
                        used = Fingerprint::of(&new);
                        self.call_with(who, refresh, &new).await
                    }
                    None => Err(error),
                }
            }
            other => other,
        };
        self.judge_key(who, used, outcome.as_ref().err());
        outcome
    }

    /// What a mint with the key `used` says of it: good, or, refused for a user it minted for
    /// before, perhaps rotated.
    fn judge_key(&self, who: &EmbedUser, used: Fingerprint, refused: Option<&Error>) {
        let org = who.act_as.org;
        let user = &who.act_as.user;
        let mut table = lock(&self.table);
        let state = table.users.entry(user.clone()).or_default();
        match refused {
            None => {
                state.good_secret = Some((org, used.short()));
                drop(table);
                self.stale_keys.succeeded(org, used);
            }
            Some(error)
                if rotation::may_be_stale(error)
                    && state.good_secret == Some((org, used.short())) =>
            {
                drop(table);
                let hold = self.backoff.permanent;
                self.stale_keys.refused(org, user, used, error, hold);
            }
            Some(_) => {}
        }
    }

    /// `token/custom` when the identity carries access rules, else `token/full`.
    async fn call_with(
        &self,
        who: &EmbedUser,
        refresh: bool,
        key: &SecretString,
    ) -> Result<crate::session::Login, Error> {
        let act_as = &who.act_as;
        let key = key.expose_secret();
        let validity = who.validity.map(|d| d.as_secs().max(1));
        let provisioning = act_as.provisioning.as_deref();
        match &act_as.attributes {
            Some(attributes) => {
                let mut request =
                    CustomTokenRequest::secret_key(&*act_as.user, key, Default::default());
                attributes.set.apply(&mut request, refresh);
                request.validity_time_in_sec = validity;
                request.org_identifier = act_as.org.map(|o| o.to_string());
                if let Some(p) = provisioning {
                    p.apply_to_custom(&mut request);
                }
                Ok(self.session.v2().token_custom(&request).await?.login)
            }
            None => {
                let mut request = TokenRequest::secret_key(&*act_as.user, key);
                request.validity_time_in_sec = validity;
                request.org_id = act_as.org;
                if let Some(p) = provisioning {
                    p.apply_to_token(&mut request);
                }
                self.session.v2().token_full(&request).await
            }
        }
    }

    /// Revokes every token of `user` (the app's logout) and forgets the user's backoff.
    pub(crate) async fn revoke_user(&self, user: &str) -> Result<(), Error> {
        if let Some(state) = lock(&self.table).users.get_mut(user) {
            state.failure = None;
        }
        // Revoking needs a credential: a short-lived token of the user, which is revoked too.
        let key = rotation::read(&*self.secret_key, None).await?;
        let request = TokenRequest::secret_key(user, key.expose_secret()).validity_secs(60);
        drop(key);
        let login = self.session.v2().token_full(&request).await?;
        let revoke = RevokeTokenRequest {
            user_identifier: Some(user.to_owned()),
            token: None,
        };
        // Revoking by user ends every token of the user, live or not: tokens that had already
        // ended are no error. (A 401 here would be about the token just minted, so it is one.)
        self.session
            .v2()
            .token_revoke(&login.credential, &revoke)
            .await
    }

    pub(crate) fn stats(&self) -> EmbedStats {
        let c = &self.counters;
        let get = Counter::get;
        EmbedStats {
            tokens: get(&c.tokens),
            mints: get(&c.mints),
            joined: get(&c.joined),
            unauthenticated: get(&c.unauthenticated),
            refused: get(&c.refused),
            thoughtspot_refused: get(&c.thoughtspot_refused),
            unavailable: get(&c.unavailable),
            rate_limited: get(&c.rate_limited),
            suppressed: get(&c.suppressed),
            foreign_origin: get(&c.foreign_origin),
            misconfigured: get(&c.misconfigured),
        }
    }
}

/// A failed mint as what the endpoint answers; `retry` is when this user may mint again.
fn refusal_of(error: &Error, retry: Duration) -> Refusal {
    match error.kind() {
        // The endpoint's own secret source failing is no fault of the user's.
        ErrorKind::RateLimited
        | ErrorKind::Unavailable
        | ErrorKind::Transport
        | ErrorKind::Source => Refusal::Unavailable(retry),
        ErrorKind::Unauthorized => {
            Refusal::ThoughtSpot("ThoughtSpot rejected the trusted-authentication request")
        }
        ErrorKind::Forbidden => {
            Refusal::ThoughtSpot("ThoughtSpot refused this user (locked, inactive or not allowed)")
        }
        ErrorKind::BadRequest => Refusal::ThoughtSpot("ThoughtSpot refused the token request"),
        _ => Refusal::ThoughtSpot("ThoughtSpot's answer could not be used"),
    }
}
