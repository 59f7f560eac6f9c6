//! What the layer asks of the service it wraps and of its request and response bodies, each
//! written once. (The public `Service` and `Future` impls spell their bounds out, for their
//! readers.)

/// A request body the layer can keep and send again.
pub(crate) trait KeptBody: Default + From<bytes::Bytes> + Send + 'static {}

impl<B: Default + From<bytes::Bytes> + Send + 'static> KeptBody for B {}

/// A response body the layer hands on (and may read ahead of).
pub(crate) trait InnerBody:
    http_body::Body<Data: Send, Error: Send> + Send + Unpin + 'static
{
}

impl<B: http_body::Body<Data: Send, Error: Send> + Send + Unpin + 'static> InnerBody for B {}

/// What the layer's own functions ask of the service it wraps.
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
