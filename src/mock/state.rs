//! The mock's world: the server clock, orgs, users, tokens and cookie sessions, and the
//! credential rules every generation shares.

use std::collections::{BTreeMap, HashMap};

use http::HeaderMap;

use super::log::PresentedCredential;
use super::wire::{self, ApiError, Ids};
use super::{MockThoughtSpotBuilder, MockUser};

pub(crate) use super::records::{
    Access, AutoCreate, CLIENT_ID_COOKIE, Clock, Config, NewSession, Presented, Principal, Proof,
    SESSION_COOKIE, SessionRecord, TokenRecord, UserRecord, millis, signed_offset,
};

/// Everything mutable about the mock ThoughtSpot.
pub(crate) struct State {
    pub(crate) clock: Clock,
    pub(crate) config: Config,
    pub(crate) orgs: BTreeMap<i64, String>,
    pub(crate) users: BTreeMap<String, UserRecord>,
    pub(crate) tokens: HashMap<String, TokenRecord>,
    pub(crate) sessions: HashMap<String, SessionRecord>,
    /// Access rules written to users' records by `token/custom` (`APPEND`, `REPLACE`, `RESET`).
    /// Access rules written to a user's record, per org (as ThoughtSpot keeps them).
    pub(crate) persisted: HashMap<(String, i64), serde_json::Value>,
    next_serial: u64,
}

impl State {
    pub(crate) fn new(builder: &MockThoughtSpotBuilder) -> Self {
        State {
            clock: Clock::new(builder.clock_offset_ms),
            config: Config {
                secret_key: builder.secret_key.clone(),
                org_keys: builder.org_keys.clone(),
                trusted_auth: builder.trusted_auth,
                default_validity: builder.default_validity,
                max_validity: builder.max_validity,
                session_validity: builder.session_validity,
                refuse_org_identifier: builder.refuse_org_identifier,
                bare_beta_rejections: false,
            },
            orgs: builder.orgs.clone(),
            users: builder
                .users
                .iter()
                .map(|u| (u.name.clone(), UserRecord::new(u.clone())))
                .collect(),
            tokens: HashMap::new(),
            sessions: HashMap::new(),
            persisted: HashMap::new(),
            next_serial: 1,
        }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn serial(&mut self) -> u64 {
        let s = self.next_serial;
        self.next_serial += 1;
        s
    }

    pub(crate) fn add_user(&mut self, user: MockUser) {
        self.users.insert(user.name.clone(), UserRecord::new(user));
    }

    pub(crate) fn user(&self, name: &str) -> Option<&UserRecord> {
        self.users.get(name)
    }

    fn user_usable(&self, name: &str) -> bool {
        self.users.get(name).is_some_and(|u| !u.user.locked)
    }

    pub(crate) fn org_name(&self, id: i64) -> String {
        self.orgs
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("Org {id}"))
    }

    /// An org by id (decimal text) or by name.
    pub(crate) fn org_by_identifier(&self, ident: &str) -> Option<i64> {
        let ident = ident.trim();
        if let Ok(id) = ident.parse::<i64>() {
            return self.orgs.contains_key(&id).then_some(id);
        }
        self.orgs
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(ident))
            .map(|(id, _)| *id)
    }

    fn token_valid(&self, rec: &TokenRecord, now: i64) -> bool {
        !rec.revoked && now < rec.expires_ms && self.user_usable(&rec.user)
    }

    fn session_valid(&self, rec: &SessionRecord, now: i64) -> bool {
        !rec.ended && now < rec.expires_ms && self.user_usable(&rec.user)
    }

    /// Judges the credentials in a request's headers.
    pub(crate) fn presented(&self, headers: &HeaderMap) -> Presented {
        let now = self.now_ms();
        let bearer = wire::bearer(headers);
        let session_id = wire::cookie(headers, SESSION_COOKIE);
        let client_id = wire::cookie(headers, CLIENT_ID_COOKIE);

        let mut bearer_principal = None;
        let token_cred = bearer.as_ref().map(|t| match self.tokens.get(t) {
            Some(rec) => {
                let valid = self.token_valid(rec, now);
                if valid {
                    bearer_principal = Some(Principal {
                        user: rec.user.clone(),
                        org: rec.org,
                    });
                }
                PresentedCredential::Token {
                    serial: rec.serial,
                    user: rec.user.clone(),
                    org: rec.org,
                    valid,
                }
            }
            None => PresentedCredential::UnknownToken,
        });

        let mut session_principal = None;
        let session_cred = session_id.as_ref().map(|id| match self.sessions.get(id) {
            Some(rec) => {
                let valid = self.session_valid(rec, now)
                    && client_id.as_deref() == Some(rec.client_id.as_str());
                if valid {
                    session_principal = Some(Principal {
                        user: rec.user.clone(),
                        org: rec.org,
                    });
                }
                PresentedCredential::Session {
                    serial: rec.serial,
                    user: rec.user.clone(),
                    org: rec.org,
                    valid,
                    client_id_sent: client_id.is_some(),
                }
            }
            None => PresentedCredential::UnknownSession,
        });

        Presented {
            credential: token_cred
                .or(session_cred)
                .unwrap_or(PresentedCredential::None),
            bearer,
            bearer_principal,
            session_id,
            session_principal,
        }
    }

    /// Checks a login's proof of identity for the org it asks for (`org`); with `auto_create`,
    /// an unknown user logging in with the right secret key is created. Returns the org a
    /// per-org key stands for when the login names none: its token is for that org.
    pub(crate) fn authenticate(
        &mut self,
        username: &str,
        proof: Proof<'_>,
        org: Option<i64>,
        auto_create: Option<AutoCreate>,
    ) -> Result<Option<i64>, ApiError> {
        let mut key_org = None;
        if let Proof::SecretKey(_) = proof {
            if !self.config.trusted_auth {
                return Err(ApiError::forbidden("Trusted authentication is not enabled"));
            }
        }
        match (self.users.get(username), &proof) {
            (Some(rec), Proof::Password(p)) => {
                if rec.user.password != *p {
                    return Err(ApiError::unauthorized("Invalid username or password"));
                }
            }
            (Some(_), Proof::SecretKey(k)) | (None, Proof::SecretKey(k)) => {
                key_org = self.key_org(k, org)?;
                if !self.users.contains_key(username) {
                    let Some(create) = auto_create else {
                        return Err(ApiError::unauthorized("Invalid username or secret key"));
                    };
                    let org = create.org.or(key_org).unwrap_or(0);
                    if !self.orgs.contains_key(&org) {
                        return Err(ApiError::forbidden(format!("Org {org} does not exist")));
                    }
                    let mut user = MockUser::new(username, "").orgs([org]);
                    if let Some(display_name) = create.display_name {
                        user.display_name = display_name;
                    }
                    self.add_user(user);
                }
            }
            (None, Proof::Password(_)) => {
                return Err(ApiError::unauthorized("Invalid username or password"));
            }
        }
        if self.users.get(username).is_some_and(|u| u.user.locked) {
            return Err(ApiError::forbidden(
                "The user account is locked or inactive",
            ));
        }
        Ok(key_org)
    }

    /// Whether secret key `key` may mint in `org`: an org with a key of its own takes only that
    /// one, any other the cluster's. With no org named, a per-org key stands for its org.
    fn key_org(&self, key: &str, org: Option<i64>) -> Result<Option<i64>, ApiError> {
        let refused = || ApiError::unauthorized("Invalid secret key");
        match org {
            Some(org) => {
                let expected = self
                    .config
                    .org_keys
                    .get(&org)
                    .unwrap_or(&self.config.secret_key);
                if expected == key {
                    Ok(None)
                } else {
                    Err(refused())
                }
            }
            None if self.config.secret_key == key => Ok(None),
            None => self
                .config
                .org_keys
                .iter()
                .find(|(_, k)| *k == key)
                .map(|(org, _)| Some(*org))
                .ok_or_else(refused),
        }
    }

    /// The org a login lands in: the requested one (the user must be a member), else the
    /// user's last-used org.
    pub(crate) fn resolve_org(
        &self,
        username: &str,
        requested: Option<i64>,
    ) -> Result<i64, ApiError> {
        let rec = self
            .users
            .get(username)
            .ok_or_else(|| ApiError::unauthorized("Unknown user"))?;
        match requested {
            None => Ok(rec.last_org),
            Some(org) if rec.user.orgs.contains(&org) && self.orgs.contains_key(&org) => Ok(org),
            Some(org) => Err(ApiError::forbidden(format!(
                "User {username} is not a member of org {org}"
            ))),
        }
    }

    /// Validity in seconds: the request's (must be positive), else the default; capped at the
    /// maximum.
    pub(crate) fn token_validity(&self, requested: Option<i64>) -> Result<u64, ApiError> {
        let max = self.config.max_validity.as_secs();
        match requested {
            None => Ok(self.config.default_validity.as_secs().min(max)),
            Some(s) if s <= 0 => Err(ApiError::bad_request("The validity must be positive")),
            Some(s) => Ok(u64::try_from(s).unwrap_or(u64::MAX).min(max)),
        }
    }

    fn touch_org(&mut self, user: &str, org: i64) {
        if let Some(rec) = self.users.get_mut(user) {
            rec.last_org = org;
        }
    }

    /// Mints a token; returns its value and record.
    pub(crate) fn mint_token(
        &mut self,
        ids: &Ids,
        user: &str,
        org: i64,
        validity_secs: u64,
        access: Access,
        metadata_id: Option<String>,
    ) -> (String, TokenRecord) {
        let now = self.now_ms();
        let value = ids.hex(4);
        let validity_ms = i64::try_from(validity_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let rec = TokenRecord {
            serial: self.serial(),
            user: user.to_owned(),
            org,
            created_ms: now,
            expires_ms: now.saturating_add(validity_ms),
            revoked: false,
            access,
            metadata_id,
            attributes: None,
        };
        self.tokens.insert(value.clone(), rec.clone());
        self.touch_org(user, org);
        (value, rec)
    }

    /// Creates a cookie session.
    pub(crate) fn create_session(&mut self, ids: &Ids, user: &str, org: i64) -> NewSession {
        let now = self.now_ms();
        let session_id = ids.hex(2).to_ascii_uppercase();
        let client_id = ids.uuid();
        let serial = self.serial();
        let expires_ms = now.saturating_add(millis(self.config.session_validity));
        self.sessions.insert(
            session_id.clone(),
            SessionRecord {
                serial,
                user: user.to_owned(),
                org,
                client_id: client_id.clone(),
                expires_ms,
                ended: false,
            },
        );
        self.touch_org(user, org);
        NewSession {
            session_id,
            client_id,
            created_ms: now,
        }
    }

    /// Ends a session by its `JSESSIONID`; whether one was live.
    pub(crate) fn end_session(&mut self, session_id: &str) -> bool {
        match self.sessions.get_mut(session_id) {
            Some(rec) if !rec.ended => {
                rec.ended = true;
                true
            }
            _ => false,
        }
    }

    /// Moves a session to another org.
    pub(crate) fn switch_session_org(&mut self, session_id: &str, org: i64) {
        let user = self.sessions.get_mut(session_id).map(|rec| {
            rec.org = org;
            rec.user.clone()
        });
        if let Some(user) = user {
            self.touch_org(&user, org);
        }
    }

    /// Whether `user` may be in `org`.
    pub(crate) fn is_member(&self, user: &str, org: i64) -> bool {
        self.orgs.contains_key(&org)
            && self
                .users
                .get(user)
                .is_some_and(|u| u.user.orgs.contains(&org))
    }

    /// Revokes one token by value; whether it was not revoked before.
    pub(crate) fn revoke_token(&mut self, token: &str) -> bool {
        match self.tokens.get_mut(token) {
            Some(rec) if !rec.revoked => {
                rec.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Revokes the tokens matching `pred`; how many were not revoked before.
    pub(crate) fn revoke_where(&mut self, pred: impl Fn(&TokenRecord) -> bool) -> usize {
        let mut n = 0;
        for rec in self.tokens.values_mut() {
            if !rec.revoked && pred(rec) {
                rec.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// Ends every session; how many were not ended before.
    pub(crate) fn end_all_sessions(&mut self) -> usize {
        let mut n = 0;
        for rec in self.sessions.values_mut() {
            if !rec.ended {
                rec.ended = true;
                n += 1;
            }
        }
        n
    }

    pub(crate) fn live_tokens(&self) -> usize {
        let now = self.now_ms();
        self.tokens
            .values()
            .filter(|t| !t.revoked && now < t.expires_ms)
            .count()
    }

    pub(crate) fn live_sessions(&self) -> usize {
        let now = self.now_ms();
        self.sessions
            .values()
            .filter(|s| !s.ended && now < s.expires_ms)
            .count()
    }

    /// A user's id by name or GUID.
    pub(crate) fn user_by_identifier(&self, ident: &str) -> Option<String> {
        if self.users.contains_key(ident) {
            return Some(ident.to_owned());
        }
        self.users
            .values()
            .find(|u| u.guid.eq_ignore_ascii_case(ident))
            .map(|u| u.user.name.clone())
    }
}
