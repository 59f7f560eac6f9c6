//! Org names resolved to ids once and cached, for every place that needs the integer
//! (`token/full`'s `org_id`, the cache keys): a name and its id then share one credential. The
//! list comes from `GET auth/session/user` (any user may call it; it lists the user's orgs with
//! their names), asked by whoever resolves: the layer with its own credential, multi-user mode
//! and the embed endpoint with the acting user's. An unknown name is remembered for a minute:
//! asking again within it sends nothing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use crate::config::check_org_id;
use crate::error::Error;
use crate::session::SessionUser;
use crate::sync::lock;

/// How long an unknown name is answered without asking ThoughtSpot again.
const UNKNOWN_FOR: Duration = Duration::from_secs(60);
/// Names kept at most (orgs are few; a flood of unknown names must not grow the map).
const MAX_NAMES: usize = 1_024;

/// A user (`None`: the layer's own) and an org name.
type UserAndName = (Option<Arc<str>>, String);

/// What is known of org names: the ids, for everyone (a name is one org for every user), and
/// the names a user's orgs do not include, for that user only (another user may belong to it).
#[derive(Default)]
pub(crate) struct OrgNames {
    /// Read on a request's way in (a request naming its org), so read without a lock; written
    /// only when a lookup answers, or a name is first seen in another case.
    known: ArcSwap<HashMap<String, i64>>,
    /// (user, name) → until when the name is answered as unknown; the user is `None` for the
    /// layer's own.
    unknown: Mutex<HashMap<UserAndName, Instant>>,
    /// One lookup at a time: callers that come meanwhile find its answer in `known`.
    lookup: tokio::sync::Mutex<()>,
}

impl OrgNames {
    /// The id of `name` if it is known now, the typed error if it is known to be unknown to
    /// `user`, or `None` if it must be looked up. Never waits: callable on a request's way in.
    pub(crate) fn cached(&self, name: &str, user: Option<&Arc<str>>) -> Result<Option<i64>, Error> {
        if let Some(id) = self.known_id(name) {
            return Ok(Some(id));
        }
        let unknown = lock(&self.unknown);
        match unknown.get(&(user.cloned(), name.to_owned())) {
            Some(until) if Instant::now() < *until => Err(Error::UnknownOrg(name.to_owned())),
            _ => Ok(None),
        }
    }

    fn known_id(&self, name: &str) -> Option<i64> {
        let known = self.known.load();
        if let Some(id) = known.get(name) {
            return Some(*id);
        }
        // As a lookup would find it: ignoring case when nothing matches exactly (remembered,
        // so that the next time is one map access).
        let id = known
            .iter()
            .find_map(|(n, id)| n.eq_ignore_ascii_case(name).then_some(*id))?;
        if known.len() < MAX_NAMES {
            self.remember(|known| {
                known.insert(name.to_owned(), id);
            });
        }
        Some(id)
    }

    /// Changes the known ids (a copy of a small map, on the slow path).
    fn remember(&self, change: impl Fn(&mut HashMap<String, i64>)) {
        self.known.rcu(|known| {
            let mut known = HashMap::clone(known);
            change(&mut known);
            known
        });
    }

    /// The id of `name`: cached, else from the orgs `list` gives for `user` (exact match first,
    /// then ignoring case). One lookup at a time; every org listed is remembered for everyone,
    /// a name not listed for this user only.
    pub(crate) async fn resolve<F, Fut>(
        &self,
        name: &str,
        user: Option<&Arc<str>>,
        list: F,
    ) -> Result<i64, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SessionUser, Error>>,
    {
        if name.trim().is_empty() {
            return Err(Error::config("the org name is empty"));
        }
        if let Some(id) = self.cached(name, user)? {
            return Ok(id);
        }
        let _turn = self.lookup.lock().await;
        if let Some(id) = self.cached(name, user)? {
            return Ok(id);
        }
        let listed = list().await?;
        let listed: Vec<(String, i64)> = listed
            .orgs
            .iter()
            .chain(listed.current_org.as_ref())
            .filter_map(|o| Some((o.name.clone()?, o.id?)))
            .filter(|(_, id)| check_org_id(*id).is_ok())
            .collect();
        let found = listed
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| listed.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, id)| *id);
        self.remember(|known| {
            if known.len() + listed.len() + 1 > MAX_NAMES {
                known.clear();
            }
            known.extend(listed.iter().cloned());
            if let Some(id) = found {
                known.insert(name.to_owned(), id);
            }
        });
        match found {
            Some(id) => Ok(id),
            None => {
                let mut unknown = lock(&self.unknown);
                let now = Instant::now();
                if unknown.len() >= MAX_NAMES {
                    unknown.retain(|_, until| now < *until);
                    if unknown.len() >= MAX_NAMES {
                        unknown.clear();
                    }
                }
                unknown.insert((user.cloned(), name.to_owned()), now + UNKNOWN_FOR);
                Err(Error::UnknownOrg(name.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::OrgRef;

    fn user(orgs: &[(&str, i64)]) -> SessionUser {
        SessionUser {
            orgs: orgs
                .iter()
                .map(|(name, id)| OrgRef {
                    id: Some(*id),
                    name: Some((*name).to_owned()),
                })
                .collect(),
            ..SessionUser::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn names_resolve_once_and_unknown_ones_are_remembered_for_a_minute() {
        let names = OrgNames::default();
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let list = || async {
            asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(user(&[("Sales", 2), ("Finance", 3), ("Huge", i64::MAX)]))
        };
        assert_eq!(names.resolve("Sales", None, list).await.unwrap(), 2);
        // Every listed org is known now; case is ignored when nothing matches exactly.
        assert_eq!(names.cached("Finance", None).unwrap(), Some(3));
        assert_eq!(names.resolve("finance", None, list).await.unwrap(), 3);
        assert_eq!(asked.load(std::sync::atomic::Ordering::Relaxed), 1);
        // An id outside int32 is not an org id.
        assert_eq!(names.cached("Huge", None).unwrap(), None);
        let unknown = names.resolve("Nope", None, list).await.unwrap_err();
        assert!(matches!(unknown, Error::UnknownOrg(ref n) if n == "Nope"));
        assert!(names.cached("Nope", None).is_err());
        names.resolve("Nope", None, list).await.unwrap_err();
        assert_eq!(asked.load(std::sync::atomic::Ordering::Relaxed), 2);
        tokio::time::advance(UNKNOWN_FOR).await;
        assert_eq!(
            names.cached("Nope", None).unwrap(),
            None,
            "forgotten after a minute"
        );
        assert!(names.resolve(" ", None, list).await.is_err());
    }
}
