//! The fleet protocol: how replicas that share a [`CredentialStore`] make one login where each
//! would make its own. Used by `run_flight` (before and after a login), `publish` and
//! `invalidate`; never by the hot path.
//!
//! Per cache key (user, org) the store holds, under keyed-hash names:
//! - `cred:…` — the sealed credential, its generation, time to live = its remaining lifetime;
//! - `lease:…` — who is logging in now (a random holder id), a few seconds, renewed while the
//!   login runs;
//! - `fail:…` — a sealed permanent failure, time to live = its backoff window (a rejected
//!   password is the account's: it goes under the org `*`, as locally).
//!
//! Before logging in a replica removes a credential it saw rejected (compare-and-delete on its
//! generation), then reads: a stored failure → every waiter gets it; a fresh credential that is
//! not the one it already holds → adopt it; otherwise take the lease and log in, or, if another
//! replica holds it, poll until something is published, the lease frees, or the deadline comes.
//! A leader's own waiting requests get its new credential as soon as it is made; the store is
//! written after, and the lease released only then, so the others adopt it rather than log in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use zeroize::Zeroizing;

mod publish;
mod shared_error;

use super::Counters;
use super::credential::CacheKey;
use crate::config::{AuthConfig, SecretKind, Source};
use crate::error::Error;
use crate::secrets::Fingerprint;
use crate::session::{SessionCookies, SessionCredential};
use crate::store::sealed::Keys;
use crate::store::{CredentialStore, Generation, StoreFuture, StoredEntry};
use crate::sync::lock;
use crate::telemetry;
use shared_error::SharedError;

/// After a failed store call, the store is left alone this long.
const RETRY_AFTER_OUTAGE: Duration = Duration::from_secs(1);
/// Waiting for another replica's login: the first pause between looks, doubling to the longest.
const FIRST_POLL: Duration = Duration::from_millis(25);
const LONGEST_POLL: Duration = Duration::from_millis(200);

/// A replica's side of the fleet: the store, the keys that seal for it, its health.
pub(crate) struct Fleet {
    store: Arc<dyn CredentialStore>,
    /// What the keys derive from besides the secret: the cluster, API, credential kind, mode.
    context: String,
    /// Per org, the keys derived from the secret its last login read: names and seals follow
    /// the secret, so replicas on a rotated secret share among themselves only.
    keys: Mutex<KeysByOrg>,
    /// The configured user in single-user modes (multi-user keys name their own).
    user: Option<String>,
    /// A rejected login is the account's (a password's): shared under the org `*`.
    account_wide: bool,
    timeout: Duration,
    lease: Duration,
    margin: Duration,
    health: Mutex<Health>,
    /// The name each lease held now was taken under, by holder: a login that meets a rotated
    /// secret moves the names on, but renews and gives up the lease it took.
    leases: Mutex<HashMap<Generation, String>>,
}

/// Per org, which secret the keys derive from, and the keys.
type KeysByOrg = HashMap<Option<i64>, (Fingerprint, Arc<Keys>)>;

#[derive(Default)]
struct Health {
    down: bool,
    retry_at: Option<Instant>,
}

/// What a cache slot remembers of the store: nothing until the slot publishes a credential, so
/// that a slot without a store (every multi-user slot, say) holds one pointer for it.
#[derive(Debug, Default)]
pub(crate) struct SlotFleet(Option<Box<FleetState>>);

#[derive(Debug, Default)]
struct FleetState {
    /// The credential the slot holds: its local generation, its stored generation, and when
    /// it was minted (on the local clock; estimated for an adopted one).
    held: Option<(u64, Generation, Instant)>,
    /// The last credential rejected (or dropped) here: its stored generation, whether that has
    /// been removed from the store yet, and when it was minted. Neither it nor anything minted
    /// before it is adopted: a revocation kills every older token too, and a credential left in
    /// the store while it was out of reach may be one of them.
    rejected: Option<Rejected>,
}

#[derive(Debug, Clone, Copy)]
struct Rejected {
    generation: Generation,
    removed: bool,
    minted_at: Instant,
}

impl SlotFleet {
    /// The slot now holds local generation `local`, stored as `stored`, minted at `minted_at`.
    pub(crate) fn holding(&mut self, local: u64, stored: Generation, minted_at: Instant) {
        self.0.get_or_insert_default().held = Some((local, stored, minted_at));
    }

    /// The credential of local generation `local` was rejected or dropped.
    pub(crate) fn dropped(&mut self, local: u64) {
        let Some(state) = self.0.as_deref_mut() else {
            return;
        };
        if let Some((l, generation, minted_at)) = state.held {
            if l == local {
                state.rejected = Some(Rejected {
                    generation,
                    removed: false,
                    minted_at,
                });
                state.held = None;
            }
        }
    }
}

/// What the store says about a login that is due.
pub(crate) enum Step {
    /// A fresh credential another replica published: use it.
    Adopt(Adopted),
    /// A permanent failure another replica met, in its window until `until`.
    Blocked {
        error: Error,
        until: Instant,
        in_a_row: u32,
    },
    /// This replica holds the lease: log in, then publish.
    Lead,
    /// No store now (down or slow): log in alone.
    Alone,
    /// Another replica's login did not end before the deadline.
    TimedOut,
}

/// A credential read from the store.
pub(crate) struct Adopted {
    pub(crate) credential: SessionCredential,
    pub(crate) generation: Generation,
    /// Its remaining lifetime when asked for.
    pub(crate) remaining: Duration,
    /// When it was minted, estimated on the local clock.
    pub(crate) minted_at: Instant,
    /// When it was asked for, on the local clock: the remaining lifetime counts from here.
    pub(crate) asked_at: Instant,
    pub(crate) user: Option<String>,
    pub(crate) org: Option<i64>,
}

/// A credential as sealed into the store.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedCredential {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jsessionid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// The lifetime the login was granted (not what is left of it).
    lifetime_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org: Option<i64>,
}

/// A permanent failure as sealed into the store.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedFailure {
    error: SharedError,
    in_a_row: u32,
}

struct Names {
    keys: Arc<Keys>,
    cred: String,
    lease: String,
    fail: String,
    account_fail: Option<String>,
}

impl Fleet {
    /// The fleet side of `config`, if it has a store and a secret to seal with.
    pub(crate) fn new(config: &AuthConfig) -> Option<Self> {
        let store = config.store.clone()?;
        let Some((kind, _)) = config.secret_source() else {
            tracing::info!(
                "a static or provided token is never shared through the credential store: \
                 there is no secret to seal it with"
            );
            return None;
        };
        let (secret_kind, user) = match (&config.source, kind) {
            (Source::Login { user, .. }, SecretKind::Password) => ("password", Some(user.clone())),
            (Source::Login { user, .. }, SecretKind::SecretKey) => {
                ("secret-key", Some(user.clone()))
            }
            _ => ("act-as", None),
        };
        Some(Self {
            store,
            context: format!(
                "{}\n{:?}\n{:?}\n{secret_kind}",
                config.base, config.api, config.kind
            ),
            keys: Mutex::new(HashMap::new()),
            user,
            account_wide: config.rejection_is_the_accounts(),
            timeout: config.timings.store_timeout,
            lease: config.timings.store_lease,
            margin: config.timings.refresh_margin,
            health: Mutex::new(Health::default()),
            leases: Mutex::new(HashMap::new()),
        })
    }

    /// A login in `org` read `secret` (whose fingerprint is `fingerprint`): the store's names
    /// and seals for the org derive from it from now on.
    pub(crate) fn use_secret(
        &self,
        org: Option<i64>,
        secret: &SecretString,
        fingerprint: Fingerprint,
    ) {
        let mut keys = lock(&self.keys);
        if keys.get(&org).is_some_and(|(f, _)| *f == fingerprint) {
            return;
        }
        let derived = Keys::derive(secret.expose_secret().as_bytes(), &self.context);
        keys.insert(org, (fingerprint, Arc::new(derived)));
    }

    /// The keys for `org`. Every flight reads its secret before it talks to the store, so they
    /// are there; if not, keys of a random secret: nothing read, nothing readable.
    fn keys(&self, org: Option<i64>) -> Arc<Keys> {
        if let Some((_, keys)) = lock(&self.keys).get(&org) {
            return keys.clone();
        }
        debug_assert!(false, "the store was used before a secret was read");
        let mut random = [0u8; 32];
        crate::store::sealed::fill_random(&mut random);
        Arc::new(Keys::derive(&random, &self.context))
    }

    fn names(&self, key: &CacheKey) -> Names {
        let user = key
            .user
            .as_deref()
            .or(self.user.as_deref())
            .unwrap_or_default()
            .as_bytes();
        let org = key.org.map_or_else(|| "-".to_owned(), |o| o.to_string());
        // Access rules are part of whose a credential is; keys without any keep their names.
        let rules = key
            .attributes
            .as_ref()
            .map(|a| format!("{:016x}", a.fingerprint));
        let mut parts: Vec<&[u8]> = vec![user, org.as_bytes()];
        parts.extend(rules.as_deref().map(str::as_bytes));
        let keys = self.keys(key.org);
        // Every name of one user (each org's credential, lease and failure, and the account's
        // failure) carries the same Redis Cluster hash tag, `{…}`, so that one script, which
        // reads several of them, touches one slot; different users spread over the slots.
        let tag = keys.name("slot", &[user]);
        let tag = &tag["slot:".len()..][..16];
        let tagged = |name: String| format!("{{{tag}}}{name}");
        Names {
            cred: tagged(keys.name("cred", &parts)),
            lease: tagged(keys.name("lease", &parts)),
            fail: tagged(keys.name("fail", &parts)),
            account_fail: self
                .account_wide
                .then(|| tagged(keys.name("fail", &[user, b"*"]))),
            keys,
        }
    }

    /// The name of the lease `holder` holds for `key`: the one it was taken under.
    fn lease_name(&self, key: &CacheKey, holder: Generation) -> String {
        match lock(&self.leases).get(&holder) {
            Some(name) => name.clone(),
            None => self.names(key).lease,
        }
    }

    // ----- health ------------------------------------------------------------------------------

    fn available(&self) -> bool {
        let health = lock(&self.health);
        !health.down || health.retry_at.is_none_or(|t| Instant::now() >= t)
    }

    /// Runs one store call within the time limit. `None` if it failed: the store is then left
    /// alone for a while, with one warning per outage.
    async fn call<T>(&self, counters: &Counters, call: StoreFuture<'_, T>) -> Option<T> {
        let error = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => {
                let mut health = lock(&self.health);
                if health.down {
                    health.down = false;
                    health.retry_at = None;
                    tracing::info!(
                        "the credential store answers again: sharing ThoughtSpot credentials \
                         with the fleet again"
                    );
                }
                return Some(value);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
        };
        counters.store_errors.bump();
        telemetry::count(telemetry::names::STORE_ERRORS, None);
        let mut health = lock(&self.health);
        health.retry_at = Some(Instant::now() + RETRY_AFTER_OUTAGE);
        if !health.down {
            health.down = true;
            counters.store_outages.bump();
            telemetry::count(telemetry::names::STORE_OUTAGES, None);
            tracing::warn!(
                %error,
                "the credential store is unavailable: logging in to ThoughtSpot without it \
                 until it answers again"
            );
        }
        None
    }

    // ----- before a login ----------------------------------------------------------------------

    /// What to do for a login that is due for `key`: adopt, refuse, lead, or go alone. Waits
    /// (polling) while another replica logs in, never past `deadline`.
    pub(crate) async fn before_login(
        &self,
        counters: &Counters,
        key: &CacheKey,
        slot: &Mutex<SlotFleet>,
        holder: Generation,
        deadline: Instant,
    ) -> Step {
        if !self.available() {
            return Step::Alone;
        }
        let names = self.names(key);
        let (held, rejected) = {
            let state = lock(slot);
            state.0.as_deref().map_or((None, None), |state| {
                (state.held.map(|(_, g, _)| g), state.rejected)
            })
        };
        if let Some(r) = rejected.filter(|r| !r.removed) {
            // Only if it is still the one rejected here: a newer one stays.
            if self
                .call(counters, self.store.remove_if(&names.cred, r.generation))
                .await
                .is_none()
            {
                return Step::Alone;
            }
            if let Some(r) = lock(slot)
                .0
                .as_deref_mut()
                .and_then(|state| state.rejected.as_mut())
                .filter(|x| x.generation == r.generation)
            {
                r.removed = true;
            }
        }
        // Not the one held (it is due for a refresh), not the one rejected, nothing older.
        let adoptable = |a: &Adopted| {
            Some(a.generation) != held
                && rejected
                    .is_none_or(|r| a.generation != r.generation && a.minted_at > r.minted_at)
        };
        let mut read: Vec<String> = vec![names.cred.clone(), names.fail.clone()];
        read.extend(names.account_fail.clone());
        let mut pause = FIRST_POLL;
        let mut leading = false;
        loop {
            let asked_at = Instant::now();
            let Some(entries) = self.call(counters, self.store.read(&read)).await else {
                return if leading { Step::Lead } else { Step::Alone };
            };
            for (name, entry) in read.iter().zip(&entries).skip(1) {
                if let Some((error, in_a_row)) = entry
                    .as_ref()
                    .and_then(|entry| self.open_failure(&names.keys, name, entry))
                {
                    if leading {
                        self.release(counters, key, holder).await;
                    }
                    let remaining = entries_ttl(entry);
                    return Step::Blocked {
                        error,
                        until: asked_at + remaining,
                        in_a_row,
                    };
                }
            }
            if let Some(adopted) = entries
                .first()
                .and_then(Option::as_ref)
                .and_then(|entry| self.open_credential(&names.keys, &names.cred, entry, asked_at))
                .filter(adoptable)
            {
                if leading {
                    self.release(counters, key, holder).await;
                }
                return Step::Adopt(adopted);
            }
            if leading {
                return Step::Lead;
            }
            match self
                .call(
                    counters,
                    self.store.try_lease(&names.lease, holder, self.lease),
                )
                .await
            {
                None => return Step::Alone,
                // Look once more: a leader may have published between our read and its release.
                Some(true) => {
                    let mut leases = lock(&self.leases);
                    // Only a flight cancelled mid-login leaves an entry behind; bounded anyway.
                    if leases.len() >= 4_096 {
                        leases.clear();
                    }
                    leases.insert(holder, names.lease.clone());
                    leading = true;
                }
                Some(false) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Step::TimedOut;
                    }
                    tokio::time::sleep_until((now + pause).min(deadline)).await;
                    pause = (pause * 2).min(LONGEST_POLL);
                }
            }
        }
    }

    fn open_credential(
        &self,
        keys: &Keys,
        name: &str,
        entry: &StoredEntry,
        asked_at: Instant,
    ) -> Option<Adopted> {
        let plain = Zeroizing::new(keys.open(name, &entry.generation, &entry.value)?);
        let sealed: SealedCredential = serde_json::from_slice(&plain).ok()?;
        let lifetime = Duration::from_millis(sealed.lifetime_ms);
        // Adopt only what is not due for a refresh already (the soft deadline's margin, without
        // jitter): else this replica would refresh it at once.
        if entry.ttl <= self.margin.min(lifetime / 10) {
            return None;
        }
        let credential = match (&sealed.token, &sealed.jsessionid) {
            (Some(token), _) => SessionCredential::bearer(token.as_str()).ok()?,
            (None, Some(jsessionid)) => SessionCredential::cookies(SessionCookies::new(
                jsessionid.as_str(),
                sealed.client_id.clone(),
            ))
            .ok()?,
            (None, None) => return None,
        };
        Some(Adopted {
            credential,
            generation: entry.generation,
            remaining: entry.ttl,
            minted_at: asked_at
                .checked_sub(lifetime.saturating_sub(entry.ttl))
                .unwrap_or(asked_at),
            asked_at,
            user: sealed.user,
            org: sealed.org,
        })
    }

    fn open_failure(&self, keys: &Keys, name: &str, entry: &StoredEntry) -> Option<(Error, u32)> {
        let plain = Zeroizing::new(keys.open(name, &entry.generation, &entry.value)?);
        let sealed: SealedFailure = serde_json::from_slice(&plain).ok()?;
        Some((sealed.error.into_error()?, sealed.in_a_row))
    }

    // ----- during and after a login ------------------------------------------------------------
}

fn entries_ttl(entry: &Option<StoredEntry>) -> Duration {
    entry.as_ref().map_or(Duration::ZERO, |e| e.ttl)
}
