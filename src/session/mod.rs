//! ThoughtSpot's session API, typed: one async method per operation, on every generation that
//! has it. Knows nothing of middleware.
//!
//! A [`Session`] sends calls over any [`Transport`]. Operations are grouped by API generation:
//! [`Session::v2`] (`/api/rest/2.0/auth/...`, current), [`Session::beta`]
//! (`/tspublic/rest/v2/session/...`, the v2 beta) and [`Session::v1`] (the few v1 calls that
//! help). Every call sends `Accept: application/json`, `User-Agent: thoughtspot-auth/<version>`,
//! `X-Requested-By: ThoughtSpot` and, with a body, its `Content-Type`. Answers that are not
//! successes become a classified [`Error`].
//!
//! ```
//! use thoughtspot_auth::mock::{self, MockThoughtSpot};
//! use thoughtspot_auth::session::{Session, TokenRequest};
//! use thoughtspot_auth::transport::ServiceTransport;
//! use thoughtspot_auth::BaseUrl;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let thoughtspot = MockThoughtSpot::start().await?;
//! let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
//!     .build_http::<http_body_util::Full<bytes::Bytes>>();
//! let session = Session::new(BaseUrl::parse(&thoughtspot.base_url())?, ServiceTransport::new(client));
//!
//! let login = session
//!     .v2()
//!     .token_full(&TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD).org_id(1))
//!     .await?;
//! assert_eq!(login.lifetime, Some(std::time::Duration::from_secs(300)));
//! let me = session.v2().session_user(&login.credential).await?;
//! assert_eq!(me.current_org.and_then(|org| org.id), Some(1));
//! # Ok(())
//! # }
//! ```

mod access_token;
mod beta;
mod credential;
mod custom_token;
pub(crate) mod error_body;
// The fuzz target's entry point: built only for `cargo fuzz` (which sets `--cfg fuzzing`) and
// for this crate's own property tests, which run it too. Not part of the API.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
mod models;
#[cfg(test)]
mod proptests;
mod v1;
mod v2;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};
use http::{Method, Request, Response};
use serde::de::DeserializeOwned;

pub use access_token::{AccessToken, CustomLogin, UserRef};
pub use beta::Beta;
pub use credential::{SessionCookies, SessionCredential};
pub use custom_token::{
    CustomTokenRequest, FilterOperator, FilterRule, NamedValues, ObjectRef, PersistOption,
};
pub use models::{
    AccessLevel, BETA_DEFAULT_LIFETIME, BetaLoginRequest, BetaTokenRequest, Login, OrgRef,
    RevokeTokenRequest, SessionInfo, SessionLoginRequest, SessionLoginResponse, SessionUser, Token,
    TokenRequest, TokenScope, TokenValidation, Unreadable,
};
pub use v1::V1;
pub use v2::V2;

use models::MAX_PLAUSIBLE_LIFETIME;

use crate::api_version::ApiVersion;
use crate::base_url::BaseUrl;
use crate::error::{Error, ErrorKind};
use crate::transport::{Transport, TransportError};

/// A session over whichever transport was configured, shared by everything that logs in.
pub(crate) type SharedSession = Session<std::sync::Arc<dyn Transport>>;

/// The `User-Agent` every session call sends (v2.0 requires one).
pub const USER_AGENT_VALUE: &str = concat!("thoughtspot-auth/", env!("CARGO_PKG_VERSION"));
/// Default limit on a session answer's body: enough for any real answer, small enough that a
/// hostile or broken server cannot make us buffer much.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Default time a session call may take.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// ThoughtSpot's session API at one base URL, over one transport.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Session<T> {
    base: BaseUrl,
    transport: T,
    max_response_bytes: usize,
    timeout: Duration,
}

impl<T: Clone> Clone for Session<T> {
    fn clone(&self) -> Self {
        Self {
            base: self.base.clone(),
            transport: self.transport.clone(),
            max_response_bytes: self.max_response_bytes,
            timeout: self.timeout,
        }
    }
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("base", &self.base)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Session<T> {
    /// The session API of the cluster at `base`, reached through `transport`.
    pub fn new(base: BaseUrl, transport: T) -> Self {
        Self {
            base,
            transport,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// Sets the largest answer body read (default 1 MiB); a larger one is an error.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Sets how long one call may take (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The cluster's base URL.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// The transport calls go over.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The current API, `/api/rest/2.0/auth/...`.
    pub fn v2(&self) -> V2<'_, T> {
        V2 { session: self }
    }

    /// The v2 beta API, `/tspublic/rest/v2/session/...` (the seeds' API).
    pub fn beta(&self) -> Beta<'_, T> {
        Beta { session: self }
    }

    /// The v1 calls that help: the cookie-session org switch, login and a liveness probe.
    pub fn v1(&self) -> V1<'_, T> {
        V1 { session: self }
    }

    /// Sends one call; a non-success answer becomes a classified error.
    async fn execute(&self, call: Call<'_>) -> Result<Answer, Error> {
        let method = call.method.clone();
        let mut builder = Request::builder()
            .method(call.method)
            .uri(self.base.endpoint(call.path))
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header("x-requested-by", "ThoughtSpot");
        if let Some(credential) = call.auth {
            let (name, value) = credential.header();
            builder = builder.header(name, value);
        }
        let body = match call.body {
            CallBody::Empty => Bytes::new(),
            CallBody::Json(bytes) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::from(bytes)
            }
            CallBody::Form(form) => {
                builder = builder.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
                Bytes::from(form)
            }
        };
        let request = builder
            .body(body)
            .map_err(|_| Error::config("a session call could not be built"))?;
        let sent_at = tokio::time::Instant::now();
        let response = tokio::time::timeout(
            self.timeout,
            self.transport.send(request, self.max_response_bytes),
        )
        .await
        .map_err(|_| Error::Transport(TransportError::timeout()))
        .and_then(|sent| sent.map_err(Error::Transport));
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%method, path = call.path, %error, "ThoughtSpot session call failed");
                return Err(error);
            }
        };
        tracing::debug!(
            %method,
            path = call.path,
            status = response.status().as_u16(),
            elapsed_ms = sent_at.elapsed().as_millis() as u64,
            "ThoughtSpot session call"
        );
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            return Err(error_body::classify(
                call.version,
                parts.status,
                &parts.headers,
                body,
                &call.secrets,
            ));
        }
        Ok(Answer {
            response: Response::from_parts(parts, body),
            sent_at,
        })
    }
}

/// One session call, before it is sent.
struct Call<'a> {
    version: ApiVersion,
    method: Method,
    path: &'static str,
    body: CallBody,
    auth: Option<&'a SessionCredential>,
    /// Everything secret the call sends, to scrub from whatever the server echoes.
    secrets: Vec<&'a str>,
}

impl<'a> Call<'a> {
    fn new(version: ApiVersion, method: Method, path: &'static str) -> Self {
        Self {
            version,
            method,
            path,
            body: CallBody::Empty,
            auth: None,
            secrets: Vec::new(),
        }
    }

    fn json(mut self, body: &impl serde::Serialize) -> Self {
        // Serializing our own plain structs cannot fail.
        self.body = CallBody::Json(serde_json::to_vec(body).unwrap_or_default());
        self
    }

    fn form(mut self, body: String) -> Self {
        self.body = CallBody::Form(body);
        self
    }

    fn auth(mut self, credential: &'a SessionCredential) -> Self {
        self.secrets.extend(credential.secrets());
        self.auth = Some(credential);
        self
    }

    fn secrets(mut self, secrets: impl IntoIterator<Item = &'a str>) -> Self {
        self.secrets.extend(secrets);
        self
    }
}

enum CallBody {
    Empty,
    Json(Vec<u8>),
    Form(String),
}

/// A success answer and when its request was sent.
struct Answer {
    response: Response<Bytes>,
    sent_at: tokio::time::Instant,
}

impl Answer {
    /// The body as JSON of type `D`. Not JSON at all (an HTML maintenance page, plain text) is
    /// [`Error::Unavailable`]; JSON of the wrong shape is [`Error::MalformedResponse`]. Serde's
    /// messages are not passed on as they are: they can quote values, and values can be secrets.
    fn json<D: DeserializeOwned>(&self, version: ApiVersion) -> Result<D, Error> {
        let status = self.response.status();
        let body = self.response.body();
        let trimmed = body.trim_ascii();
        if trimmed.is_empty() {
            return Err(Error::malformed(status, "the answer has an empty body"));
        }
        let starts_like_json = matches!(trimmed[0], b'{' | b'[' | b'"');
        if error_body::looks_like_html(self.response.headers(), body)
            || !(starts_like_json
                || trimmed[0].is_ascii_digit()
                || trimmed == b"true"
                || trimmed == b"false")
        {
            return Err(error_body::classify(
                version,
                status,
                &html_headers(),
                body.clone(),
                &[],
            ));
        }
        serde_json::from_slice(body).map_err(|e| Error::malformed(status, describe_json_error(&e)))
    }
}

fn html_headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers
}

/// A description of a JSON error that never quotes the offending value.
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "the JSON answer is cut short".to_owned(),
        Category::Syntax => format!(
            "the answer is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
        Category::Io => "the answer could not be read".to_owned(),
        Category::Data => {
            let message = e.to_string();
            match message.find("missing field `") {
                Some(at) => {
                    let field: String = message[at + 15..]
                        .chars()
                        .take_while(|c| *c != '`')
                        .collect();
                    format!("the answer lacks the field `{field}`")
                }
                None => "the answer has a field of the wrong type".to_owned(),
            }
        }
    }
}

/// Form-encodes `key=value` pairs (v1 bodies).
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(k, &mut out);
        out.push('=');
        percent_encode(v, &mut out);
    }
    out
}

fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// The largest server time in milliseconds taken as a time (2^53, the last integer an `f64` holds
/// exactly: some 285 000 years after 1970). Beyond it, or below zero, a time is nonsense.
const MAX_SERVER_MILLIS: f64 = 9_007_199_254_740_992.0;

/// A server time in milliseconds (`creation_time_in_millis`, ...), checked for sense: a finite,
/// non-negative number no larger than [`MAX_SERVER_MILLIS`].
fn server_millis(status: http::StatusCode, field: &str, millis: f64) -> Result<f64, Error> {
    if millis.is_finite() && (0.0..=MAX_SERVER_MILLIS).contains(&millis) {
        Ok(millis)
    } else {
        Err(Error::malformed(
            status,
            format!(
                "`{field}` is not a usable time (not a finite, non-negative number of milliseconds)"
            ),
        ))
    }
}

/// A lifetime in seconds as the server gave it (fractions allowed), checked for sense.
fn lifetime_from_secs(status: http::StatusCode, secs: f64) -> Result<Duration, Error> {
    lifetime_from_millis(status, secs * 1000.0)
}

/// A lifetime in milliseconds (`expiration - creation`, fractions allowed), checked for sense:
/// a finite number, positive and below [`MAX_PLAUSIBLE_LIFETIME`].
fn lifetime_from_millis(status: http::StatusCode, millis: f64) -> Result<Duration, Error> {
    if millis.is_nan() {
        return Err(Error::malformed(
            status,
            "the credential's lifetime is not a number",
        ));
    }
    if millis <= 0.0 {
        return Err(Error::malformed(
            status,
            "the credential expires before (or when) it was created",
        ));
    }
    // Compared in f64 first: an infinite or huge value must not reach the conversion.
    if millis > MAX_PLAUSIBLE_LIFETIME.as_millis() as f64 {
        return Err(Error::malformed(
            status,
            "the credential's lifetime is implausibly long",
        ));
    }
    // Whole milliseconds convert exactly; a fraction is rounded to the nanosecond.
    let lifetime = if millis.fract() == 0.0 {
        Duration::from_millis(millis as u64)
    } else {
        Duration::from_nanos((millis * 1e6).round() as u64)
    };
    if lifetime.is_zero() {
        return Err(Error::malformed(
            status,
            "the credential expires before (or when) it was created",
        ));
    }
    Ok(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode(&[("orgid", "12")]), "orgid=12");
        assert_eq!(form_encode(&[("a b", "x&y=z/é")]), "a+b=x%26y%3Dz%2F%C3%A9");
    }

    #[test]
    fn lifetimes() {
        let s = http::StatusCode::OK;
        assert_eq!(
            lifetime_from_millis(s, 300_000.0).unwrap(),
            Duration::from_secs(300)
        );
        assert_eq!(
            lifetime_from_millis(s, 1_500.25).unwrap(),
            Duration::from_nanos(1_500_250_000)
        );
        assert_eq!(
            lifetime_from_secs(s, 299.5).unwrap(),
            Duration::from_millis(299_500)
        );
        for bad in [
            0.0,
            -5.0,
            1e-9,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
        ] {
            let err = lifetime_from_millis(s, bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{bad}");
        }
        assert!(lifetime_from_secs(s, i64::MAX as f64).is_err());
        assert!(lifetime_from_secs(s, i64::MIN as f64).is_err());
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e300] {
            let err = server_millis(s, "creation_time_in_millis", bad).unwrap_err();
            assert!(err.to_string().contains("creation_time_in_millis"), "{err}");
        }
        assert_eq!(
            server_millis(s, "t", 1_767_225_600_000.5).unwrap(),
            1_767_225_600_000.5
        );
    }
}
