//! The tower front door: [`ThoughtSpotAuthLayer`], [`ThoughtSpotAuthService`] and
//! [`ResponseFuture`].
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
mod future;
mod service;

pub use crate::read_ahead::ResponseBody;
pub use future::ResponseFuture;
pub use service::{ThoughtSpotAuthLayer, ThoughtSpotAuthService};

/// What the layer's own functions ask of the service it wraps, written once. (The public
/// `Service` and `Future` impls spell their bounds out, for their readers.)
pub(crate) trait Inner<B, RB>:
    tower::Service<
        http::Request<B>,
        Response = http::Response<RB>,
        Error: Into<crate::transport::BoxError>,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S, B, RB> Inner<B, RB> for S where
    S: tower::Service<
            http::Request<B>,
            Response = http::Response<RB>,
            Error: Into<crate::transport::BoxError>,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// A request body the layer can keep and send again.
pub(crate) trait KeptBody: Default + From<bytes::Bytes> + Send + 'static {}

impl<B: Default + From<bytes::Bytes> + Send + 'static> KeptBody for B {}

/// A response body the layer hands on (and may read ahead of).
pub(crate) trait InnerBody:
    http_body::Body<Data: Send, Error: Send> + Send + Unpin + 'static
{
}

impl<B: http_body::Body<Data: Send, Error: Send> + Send + Unpin + 'static> InnerBody for B {}
