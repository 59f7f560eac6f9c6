//! The crate's one error, [`Error`], what it is about ([`ErrorKind`]), and the details it
//! carries: ThoughtSpot's answer ([`ApiFailure`]), an unusable success answer ([`Malformed`]) and
//! a login held back by a backoff window ([`RefusedByBackoff`]).
//!
//! Reading ThoughtSpot's error bodies into these types is the session API's work
//! (`session/error_body.rs`); this file only holds what callers see.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use crate::secrets::SourceError;
use crate::transport::TransportError;

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
    /// No org of this name among the orgs ThoughtSpot lists for the layer's user, or in
    /// multi-user mode the acting user (see [`OrgIdentifier`](crate::OrgIdentifier)); nothing else
    /// was sent. The name is asked about again after a minute.
    #[error("ThoughtSpot lists no org named {0:?} for this user")]
    UnknownOrg(String),
    /// A [`SecretSource`](crate::secrets::SecretSource) or token provider could not give the
    /// secret or token a login needed; nothing was sent. Transient or permanent as the source
    /// said ([`SourceError::is_permanent`]).
    #[error("the secret source or token provider failed: {0}")]
    Source(SourceError),
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
    /// See [`Error::Source`].
    Source,
    /// See [`Error::UnknownOrg`].
    UnknownOrg,
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
    /// tokio's clock (the clock of [`Login::sent_at`](crate::session::Login::sent_at)); `None`
    /// for every error that comes from an attempt.
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
            Self::Source(_) => ErrorKind::Source,
            Self::UnknownOrg(_) => ErrorKind::UnknownOrg,
        }
    }

    /// Whether trying the same call again soon cannot help: rejected credentials, a locked
    /// account, an invalid request, an unusable answer, a bad configuration. Retrying a rejected
    /// password in a loop is how accounts get locked.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Source(source) => source.is_permanent(),
            Self::RefusedByBackoff(refused) => refused.opened_by.is_permanent(),
            _ => !matches!(
                self.kind(),
                ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Transport
            ),
        }
    }

    /// Whether ThoughtSpot could not be reached at all (connection refused, a name that does
    /// not resolve, a failed TLS handshake, a client without TLS for `https`): see
    /// [`TransportError::is_unreachable`].
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Transport(t) if t.is_unreachable())
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

/// ThoughtSpot's error answer: status, ThoughtSpot code, incident id and message, as far as the
/// body carried them. The raw body is kept too (see [`ApiFailure::raw_body`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// Shared: errors are cloned to every waiter of a failed login.
    inner: Arc<FailureDetail>,
}

/// What an [`ApiFailure`] holds, filled by whoever read the answer (the error-body reader, or a
/// failure another replica shared).
#[derive(PartialEq, Eq)]
pub(crate) struct FailureDetail {
    pub(crate) status: StatusCode,
    pub(crate) upstream_status: Option<StatusCode>,
    pub(crate) code: Option<i64>,
    pub(crate) message: Option<String>,
    pub(crate) incident_id: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) raw_body: Bytes,
}

impl ApiFailure {
    pub(crate) fn new(detail: FailureDetail) -> Self {
        Self {
            inner: Arc::new(detail),
        }
    }

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
