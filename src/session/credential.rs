//! What a login returns: a [`SessionCredential`], a bearer token or a pair of session cookies.
//!
//! Its header value is built once, when the credential is made, and marked sensitive so that
//! HTTP/2 HPACK never indexes it and tower-http's tracing never prints it. Attaching it to a
//! request is a cheap clone of that value.

use std::fmt;

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE, HeaderName, HeaderValue, SET_COOKIE};
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// A bearer token or a cookie session, with the header that presents it.
///
/// ```
/// use thoughtspot_auth::session::SessionCredential;
///
/// let credential = SessionCredential::bearer("tok-123")?;
/// let (name, value) = credential.header();
/// assert_eq!(name, http::header::AUTHORIZATION);
/// assert!(value.is_sensitive());
/// assert_eq!(format!("{credential:?}"), "Bearer([REDACTED])");
/// # Ok::<(), thoughtspot_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct SessionCredential {
    kind: Kind,
    header: HeaderValue,
}

#[derive(Clone)]
enum Kind {
    Bearer(SecretString),
    Cookies(SessionCookies),
}

impl SessionCredential {
    /// A bearer token, presented as `Authorization: Bearer <token>`. Fails if the token cannot
    /// be a header value (control characters) or is empty.
    pub fn bearer(token: impl Into<String>) -> Result<Self, Error> {
        let token = token.into();
        if token.trim().is_empty() {
            return Err(Error::config("the token is empty"));
        }
        let header = sensitive_header(format!("Bearer {token}"))
            .ok_or_else(|| Error::config("the token contains characters a header cannot carry"))?;
        Ok(Self {
            kind: Kind::Bearer(SecretString::from(token)),
            header,
        })
    }

    /// A cookie session, presented as `Cookie: JSESSIONID=...; clientId=...`.
    pub fn cookies(cookies: SessionCookies) -> Result<Self, Error> {
        let mut value = format!("JSESSIONID={}", cookies.jsessionid.expose_secret());
        if let Some(client_id) = &cookies.client_id {
            value.push_str("; clientId=");
            value.push_str(client_id.expose_secret());
        }
        let header = sensitive_header(value).ok_or_else(|| {
            Error::config("a session cookie contains characters a header cannot carry")
        })?;
        Ok(Self {
            kind: Kind::Cookies(cookies),
            header,
        })
    }

    /// The header that presents this credential: its name and its (sensitive) value.
    pub fn header(&self) -> (HeaderName, HeaderValue) {
        (self.header_name(), self.header.clone())
    }

    /// `Authorization` for a token, `Cookie` for a session.
    pub fn header_name(&self) -> HeaderName {
        match self.kind {
            Kind::Bearer(_) => AUTHORIZATION,
            Kind::Cookies(_) => COOKIE,
        }
    }

    /// The prebuilt header value, marked sensitive.
    pub fn header_value(&self) -> &HeaderValue {
        &self.header
    }

    /// The bearer token, if this is one.
    pub fn token(&self) -> Option<&SecretString> {
        match &self.kind {
            Kind::Bearer(token) => Some(token),
            Kind::Cookies(_) => None,
        }
    }

    /// The session cookies, if this is a cookie session.
    pub fn session_cookies(&self) -> Option<&SessionCookies> {
        match &self.kind {
            Kind::Cookies(cookies) => Some(cookies),
            Kind::Bearer(_) => None,
        }
    }

    /// Whether this is a bearer token.
    pub fn is_bearer(&self) -> bool {
        matches!(self.kind, Kind::Bearer(_))
    }

    /// The secret strings, for scrubbing error messages.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match &self.kind {
            Kind::Bearer(token) => vec![token.expose_secret()],
            Kind::Cookies(c) => {
                let mut v = vec![c.jsessionid.expose_secret()];
                v.extend(c.client_id.as_ref().map(|s| s.expose_secret()));
                v
            }
        }
    }
}

impl fmt::Debug for SessionCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bearer(_) => f.write_str("Bearer([REDACTED])"),
            Kind::Cookies(c) => fmt::Debug::fmt(c, f),
        }
    }
}

/// The cookies of a ThoughtSpot session: `JSESSIONID` and `clientId`. Both must be sent back.
#[derive(Clone)]
pub struct SessionCookies {
    jsessionid: SecretString,
    client_id: Option<SecretString>,
}

impl SessionCookies {
    /// Cookies from their values.
    pub fn new(jsessionid: impl Into<String>, client_id: Option<String>) -> Self {
        Self {
            jsessionid: SecretString::from(jsessionid.into()),
            client_id: client_id.map(SecretString::from),
        }
    }

    /// The session cookies set by a login answer's `Set-Cookie` headers; `None` without a
    /// `JSESSIONID`.
    pub fn from_set_cookie(headers: &HeaderMap) -> Option<Self> {
        let mut jsessionid = None;
        let mut client_id = None;
        for value in headers.get_all(SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let pair = value.split(';').next().unwrap_or_default();
            let Some((name, val)) = pair.split_once('=') else {
                continue;
            };
            let val = val.trim().trim_matches('"');
            if val.is_empty() {
                continue;
            }
            match name.trim() {
                "JSESSIONID" => jsessionid = Some(val.to_owned()),
                "clientId" => client_id = Some(val.to_owned()),
                _ => {}
            }
        }
        Some(Self::new(jsessionid?, client_id))
    }

    /// The `JSESSIONID` cookie.
    pub fn jsessionid(&self) -> &SecretString {
        &self.jsessionid
    }

    /// The `clientId` cookie, if the server set one.
    pub fn client_id(&self) -> Option<&SecretString> {
        self.client_id.as_ref()
    }
}

impl fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookies")
            .field("jsessionid", &"[REDACTED]")
            .field("client_id", &self.client_id.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

fn sensitive_header(value: String) -> Option<HeaderValue> {
    let mut header = HeaderValue::try_from(value).ok()?;
    header.set_sensitive(true);
    Some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_from_set_cookie() {
        let mut headers = HeaderMap::new();
        headers.append(
            SET_COOKIE,
            "JSESSIONID=js-1; Path=/; HttpOnly".parse().unwrap(),
        );
        headers.append(
            SET_COOKIE,
            "clientId=cid-2; Path=/; Secure; HttpOnly".parse().unwrap(),
        );
        headers.append(SET_COOKIE, "other=x".parse().unwrap());
        let cookies = SessionCookies::from_set_cookie(&headers).unwrap();
        let credential = SessionCredential::cookies(cookies).unwrap();
        assert_eq!(credential.header_name(), COOKIE);
        assert_eq!(credential.header_value(), "JSESSIONID=js-1; clientId=cid-2");
        assert!(credential.header_value().is_sensitive());
        let debug = format!("{credential:?}");
        assert!(
            !debug.contains("js-1") && !debug.contains("cid-2"),
            "{debug}"
        );
    }

    #[test]
    fn no_jsessionid_no_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, "clientId=cid".parse().unwrap());
        headers.append(SET_COOKIE, "JSESSIONID=; Path=/".parse().unwrap());
        assert!(SessionCookies::from_set_cookie(&headers).is_none());
    }

    #[test]
    fn bad_tokens_are_config_errors_without_the_token() {
        assert!(SessionCredential::bearer("").is_err());
        let err = SessionCredential::bearer("abc\ndef-secret").unwrap_err();
        assert!(!err.to_string().contains("def-secret"));
    }
}
