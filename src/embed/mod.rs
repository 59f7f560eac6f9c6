//! The token endpoint of ThoughtSpot's Visual Embed SDK, for backends that embed ThoughtSpot in
//! their own web app (feature `embed`).
//!
//! In the browser the SDK asks the app's backend for a token (`authEndpoint`, or a
//! `getAuthToken` callback that fetches one), checks it against the cluster and, in cookieless
//! mode, asks again before it expires. [`EmbedTokenService`] is that endpoint as a tower
//! service, mounted in axum with `route_service` or in any tower server:
//!
//! - **Who** the token is for comes from the app's own session, read by a closure from the
//!   request (extensions or headers that the app's auth middleware set) — never from a user
//!   name in the query string or body.
//! - **A fresh token per call**, minted with the trusted-authentication secret key
//!   (`auth/token/full`, or `auth/token/custom` when the identity carries [`TokenAttributes`](crate::TokenAttributes)).
//!   The SDK refuses a token it has seen before. Calls for the same identity that overlap may
//!   share one mint; a call that arrives after another was answered always gets a new token.
//! - **The answer** is the token as `text/plain` (what `authEndpoint` expects), or
//!   `{"token", "expiration_time_in_millis"}` when the request's `Accept` asks for
//!   `application/json`; always `Cache-Control: no-store`; never a CORS header (the SDK calls
//!   the endpoint from the app's own page, and no other origin may read a token).
//! - **Failures**: no session → 401; identity refused by the app → 403; ThoughtSpot refuses the
//!   user (bad key, locked user) → 403 with a short reason; ThoughtSpot unavailable or
//!   rate-limiting → 503 with `Retry-After`; a user minting too often → 429 with `Retry-After`.
//!   Nothing secret is in any answer or log.
//! - **Protection**: a per-user mint rate, a global mint rate (ThoughtSpot allows 100 requests
//!   per second per client IP) that queues calls rather than failing them, and the layer's
//!   backoff rules: after ThoughtSpot refuses a user, no new mint for that user until the
//!   backoff passes (a locked user is not retried in a loop).
//!
//! ```
//! use axum::{Router, body::Body};
//! use thoughtspot_auth::embed::{EmbedIdentity, EmbedTokenService};
//! use thoughtspot_auth::mock::{self, MockThoughtSpot};
//! use thoughtspot_auth::transport::ServiceTransport;
//! use thoughtspot_auth::ActAs;
//! use tower::ServiceExt;
//!
//! /// What the app's own auth middleware puts into each request.
//! #[derive(Clone)]
//! struct AppUser(String);
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let thoughtspot = MockThoughtSpot::start().await?;
//! let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
//!     .build_http::<http_body_util::Full<bytes::Bytes>>();
//! let tokens = EmbedTokenService::builder(thoughtspot.base_url(), mock::DEFAULT_SECRET_KEY)
//!     .transport(ServiceTransport::new(client))
//!     .identity(|request: &http::request::Parts| match request.extensions.get::<AppUser>() {
//!         Some(AppUser(name)) => EmbedIdentity::from(ActAs::user(name.as_str()).org(0)),
//!         None => EmbedIdentity::Anonymous,
//!     })
//!     .build()?;
//! let app = Router::new().route_service("/api/thoughtspot/token", tokens.clone());
//!
//! let call = |user: Option<&str>| {
//!     let mut request = http::Request::get("/api/thoughtspot/token").body(Body::empty()).unwrap();
//!     if let Some(user) = user {
//!         request.extensions_mut().insert(AppUser(user.to_owned()));
//!     }
//!     app.clone().oneshot(request)
//! };
//! let answer = call(Some(mock::ANALYST_USER)).await?;
//! assert_eq!(answer.status(), 200);
//! assert_eq!(answer.headers()["cache-control"], "no-store");
//! assert_eq!(call(None).await?.status(), 401);
//! assert_eq!(tokens.stats().mints, 1);
//! # Ok(())
//! # }
//! ```

mod limits;
mod mint;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use secrecy::{ExposeSecret, SecretString};

pub use limits::MintRate;

use crate::BaseUrl;
use crate::session::Session;
use crate::transport::Transport;
use crate::{ActAs, Error};
use limits::Backoff;
use mint::{Minter, Refusal, bump};

/// Who a call to the endpoint is for, as the app's own session says.
#[derive(Debug, Clone)]
pub enum EmbedIdentity {
    /// The request has no session of the app: 401.
    Anonymous,
    /// The app knows the user but does not let them embed ThoughtSpot: 403.
    Refused,
    /// Mint a token for this ThoughtSpot user.
    User(EmbedUser),
}

impl From<ActAs> for EmbedIdentity {
    fn from(act_as: ActAs) -> Self {
        Self::User(EmbedUser::new(act_as))
    }
}

/// The ThoughtSpot user a token is minted for: user name, org, just-in-time provisioning and
/// access rules (all in the [`ActAs`]), and the token's validity.
#[derive(Debug, Clone)]
pub struct EmbedUser {
    pub(crate) act_as: ActAs,
    pub(crate) validity: Option<Duration>,
}

impl EmbedUser {
    /// A token for `act_as`, valid as long as the service's default.
    pub fn new(act_as: ActAs) -> Self {
        Self {
            act_as,
            validity: None,
        }
    }

    /// Asks for this validity (whole seconds, at least one).
    pub fn validity(mut self, validity: Duration) -> Self {
        self.validity = Some(validity);
        self
    }
}

/// What the endpoint did, since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmbedStats {
    /// Tokens handed out (a shared mint counts once per call it answered).
    pub tokens: u64,
    /// Mint calls sent to ThoughtSpot.
    pub mints: u64,
    /// Calls that shared a mint already in flight for the same identity.
    pub joined: u64,
    /// Calls without an app session (401).
    pub unauthenticated: u64,
    /// Calls whose identity the app refused (403).
    pub refused: u64,
    /// Calls ThoughtSpot refused, or that the backoff after such a refusal answered (403).
    pub thoughtspot_refused: u64,
    /// Calls answered 503: ThoughtSpot unavailable or rate-limiting, or the mint queue full.
    pub unavailable: u64,
    /// Calls over the per-user rate (429).
    pub rate_limited: u64,
    /// Calls answered from a user's backoff, without a mint.
    pub suppressed: u64,
    /// `revoke_user` calls that found nothing left to end at ThoughtSpot (it answered 401).
    pub already_ended: u64,
}

type Identify = dyn Fn(&http::request::Parts) -> EmbedIdentity + Send + Sync;

/// The token endpoint for ThoughtSpot's Visual Embed SDK: a tower
/// `Service<http::Request<B>>` for any body (the body is never read). See the
/// [module docs](self).
#[derive(Clone)]
pub struct EmbedTokenService {
    minter: Arc<Minter>,
    identify: Arc<Identify>,
    default_validity: Option<Duration>,
}

impl fmt::Debug for EmbedTokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbedTokenService")
            .field("base", self.minter.session.base_url())
            .field("per_user", &self.minter.per_user)
            .field("global", &self.minter.global)
            .finish_non_exhaustive()
    }
}

impl EmbedTokenService {
    /// A builder for the cluster at `base_url`, minting with the trusted-authentication
    /// `secret_key`.
    pub fn builder(
        base_url: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> EmbedTokenServiceBuilder {
        EmbedTokenServiceBuilder {
            base_url: base_url.into(),
            secret_key: SecretString::from(secret_key.into()),
            transport: None,
            identify: None,
            validity: None,
            per_user: Some(MintRate::per_minute(30, 5)),
            global: Some(MintRate::per_second(50, 10)),
            max_queue_wait: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }

    /// Revokes every token of `user` in ThoughtSpot (for the app's logout) and forgets the
    /// user's backoff. A revocation ThoughtSpot answers with 401 (nothing of the user's left to
    /// end) is success, counted in [`EmbedStats::already_ended`]; a failed mint of the token
    /// the revocation needs (bad key, locked user), 403, 5xx and network failures are errors.
    pub async fn revoke_user(&self, user: &str) -> Result<(), Error> {
        self.minter.revoke_user(user).await
    }

    /// What the endpoint did so far.
    pub fn stats(&self) -> EmbedStats {
        self.minter.stats()
    }

    async fn answer(self, parts: http::request::Parts) -> Response<Full<Bytes>> {
        let counters = &self.minter.counters;
        if parts.method != Method::GET && parts.method != Method::POST {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST");
            response
                .headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("GET, POST"));
            return response;
        }
        let mut who = match (self.identify)(&parts) {
            EmbedIdentity::Anonymous => {
                bump(&counters.unauthenticated);
                return plain(StatusCode::UNAUTHORIZED, "not logged in");
            }
            EmbedIdentity::Refused => {
                bump(&counters.refused);
                return plain(StatusCode::FORBIDDEN, "not allowed to embed ThoughtSpot");
            }
            EmbedIdentity::User(who) => who,
        };
        if who.validity.is_none() {
            who.validity = self.default_validity;
        }
        match self.minter.token_for(who).await {
            Ok(minted) => {
                bump(&counters.tokens);
                let json = wants_json(&parts.headers);
                let token = minted.token.expose_secret();
                let (content_type, body) = if json {
                    let body = serde_json::json!({
                        "token": token,
                        "expiration_time_in_millis": minted.expiration_time_in_millis,
                    });
                    ("application/json", body.to_string())
                } else {
                    ("text/plain; charset=utf-8", token.to_owned())
                };
                let mut response = plain(StatusCode::OK, "");
                *response.body_mut() = Full::new(Bytes::from(body));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                response
            }
            Err(Refusal::ThoughtSpot(reason)) => {
                bump(&counters.thoughtspot_refused);
                plain(StatusCode::FORBIDDEN, reason)
            }
            Err(Refusal::Unavailable(retry)) => {
                bump(&counters.unavailable);
                retry_after(
                    plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ThoughtSpot is unavailable",
                    ),
                    retry,
                )
            }
            Err(Refusal::TooMany(retry)) => {
                bump(&counters.rate_limited);
                retry_after(
                    plain(StatusCode::TOO_MANY_REQUESTS, "too many token requests"),
                    retry,
                )
            }
        }
    }
}

impl<B> tower::Service<Request<B>> for EmbedTokenService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The body is never read: the identity comes from the app's session alone.
        let (parts, _body) = request.into_parts();
        let this = self.clone();
        Box::pin(async move { Ok(this.answer(parts).await) })
    }
}

/// Builds an [`EmbedTokenService`].
pub struct EmbedTokenServiceBuilder {
    base_url: String,
    secret_key: SecretString,
    transport: Option<Arc<dyn Transport>>,
    identify: Option<Arc<Identify>>,
    validity: Option<Duration>,
    per_user: Option<MintRate>,
    global: Option<MintRate>,
    max_queue_wait: Duration,
    backoff: Backoff,
}

impl fmt::Debug for EmbedTokenServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbedTokenServiceBuilder")
            .field("base_url", &self.base_url)
            .field("per_user", &self.per_user)
            .field("global", &self.global)
            .finish_non_exhaustive()
    }
}

impl EmbedTokenServiceBuilder {
    /// The transport mint calls go over (required).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Who a call is for (required): reads the app's own session from the request's parts
    /// (extensions or headers set by the app's auth middleware). Never take the user from the
    /// query string or body: any page could then ask for anyone's token.
    pub fn identity(
        mut self,
        identify: impl Fn(&http::request::Parts) -> EmbedIdentity + Send + Sync + 'static,
    ) -> Self {
        self.identify = Some(Arc::new(identify));
        self
    }

    /// The validity asked for tokens whose identity does not say (ThoughtSpot's default is
    /// 300 s).
    pub fn validity(mut self, validity: Duration) -> Self {
        self.validity = Some(validity);
        self
    }

    /// The most mints one user may cause (default 30 per minute, bursts of 5); `None` for no
    /// limit. Calls over it are answered 429 with `Retry-After`, so a page in a loop cannot burn
    /// the cluster's rate limit.
    ///
    /// What counts: every mint sent to ThoughtSpot, whether it succeeds or fails (a failed mint
    /// cost the cluster a call too, and a page looping on failures must still be slowed; the
    /// failure's backoff applies on top). A call that sends nothing costs nothing: refused for
    /// want of a session or by the app, answered from a backoff, joining a mint already in
    /// flight, or turned away because the global queue is full.
    pub fn per_user_rate(mut self, rate: Option<MintRate>) -> Self {
        self.per_user = rate;
        self
    }

    /// The most mints in all (default 50 per second, bursts of 10: ThoughtSpot allows 100
    /// requests per second per client IP); `None` for no limit. Calls over it wait their turn,
    /// up to [`max_queue_wait`](Self::max_queue_wait).
    pub fn global_rate(mut self, rate: Option<MintRate>) -> Self {
        self.global = rate;
        self
    }

    /// The longest a call waits for its turn under the global rate (default 10 s); beyond it
    /// the answer is 503 with `Retry-After`.
    pub fn max_queue_wait(mut self, wait: Duration) -> Self {
        self.max_queue_wait = wait;
        self
    }

    /// Backoff after transient mint failures (default 250 ms, doubling up to 30 s), as in the
    /// layer.
    pub fn transient_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff.transient = first;
        self.backoff.transient_max = max.max(first);
        self
    }

    /// Backoff after ThoughtSpot refused a user (default 60 s, doubling up to 30 min): no mint
    /// for that user meanwhile, so a locked user is not retried in a loop.
    pub fn permanent_failure_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff.permanent = first;
        self.backoff.permanent_max = max.max(first);
        self
    }

    /// The service.
    pub fn build(self) -> Result<EmbedTokenService, Error> {
        let base = BaseUrl::parse(&self.base_url)?;
        let transport = self
            .transport
            .ok_or_else(|| Error::config("the token endpoint needs a transport"))?;
        let identify = self
            .identify
            .ok_or_else(|| Error::config("the token endpoint needs an identity closure"))?;
        if self.secret_key.expose_secret().trim().is_empty() {
            return Err(Error::config(
                "the trusted-authentication secret key is empty",
            ));
        }
        let minter = Minter::new(
            Session::new(base, transport),
            self.secret_key,
            self.per_user,
            self.global,
            self.max_queue_wait,
            self.backoff,
        );
        Ok(EmbedTokenService {
            minter: Arc::new(minter),
            identify,
            default_validity: self.validity,
        })
    }
}

/// Whether the caller asked for JSON.
fn wants_json(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            let media = media.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json")
        })
}

/// A plain-text answer that no cache keeps.
fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn retry_after(mut response: Response<Full<Bytes>>, wait: Duration) -> Response<Full<Bytes>> {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}
