//! The v2.0 API's request and response types (`/api/rest/2.0/auth/...`): JSON in snake_case.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::lenient;

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
