//! What an [`AuthHandle`](crate::AuthHandle) asks of the core: switch org, refresh, forget,
//! log out or revoke, and report.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::credential::{CacheKey, Credential, Phase};
use super::{AuthStats, Core, UserStats};
use crate::api_version::ApiVersion;
use crate::config::{CredentialKind, Source};
use crate::error::{Error, ErrorKind};
use crate::sync::lock;
use crate::telemetry;

impl Core {
    pub(crate) async fn switch_org(self: &Arc<Self>, org: i64) -> Result<(), Error> {
        if matches!(self.config.source, Source::Static(_)) {
            return Err(Error::config(
                "a static token is bound to one org; configure a password or secret key to switch",
            ));
        }
        if self.config.multi_user() {
            // Credentials are made per user, when their requests come.
            self.current_org.store(org, Ordering::Release);
            return Ok(());
        }
        let key = CacheKey::org(Some(org));
        let credential = self.credential(&key).await?;
        self.current_org.store(org, Ordering::Release);
        self.fast.store(Some(credential.clone()));
        self.unmirror_if_retired(&self.slot(&key), &credential);
        tracing::info!(org, "switched ThoughtSpot org");
        Ok(())
    }

    /// Logs in anew for the current org now, replacing a still-valid credential.
    pub(crate) async fn refresh(self: &Arc<Self>) -> Result<(), Error> {
        if self.config.multi_user() {
            return Err(Error::config(
                "multi-user mode has no single credential to refresh; use `invalidate_user`",
            ));
        }
        let key = self.settle_org(self.current_key(), None).await?;
        if let Some(current) = self.slot(&key).credential.load_full() {
            current.refresh_forced.store(true, Ordering::Relaxed);
            current.advance(Phase::Hard);
        }
        self.credential(&key).await.map(drop)
    }

    /// Forgets every cached credential; the next request logs in.
    pub(crate) fn invalidate_all(&self) -> Vec<Arc<Credential>> {
        self.invalidate_where(|_| true)
    }

    /// Forgets the cached credentials whose key matches.
    pub(crate) fn invalidate_where(
        &self,
        matches: impl Fn(&CacheKey) -> bool,
    ) -> Vec<Arc<Credential>> {
        self.fast.rcu(|fast| match fast.as_deref() {
            Some(c) if matches(&c.key) => None,
            _ => fast.clone(),
        });
        let mut dropped = Vec::new();
        for slot in self.slots.all().iter().filter(|s| matches(&s.key)) {
            if let Some(c) = slot.forget() {
                self.counters.invalidations.bump();
                telemetry::count(
                    telemetry::names::INVALIDATIONS,
                    Some(("reason", "forgotten")),
                );
                if self.fleet.is_some() {
                    lock(&slot.fleet).dropped(c.generation);
                }
                dropped.push(c);
            }
        }
        dropped
    }

    /// Ends every cached cookie session and, with `revoke`, revokes every cached token; then
    /// forgets them all.
    pub(crate) async fn end_all(self: &Arc<Self>, revoke: bool) -> Result<(), Error> {
        self.end_where(revoke, |_| true).await
    }

    /// Ends at ThoughtSpot (and forgets) the cached credentials whose key matches.
    pub(crate) async fn end_where(
        self: &Arc<Self>,
        revoke: bool,
        matches: impl Fn(&CacheKey) -> bool,
    ) -> Result<(), Error> {
        let session = self.session()?;
        let mut first_error = None;
        for credential in self.invalidate_where(matches) {
            let result = match (credential.session.is_bearer(), self.config.api) {
                (true, _) if !revoke => Ok(()),
                (true, ApiVersion::Beta) => session.beta().revoke_token(&credential.session).await,
                (true, _) => {
                    session
                        .v2()
                        .token_revoke(&credential.session, &Default::default())
                        .await
                }
                (false, ApiVersion::Beta) => session.beta().logout(&credential.session).await,
                (false, _) => session.v2().session_logout(&credential.session).await,
            };
            match result {
                Ok(()) => {}
                // ThoughtSpot no longer knows it (expired, revoked out of band, logged out):
                // it is as ended as this call would have made it.
                Err(error) if error.kind() == ErrorKind::Unauthorized => {
                    self.counters.already_ended.bump();
                    tracing::debug!(
                        user = credential.key.user.as_deref(),
                        org = ?credential.key.org,
                        generation = credential.generation,
                        "the ThoughtSpot credential had already ended"
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "ending a ThoughtSpot credential failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub(crate) fn stats(&self) -> AuthStats {
        let mut stats = self.counters.snapshot();
        stats.current_org = self.public_current_org();
        stats.cached_credentials = self
            .slots
            .all()
            .iter()
            .filter(|s| s.credential.load().is_some())
            .count();
        stats.mint_budget_waited = self.config.budget.waited();
        stats
    }

    /// What the cache holds and did for one user (multi-user mode), over all its orgs.
    pub(crate) fn user_stats(&self, user: &str) -> UserStats {
        let mut stats = UserStats::default();
        for slot in self.slots.all() {
            if slot.key.user.as_deref() != Some(user) {
                continue;
            }
            stats.logins += slot.logins.load(Ordering::Relaxed);
            stats.failed_logins += slot.failed_logins.load(Ordering::Relaxed);
            if slot.credential.load().is_some() {
                stats.cached_orgs.push(slot.key.org);
            }
        }
        stats.cached_orgs.sort_unstable();
        stats
    }

    /// How many keys (orgs, or users and orgs) the cache holds.
    pub(crate) fn cache_size(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn kind(&self) -> CredentialKind {
        self.config.kind
    }
}
