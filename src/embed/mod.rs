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
//! - **Only the app's own pages** make it mint. A page of another origin cannot read a token
//!   (no CORS header), but each call it caused would still mint one, spending the user's
//!   allowance and, with persisted access rules, writing to the user's record. So before any
//!   mint or rate accounting a call must come from the app's origin, as a modern CSRF defence
//!   checks it: `Sec-Fetch-Site: same-origin` (what browsers send); without that header, an
//!   `Origin` (or else `Referer`) that is present must be the endpoint's own host or one of the
//!   [`allowed_origin`](EmbedTokenServiceBuilder::allowed_origin)s; a call with none of these
//!   headers (a server-side client) is allowed. Refused: 403, nothing minted or counted against
//!   the user, logged at debug. Keep the app's session cookie `HttpOnly`, `Secure` and
//!   `SameSite=Strict` (or `Lax`) as well: the origin check stands even where the cookie policy
//!   is looser, but the two together leave a foreign page nothing to work with.
//! - **Refusals are visible**: each kind (no session, refused by the app, foreign origin,
//!   rate-limited, ThoughtSpot refused, ThoughtSpot unavailable) is counted in
//!   [`EmbedStats`] and logged once per user and kind per minute
//!   ([`refusal_log_window`](EmbedTokenServiceBuilder::refusal_log_window)): `debug` for what
//!   any page can cause, `info` for what an operator acts on, never a token or key.
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

mod builder;
mod limits;
mod mint;
mod named_org;
mod origin;
mod refusals;
mod service;

use std::time::Duration;

pub use crate::budget::rate::MintRate;
pub use builder::EmbedTokenServiceBuilder;
pub use service::EmbedTokenService;

use crate::identity::ActAs;

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
    /// Calls from a page of another origin (403), refused before any mint or rate accounting.
    pub foreign_origin: u64,
    /// Calls whose identity carried access rules ThoughtSpot refuses (500; the log says which).
    pub misconfigured: u64,
}
