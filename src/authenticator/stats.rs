//! Counters of what the authenticator did, and the [`AuthStats`] a handle reads from them.

use crate::error::ErrorKind;
use crate::sync::Counter;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) login_attempts: Counter,
    pub(crate) logins: Counter,
    pub(crate) refreshes: Counter,
    pub(crate) invalidations: Counter,
    pub(crate) replays: Counter,
    pub(crate) rejected_responses: Counter,
    pub(crate) credential_checks: Counter,
    pub(crate) refused_by_backoff: Counter,
    pub(crate) store_adoptions: Counter,
    pub(crate) store_publications: Counter,
    pub(crate) store_errors: Counter,
    pub(crate) store_outages: Counter,
    pub(crate) already_ended: Counter,
    failures: [Counter; 10],
}

fn slot(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Unauthorized => 0,
        ErrorKind::Forbidden => 1,
        ErrorKind::RateLimited => 2,
        ErrorKind::Unavailable => 3,
        ErrorKind::BadRequest => 4,
        ErrorKind::MalformedResponse => 5,
        ErrorKind::Transport => 6,
        ErrorKind::Config => 7,
        ErrorKind::Source => 9,
        _ => 8,
    }
}

impl Counters {
    pub(crate) fn failure(&self, kind: ErrorKind) {
        self.failures[slot(kind)].bump();
    }

    pub(crate) fn snapshot(&self) -> AuthStats {
        let get = Counter::get;
        let f = |i: usize| get(&self.failures[i]);
        AuthStats {
            login_attempts: get(&self.login_attempts),
            logins: get(&self.logins),
            refreshes: get(&self.refreshes),
            invalidations: get(&self.invalidations),
            replays: get(&self.replays),
            rejected_responses: get(&self.rejected_responses),
            credential_checks: get(&self.credential_checks),
            refused_by_backoff: get(&self.refused_by_backoff),
            store_adoptions: get(&self.store_adoptions),
            store_publications: get(&self.store_publications),
            store_errors: get(&self.store_errors),
            store_outages: get(&self.store_outages),
            already_ended: get(&self.already_ended),
            failures: FailureCounts {
                unauthorized: f(0),
                forbidden: f(1),
                rate_limited: f(2),
                unavailable: f(3),
                bad_request: f(4),
                malformed_response: f(5),
                transport: f(6),
                config: f(7) + f(8),
                source: f(9),
            },
            current_org: None,
            cached_credentials: 0,
            mint_budget_waited: std::time::Duration::ZERO,
        }
    }
}

/// What a layer has done: a snapshot from [`AuthHandle::stats`](crate::AuthHandle::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthStats {
    /// Login calls made (each mode's whole exchange counts once).
    pub login_attempts: u64,
    /// Logins that produced a credential.
    pub logins: u64,
    /// Of those, logins that replaced an earlier credential (expiry, rejection, refresh).
    pub refreshes: u64,
    /// Credentials forgotten: rejected by ThoughtSpot, or dropped by the handle.
    pub invalidations: u64,
    /// Requests sent a second time with a new credential.
    pub replays: u64,
    /// Responses that rejected the credential they carried.
    pub rejected_responses: u64,
    /// Liveness checks after the beta API's ambiguous 500s.
    pub credential_checks: u64,
    /// Callers refused without a login attempt because a permanent failure's backoff window
    /// lasted (this replica's, or one another replica of the fleet shared through the credential
    /// store): each request, org switch or refresh that got an [`Error::RefusedByBackoff`](crate::Error::RefusedByBackoff) counts
    /// once, however many of them shared one refused login. Background refreshes nobody waited
    /// for are not counted.
    pub refused_by_backoff: u64,
    /// Credentials adopted from the credential store: logins another replica made (or this one
    /// made earlier), which this one did not have to make.
    pub store_adoptions: u64,
    /// Credentials this replica logged in with and published to the credential store.
    pub store_publications: u64,
    /// Credential store calls that failed or took longer than the store time-out; each made
    /// this replica go on alone (local logins) for a while.
    pub store_errors: u64,
    /// Times the credential store became unavailable (one warning each); the replica rejoins
    /// the store when it answers again.
    pub store_outages: u64,
    /// Credentials that a logout or revocation found already ended at ThoughtSpot (expired,
    /// revoked elsewhere, logged out): forgotten all the same, and not an error.
    pub already_ended: u64,
    /// Failed login attempts, by reason.
    pub failures: FailureCounts,
    /// The current org.
    pub current_org: Option<i64>,
    /// Credentials in the cache now.
    pub cached_credentials: usize,
    /// How long logins and mints have waited for a turn of the mint budget, all together (of
    /// everything that draws on the same [`MintBudget`](crate::MintBudget)).
    pub mint_budget_waited: std::time::Duration,
}

/// What the cache holds and did for one user: from [`AuthHandle::user_stats`](crate::AuthHandle::user_stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserStats {
    /// Tokens minted for the user (all orgs).
    pub logins: u64,
    /// Failed attempts to mint one.
    pub failed_logins: u64,
    /// The orgs the user has a cached credential for.
    pub cached_orgs: Vec<Option<i64>>,
}

/// Failed login attempts by [`ErrorKind`](crate::ErrorKind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailureCounts {
    /// Bad credentials.
    pub unauthorized: u64,
    /// Locked or inactive account, trusted auth off, not in the org.
    pub forbidden: u64,
    /// 429.
    pub rate_limited: u64,
    /// 5xx, maintenance.
    pub unavailable: u64,
    /// Other 4xx.
    pub bad_request: u64,
    /// Unusable answers.
    pub malformed_response: u64,
    /// Network failures and time-outs.
    pub transport: u64,
    /// Configuration problems.
    pub config: u64,
    /// A secret source or token provider that failed (nothing was sent).
    pub source: u64,
}

impl FailureCounts {
    /// All failures together.
    pub fn total(&self) -> u64 {
        self.unauthorized
            + self.forbidden
            + self.rate_limited
            + self.unavailable
            + self.bad_request
            + self.malformed_response
            + self.transport
            + self.config
            + self.source
    }
}
