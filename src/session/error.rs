//! The crate's one error type, and the lenient reading of ThoughtSpot's error bodies.
//!
//! ThoughtSpot answers errors in several shapes (see the crate's API notes):
//! - v2.0 per spec: `{"error": {"message": {"code", "debug", "incident_id_guid", "trace_id_guid"}}}`
//! - v2.0 in the wild: `{"error": {"message": {"debug": {"code", "debug": "[\"...\"]"}}}}`
//! - the v2 beta: HTTP 500 whose real status sits at
//!   `error.errors[].extension(s).exception.upstreamResponse.{status, data: {code, debug, ...}}`
//! - v1: `{"debug": "...", "incident_id_guid": "..."}`
//!
//! All of them are read by searching for the fields rather than by one fixed structure, so a
//! shape we have not seen still yields whatever it carries.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::session::ApiVersion;
use crate::transport::TransportError;

/// ThoughtSpot's code for bad credentials and for a missing, expired or revoked token.
pub const CODE_UNAUTHORIZED: i64 = 10097;
/// ThoughtSpot's code for an inactive or locked account, disabled trusted auth, or a missing
/// privilege.
pub const CODE_FORBIDDEN: i64 = 10023;

/// Everything that can go wrong talking to ThoughtSpot.
///
/// Classified so callers can act on it: [`Error::kind`] says what happened and
/// [`Error::is_permanent`] whether trying again can help. No variant ever carries a password,
/// secret key, token or cookie: messages echoed by the server are scrubbed of the secrets the
/// call sent.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The credentials or the credential were rejected: wrong user name, password or secret key,
    /// or a missing, expired or revoked token or session (401, code 10097, beta upstream 401).
    #[error("ThoughtSpot rejected the credentials: {0}")]
    Unauthorized(ApiFailure),
    /// Authenticated but refused: account locked or inactive, trusted authentication disabled,
    /// not a member of the org, or a missing privilege (403, code 10023). Logging in again
    /// cannot fix it.
    #[error(
        "ThoughtSpot refused access (locked or inactive account, trusted authentication off, \
         or a missing privilege): {0}"
    )]
    Forbidden(ApiFailure),
    /// Too many requests (429); [`ApiFailure::retry_after`] says when to try again.
    #[error("ThoughtSpot is rate-limiting this client: {0}")]
    RateLimited(ApiFailure),
    /// ThoughtSpot is down, in maintenance or failing (5xx, an HTML page where JSON was due).
    #[error("ThoughtSpot is unavailable: {0}")]
    Unavailable(ApiFailure),
    /// ThoughtSpot refused the request as invalid (400, 404, 415 and other 4xx).
    #[error("ThoughtSpot refused the request: {0}")]
    BadRequest(ApiFailure),
    /// A success status with a body this crate cannot use: not JSON, fields missing, a lifetime
    /// that makes no sense, a login without its cookie.
    #[error("ThoughtSpot sent an answer this client cannot use: {0}")]
    MalformedResponse(Malformed),
    /// ThoughtSpot could not be reached, or its answer broke off or was too large.
    #[error("could not talk to ThoughtSpot: {0}")]
    Transport(#[from] TransportError),
    /// The configuration is incomplete or invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The layer was dropped while the request waited for a login.
    #[error("the ThoughtSpot authentication layer was shut down")]
    Shutdown,
    /// No login was tried: an earlier permanent failure (rejected credentials, a locked
    /// account, an unusable answer) opened a backoff window that is still open, and nothing was
    /// sent. Its [`kind`](Error::kind), [`status`](Error::status) and
    /// [`api_failure`](Error::api_failure) are those of the failure that opened the window;
    /// [`Error::not_tried_until`] says when a login may be tried again.
    #[error(
        "not sent: logins are held back after a permanent failure until its backoff window ends \
         (in {}); the failure that opened it: {}",
        DisplaySecs(.0.remaining),
        .0.opened_by
    )]
    RefusedByBackoff(Box<RefusedByBackoff>),
}

/// The details of [`Error::RefusedByBackoff`].
#[derive(Debug, Clone)]
pub struct RefusedByBackoff {
    opened_by: Error,
    until: tokio::time::Instant,
    remaining: Duration,
}

impl RefusedByBackoff {
    /// The permanent failure that opened the backoff window.
    pub fn opened_by(&self) -> &Error {
        &self.opened_by
    }

    /// When a login may be tried again (tokio's clock).
    pub fn until(&self) -> tokio::time::Instant {
        self.until
    }
}

/// Seconds, rounded up, for a message.
struct DisplaySecs(Duration);

impl fmt::Display for DisplaySecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        write!(f, "{secs} s")
    }
}

/// What an [`Error`] is about, as a plain value to match on or count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::Unauthorized`].
    Unauthorized,
    /// See [`Error::Forbidden`].
    Forbidden,
    /// See [`Error::RateLimited`].
    RateLimited,
    /// See [`Error::Unavailable`].
    Unavailable,
    /// See [`Error::BadRequest`].
    BadRequest,
    /// See [`Error::MalformedResponse`].
    MalformedResponse,
    /// See [`Error::Transport`].
    Transport,
    /// See [`Error::Config`].
    Config,
    /// See [`Error::Shutdown`].
    Shutdown,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }

    pub(crate) fn malformed(status: StatusCode, reason: impl Into<String>) -> Self {
        Self::MalformedResponse(Malformed {
            status,
            reason: reason.into(),
        })
    }

    /// `error` as the answer to a login that was not tried because its backoff window lasts
    /// until `until`.
    pub(crate) fn refused_by_backoff(error: Error, until: tokio::time::Instant) -> Self {
        let opened_by = match error {
            Self::RefusedByBackoff(refused) => refused.opened_by,
            other => other,
        };
        Self::RefusedByBackoff(Box::new(RefusedByBackoff {
            opened_by,
            until,
            remaining: until.saturating_duration_since(tokio::time::Instant::now()),
        }))
    }

    /// Whether this error answers a login that was not tried at all, because a permanent
    /// failure's backoff window was still open ([`Error::RefusedByBackoff`]): nothing was sent.
    pub fn is_refused_by_backoff(&self) -> bool {
        matches!(self, Self::RefusedByBackoff(_))
    }

    /// For a login that was not tried because of a backoff window
    /// ([`Error::RefusedByBackoff`]), when the window ends and a login may be tried again, on
    /// tokio's clock (the clock of [`Login::sent_at`](crate::Login::sent_at)); `None` for every
    /// error that comes from an attempt.
    pub fn not_tried_until(&self) -> Option<tokio::time::Instant> {
        match self {
            Self::RefusedByBackoff(refused) => Some(refused.until),
            _ => None,
        }
    }

    /// What the error is about.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::RefusedByBackoff(refused) => refused.opened_by.kind(),
            Self::Unauthorized(_) => ErrorKind::Unauthorized,
            Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::RateLimited(_) => ErrorKind::RateLimited,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::BadRequest(_) => ErrorKind::BadRequest,
            Self::MalformedResponse(_) => ErrorKind::MalformedResponse,
            Self::Transport(_) => ErrorKind::Transport,
            Self::Config(_) => ErrorKind::Config,
            Self::Shutdown => ErrorKind::Shutdown,
        }
    }

    /// Whether trying the same call again soon cannot help: rejected credentials, a locked
    /// account, an invalid request, an unusable answer, a bad configuration. Retrying a rejected
    /// password in a loop is how accounts get locked.
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self.kind(),
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Transport
        )
    }

    /// ThoughtSpot's answer, for errors that come from one.
    pub fn api_failure(&self) -> Option<&ApiFailure> {
        match self {
            Self::Unauthorized(f)
            | Self::Forbidden(f)
            | Self::RateLimited(f)
            | Self::Unavailable(f)
            | Self::BadRequest(f) => Some(f),
            Self::RefusedByBackoff(refused) => refused.opened_by.api_failure(),
            _ => None,
        }
    }

    /// The HTTP status ThoughtSpot answered with, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::MalformedResponse(m) => Some(m.status),
            Self::RefusedByBackoff(refused) => refused.opened_by.status(),
            _ => self.api_failure().map(ApiFailure::status),
        }
    }

    /// How long ThoughtSpot asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_failure().and_then(ApiFailure::retry_after)
    }
}

/// A permanent login failure as a fleet of replicas shares it through a credential store: enough
/// to rebuild an [`Error`] of the same kind with the same ThoughtSpot detail (status, code,
/// message, incident and trace ids), but not the raw body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SharedError {
    kind: String,
    status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upstream: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    incident: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace: Option<String>,
}

impl Error {
    /// The parts of a permanent failure ThoughtSpot answered, to share with other replicas;
    /// `None` for errors that are this replica's own (configuration, transport, shutdown).
    pub(crate) fn to_shared(&self) -> Option<SharedError> {
        let kind = match self {
            Self::RefusedByBackoff(refused) => return refused.opened_by.to_shared(),
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::BadRequest(_) => "bad_request",
            Self::MalformedResponse(m) => {
                return Some(SharedError {
                    kind: "malformed".into(),
                    status: m.status.as_u16(),
                    upstream: None,
                    code: None,
                    message: Some(m.reason.clone()),
                    incident: None,
                    trace: None,
                });
            }
            _ => return None,
        };
        let f = self.api_failure()?;
        Some(SharedError {
            kind: kind.into(),
            status: f.status().as_u16(),
            upstream: f.upstream_status().map(|s| s.as_u16()),
            code: f.code(),
            message: f.inner.message.clone(),
            incident: f.inner.incident_id.clone(),
            trace: f.inner.trace_id.clone(),
        })
    }

    /// Rebuilds the error another replica shared; `None` if the parts make no sense.
    pub(crate) fn from_shared(shared: SharedError) -> Option<Self> {
        let status = StatusCode::from_u16(shared.status).ok()?;
        if shared.kind == "malformed" {
            return Some(Self::malformed(status, shared.message.unwrap_or_default()));
        }
        let failure = ApiFailure {
            inner: std::sync::Arc::new(FailureDetail {
                status,
                upstream_status: shared.upstream.and_then(|s| StatusCode::from_u16(s).ok()),
                code: shared.code,
                message: shared.message,
                incident_id: shared.incident,
                trace_id: shared.trace,
                retry_after: None,
                raw_body: Bytes::new(),
            }),
        };
        match shared.kind.as_str() {
            "unauthorized" => Some(Self::Unauthorized(failure)),
            "forbidden" => Some(Self::Forbidden(failure)),
            "bad_request" => Some(Self::BadRequest(failure)),
            _ => None,
        }
    }
}

/// ThoughtSpot's error answer: status, ThoughtSpot code, incident id and message, as far as the
/// body carried them. The raw body is kept too (see [`ApiFailure::raw_body`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// Shared: errors are cloned to every waiter of a failed login.
    inner: std::sync::Arc<FailureDetail>,
}

#[derive(PartialEq, Eq)]
struct FailureDetail {
    status: StatusCode,
    upstream_status: Option<StatusCode>,
    code: Option<i64>,
    message: Option<String>,
    incident_id: Option<String>,
    trace_id: Option<String>,
    retry_after: Option<Duration>,
    raw_body: Bytes,
}

impl ApiFailure {
    /// The HTTP status of the answer (always 500 on the beta API).
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The beta API's real status, nested in its 500 answers; `None` on other generations and on
    /// a bare beta 500, which is ambiguous ("Operation failed or unauthorized request").
    pub fn upstream_status(&self) -> Option<StatusCode> {
        self.inner.upstream_status
    }

    /// The status that classifies the answer: the upstream status where there is one.
    pub fn effective_status(&self) -> StatusCode {
        self.inner.upstream_status.unwrap_or(self.inner.status)
    }

    /// ThoughtSpot's error code (10097 bad credentials, 10023 forbidden, 10002 bad request, ...).
    pub fn code(&self) -> Option<i64> {
        self.inner.code
    }

    /// ThoughtSpot's message, scrubbed of the call's secrets and shortened to 500 characters.
    pub fn message(&self) -> Option<&str> {
        self.inner.message.as_deref()
    }

    /// The incident id to quote to ThoughtSpot support.
    pub fn incident_id(&self) -> Option<&str> {
        self.inner.incident_id.as_deref()
    }

    /// The trace id, where ThoughtSpot sent one.
    pub fn trace_id(&self) -> Option<&str> {
        self.inner.trace_id.as_deref()
    }

    /// `Retry-After`, in seconds or as an HTTP date, turned into a duration.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The body as received (secrets of the call scrubbed), for diagnostics. Not part of
    /// `Display` or `Debug`.
    pub fn raw_body(&self) -> &Bytes {
        &self.inner.raw_body
    }

    /// Whether the answer is a beta 500 with no upstream detail, which may or may not mean that
    /// the credential is dead.
    pub fn is_ambiguous_beta_500(&self) -> bool {
        self.inner.status == StatusCode::INTERNAL_SERVER_ERROR
            && self.inner.upstream_status.is_none()
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.inner.status.as_u16())?;
        if let Some(upstream) = self.inner.upstream_status {
            write!(f, " (upstream {})", upstream.as_u16())?;
        }
        if let Some(code) = self.inner.code {
            write!(f, ", code {code}")?;
        }
        if let Some(message) = &self.inner.message {
            write!(f, ": {message}")?;
        }
        if let Some(incident) = &self.inner.incident_id {
            write!(f, " (incident {incident})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiFailure")
            .field("status", &self.inner.status)
            .field("upstream_status", &self.inner.upstream_status)
            .field("code", &self.inner.code)
            .field("message", &self.inner.message)
            .field("incident_id", &self.inner.incident_id)
            .field("trace_id", &self.inner.trace_id)
            .field("retry_after", &self.inner.retry_after)
            .field("raw_body_len", &self.inner.raw_body.len())
            .finish()
    }
}

/// Why a success answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    status: StatusCode,
    reason: String,
}

impl Malformed {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What was wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.reason, self.status.as_u16())
    }
}

/// The fields ThoughtSpot error bodies carry, found wherever they sit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<i64>,
    pub(crate) message: Option<String>,
    pub(crate) incident_id: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) upstream_status: Option<u16>,
}

/// How deep the search for error fields goes; real bodies nest five or six levels.
const MAX_DEPTH: usize = 12;
const MAX_MESSAGE_CHARS: usize = 500;

impl ErrorBody {
    /// Reads whatever error fields `body` carries. Never fails: a body that is not JSON yields
    /// nothing.
    pub(crate) fn parse(body: &[u8]) -> Self {
        let mut found = Self::default();
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            found.search(&value, 0);
        }
        found
    }

    fn search(&mut self, value: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match key.as_str() {
                        "upstreamResponse" | "upstream_response" => {
                            if let Some(status) = child.get("status").and_then(as_i64) {
                                self.upstream_status =
                                    self.upstream_status.or(u16::try_from(status).ok());
                            }
                            self.search(child, depth + 1);
                        }
                        "code" => match as_i64(child) {
                            Some(code) if self.code.is_none() => self.code = Some(code),
                            _ => self.search(child, depth + 1),
                        },
                        "debug" | "message" => match child {
                            Value::String(text) => self.note_message(text),
                            other => self.search(other, depth + 1),
                        },
                        "incident_id_guid" | "incidentId" | "incident_id" => {
                            if let Value::String(s) = child {
                                self.incident_id.get_or_insert_with(|| s.clone());
                            }
                        }
                        "trace_id_guid" | "traceId" | "trace_id" => {
                            if let Value::String(s) = child {
                                self.trace_id.get_or_insert_with(|| s.clone());
                            }
                        }
                        _ => self.search(child, depth + 1),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.search(item, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Keeps the most specific message: a nested one (upstream detail) replaces the generic
    /// gateway text "Operation failed or unauthorized request".
    fn note_message(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let generic = |m: &str| m.starts_with("Operation failed");
        match &self.message {
            Some(existing) if !generic(existing) => {}
            _ => self.message = Some(text.to_owned()),
        }
    }
}

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a body is an HTML page (a maintenance page, a proxy's error page, a login form).
pub(crate) fn looks_like_html(headers: &HeaderMap, body: &[u8]) -> bool {
    let html_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    html_type || body.trim_ascii_start().first() == Some(&b'<')
}

/// Turns a non-success answer into the right [`Error`], scrubbing `secrets` (what the call sent)
/// from everything kept.
pub(crate) fn classify(
    version: ApiVersion,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    secrets: &[&str],
) -> Error {
    let html = looks_like_html(headers, &body);
    let parsed = if html {
        ErrorBody::default()
    } else {
        ErrorBody::parse(&body)
    };
    let upstream_status = if version == ApiVersion::Beta || parsed.upstream_status.is_some() {
        parsed
            .upstream_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| *s != status)
    } else {
        None
    };
    let message = if html {
        Some("an HTML page where JSON was expected (maintenance or a proxy error)".to_owned())
    } else {
        parsed
            .message
            .map(|m| shorten(scrub(&m, secrets), MAX_MESSAGE_CHARS))
    };
    let failure = ApiFailure {
        inner: std::sync::Arc::new(FailureDetail {
            status,
            upstream_status,
            code: parsed.code,
            message,
            incident_id: parsed.incident_id.map(|id| scrub(&id, secrets)),
            trace_id: parsed.trace_id.map(|id| scrub(&id, secrets)),
            retry_after: retry_after(headers),
            raw_body: scrub_bytes(body, secrets),
        }),
    };
    let effective = failure.effective_status();
    if html && !effective.is_client_error() {
        return Error::Unavailable(failure);
    }
    match (effective.as_u16(), failure.code()) {
        (401, _) | (_, Some(CODE_UNAUTHORIZED)) if effective != StatusCode::FORBIDDEN => {
            Error::Unauthorized(failure)
        }
        (403, _) | (_, Some(CODE_FORBIDDEN)) => Error::Forbidden(failure),
        (429, _) => Error::RateLimited(failure),
        (s, _) if s >= 500 => Error::Unavailable(failure),
        (s, _) if (400..500).contains(&s) => Error::BadRequest(failure),
        _ => Error::Unavailable(failure),
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(24 * 3600)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(24 * 3600)),
    )
}

pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if text.contains(secret) {
            text = text.replace(secret, "[REDACTED]");
        }
    }
    text
}

fn scrub_bytes(body: Bytes, secrets: &[&str]) -> Bytes {
    let needs = secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .any(|s| body.windows(s.len()).any(|w| w == s.as_bytes()));
    if !needs {
        return body;
    }
    Bytes::from(scrub(&String::from_utf8_lossy(&body), secrets))
}

fn shorten(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_json(version: ApiVersion, status: u16, body: &str) -> Error {
        classify(
            version,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            Bytes::from(body.to_owned()),
            &[],
        )
    }

    #[test]
    fn v2_spec_shape() {
        let e = classify_json(
            ApiVersion::V2,
            401,
            r#"{"error":{"message":{"code":10097,"debug":"Bad credentials","incident_id_guid":"inc-1","trace_id_guid":"tr-1"}}}"#,
        );
        let f = e.api_failure().unwrap();
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(f.code(), Some(10097));
        assert_eq!(f.message(), Some("Bad credentials"));
        assert_eq!(f.incident_id(), Some("inc-1"));
        assert_eq!(f.trace_id(), Some("tr-1"));
    }

    #[test]
    fn v2_wild_shape_one_level_deeper() {
        let e = classify_json(
            ApiVersion::V2,
            403,
            r#"{"error":{"message":{"debug":{"code":"10023","debug":"[\"User is locked\"]"}}}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        assert_eq!(e.api_failure().unwrap().code(), Some(10023));
        assert!(e.to_string().contains("User is locked"), "{e}");
    }

    #[test]
    fn v1_top_level_shape() {
        let e = classify_json(
            ApiVersion::V1,
            401,
            r#"{"debug":"session expired","incident_id_guid":"abc"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(e.api_failure().unwrap().incident_id(), Some("abc"));
    }

    #[test]
    fn beta_upstream_both_spellings() {
        for key in ["extension", "extensions"] {
            let body = format!(
                r#"{{"error":{{"message":"Operation failed or unauthorized request","errors":[{{"message":"x","{key}":{{"exception":{{"upstreamResponse":{{"status":401,"data":{{"code":10097,"debug":"Token expired","incident_id_guid":"i9"}}}}}}}}}}]}}}}"#
            );
            let e = classify_json(ApiVersion::Beta, 500, &body);
            let f = e.api_failure().unwrap();
            assert_eq!(e.kind(), ErrorKind::Unauthorized, "{key}");
            assert_eq!(f.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(f.upstream_status(), Some(StatusCode::UNAUTHORIZED));
            assert_eq!(f.incident_id(), Some("i9"));
            assert!(!f.is_ambiguous_beta_500());
        }
    }

    #[test]
    fn beta_bare_500_is_ambiguous_unavailable() {
        let e = classify_json(
            ApiVersion::Beta,
            500,
            r#"{"error":{"message":"Operation failed or unauthorized request"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.api_failure().unwrap().is_ambiguous_beta_500());
    }

    #[test]
    fn statuses_classify() {
        for (status, kind) in [
            (400, ErrorKind::BadRequest),
            (404, ErrorKind::BadRequest),
            (415, ErrorKind::BadRequest),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::Unavailable),
            (502, ErrorKind::Unavailable),
            (503, ErrorKind::Unavailable),
        ] {
            assert_eq!(
                classify_json(ApiVersion::V2, status, "{}").kind(),
                kind,
                "{status}"
            );
        }
    }

    #[test]
    fn html_error_page_is_unavailable() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, "text/html".parse().unwrap());
        let e = classify(
            ApiVersion::V2,
            StatusCode::BAD_GATEWAY,
            &headers,
            Bytes::from_static(b"<html>down for maintenance</html>"),
            &[],
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            http::header::RETRY_AFTER,
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let got = retry_after(&headers).unwrap();
        assert!(got > Duration::from_secs(100) && got <= Duration::from_secs(120));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn secrets_are_scrubbed_from_message_and_raw_body() {
        let e = classify(
            ApiVersion::V2,
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            Bytes::from_static(
                br#"{"error":{"message":{"debug":"token tok-SECRET-123 expired"}}}"#,
            ),
            &["tok-SECRET-123"],
        );
        let f = e.api_failure().unwrap();
        assert!(!e.to_string().contains("tok-SECRET-123"));
        assert!(!format!("{e:?}").contains("tok-SECRET-123"));
        assert!(!String::from_utf8_lossy(f.raw_body()).contains("tok-SECRET-123"));
    }

    #[test]
    fn shared_errors_rebuild_the_same_kind_and_detail() {
        let original = classify_json(
            ApiVersion::V2,
            403,
            r#"{"error":{"message":{"code":10023,"debug":"User is locked","incident_id_guid":"inc-7"}}}"#,
        );
        let json = serde_json::to_string(&original.to_shared().unwrap()).unwrap();
        let rebuilt = Error::from_shared(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(rebuilt.kind(), ErrorKind::Forbidden);
        assert_eq!(rebuilt.to_string(), original.to_string());
        let malformed = Error::malformed(StatusCode::OK, "no token");
        let rebuilt = Error::from_shared(malformed.to_shared().unwrap()).unwrap();
        assert_eq!(rebuilt.to_string(), malformed.to_string());
        assert!(Error::Shutdown.to_shared().is_none());
        assert!(
            classify_json(ApiVersion::V2, 503, "{}")
                .to_shared()
                .is_none()
        );
    }

    #[test]
    fn non_json_and_deep_bodies_do_not_panic() {
        let deep = "[".repeat(100_000);
        for body in ["", "null", "{", "\u{0}", deep.as_str()] {
            let _ = classify_json(ApiVersion::V2, 500, body);
        }
        let long = format!(r#"{{"debug":"{}"}}"#, "é".repeat(10_000));
        let e = classify_json(ApiVersion::V2, 400, &long);
        assert!(e.api_failure().unwrap().message().unwrap().chars().count() <= 501);
    }
}
