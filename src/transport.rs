//! How the session API reaches ThoughtSpot: "send one `http::Request<Bytes>`, get an
//! `http::Response<Bytes>`".
//!
//! Session calls (logins, logouts, org switches) go over a [`Transport`], never through the
//! authentication middleware itself, so a login can never recurse into another login. Any tower
//! [`Service`] over `http` types becomes a transport with [`ServiceTransport`]; with the feature
//! `reqwest`, `reqwest::Client` is one as it is.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use thoughtspot_auth::transport::{ServiceTransport, Transport};
//!
//! // Any `tower::Service<http::Request<B>>` whose `B` can be made from `Bytes`, here a closure.
//! let echo = tower::service_fn(|req: http::Request<Full<Bytes>>| async move {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(req.into_body()))
//! });
//! let transport = ServiceTransport::new(echo);
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let request = http::Request::new(Bytes::from_static(b"ping"));
//! let response = transport.send(request, 1024).await?;
//! assert_eq!(response.body(), "ping");
//! # Ok::<(), thoughtspot_auth::transport::TransportError>(())
//! # }).unwrap();
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tower::{Service, ServiceExt};

/// A boxed error, as tower and hyper pass them around.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// The future a [`Transport`] returns. It owns everything it needs, so it can be spawned.
pub type TransportFuture =
    Pin<Box<dyn Future<Output = Result<Response<Bytes>, TransportError>> + Send + 'static>>;

/// Sends one request to ThoughtSpot and reads the whole response, refusing bodies larger than
/// `max_response_bytes`.
///
/// Implemented for [`ServiceTransport`] (any tower service), for `reqwest::Client` (feature
/// `reqwest`), and for `Arc<T>` and `Arc<dyn Transport>` so one transport can be shared.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reads the response body, at most `max_response_bytes` of it.
    fn send(&self, request: Request<Bytes>, max_response_bytes: usize) -> TransportFuture;
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send(&self, request: Request<Bytes>, max_response_bytes: usize) -> TransportFuture {
        (**self).send(request, max_response_bytes)
    }
}

/// What went wrong below HTTP: the connection, a timeout, or a response too large to read.
///
/// The message never contains request headers or bodies, so no credential can appear in it.
#[derive(Debug, Clone)]
pub struct TransportError {
    kind: TransportErrorKind,
    /// Shared so that every waiter of one failed login gets the same error.
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

/// The kind of a [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The request could not be sent or no response head arrived (refused, reset, DNS, TLS).
    Connect,
    /// The response head arrived but its body broke off.
    Body,
    /// The response body is larger than the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// No answer within the configured time.
    Timeout,
}

impl TransportError {
    /// A new error of `kind` caused by `source`.
    pub fn new(kind: TransportErrorKind, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            source: Some(Arc::from(source.into())),
        }
    }

    /// The response body was larger than `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self {
            kind: TransportErrorKind::TooLarge { limit },
            source: None,
        }
    }

    /// No answer came in time.
    pub fn timeout() -> Self {
        Self {
            kind: TransportErrorKind::Timeout,
            source: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether ThoughtSpot cannot be reached at all as things stand — connection refused, a
    /// host name that does not resolve, a failed TLS handshake, a client without TLS for an
    /// `https` URL — rather than a failure that waiting may cure (a reset, a time-out).
    pub fn is_unreachable(&self) -> bool {
        self.kind == TransportErrorKind::Connect
            && matches!(
                self.cause(),
                Some(Cause::Refused | Cause::Dns(_) | Cause::Tls(_) | Cause::NoTls)
            )
    }

    /// The innermost cause, in words.
    fn cause(&self) -> Option<Cause> {
        let source = self.source.as_deref()?;
        let mut chain: Vec<&(dyn StdError + 'static)> = vec![source];
        let mut current: &(dyn StdError + 'static) = source;
        while let Some(next) = current.source() {
            chain.push(next);
            current = next;
            if chain.len() > 32 {
                break;
            }
        }
        let innermost = chain.last()?.to_string();
        let io_kinds: Vec<std::io::ErrorKind> = chain
            .iter()
            .filter_map(|e| e.downcast_ref::<std::io::Error>().map(std::io::Error::kind))
            .collect();
        if io_kinds.contains(&std::io::ErrorKind::ConnectionRefused) {
            return Some(Cause::Refused);
        }
        let text = chain
            .iter()
            .map(|e| e.to_string().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" | ");
        // What may pass by itself stays a plain cause: a resolver that is not ready yet, a
        // connection reset or cut off during the handshake, no local port free.
        let passing = text.contains("temporary failure")
            || text.contains("try again")
            || text.contains("reset")
            || text.contains("eof")
            || text.contains("broken pipe")
            || io_kinds.iter().any(|k| {
                matches!(
                    k,
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::UnexpectedEof
                        | std::io::ErrorKind::AddrNotAvailable
                        | std::io::ErrorKind::TimedOut
                )
            });
        Some(if text.contains("scheme is not http") {
            Cause::NoTls
        } else if passing {
            Cause::Other(innermost)
        } else if text.contains("dns error") || text.contains("failed to lookup address") {
            Cause::Dns(innermost)
        } else if text.contains("certificate")
            || text.contains("handshake")
            || text.contains("invalid peer")
            || text.contains("tls")
        {
            Cause::Tls(innermost)
        } else if text.contains("connection refused") {
            Cause::Refused
        } else {
            Cause::Other(innermost)
        })
    }
}

/// The innermost cause of a transport failure, as a user would say it.
enum Cause {
    Refused,
    Dns(String),
    Tls(String),
    NoTls,
    Other(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused => f.write_str("connection refused (nothing listens at that address)"),
            Self::Dns(detail) => write!(f, "dns error: {detail}"),
            Self::Tls(detail) => write!(f, "TLS handshake failed: {detail}"),
            Self::NoTls => f.write_str(
                "no TLS support for https: the HTTP client was built without a TLS connector",
            ),
            Self::Other(detail) => f.write_str(detail),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TransportErrorKind::Connect => f.write_str("the request could not be sent")?,
            TransportErrorKind::Body => f.write_str("the response body broke off")?,
            TransportErrorKind::TooLarge { limit } => {
                write!(f, "the response body is larger than {limit} bytes")?
            }
            TransportErrorKind::Timeout => f.write_str("no answer in time")?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
            // The outer errors of HTTP clients say little ("client error (Connect)"): end with
            // what really happened, unless the outer message said it already.
            if let Some(cause) = self.cause() {
                let cause = cause.to_string();
                if !source.to_string().contains(&cause) {
                    write!(f, ": {cause}")?;
                }
            }
        }
        Ok(())
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A [`Transport`] over any tower [`Service`] that takes `http::Request<B>` with a body `B`
/// made from [`Bytes`] (hyper-util's legacy client, an axum `Router`, a `service_fn`, ...).
///
/// The service is cloned for each call and driven to readiness first (`oneshot`), as tower
/// expects of a service used from many places.
pub struct ServiceTransport<S, B = Full<Bytes>> {
    service: S,
    _body: PhantomData<fn() -> B>,
}

impl<S, B> ServiceTransport<S, B> {
    /// Wraps `service`.
    pub fn new(service: S) -> Self {
        Self {
            service,
            _body: PhantomData,
        }
    }
}

impl<S: Clone, B> Clone for ServiceTransport<S, B> {
    fn clone(&self) -> Self {
        Self::new(self.service.clone())
    }
}

impl<S, B> fmt::Debug for ServiceTransport<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceTransport").finish_non_exhaustive()
    }
}

impl<S, B, RB> Transport for ServiceTransport<S, B>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: From<Bytes> + Send + 'static,
    RB: Body + Send + 'static,
    RB::Data: Send,
    RB::Error: Into<BoxError>,
{
    fn send(&self, request: Request<Bytes>, max_response_bytes: usize) -> TransportFuture {
        let service = self.service.clone();
        Box::pin(async move {
            let response = service
                .oneshot(request.map(B::from))
                .await
                .map_err(|e| TransportError::new(TransportErrorKind::Connect, e))?;
            read_limited(response, max_response_bytes).await
        })
    }
}

/// Reads a response body whole, refusing more than `limit` bytes before reading them.
pub(crate) async fn read_limited<RB>(
    response: Response<RB>,
    limit: usize,
) -> Result<Response<Bytes>, TransportError>
where
    RB: Body,
    RB::Error: Into<BoxError>,
{
    if declared_length(&response).is_some_and(|len| len > limit as u64) {
        return Err(TransportError::too_large(limit));
    }
    let (parts, body) = response.into_parts();
    let collected = Limited::new(body, limit).collect().await.map_err(|e| {
        if e.is::<LengthLimitError>() {
            TransportError::too_large(limit)
        } else {
            TransportError::new(TransportErrorKind::Body, e)
        }
    })?;
    Ok(Response::from_parts(parts, collected.to_bytes()))
}

fn declared_length<B>(response: &Response<B>) -> Option<u64> {
    response
        .headers()
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[cfg(feature = "reqwest")]
mod reqwest_client {
    use super::*;

    /// `reqwest::Client` sends session calls as it is (feature `reqwest`).
    #[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
    impl Transport for reqwest::Client {
        fn send(&self, request: Request<Bytes>, max_response_bytes: usize) -> TransportFuture {
            let client = self.clone();
            Box::pin(async move {
                let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
                    .map_err(|e| TransportError::new(TransportErrorKind::Connect, e))?;
                let mut response = client.execute(request).await.map_err(|e| {
                    let kind = if e.is_timeout() {
                        TransportErrorKind::Timeout
                    } else {
                        TransportErrorKind::Connect
                    };
                    TransportError::new(kind, e.without_url())
                })?;
                if response
                    .content_length()
                    .is_some_and(|len| len > max_response_bytes as u64)
                {
                    return Err(TransportError::too_large(max_response_bytes));
                }
                let mut builder = Response::builder()
                    .status(response.status())
                    .version(response.version());
                if let Some(headers) = builder.headers_mut() {
                    *headers = std::mem::take(response.headers_mut());
                }
                let mut body = bytes::BytesMut::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| TransportError::new(TransportErrorKind::Body, e.without_url()))?
                {
                    if body.len() + chunk.len() > max_response_bytes {
                        return Err(TransportError::too_large(max_response_bytes));
                    }
                    body.extend_from_slice(&chunk);
                }
                builder
                    .body(body.freeze())
                    .map_err(|e| TransportError::new(TransportErrorKind::Body, e))
            })
        }
    }
}

#[cfg(test)]
mod cause_tests {
    use super::*;

    fn connect(source: std::io::Error) -> TransportError {
        TransportError::new(TransportErrorKind::Connect, source)
    }

    #[test]
    fn only_what_waiting_cannot_cure_is_unreachable() {
        use std::io::{Error, ErrorKind};
        let refused = connect(Error::from(ErrorKind::ConnectionRefused));
        assert!(refused.is_unreachable());
        assert!(
            refused.to_string().contains("connection refused"),
            "{refused}"
        );
        let unknown_name = connect(Error::other(
            "dns error: failed to lookup address information: Name or service not known",
        ));
        assert!(unknown_name.is_unreachable(), "{unknown_name}");
        assert!(unknown_name.to_string().contains("dns error"));
        for passing in [
            connect(Error::other(
                "dns error: failed to lookup address information: Temporary failure in name resolution",
            )),
            connect(Error::from(ErrorKind::ConnectionReset)),
            connect(Error::from(ErrorKind::AddrNotAvailable)),
            connect(Error::other("tls handshake eof")),
            TransportError::timeout(),
        ] {
            assert!(!passing.is_unreachable(), "{passing}");
        }
    }
}
