//! The v2 beta API's request and response types (`/tspublic/rest/v2/session/...`): JSON in
//! camelCase, numbers sent as strings where the API documents strings.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::lenient::{self, Unreadable};

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

/// The lifetime the beta API implies when it does not say (no default is documented).
pub const BETA_DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

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
}
