//! [`AuthHandle`]: switch org, refresh, invalidate, log out, revoke, and report — from anywhere.

use std::fmt;
use std::sync::Arc;

use crate::Error;
use crate::authenticator::Owner;
use crate::config::CredentialKind;

/// A cloneable, `Send + Sync` handle on the credentials of one layer (and every service made
/// from it). Get it with `ThoughtSpotAuthLayer::handle`.
///
/// Holding a handle keeps the layer's background work alive; when the last layer, service,
/// handle and response future are gone, everything stops.
#[derive(Clone)]
pub struct AuthHandle {
    owner: Arc<Owner>,
}

impl fmt::Debug for AuthHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthHandle")
            .field("base", &self.owner.core().config.base)
            .field("current_org", &self.current_org())
            .finish_non_exhaustive()
    }
}

impl AuthHandle {
    pub(crate) fn new(owner: Arc<Owner>) -> Self {
        Self { owner }
    }

    /// Makes `org_id` the org of every request that does not say otherwise. The credential for
    /// it is made first (a token minted for the org; a cookie session logged in to it), so an
    /// error such as "not a member of that org" comes back here and the current org is left as
    /// it was. Requests already in flight keep the org they started with. Credentials are cached
    /// per org, so switching back is free while the old one is valid. An org id outside int32
    /// (ThoughtSpot's type for it) is refused with [`Error::Config`] before anything is sent.
    pub async fn switch_org(&self, org_id: i64) -> Result<(), Error> {
        crate::config::check_org_id(org_id)?;
        self.owner.core().switch_org(org_id).await
    }

    /// The org requests go to, when one is configured.
    pub fn current_org(&self) -> Option<i64> {
        self.owner.core().current_org()
    }

    /// Logs in anew for the current org now (one shared login), replacing the credential.
    pub async fn refresh(&self) -> Result<(), Error> {
        self.owner.core().refresh().await
    }

    /// Forgets every cached credential without telling ThoughtSpot; the next request logs in.
    pub fn invalidate(&self) {
        self.owner.core().invalidate_all();
    }

    /// Ends every cached cookie session at ThoughtSpot and forgets every cached credential.
    /// Bearer tokens are forgotten (use [`revoke`](Self::revoke) to kill them at the server).
    pub async fn logout(&self) -> Result<(), Error> {
        self.owner.core().end_all(false).await
    }

    /// Revokes every cached token and ends every cached cookie session at ThoughtSpot, then
    /// forgets them. Nothing this layer held can be used afterwards.
    pub async fn revoke(&self) -> Result<(), Error> {
        self.owner.core().end_all(true).await
    }

    /// What the layer has done so far.
    pub fn stats(&self) -> AuthStats {
        self.owner.core().stats()
    }

    /// What the cache holds and did for one user (multi-user mode), over all its orgs.
    pub fn user_stats(&self, user: &str) -> UserStats {
        self.owner.core().user_stats(user)
    }

    /// Forgets every cached credential of `user` (multi-user mode); their next request mints
    /// a new one. Other users are untouched.
    pub fn invalidate_user(&self, user: &str) {
        self.owner
            .core()
            .invalidate_where(|key| key.user.as_deref() == Some(user));
    }

    /// Revokes every cached token of `user` at ThoughtSpot (multi-user mode) and forgets them.
    pub async fn revoke_user(&self, user: &str) -> Result<(), Error> {
        self.owner
            .core()
            .end_where(true, |key| key.user.as_deref() == Some(user))
            .await
    }

    /// How many credentials (orgs, or users and orgs) the cache holds now.
    pub fn cache_size(&self) -> usize {
        self.owner.core().cache_size()
    }

    /// Whether the layer presents bearer tokens or cookie sessions.
    pub fn credential_kind(&self) -> CredentialKind {
        self.owner.core().kind()
    }
}

/// What a layer has done: a snapshot from [`AuthHandle::stats`].
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
    /// store): each request, org switch or refresh that got an [`Error::RefusedByBackoff`] counts
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
    /// Failed login attempts, by reason.
    pub failures: FailureCounts,
    /// The current org.
    pub current_org: Option<i64>,
    /// Credentials in the cache now.
    pub cached_credentials: usize,
}

/// What the cache holds and did for one user: from [`AuthHandle::user_stats`].
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
    }
}
