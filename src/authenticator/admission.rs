//! The front half both doors share: a request is admitted (is it for ThoughtSpot, whose
//! credential, attach it now or wait for a login, a user to create just in time), and its
//! response judged (fine, rejected, or read the body to know). The doors only adapt their
//! request types ([`Outgoing`]), as they do for the rejection policy's [`Door`](super::Door).

use std::sync::Arc;

use http::{Extensions, HeaderMap, StatusCode};

use super::Core;
use super::credential::CacheKey;
use super::rejection::Verdict;
use crate::api_version::ApiVersion;
use crate::base_url::BaseUrl;
use crate::error::Error;
use crate::identity::{ActAs, OrgOverride};
use crate::sync::lock;

/// A request as a front door has it, before it is sent.
pub(crate) trait Outgoing {
    /// Whether it goes to the cluster at `base` (scheme, host and port).
    fn is_for(&self, base: &BaseUrl) -> bool;

    /// Its scheme, host and port, for the log when it is not for ThoughtSpot.
    fn origin(&self) -> (Option<&str>, &str, Option<u16>);

    /// Where [`OrgOverride`] and [`ActAs`] are found.
    fn extensions(&self) -> &Extensions;

    /// Where the credential goes.
    fn headers_mut(&mut self) -> &mut HeaderMap;
}

impl Core {
    /// Admits a request: `None` for anything not for ThoughtSpot (sent untouched, without a
    /// credential), else the key of the credential it needs.
    ///
    /// Then a door attaches that credential with [`attach`](Self::attach) if one is usable
    /// without waiting (the hot path), else waits for it with
    /// [`attach_after_login`](Self::attach_after_login). The tower door keeps the request for a
    /// replay in between, so that its copy never holds the credential.
    // Always: left to the compiler, the tower door's hot path took 8 more instructions a request.
    #[inline(always)]
    pub(crate) fn admit<R: Outgoing>(&self, request: &R) -> Result<Option<CacheKey>, Error> {
        if !request.is_for(&self.config.base) {
            self.passed_through(request);
            return Ok(None);
        }
        self.key_for(request.extensions()).map(Some)
    }

    /// Waits for the credential of `key` (the one shared login), asking for the request's user
    /// to be created just in time if it says so, and attaches it; returns its generation. A
    /// key of the configured org while its name is not looked up yet becomes the named org's.
    pub(crate) async fn attach_after_login<R: Outgoing>(
        self: &Arc<Self>,
        key: &mut CacheKey,
        request: &mut R,
    ) -> Result<u64, Error> {
        *key = self
            .settle_org(key.clone(), Some(request.extensions()))
            .await?;
        let key = &*key;
        self.provision(key, request.extensions());
        let credential = self.credential(key).await?;
        let (name, value) = credential.session.header();
        request.headers_mut().insert(name, value);
        Ok(credential.generation)
    }

    /// What a response's status says about the credential it carried.
    #[inline]
    pub(crate) fn judge(&self, status: StatusCode) -> Verdict {
        match (self.config.api, status) {
            (_, StatusCode::UNAUTHORIZED) => Verdict::Rejected,
            (ApiVersion::Beta, StatusCode::INTERNAL_SERVER_ERROR) => Verdict::ReadBody,
            _ => Verdict::Fine,
        }
    }

    /// Not ThoughtSpot: a credential never leaves for another origin. Out of the hot path's way.
    #[cold]
    #[inline(never)]
    fn passed_through<R: Outgoing>(&self, request: &R) {
        let (scheme, host, port) = request.origin();
        crate::origin_alias::passed_through(&self.config.base, scheme, host, port);
    }

    /// The key a request's credential comes from: in multi-user mode its [`ActAs`] (required),
    /// and its org from the `ActAs`, an [`OrgOverride`] or the current org.
    #[inline]
    pub(crate) fn key_for(&self, extensions: &Extensions) -> Result<CacheKey, Error> {
        // Most requests carry no extensions: their key is the current org's, found without
        // looking anything up (the rest is out of line, so that this inlines into the hot path).
        if extensions.is_empty() && !self.config.multi_user() {
            return Ok(CacheKey::org(self.current_org()));
        }
        self.key_from_extensions(extensions)
    }

    #[inline(never)]
    fn key_from_extensions(&self, extensions: &Extensions) -> Result<CacheKey, Error> {
        // An org named by a name not looked up yet is pending: no credential has that key, so
        // the request goes the slow way, where `settle_org` looks the name up.
        let org = |user| match extensions.get::<OrgOverride>() {
            Some(org) => self.org_now(org.org(), user).map(Some),
            None => Ok(self.current_org()),
        };
        if !self.config.multi_user() {
            return Ok(CacheKey::org(org(None)?));
        }
        match extensions.get::<ActAs>() {
            Some(act_as) => {
                let user = Some(&act_as.user);
                let org = match (act_as.org, &act_as.org_name) {
                    (Some(id), _) => Some(id),
                    (None, Some(name)) => Some(self.named_org_now(name, user)?),
                    (None, None) => org(user)?,
                };
                CacheKey::act_as(act_as, org, self.config.kind)
            }
            None => Err(Error::config(
                "multi-user trusted authentication: the request names no user (insert an \
                 `ActAs` into its extensions); nothing was sent",
            )),
        }
    }

    /// Remembers a request's wish to create its user just in time.
    fn provision(&self, key: &CacheKey, extensions: &Extensions) {
        if let Some(provisioning) = extensions
            .get::<ActAs>()
            .and_then(|a| a.provisioning.clone())
        {
            lock(&self.slot(key).provisioning).get_or_insert(provisioning);
        }
    }
}
