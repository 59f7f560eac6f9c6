//! The answer of `POST /api/rest/2.0/auth/token/custom`: `AccessToken`, shaped unlike the
//! `Token` of `token/full`, read leniently.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::models::{Login, OrgRef, lenient};

/// The user an [`AccessToken`] belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserRef {
    /// The user's GUID.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// The user name.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
}

/// The answer of `token/custom`: `{id, token, org, user, creation_time_in_millis,
/// expiration_time_in_millis}` (not the `Token` shape of `token/full`). Read leniently: numbers
/// or strings, fractional milliseconds, unknown fields ignored.
#[derive(Clone, Deserialize)]
pub struct AccessToken {
    /// The token's id.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    /// The bearer token. Opaque: never decoded.
    #[serde(deserialize_with = "lenient::secret")]
    pub token: SecretString,
    /// The org the token is bound to.
    #[serde(default)]
    pub org: Option<OrgRef>,
    /// The user it was minted for.
    #[serde(default)]
    pub user: Option<UserRef>,
    /// Creation time, server ms since the epoch.
    #[serde(default, deserialize_with = "opt_millis")]
    pub creation_time_in_millis: Option<i64>,
    /// Expiration time, server ms since the epoch.
    #[serde(default, deserialize_with = "opt_millis")]
    pub expiration_time_in_millis: Option<i64>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("id", &self.id)
            .field("token", &"[REDACTED]")
            .field("org", &self.org)
            .field("user", &self.user)
            .field("creation_time_in_millis", &self.creation_time_in_millis)
            .field("expiration_time_in_millis", &self.expiration_time_in_millis)
            .finish()
    }
}

/// What [`V2::token_custom`](super::V2::token_custom) gives: the answer as ThoughtSpot sent it,
/// and the same token as a checked [`Login`] (credential, lifetime, user, org).
#[derive(Debug, Clone)]
pub struct CustomLogin {
    /// The answer.
    pub access_token: AccessToken,
    /// The token as a credential, with its lifetime counted from when the request was sent.
    pub login: Login,
}

impl CustomLogin {
    /// How long the token lives.
    pub fn lifetime(&self) -> Option<Duration> {
        self.login.lifetime
    }
}

/// Milliseconds as an integer, a fraction (truncated) or a string of either.
fn opt_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error as _;
    let v = Value::deserialize(d)?;
    let float = |f: f64| (f.is_finite() && f.abs() < 9.0e18).then_some(f.trunc() as i64);
    match &v {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(float)),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().and_then(float)),
        _ => None,
    }
    .map(Some)
    .ok_or_else(|| D::Error::custom("expected milliseconds as a number or a string of one"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn access_token_reads_leniently() {
        let t: AccessToken = serde_json::from_value(json!({
            "id": 42, "token": "s3cret-tok", "org": {"id": "2", "name": "Sales"},
            "user": {"id": "guid", "name": "alice"},
            "creation_time_in_millis": 1000.75, "expiration_time_in_millis": "301000.2",
            "new_field": {"x": 1}
        }))
        .unwrap();
        assert_eq!(t.id.as_deref(), Some("42"));
        assert_eq!(t.org.as_ref().and_then(|o| o.id), Some(2));
        assert_eq!(t.creation_time_in_millis, Some(1000));
        assert_eq!(t.expiration_time_in_millis, Some(301000));
        assert!(!format!("{t:?}").contains("s3cret-tok"));
        let err = serde_json::from_value::<AccessToken>(
            json!({"token":"s3cret-tok","creation_time_in_millis":"s3cret-tok"}),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(!err.contains("s3cret-tok"), "{err}");
    }
}
