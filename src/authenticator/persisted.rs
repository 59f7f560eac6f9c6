//! One persisted rule set per (user, org) at a time.
//!
//! Rules minted with `APPEND`, `REPLACE` or `RESET` are written to the user's record in the org,
//! and every token of that user in that org then runs under the record. Two different persisted
//! sets for one (user, org) cannot both be true: the second mint would change what the first
//! set's cached token sees. So while a credential minted with one persisted set is alive (or
//! being minted), a request that needs a mint with another set is refused with
//! [`Error::Config`](crate::Error) and nothing is sent. Forgetting the user's credentials
//! (`invalidate_user`, `revoke_user`) or their expiry frees the (user, org) for another set.
//! Rules in the token only (`NONE`) are independent of each other and never refused.
//!
//! The pair is the request's: the user as named and the org as given (`None` for the user's
//! default org), so `Some(default)` and `None`, or two spellings of one user name, are two
//! pairs here though one record at ThoughtSpot; and it holds within one process, not a fleet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::credential::{CacheKey, Phase};
use super::slot::Slot;
use crate::error::Error;
use crate::sync::lock;

type UserOrg = (Arc<str>, Option<i64>);

/// Which persisted set each (user, org) holds.
#[derive(Default)]
pub(super) struct PersistedSets {
    held: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    map: HashMap<UserOrg, Held>,
    /// Pairs whose sets died are swept when the map grows past this (twice what was alive at
    /// the last sweep), so that sweeping costs O(1) per claim on average.
    sweep_above: usize,
}

struct Held {
    fingerprint: u64,
    /// The slot of the set's credential.
    slot: Weak<Slot>,
    /// Logins for the set under way.
    minting: u32,
}

impl Held {
    fn alive(&self) -> bool {
        self.minting > 0
            || self.slot.upgrade().is_some_and(|slot| {
                slot.current()
                    .is_some_and(|c| c.catch_up(tokio::time::Instant::now()) != Phase::Hard)
            })
    }
}

/// A login's claim on its (user, org) for its persisted set; given back when dropped.
pub(super) struct Claim {
    sets: Arc<PersistedSets>,
    user_org: UserOrg,
    fingerprint: u64,
}

impl PersistedSets {
    /// Claims `slot`'s (user, org) for its persisted set before a login, or refuses if another
    /// persisted set holds it. `None` for keys without a persisted set.
    pub(super) fn claim(self: &Arc<Self>, slot: &Arc<Slot>) -> Result<Option<Claim>, Error> {
        let CacheKey {
            user: Some(user),
            org,
            attributes: Some(attributes),
        } = &slot.key
        else {
            return Ok(None);
        };
        if !attributes.set.persist.writes_user_record() {
            return Ok(None);
        }
        let user_org = (user.clone(), *org);
        let fingerprint = attributes.fingerprint;
        let mut table = lock(&self.held);
        let held = &mut table.map;
        match held.get_mut(&user_org) {
            Some(h) if h.fingerprint == fingerprint => {
                h.minting += 1;
                h.slot = Arc::downgrade(slot);
            }
            Some(h) if h.alive() => {
                return Err(Error::config(
                    "this user already holds a token minted with another persisted rule set in \
                     this org (ThoughtSpot keeps one per user and org, so the new one would \
                     change what the other's token sees): forget the user's credentials first \
                     (`invalidate_user` or `revoke_user`), or use rules in the token only \
                     (persist option NONE); nothing was sent",
                ));
            }
            _ => {
                held.insert(
                    user_org.clone(),
                    Held {
                        fingerprint,
                        slot: Arc::downgrade(slot),
                        minting: 1,
                    },
                );
            }
        }
        Ok(Some(Claim {
            sets: self.clone(),
            user_org,
            fingerprint,
        }))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut table = lock(&self.sets.held);
        if let Some(h) = table.map.get_mut(&self.user_org) {
            if h.fingerprint == self.fingerprint {
                h.minting = h.minting.saturating_sub(1);
                if !h.alive() {
                    table.map.remove(&self.user_org);
                }
            }
        }
        // Forget the pairs whose sets died since, so that the map stays as small as the cache.
        if table.map.len() > table.sweep_above.max(1024) {
            table.map.retain(|_, h| h.alive());
            table.sweep_above = 2 * table.map.len();
        }
    }
}
