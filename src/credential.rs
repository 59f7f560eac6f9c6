//! Credentials: what a login produces, kept as a prebuilt, sensitive header.
//!
//! A [`SessionCredential`] is a bearer token or a pair of session cookies. Its header value is
//! built once, when the credential is made, and marked sensitive so that HTTP/2 HPACK never
//! indexes it and tower-http's tracing never prints it. Attaching it to a request is a cheap
//! clone of that value.
//!
//! The layer keeps each in a `Credential`: the session credential, the cache key and generation
//! it belongs to, and its soft and hard deadlines on the local monotonic clock.

use std::fmt;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE, HeaderName, HeaderValue, SET_COOKIE};
use secrecy::{ExposeSecret, SecretString};

use crate::Error;
use crate::stripes;

/// A bearer token or a cookie session, with the header that presents it.
///
/// ```
/// use thoughtspot_auth::SessionCredential;
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

/// A copy of `value` over a `Bytes` whose reference count sits alone on its cache lines.
fn own_line_copy(value: &HeaderValue) -> HeaderValue {
    let bytes = Bytes::from_owner(OwnLine(value.as_bytes().into()));
    // The bytes came from a valid header value, so this cannot fail; if it did, sharing the
    // original would only cost speed.
    let mut copy = HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| value.clone());
    copy.set_sensitive(value.is_sensitive());
    copy
}

/// The owner of a striped header value's bytes. `Bytes::from_owner` keeps its reference count
/// at the start of the owner's allocation, which this alignment gives 128 bytes of its own
/// (adjacent-line prefetching pairs 64-byte lines). The bytes, a secret, are wiped when the last
/// request carrying them is dropped.
#[repr(align(128))]
struct OwnLine(Box<[u8]>);

impl AsRef<[u8]> for OwnLine {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for OwnLine {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut *self.0);
    }
}

/// Whose a credential is: the key of the credential cache. `user` is set only in multi-user
/// trusted authentication; otherwise the configured user is implied. `attributes`, the access
/// rules a multi-user token carries, are part of the key: one user's tokens with different rules
/// are different credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) user: Option<std::sync::Arc<str>>,
    pub(crate) org: Option<i64>,
    pub(crate) attributes: Option<crate::identity::AttributeKey>,
}

impl CacheKey {
    #[inline]
    pub(crate) fn org(org: Option<i64>) -> Self {
        Self {
            user: None,
            org,
            attributes: None,
        }
    }

    /// The key of a multi-user request. Access rules that live only in the token
    /// (`PersistOption::None`) are refused in cookie-session mode: a session ignores them, so
    /// the request would run without its rules.
    pub(crate) fn act_as(
        act_as: &crate::ActAs,
        org: Option<i64>,
        kind: crate::CredentialKind,
    ) -> Result<Self, Error> {
        if let Some(attributes) = &act_as.attributes {
            if kind == crate::CredentialKind::CookieSession
                && attributes.set.persist == crate::session::PersistOption::None
            {
                return Err(Error::config(
                    "access rules with persist option NONE live only in the token, and a cookie \
                     session ignores them: use bearer tokens, or persist the rules (REPLACE); \
                     nothing was sent",
                ));
            }
        }
        Ok(Self {
            user: Some(act_as.user.clone()),
            org,
            attributes: act_as.attributes.clone(),
        })
    }
}

/// How far a credential is through its life. Flipped by a timer task, so that the hot path
/// reads an atomic instead of a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Use it.
    Fresh = 0,
    /// Use it, and start one background refresh.
    Soft = 1,
    /// Do not use it: wait for the shared login.
    Hard = 2,
}

/// A credential in the layer's cache: the prebuilt header, whose it is, which login made it, and
/// where it is in its life.
pub(crate) struct Credential {
    pub(crate) session: SessionCredential,
    pub(crate) key: CacheKey,
    /// Increases with every login; a rejection invalidates only the generation it saw.
    pub(crate) generation: u64,
    /// `None` for a static token, which never expires by our clock.
    pub(crate) lifetime: Option<std::time::Duration>,
    pub(crate) soft_at: Option<tokio::time::Instant>,
    pub(crate) hard_at: Option<tokio::time::Instant>,
    phase: std::sync::atomic::AtomicU8,
    /// Set by the first request that sees the soft phase, so only one asks for a refresh.
    pub(crate) refresh_claimed: std::sync::atomic::AtomicBool,
    /// How that request asks: the credential's life timer (see `Core::life_timer`) starts the
    /// refresh, so that no request spawns a task or takes a lock on its way through.
    pub(crate) refresh_wanted: std::sync::Arc<tokio::sync::Notify>,
    /// The header value again for each stripe of threads (see [`crate::stripes`]), made with
    /// the credential so that the hot path never allocates. Empty for a multi-user credential:
    /// thousands of users' tokens spread their requests over thousands of counts already, and
    /// each copy costs memory (some 380 bytes).
    striped: Box<[HeaderValue]>,
}

impl Credential {
    pub(crate) fn new(
        session: SessionCredential,
        key: CacheKey,
        generation: u64,
        lifetime: Option<std::time::Duration>,
        soft_at: Option<tokio::time::Instant>,
        hard_at: Option<tokio::time::Instant>,
    ) -> Self {
        Self {
            generation,
            lifetime,
            soft_at,
            hard_at,
            phase: std::sync::atomic::AtomicU8::new(Phase::Fresh as u8),
            refresh_claimed: std::sync::atomic::AtomicBool::new(false),
            refresh_wanted: std::sync::Arc::default(),
            striped: match &key.user {
                Some(_) => Box::default(),
                None => (0..stripes::count())
                    .map(|_| own_line_copy(session.header_value()))
                    .collect(),
            },
            session,
            key,
        }
    }

    /// The header value for threads of `stripe`: equal to the session credential's, but over a
    /// reference count of its own, alone on its cache lines, so that threads of different
    /// stripes attaching it at once never write the same one.
    #[inline]
    pub(crate) fn header_for(&self, stripe: usize) -> &HeaderValue {
        self.striped
            .get(stripe)
            .unwrap_or_else(|| self.session.header_value())
    }

    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(std::sync::atomic::Ordering::Acquire) {
            0 => Phase::Fresh,
            1 => Phase::Soft,
            _ => Phase::Hard,
        }
    }

    /// Moves the credential on in its life; never back.
    pub(crate) fn advance(&self, phase: Phase) {
        self.phase
            .fetch_max(phase as u8, std::sync::atomic::Ordering::AcqRel);
    }

    /// Brings the phase up to date with the clock (for the slow path, which may run before the
    /// timer task did).
    pub(crate) fn catch_up(&self, now: tokio::time::Instant) -> Phase {
        if self.hard_at.is_some_and(|t| now >= t) {
            self.advance(Phase::Hard);
        } else if self.soft_at.is_some_and(|t| now >= t) {
            self.advance(Phase::Soft);
        }
        self.phase()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("session", &self.session)
            .field("key", &self.key)
            .field("generation", &self.generation)
            .field("lifetime", &self.lifetime)
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
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
    fn every_stripe_presents_the_same_sensitive_header_over_its_own_count() {
        let session = SessionCredential::bearer("tok-striped").unwrap();
        let credential = Credential::new(session, CacheKey::org(None), 1, None, None, None);
        let first = credential.header_for(0).clone();
        assert_eq!(first, "Bearer tok-striped");
        assert!(first.is_sensitive());
        for stripe in 0..stripes::STRIPES {
            assert_eq!(credential.header_for(stripe), &first);
            assert!(credential.header_for(stripe).is_sensitive());
        }
        // Each stripe's bytes are a copy of their own, not a view of one shared buffer.
        let addresses: std::collections::HashSet<*const u8> = (0..stripes::count())
            .map(|stripe| credential.header_for(stripe).as_bytes().as_ptr())
            .collect();
        assert_eq!(addresses.len(), stripes::count());
        assert!(!format!("{credential:?}").contains("tok-striped"));
    }

    #[test]
    fn a_multi_user_credential_shares_one_header_value() {
        let session = SessionCredential::bearer("tok-user").unwrap();
        let key = CacheKey {
            user: Some("alice".into()),
            org: None,
            attributes: None,
        };
        let credential = Credential::new(session, key, 1, None, None, None);
        let original = credential.session.header_value().as_bytes().as_ptr();
        for stripe in 0..stripes::STRIPES {
            assert_eq!(credential.header_for(stripe).as_bytes().as_ptr(), original);
        }
    }

    #[test]
    fn bad_tokens_are_config_errors_without_the_token() {
        assert!(SessionCredential::bearer("").is_err());
        let err = SessionCredential::bearer("abc\ndef-secret").unwrap_err();
        assert!(!err.to_string().contains("def-secret"));
    }
}
