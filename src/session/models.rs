//! Request and response types of ThoughtSpot's session API, named as the API names them.
//!
//! Requests are plain structs with public fields (every parameter the API documents) and a few
//! shorthand constructors. Secrets in them are [`SecretString`]s; they are exposed only while the
//! request body is written. Responses are read leniently: numbers where strings are documented
//! and the reverse, unknown fields ignored, everything optional that the API leaves optional.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

use crate::session::SessionCredential;

// ----- v2.0 requests ---------------------------------------------------------------------------

/// Body of `POST /api/rest/2.0/auth/token/full` and, with [`TokenRequest::object_id`] set,
/// `POST /api/rest/2.0/auth/token/object`.
///
/// ```
/// use thoughtspot_auth::session::TokenRequest;
///
/// let request = TokenRequest::secret_key("alice", "the-trusted-auth-key")
///     .validity_secs(600)
///     .org_id(2);
/// assert!(!format!("{request:?}").contains("the-trusted-auth-key"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// The user to mint a token for (required).
    pub username: String,
    /// The user's password. Wins over `secret_key` when both are set.
    pub password: Option<SecretString>,
    /// The cluster's trusted-authentication secret key.
    pub secret_key: Option<SecretString>,
    /// Requested validity in seconds (server default 300).
    pub validity_time_in_sec: Option<u64>,
    /// The org the token is bound to. Without it ThoughtSpot picks one (documented two ways).
    pub org_id: Option<i64>,
    /// Create the user if it does not exist (trusted authentication only).
    pub auto_create: Option<bool>,
    /// Email of a user created with `auto_create`.
    pub email: Option<String>,
    /// Display name of a user created with `auto_create`.
    pub display_name: Option<String>,
    /// Groups to put a user created with `auto_create` in.
    pub group_identifiers: Option<Vec<String>>,
    /// For `token/object`: the GUID of the liveboard or answer the token gives view access to.
    pub object_id: Option<String>,
}

impl TokenRequest {
    /// A token request authenticated by the user's password.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: Some(SecretString::from(password.into())),
            ..Self::default()
        }
    }

    /// A token request authenticated by the cluster's trusted-authentication secret key.
    pub fn secret_key(username: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            secret_key: Some(SecretString::from(secret_key.into())),
            ..Self::default()
        }
    }

    /// Sets `validity_time_in_sec`.
    pub fn validity_secs(mut self, seconds: u64) -> Self {
        self.validity_time_in_sec = Some(seconds);
        self
    }

    /// Sets `org_id`.
    pub fn org_id(mut self, org_id: i64) -> Self {
        self.org_id = Some(org_id);
        self
    }

    /// Sets `object_id` (for `token/object`).
    pub fn object_id(mut self, object_id: impl Into<String>) -> Self {
        self.object_id = Some(object_id.into());
        self
    }

    pub(crate) fn wire(&self) -> TokenRequestWire<'_> {
        TokenRequestWire {
            username: &self.username,
            object_id: self.object_id.as_deref(),
            password: self.password.as_ref().map(|s| s.expose_secret()),
            secret_key: self.secret_key.as_ref().map(|s| s.expose_secret()),
            validity_time_in_sec: self.validity_time_in_sec,
            org_id: self.org_id,
            auto_create: self.auto_create,
            email: self.email.as_deref(),
            display_name: self.display_name.as_deref(),
            group_identifiers: self.group_identifiers.as_deref(),
        }
    }

    pub(crate) fn secrets(&self) -> Vec<&str> {
        [&self.password, &self.secret_key]
            .into_iter()
            .flatten()
            .map(|s| s.expose_secret())
            .collect()
    }
}

#[derive(Serialize)]
pub(crate) struct TokenRequestWire<'a> {
    username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    validity_time_in_sec: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_create: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_identifiers: Option<&'a [String]>,
}

/// Body of `POST /api/rest/2.0/auth/session/login`: a cookie session from a user name and
/// password. (To turn a token into a cookie session, see `V2::session_login_with_token`.)
#[derive(Debug, Clone, Default)]
pub struct SessionLoginRequest {
    /// The user name.
    pub username: Option<String>,
    /// The password.
    pub password: Option<SecretString>,
    /// The org to log in to, by id or name (sent as a string).
    pub org_identifier: Option<String>,
    /// Whether the session cookie persists.
    pub remember_me: Option<bool>,
}

impl SessionLoginRequest {
    /// A login with user name and password.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: Some(username.into()),
            password: Some(SecretString::from(password.into())),
            ..Self::default()
        }
    }

    /// Sets `org_identifier` to an org id.
    pub fn org_id(mut self, org_id: i64) -> Self {
        self.org_identifier = Some(org_id.to_string());
        self
    }

    pub(crate) fn wire(&self) -> SessionLoginWire<'_> {
        SessionLoginWire {
            username: self.username.as_deref(),
            password: self.password.as_ref().map(|s| s.expose_secret()),
            org_identifier: self.org_identifier.as_deref(),
            remember_me: self.remember_me,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct SessionLoginWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_identifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remember_me: Option<bool>,
}

/// Body of `POST /api/rest/2.0/auth/token/revoke`. Both fields optional: with neither, the
/// presented token itself is revoked.
#[derive(Debug, Clone, Default)]
pub struct RevokeTokenRequest {
    /// Revoke the tokens of this user (id or name).
    pub user_identifier: Option<String>,
    /// Revoke this token.
    pub token: Option<SecretString>,
}

#[derive(Serialize)]
pub(crate) struct RevokeTokenWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_identifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct ValidateTokenWire<'a> {
    pub(crate) token: &'a str,
}

// ----- v2 beta requests ------------------------------------------------------------------------

/// The beta API's access levels for `session/gettoken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLevel {
    /// A session with full access.
    Full,
    /// View access to the object named by `tsObjectId` only.
    ReportBookView,
}

/// Body of `POST /tspublic/rest/v2/session/login`. All fields optional; body credentials win over
/// an `Authorization` header.
#[derive(Debug, Clone, Default)]
pub struct BetaLoginRequest {
    /// `userName`.
    pub user_name: Option<String>,
    /// `password`.
    pub password: Option<SecretString>,
    /// `rememberMe`, sent as the string `"true"` or `"false"` as the API documents.
    pub remember_me: Option<bool>,
}

impl BetaLoginRequest {
    /// A login with user name and password.
    pub fn password(user_name: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user_name: Some(user_name.into()),
            password: Some(SecretString::from(password.into())),
            remember_me: None,
        }
    }

    pub(crate) fn wire(&self) -> BetaLoginWire<'_> {
        BetaLoginWire {
            user_name: self.user_name.as_deref(),
            password: self.password.as_ref().map(|s| s.expose_secret()),
            remember_me: self.remember_me.map(|b| if b { "true" } else { "false" }),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BetaLoginWire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remember_me: Option<&'a str>,
}

/// Body of `POST /tspublic/rest/v2/session/gettoken`.
#[derive(Debug, Clone, Default)]
pub struct BetaTokenRequest {
    /// `userName` (required).
    pub user_name: String,
    /// `password`; wins over `secretKey` when both are set.
    pub password: Option<SecretString>,
    /// `secretKey`, the trusted-authentication key.
    pub secret_key: Option<SecretString>,
    /// `accessLevel`.
    pub access_level: Option<AccessLevel>,
    /// `tsObjectId`, the object for [`AccessLevel::ReportBookView`].
    pub ts_object_id: Option<String>,
    /// `tokenExpiryDuration` in seconds (sent as a string, as the API documents).
    pub token_expiry_duration: Option<u64>,
    /// `orgId` (sent as a string, as the API documents).
    pub org_id: Option<String>,
}

impl BetaTokenRequest {
    /// A token request authenticated by password.
    pub fn password(user_name: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user_name: user_name.into(),
            password: Some(SecretString::from(password.into())),
            ..Self::default()
        }
    }

    /// A token request authenticated by the trusted-authentication secret key.
    pub fn secret_key(user_name: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            user_name: user_name.into(),
            secret_key: Some(SecretString::from(secret_key.into())),
            ..Self::default()
        }
    }

    /// Sets `tokenExpiryDuration`.
    pub fn expiry_secs(mut self, seconds: u64) -> Self {
        self.token_expiry_duration = Some(seconds);
        self
    }

    /// Sets `orgId`.
    pub fn org_id(mut self, org_id: i64) -> Self {
        self.org_id = Some(org_id.to_string());
        self
    }

    pub(crate) fn wire(&self) -> BetaTokenWire<'_> {
        BetaTokenWire {
            user_name: &self.user_name,
            password: self.password.as_ref().map(|s| s.expose_secret()),
            secret_key: self.secret_key.as_ref().map(|s| s.expose_secret()),
            access_level: self.access_level,
            ts_object_id: self.ts_object_id.as_deref(),
            token_expiry_duration: self.token_expiry_duration.map(|d| d.to_string()),
            org_id: self.org_id.as_deref(),
        }
    }

    pub(crate) fn secrets(&self) -> Vec<&str> {
        [&self.password, &self.secret_key]
            .into_iter()
            .flatten()
            .map(|s| s.expose_secret())
            .collect()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BetaTokenWire<'a> {
    user_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_level: Option<AccessLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts_object_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_expiry_duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct BetaSwitchOrgWire {
    pub(crate) id: String,
}

// ----- responses -------------------------------------------------------------------------------

/// A v2.0 `Token` (`token/full`, `token/object`, `session/token`). Times are on the **server's**
/// clock; only their difference is used.
#[derive(Clone, Deserialize)]
pub struct Token {
    /// The bearer token. Opaque: never decoded.
    #[serde(deserialize_with = "lenient::secret")]
    pub token: SecretString,
    /// Creation time, server ms since the epoch. The spec types it `number`: fractions are kept.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub creation_time_in_millis: Option<f64>,
    /// Expiration time, server ms since the epoch (`number`, like the creation time).
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub expiration_time_in_millis: Option<f64>,
    /// Access type and org the token is bound to (absent on `session/token`).
    #[serde(default)]
    pub scope: Option<TokenScope>,
    /// GUID of the user.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub valid_for_user_id: Option<String>,
    /// Name of the user.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub valid_for_username: Option<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("token", &"[REDACTED]")
            .field("creation_time_in_millis", &self.creation_time_in_millis)
            .field("expiration_time_in_millis", &self.expiration_time_in_millis)
            .field("scope", &self.scope)
            .field("valid_for_user_id", &self.valid_for_user_id)
            .field("valid_for_username", &self.valid_for_username)
            .finish()
    }
}

/// The `scope` of a v2.0 token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TokenScope {
    /// `FULL` or `REPORT_BOOK_VIEW`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub access_type: Option<String>,
    /// The org the token is bound to.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub org_id: Option<i64>,
    /// The object of a `REPORT_BOOK_VIEW` token.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub metadata_id: Option<String>,
}

/// The answer of `POST /api/rest/2.0/auth/token/validate`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TokenValidation {
    /// Creation time, server ms (`number`: fractions are kept).
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub creation_time_in_millis: Option<f64>,
    /// Expiration time, server ms (`number`).
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub expiration_time_in_millis: Option<f64>,
    /// Access type and org.
    #[serde(default)]
    pub scope: Option<TokenScope>,
    /// GUID of the user.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub valid_for_user_id: Option<String>,
    /// `BEARER`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub token_type: Option<String>,
}

/// An org as `session/user` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OrgRef {
    /// The org id.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub id: Option<i64>,
    /// The org name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
}

/// The answer of `GET /api/rest/2.0/auth/session/user` (the fields this crate uses; the rest
/// are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SessionUser {
    /// The user's GUID.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// The user name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    /// The display name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub display_name: Option<String>,
    /// The org this session or token is in.
    #[serde(default)]
    pub current_org: Option<OrgRef>,
    /// The orgs the user belongs to.
    #[serde(default, deserialize_with = "lenient::vec_or_null")]
    pub orgs: Vec<OrgRef>,
    /// `ACTIVE`, `INACTIVE`, `LOCKED`, ...
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub account_status: Option<String>,
}

/// The beta API's `SessionLoginResponse` (`session/login`, `session/gettoken`): every field an
/// optional string, read leniently (numbers accepted).
///
/// Only `token` and `tokenExpiryDuration` are used. `tokenCreatedTime` is kept as the server
/// spelled it (a number, a numeric string or a date) and can never fail a login; an unusable
/// `tokenExpiryDuration` is refused by the login that reads it, with a
/// [`MalformedResponse`](crate::ErrorKind::MalformedResponse) naming the field.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionLoginResponse {
    /// `userName`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_name: Option<String>,
    /// `token`: empty for cookie sessions.
    #[serde(default, deserialize_with = "lenient::opt_secret")]
    pub token: Option<SecretString>,
    /// `tokenCreatedTime`, as sent: the spec types it a string and does not say of what, so it
    /// is not interpreted (the lifetime is `tokenExpiryDuration`, counted locally).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub token_created_time: Option<String>,
    /// `tokenExpiryDuration` in seconds, from a number or a numeric string (fractions kept).
    /// `Some(Err(..))` is a value that is not a number at all: the value itself is not kept, as
    /// it could be anything.
    #[serde(default, deserialize_with = "lenient::opt_number_or_unreadable")]
    pub token_expiry_duration: Option<Result<f64, Unreadable>>,
    /// `tokenType`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub token_type: Option<String>,
}

impl fmt::Debug for SessionLoginResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLoginResponse")
            .field("user_name", &self.user_name)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("token_created_time", &self.token_created_time)
            .field("token_expiry_duration", &self.token_expiry_duration)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// A field the server sent that is not a number where one is needed. The value is not kept (it
/// could be anything, a secret included); the login that needs it says which field it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// The answer of the beta `GET /tspublic/rest/v2/session` (its shape is not specified: the
/// fields below are read where present, and the whole JSON value is kept).
#[derive(Clone, Default)]
pub struct SessionInfo {
    /// `userName`.
    pub user_name: Option<String>,
    /// `userGUID`.
    pub user_guid: Option<String>,
    /// `orgId`, where the cluster reports it.
    pub org_id: Option<i64>,
    /// The whole answer.
    pub raw: serde_json::Value,
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("user_name", &self.user_name)
            .field("user_guid", &self.user_guid)
            .field("org_id", &self.org_id)
            .finish_non_exhaustive()
    }
}

impl SessionInfo {
    pub(crate) fn from_value(raw: serde_json::Value) -> Self {
        let string = |key: &str| raw.get(key).and_then(lenient::value_string);
        Self {
            user_name: string("userName"),
            user_guid: string("userGUID").or_else(|| string("userGuid")),
            org_id: raw
                .get("orgId")
                .or_else(|| raw.get("currentOrgId"))
                .and_then(lenient::value_i64),
            raw,
        }
    }
}

/// What a successful login gives: the credential, how long it lives, who and where.
///
/// `lifetime` is the server's `expiration - creation` (or `tokenExpiryDuration`); it is counted on
/// the local monotonic clock from [`Login::sent_at`], when the login request left, so a server
/// clock that is hours off changes nothing.
#[derive(Clone)]
pub struct Login {
    /// The bearer token or session cookies.
    pub credential: SessionCredential,
    /// How long the credential lives, when the server says (a v2.0 cookie session does not).
    pub lifetime: Option<Duration>,
    /// The user the credential belongs to, when known.
    pub user: Option<String>,
    /// The org the credential is bound to, when known.
    pub org: Option<i64>,
    /// When the login request was sent, on the local monotonic clock.
    pub sent_at: tokio::time::Instant,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("credential", &self.credential)
            .field("lifetime", &self.lifetime)
            .field("user", &self.user)
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

/// The lifetime the beta API implies when it does not say (no default is documented).
pub const BETA_DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Lifetimes above this are taken as nonsense rather than trusted.
pub const MAX_PLAUSIBLE_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// Reads numbers and strings alike, and never lets a value reach an error message.
pub(crate) mod lenient {
    use super::*;
    use serde::de::Error as _;
    use serde_json::Value;

    pub(crate) fn value_i64(v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i64)
            }),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A JSON number or a numeric string as `f64`. Strings that Rust reads as non-finite ("NaN",
    /// "inf") are read as such: whoever uses the value checks it for sense.
    pub(crate) fn value_f64(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Null => Ok(None),
            Value::String(ref s) if s.trim().is_empty() => Ok(None),
            ref other => value_f64(other)
                .map(Some)
                .ok_or_else(|| D::Error::custom("expected a number or a string of one")),
        }
    }

    pub(crate) fn opt_number_or_unreadable<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Result<f64, Unreadable>>, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(match v {
            Value::Null => None,
            Value::String(ref s) if s.trim().is_empty() => None,
            ref other => Some(value_f64(other).ok_or(Unreadable)),
        })
    }

    pub(crate) fn value_string(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Null => Ok(None),
            Value::String(ref s) if s.trim().is_empty() => Ok(None),
            ref other => value_i64(other)
                .map(Some)
                .ok_or_else(|| D::Error::custom("expected an integer or a string of one")),
        }
    }

    pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(value_string(&v))
    }

    pub(crate) fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(SecretString::from(s)),
            _ => Err(D::Error::custom("expected the token to be a string")),
        }
    }

    pub(crate) fn opt_secret<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SecretString>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(SecretString::from(s))),
            _ => Err(D::Error::custom("expected the token to be a string")),
        }
    }

    pub(crate) fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_request_wire_names_follow_the_api() {
        let mut req = TokenRequest::password("alice", "pw")
            .validity_secs(60)
            .org_id(3);
        req.auto_create = Some(true);
        req.group_identifiers = Some(vec!["g".into()]);
        let json = serde_json::to_value(req.wire()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"username":"alice","password":"pw","validity_time_in_sec":60,
                "org_id":3,"auto_create":true,"group_identifiers":["g"]})
        );
    }

    #[test]
    fn beta_token_request_sends_strings_where_documented() {
        let mut req = BetaTokenRequest::secret_key("bob", "k3y")
            .expiry_secs(120)
            .org_id(2);
        req.access_level = Some(AccessLevel::ReportBookView);
        req.ts_object_id = Some("guid".into());
        let json = serde_json::to_value(req.wire()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"userName":"bob","secretKey":"k3y","accessLevel":"REPORT_BOOK_VIEW",
                "tsObjectId":"guid","tokenExpiryDuration":"120","orgId":"2"})
        );
        let login = BetaLoginRequest {
            remember_me: Some(true),
            ..BetaLoginRequest::password("bob", "pw")
        };
        assert_eq!(
            serde_json::to_value(login.wire()).unwrap(),
            serde_json::json!({"userName":"bob","password":"pw","rememberMe":"true"})
        );
    }

    #[test]
    fn token_reads_numbers_or_strings_and_ignores_unknown_fields() {
        let t: Token = serde_json::from_str(
            r#"{"token":"abc","creation_time_in_millis":"1000","expiration_time_in_millis":301000,
                "scope":{"access_type":"FULL","org_id":"2","metadata_id":null},"new_field":[1]}"#,
        )
        .unwrap();
        assert_eq!(t.creation_time_in_millis, Some(1000.0));
        assert_eq!(t.expiration_time_in_millis, Some(301000.0));
        assert_eq!(t.scope.as_ref().unwrap().org_id, Some(2));
        assert!(!format!("{:?}", t).contains("abc"));
    }

    #[test]
    fn beta_response_reads_every_spelling_of_its_numbers() {
        for (body, expiry) in [
            (
                r#"{"token":"t","tokenCreatedTime":"5","tokenExpiryDuration":"300"}"#,
                300.0,
            ),
            (
                r#"{"token":"t","tokenCreatedTime":5,"tokenExpiryDuration":300}"#,
                300.0,
            ),
            (r#"{"token":"t","tokenExpiryDuration":"299.5"}"#, 299.5),
            (r#"{"token":"t","tokenExpiryDuration":299.5}"#, 299.5),
            (r#"{"token":"t","tokenExpiryDuration":" 60 "}"#, 60.0),
        ] {
            let r: SessionLoginResponse = serde_json::from_str(body).unwrap();
            assert_eq!(r.token_expiry_duration, Some(Ok(expiry)), "{body}");
        }
        let empty: SessionLoginResponse = serde_json::from_str(r#"{"token":""}"#).unwrap();
        assert!(empty.token.is_none());
        assert!(empty.token_expiry_duration.is_none());
    }

    #[test]
    fn beta_created_time_is_kept_as_sent_and_never_fails_the_answer() {
        for (created, kept) in [
            (r#""2026-12-04T17:21:12Z""#, Some("2026-12-04T17:21:12Z")),
            (r#""1767225600000""#, Some("1767225600000")),
            (r#"1767225600000.5"#, Some("1767225600000.5")),
            (r#""""#, Some("")),
            (r#"null"#, None),
            (r#"{"nested":[1]}"#, None),
            (r#"[1,2]"#, None),
        ] {
            let body = format!(r#"{{"token":"t","tokenCreatedTime":{created}}}"#);
            let r: SessionLoginResponse = serde_json::from_str(&body).unwrap();
            assert_eq!(r.token_created_time.as_deref(), kept, "{body}");
        }
    }

    #[test]
    fn an_unreadable_expiry_is_kept_as_unreadable_without_its_value() {
        for expiry in [r#""soon""#, r#"true"#, r#"{"s":1}"#, r#"["s3cr3t"]"#] {
            let body = format!(r#"{{"token":"t","tokenExpiryDuration":{expiry}}}"#);
            let r: SessionLoginResponse = serde_json::from_str(&body).unwrap();
            assert_eq!(r.token_expiry_duration, Some(Err(Unreadable)), "{body}");
            assert!(!format!("{r:?}").contains("s3cr3t"));
        }
    }

    #[test]
    fn v2_times_keep_their_fractions() {
        let t: Token = serde_json::from_str(
            r#"{"token":"t","creation_time_in_millis":1767225600000.25,
                "expiration_time_in_millis":"1767225900000.75"}"#,
        )
        .unwrap();
        assert_eq!(t.creation_time_in_millis, Some(1_767_225_600_000.25));
        assert_eq!(t.expiration_time_in_millis, Some(1_767_225_900_000.75));
    }

    #[test]
    fn type_errors_do_not_echo_values() {
        let err = serde_json::from_str::<Token>(r#"{"token":12345678901234}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("12345678901234"), "{err}");
        let err = serde_json::from_str::<Token>(
            r#"{"token":"s3cr3t-tok","creation_time_in_millis":"s3cr3t-tok"}"#,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(!err.contains("s3cr3t-tok"), "{err}");
    }
}
