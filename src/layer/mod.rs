//! The tower front door: [`ThoughtSpotAuthLayer`] wraps a service (any HTTP client that is a
//! tower `Service`) in a [`ThoughtSpotAuthService`], which attaches a valid credential to every
//! request for ThoughtSpot and deals with expiry and rejection before the caller sees them;
//! [`ResponseFuture`] and [`ResponseBody`] are what it answers with. What happens to a request,
//! step by step, is on [`ThoughtSpotAuthService`].
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use thoughtspot_auth::mock::{self, MockThoughtSpot};
//! use thoughtspot_auth::ThoughtSpotAuthLayer;
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let thoughtspot = MockThoughtSpot::start().await?;
//! let layer = ThoughtSpotAuthLayer::builder(thoughtspot.base_url())
//!     .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
//!     .org(1)
//!     .build()?;
//! let handle = layer.handle();
//!
//! let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
//!     .build_http::<Full<Bytes>>();
//! let mut service = ServiceBuilder::new().layer(layer).service(client);
//!
//! // No login code: the first request logs in, later ones reuse the token.
//! for _ in 0..3 {
//!     let request = http::Request::post(format!("{}/api/rest/2.0/metadata/search", thoughtspot.base_url()))
//!         .header("content-type", "application/json")
//!         .body(Full::new(Bytes::from_static(b"{}")))?;
//!     let response = service.ready().await?.call(request).await?;
//!     assert_eq!(response.status(), 200);
//! }
//! assert_eq!(handle.stats().logins, 1);
//! # Ok(())
//! # }
//! ```

mod anchor;
mod bounds;
mod future;
// The layer itself, named as tower-http names its layers' files.
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use crate::read_ahead::ResponseBody;
pub use future::ResponseFuture;
pub use layer::ThoughtSpotAuthLayer;
pub use service::ThoughtSpotAuthService;
