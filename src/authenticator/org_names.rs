//! Orgs by name in the core: a request (or the configured org) naming an org that is not looked
//! up yet gets a pending key, which no credential has, so that it leaves the hot path; here,
//! on the slow path, the name is resolved once ([`OrgNames`](crate::org_names::OrgNames)) with
//! a credential of whoever the request acts as, and the key becomes the named org's.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::Extensions;

use super::credential::CacheKey;
use super::{Core, PENDING_ORG};
use crate::api_version::ApiVersion;
use crate::config::check_org_id;
use crate::error::Error;
use crate::identity::{ActAs, OrgIdentifier, OrgOverride};

impl Core {
    /// The org a name or id stands for as far as it is known without waiting: an id, the
    /// pending org for a name not looked up yet, or the typed error for a name known to be
    /// unknown to `user` (the acting user; `None` for the layer's own).
    pub(crate) fn org_now(
        &self,
        org: &OrgIdentifier,
        user: Option<&Arc<str>>,
    ) -> Result<i64, Error> {
        match org {
            OrgIdentifier::Id(id) => Ok(*id),
            OrgIdentifier::Name(name) => self.named_org_now(name, user),
        }
    }

    /// [`org_now`](Self::org_now) for a name.
    pub(crate) fn named_org_now(&self, name: &str, user: Option<&Arc<str>>) -> Result<i64, Error> {
        Ok(self.org_names.cached(name, user)?.unwrap_or(PENDING_ORG))
    }

    /// `key`, or, if its org is pending, the key of the org its request names (an
    /// [`OrgOverride`] or [`ActAs::org`] by name) or the configured org name, looked up now,
    /// once. The configured name becomes the current org unless a switch came first.
    pub(crate) async fn settle_org(
        self: &Arc<Self>,
        mut key: CacheKey,
        extensions: Option<&Extensions>,
    ) -> Result<CacheKey, Error> {
        if key.org != Some(PENDING_ORG) {
            return Ok(key);
        }
        // Who the request acts as counts in multi-user mode only (elsewhere an `ActAs` is
        // ignored, as for the key).
        let act_as = extensions
            .and_then(|e| e.get::<ActAs>())
            .filter(|_| self.config.multi_user());
        let named = act_as.and_then(|a| a.org_name.as_deref()).or_else(|| {
            match extensions?.get::<OrgOverride>()?.org() {
                OrgIdentifier::Name(name) => Some(name.as_str()),
                OrgIdentifier::Id(_) => None,
            }
        });
        let (name, configured) = match (named, &self.config.org_name) {
            (Some(name), _) => (name, false),
            (None, Some(name)) => (name.as_str(), true),
            (None, None) => return Err(check_org_id(PENDING_ORG).unwrap_err()),
        };
        let id = self.resolve_org(name, act_as).await?;
        if configured {
            let _ = self.current_org.compare_exchange(
                PENDING_ORG,
                id,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        key.org = Some(id);
        Ok(key)
    }

    /// The id of `org`: itself, or the id ThoughtSpot lists for the name (exact match first,
    /// then ignoring case), asked with the layer's own credential. For
    /// [`AuthHandle::switch_org`](crate::AuthHandle::switch_org).
    pub(crate) async fn org_id(self: &Arc<Self>, org: &OrgIdentifier) -> Result<i64, Error> {
        match org {
            OrgIdentifier::Id(id) => {
                check_org_id(*id)?;
                Ok(*id)
            }
            OrgIdentifier::Name(name) => match self.org_names.cached(name, None)? {
                Some(id) => Ok(id),
                None if self.config.multi_user() => Err(Error::config(
                    "in multi-user mode an org name is looked up with the acting user's token: \
                     name it per request (`ActAs::org`) or switch by id",
                )),
                None => self.resolve_org(name, None).await,
            },
        }
    }

    /// Looks `name` up with a credential in the default org: the layer's own (its current org's
    /// once that is settled), or in multi-user mode the acting user's. v2.0 only.
    async fn resolve_org(
        self: &Arc<Self>,
        name: &str,
        act_as: Option<&ActAs>,
    ) -> Result<i64, Error> {
        if self.config.api == ApiVersion::Beta {
            return Err(Error::config(
                "the beta API takes org ids only: name the org by id, or use the v2.0 API",
            ));
        }
        let lookup = match (self.config.multi_user(), act_as) {
            (true, Some(act_as)) => CacheKey {
                user: Some(act_as.user.clone()),
                org: None,
                attributes: None,
            },
            (true, None) => {
                return Err(Error::config(
                    "multi-user trusted authentication: the request names no user (insert an \
                     `ActAs` into its extensions); nothing was sent",
                ));
            }
            (false, _) => match self.current_org() {
                Some(PENDING_ORG) => CacheKey::org(None),
                _ => self.current_key(),
            },
        };
        let user = act_as.map(|a| &a.user).filter(|_| self.config.multi_user());
        self.org_names
            .resolve(name, user, || async {
                let credential = self.credential(&lookup).await?;
                self.session()?.v2().session_user(&credential.session).await
            })
            .await
    }
}
