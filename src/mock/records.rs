//! What the mock's world is made of: its clock, the records of users, tokens and cookie
//! sessions, and what a request presents.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::MockUser;
use super::log::PresentedCredential;
use super::wire::{self, ApiError};

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "JSESSIONID";
/// Name of the client id cookie that must accompany the session cookie.
pub(crate) const CLIENT_ID_COOKIE: &str = "clientId";

/// Whole milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The server clock: the wall clock captured at start, advanced by the tokio clock (so a paused
/// test clock drives it), shifted by the configured offset.
pub(crate) struct Clock {
    wall_start_ms: i64,
    start: Instant,
    offset_ms: i64,
}

impl Clock {
    pub(crate) fn new(offset_ms: i64) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            wall_start_ms: millis(wall),
            start: Instant::now(),
            offset_ms,
        }
    }

    /// Server time in milliseconds since the epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        self.wall_start_ms
            .saturating_add(millis(Instant::now().saturating_duration_since(self.start)))
            .saturating_add(self.offset_ms)
    }

    pub(crate) fn set_offset_ms(&mut self, offset_ms: i64) {
        self.offset_ms = offset_ms;
    }
}

/// The signed offset of `clock_offset(offset, ahead)`.
pub(crate) fn signed_offset(offset: Duration, ahead: bool) -> i64 {
    if ahead {
        millis(offset)
    } else {
        -millis(offset)
    }
}

/// What a token grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Full,
    ReportBookView,
}

impl Access {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Access::Full => "FULL",
            Access::ReportBookView => "REPORT_BOOK_VIEW",
        }
    }
}

/// A minted token (its value is the key of `State::tokens`).
#[derive(Clone)]
pub(crate) struct TokenRecord {
    pub(crate) serial: u64,
    pub(crate) user: String,
    pub(crate) org: i64,
    pub(crate) created_ms: i64,
    pub(crate) expires_ms: i64,
    pub(crate) revoked: bool,
    pub(crate) access: Access,
    pub(crate) metadata_id: Option<String>,
    /// Access rules carried by a `token/custom` token minted with `persist_option: NONE`.
    pub(crate) attributes: Option<std::sync::Arc<serde_json::Value>>,
}

/// A cookie session (its `JSESSIONID` is the key of `State::sessions`).
pub(crate) struct SessionRecord {
    pub(crate) serial: u64,
    pub(crate) user: String,
    pub(crate) org: i64,
    pub(crate) client_id: String,
    pub(crate) expires_ms: i64,
    pub(crate) ended: bool,
}

/// A user and what the mock keeps about them.
pub(crate) struct UserRecord {
    pub(crate) user: MockUser,
    pub(crate) guid: String,
    /// The org a login without an explicit org lands in.
    pub(crate) last_org: i64,
}

impl UserRecord {
    pub(super) fn new(user: MockUser) -> Self {
        UserRecord {
            guid: wire::stable_uuid(&user.name),
            last_org: user.orgs.first().copied().unwrap_or(0),
            user,
        }
    }
}

/// Runtime-adjustable settings.
pub(crate) struct Config {
    pub(crate) secret_key: String,
    /// Orgs with a trusted-authentication key of their own.
    pub(crate) org_keys: std::collections::BTreeMap<i64, String>,
    pub(crate) trusted_auth: bool,
    pub(crate) default_validity: Duration,
    pub(crate) max_validity: Duration,
    pub(crate) session_validity: Duration,
    /// Whether the v2.0 session login refuses `org_identifier` (an older cluster).
    pub(crate) refuse_org_identifier: bool,
    /// Beta data requests with a dead credential get the bare 500 (no upstream detail).
    pub(crate) bare_beta_rejections: bool,
}

/// Who a valid credential belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Principal {
    pub(crate) user: String,
    pub(crate) org: i64,
}

/// The credentials a request presented, judged now.
pub(crate) struct Presented {
    /// The loggable verdict.
    pub(crate) credential: PresentedCredential,
    /// The raw bearer token, when one was sent.
    pub(crate) bearer: Option<String>,
    /// Its owner, when the token is valid.
    pub(crate) bearer_principal: Option<Principal>,
    /// The raw `JSESSIONID`, when one was sent.
    pub(crate) session_id: Option<String>,
    /// Its owner, when the session is valid.
    pub(crate) session_principal: Option<Principal>,
}

impl Presented {
    /// The cookie session an org switch acts on: its id and owner. A bearer token alone is told
    /// `bearer_hint` (org switches work only for cookie sessions).
    pub(crate) fn cookie_session(
        self,
        bearer_hint: &'static str,
    ) -> Result<(String, Principal), ApiError> {
        match (self.session_id, self.session_principal) {
            (Some(id), Some(p)) => Ok((id, p)),
            _ if self.bearer_principal.is_some() => Err(ApiError::bad_request(bearer_hint)),
            _ => Err(ApiError::no_credential()),
        }
    }

    /// The principal the request authenticates as: the bearer token when one was sent (valid or
    /// not), else the cookie session.
    pub(crate) fn principal(&self) -> Option<&Principal> {
        if self.bearer.is_some() {
            self.bearer_principal.as_ref()
        } else {
            self.session_principal.as_ref()
        }
    }
}

/// How a login proves who it is.
pub(crate) enum Proof<'a> {
    Password(&'a str),
    SecretKey(&'a str),
}

/// What to do for an unknown user logging in with the secret key (v2.0 `auto_create`).
pub(crate) struct AutoCreate {
    pub(crate) org: Option<i64>,
    pub(crate) display_name: Option<String>,
}

/// A newly created cookie session.
pub(crate) struct NewSession {
    pub(crate) session_id: String,
    pub(crate) client_id: String,
    pub(crate) created_ms: i64,
}
