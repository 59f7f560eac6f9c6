//! [`AuthHandle`]: switch org, refresh, invalidate, log out, revoke, and report — from anywhere.

use std::fmt;
use std::sync::Arc;

use crate::authenticator::{AuthStats, Owner, UserStats};
use crate::config::CredentialKind;
use crate::error::Error;
use crate::identity::OrgIdentifier;

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
    ///
    /// An org may be named too ([`OrgIdentifier`]): `switch_org("Sales")` looks the name up
    /// once among the orgs ThoughtSpot lists for the layer's user and uses its id, so that the
    /// name and the id share one cached credential; an unknown name gives
    /// [`Error::UnknownOrg`]. Names need one user (not multi-user mode) and the v2.0 API.
    ///
    /// ```no_run
    /// # async fn run(handle: thoughtspot_auth::AuthHandle) -> Result<(), thoughtspot_auth::Error> {
    /// handle.switch_org(2).await?;
    /// handle.switch_org("Sales").await?;
    /// # Ok(()) }
    /// ```
    pub async fn switch_org(&self, org: impl Into<OrgIdentifier>) -> Result<(), Error> {
        let core = self.owner.core();
        let org_id = core.org_id(&org.into()).await?;
        core.switch_org(org_id).await
    }

    /// The org requests go to, when one is configured.
    pub fn current_org(&self) -> Option<i64> {
        self.owner.core().public_current_org()
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
    ///
    /// A session ThoughtSpot had already ended (expired, or logged out elsewhere) is ended, not
    /// an error: counted in [`AuthStats::already_ended`]. Network failures, 5xx and 403 are
    /// reported (the first of them); every credential is forgotten either way.
    pub async fn logout(&self) -> Result<(), Error> {
        self.owner.core().end_all(false).await
    }

    /// Revokes every cached token and ends every cached cookie session at ThoughtSpot, then
    /// forgets them. Nothing this layer held can be used afterwards.
    ///
    /// A token ThoughtSpot had already ended (expired, or revoked elsewhere: it answers 401) is
    /// ended, not an error: counted in [`AuthStats::already_ended`]. Network failures, 5xx and
    /// 403 are reported (the first of them); every credential is forgotten either way.
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
    /// Tokens ThoughtSpot had already ended count as ended, as for [`revoke`](Self::revoke).
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
