//! Orgs by name: [`OrgIdentifier`](crate::OrgIdentifier) names resolved to ids once, from the
//! orgs ThoughtSpot lists for the layer's own user (`GET auth/session/user`, which any user may
//! call), and cached, so that a name and its id share one cached credential. An unknown name is
//! remembered for a minute: asking again within it sends nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::credential::CacheKey;
use super::{Core, PENDING_ORG};
use crate::api_version::ApiVersion;
use crate::config::check_org_id;
use crate::error::Error;
use crate::identity::OrgIdentifier;
use crate::sync::lock;

/// How long an unknown name is answered without asking ThoughtSpot again.
const UNKNOWN_FOR: Duration = Duration::from_secs(60);
/// Names kept at most (orgs are few; a flood of unknown names must not grow the map).
const MAX_NAMES: usize = 1_024;

/// What is known of org names.
#[derive(Default)]
pub(crate) struct OrgNames {
    known: std::sync::Mutex<HashMap<String, Known>>,
    /// One lookup at a time: callers that come meanwhile find its answer in `known`.
    lookup: tokio::sync::Mutex<()>,
}

#[derive(Clone, Copy)]
enum Known {
    Id(i64),
    Unknown { until: Instant },
}

impl OrgNames {
    fn get(&self, name: &str, now: Instant) -> Option<Result<i64, ()>> {
        match lock(&self.known).get(name) {
            Some(Known::Id(id)) => Some(Ok(*id)),
            Some(Known::Unknown { until }) if now < *until => Some(Err(())),
            _ => None,
        }
    }
}

impl Core {
    /// `key`, or, for the current org while the configured org name is not looked up yet, the
    /// key of the org it names (looked up now, once; it becomes the current org unless a switch
    /// came first).
    pub(crate) async fn settle_org(self: &Arc<Self>, key: CacheKey) -> Result<CacheKey, Error> {
        let Some(name) = &self.config.org_name else {
            return Ok(key);
        };
        if key.org != Some(PENDING_ORG) || key.user.is_some() {
            return Ok(key);
        }
        let id = self.org_id(&OrgIdentifier::Name(name.clone())).await?;
        let _ = self.current_org.compare_exchange(
            PENDING_ORG,
            id,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
        );
        Ok(self.current_key())
    }

    /// The id of `org`: itself, or the id ThoughtSpot lists for the name (exact match first,
    /// then ignoring case). Single-user modes with the v2.0 API.
    pub(crate) async fn org_id(self: &Arc<Self>, org: &OrgIdentifier) -> Result<i64, Error> {
        let name = match org {
            OrgIdentifier::Id(id) => {
                check_org_id(*id)?;
                return Ok(*id);
            }
            OrgIdentifier::Name(name) => name.as_str(),
        };
        let unknown = || Error::UnknownOrg(name.to_owned());
        if let Some(known) = self.org_names.get(name, Instant::now()) {
            return known.map_err(|()| unknown());
        }
        if self.config.multi_user() || self.config.api == ApiVersion::Beta {
            return Err(Error::config(
                "orgs are named by id in multi-user mode and on the beta API; org names need \
                 the v2.0 API and one user",
            ));
        }
        let _turn = self.org_names.lookup.lock().await;
        if let Some(known) = self.org_names.get(name, Instant::now()) {
            return known.map_err(|()| unknown());
        }
        // Looked up with the current org's credential, or the default org's while the
        // configured name is what is being looked up.
        let lookup = match self.current_org() {
            Some(PENDING_ORG) => CacheKey::org(None),
            _ => self.current_key(),
        };
        let credential = self.credential(&lookup).await?;
        let user = self
            .session()?
            .v2()
            .session_user(&credential.session)
            .await?;
        let listed: Vec<(String, i64)> = user
            .orgs
            .iter()
            .chain(user.current_org.as_ref())
            .filter_map(|o| Some((o.name.clone()?, o.id?)))
            .filter(|(_, id)| check_org_id(*id).is_ok())
            .collect();
        let found = listed
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| listed.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, id)| *id);
        let mut known = lock(&self.org_names.known);
        if known.len() + listed.len() + 1 > MAX_NAMES {
            known.clear();
        }
        for (n, id) in listed {
            known.insert(n, Known::Id(id));
        }
        match found {
            Some(id) => {
                known.insert(name.to_owned(), Known::Id(id));
                Ok(id)
            }
            None => {
                let until = Instant::now() + UNKNOWN_FOR;
                known.insert(name.to_owned(), Known::Unknown { until });
                Err(unknown())
            }
        }
    }
}
