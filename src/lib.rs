//! Authentication to ThoughtSpot's REST API for any tower or reqwest HTTP stack.
//!
//! Add [`ThoughtSpotAuthLayer`] to a tower stack and just send requests: the first one logs in
//! (password, trusted-authentication secret key, cookie session or a token you give), every later
//! one carries a valid credential read lock-free, expiry and rejected credentials (401 on the
//! current API, a 500 with an upstream 401 on the beta API) are dealt with before you see them,
//! and an [`AuthHandle`] switches org, logs out, revokes and reports.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use thoughtspot_auth::mock::{self, MockThoughtSpot};
//! use thoughtspot_auth::ThoughtSpotAuthLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! // An in-process ThoughtSpot; in production this is your cluster's URL.
//! let thoughtspot = MockThoughtSpot::start().await?;
//!
//! let layer = ThoughtSpotAuthLayer::builder(thoughtspot.base_url())
//!     .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
//!     .org(1)
//!     .build()?;
//! let handle = layer.handle();
//! let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
//!     .build_http::<Full<Bytes>>();
//! let service = ServiceBuilder::new().layer(layer).service(client);
//!
//! let search = || {
//!     http::Request::post(format!("{}/api/rest/2.0/metadata/search", thoughtspot.base_url()))
//!         .header("content-type", "application/json")
//!         .body(Full::new(Bytes::from_static(b"{}")))
//! };
//! let response = service.clone().oneshot(search()?).await?;
//! assert_eq!(response.status(), 200);
//!
//! // The token is revoked behind our back: the 401 is caught, one login, one replay.
//! thoughtspot.revoke_all_tokens();
//! let response = service.oneshot(search()?).await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!((handle.stats().logins, handle.stats().replays), (2, 1));
//! # Ok(())
//! # }
//! ```
//!
//! The pieces:
//! - [`ThoughtSpotAuthLayer`], [`ThoughtSpotAuthService`], [`AuthBuilder`]: the tower front
//!   door and its configuration.
//! - [`AuthHandle`]: org switching ([`OrgOverride`] for one request), refresh, invalidate,
//!   logout, revoke, [`AuthStats`].
//! - [`session`]: ThoughtSpot's session API, typed, for all three API generations, over any
//!   [`transport::Transport`].
//! - [`store`]: a fleet of replicas sharing one credential through a [`store::CredentialStore`]
//!   (with the `redis` feature, `RedisCredentialStore`): one login per token lifetime for the
//!   whole fleet, sealed values, lockout safety.
//! - `embed` (feature `embed`): `EmbedTokenService`, the token endpoint of ThoughtSpot's Visual
//!   Embed SDK for backends that embed ThoughtSpot, with [`TokenAttributes`] for per-user
//!   row-level security (`auth/token/custom`).
//! - [`mock`] (feature `mock`): `MockThoughtSpot`, an in-process ThoughtSpot over real HTTP for
//!   your own tests.
//!
//! What happens on expiry, 401, 403 and 500 is described on [`ThoughtSpotAuthService`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
pub mod config;
pub mod credential;
#[cfg(feature = "embed")]
pub mod embed;
mod handle;
mod identity;
mod layer;
mod replay;
#[cfg(feature = "reqwest")]
mod reqwest;
pub mod session;
pub mod store;
mod stripes;
pub mod transport;

#[cfg(feature = "mock")]
pub mod mock;

pub use config::{AuthBuilder, BaseUrl, CredentialKind};
pub use credential::{SessionCookies, SessionCredential};
pub use handle::{AuthHandle, AuthStats, FailureCounts, UserStats};
pub use identity::{ActAs, OrgOverride, Provisioning, TokenAttributes};
pub use layer::{ResponseBody, ResponseFuture, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
pub use session::{ApiVersion, Error, ErrorKind, Login, Session};

#[cfg(feature = "reqwest")]
pub use crate::reqwest::ThoughtSpotAuthMiddleware;
