//! How a request is kept for one replay after its credential was rejected.
//!
//! tower-http's `FollowRedirect` is the precedent: copy the parts (method, URI, version,
//! headers, extensions) and replay a body that `size_hint` says is empty as `B::default()`. A
//! `Full<Bytes>` body (what hyper-util clients send) is kept as a clone of its `Bytes`: a
//! reference count, not a copy, and the request stays on the hot path. Any other body of known
//! size up to a limit (64 KiB by default) is read once and sent from the buffer, so it can be
//! sent again. Anything else — a stream of unknown or larger size — is sent once and never
//! refused: if its credential is rejected, the caller gets the rejection.

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};
use http_body::Body;
use http_body_util::Full;

use crate::credential::SessionCredential;

/// How a request's body can be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Not kept: replay is off, or the body is a stream of unknown or too large a size.
    No,
    /// Empty: replayed as `B::default()`.
    Empty,
    /// A `Full<Bytes>` within the limit: replayed from this clone of its bytes.
    Cloned(Bytes),
    /// Of known size within the limit: read into a buffer first.
    Buffer,
}

/// Decides how `body` can be kept, from its size hint and type.
#[inline]
pub(crate) fn keep<B: Body + 'static>(body: &B, enabled: bool, limit: usize) -> Keep {
    if !enabled {
        return Keep::No;
    }
    match body.size_hint().exact() {
        Some(0) => Keep::Empty,
        Some(n) if n <= limit as u64 => bytes_of_full(body).map_or(Keep::Buffer, Keep::Cloned),
        _ => Keep::No,
    }
}

/// The bytes of `body` if it is a `Full<Bytes>`, by cloning it (a reference count) and taking
/// its one frame, which a `Full` gives at once.
fn bytes_of_full<B: 'static>(body: &B) -> Option<Bytes> {
    let mut full = (body as &dyn Any).downcast_ref::<Full<Bytes>>()?.clone();
    match Pin::new(&mut full).poll_frame(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().ok(),
        _ => None,
    }
}

/// A request kept for one replay: a copy of its parts (method, URI, version, headers,
/// extensions) and of its body if it has one, all in one allocation. A `HeaderMap` clone would
/// take two (its index and its entries) and make the response future carry 250 bytes more.
pub(crate) struct Replay {
    parts: Box<[Part]>,
}

enum Part {
    Head {
        method: Method,
        version: Version,
        extensions: Extensions,
        /// `None` for an empty body.
        body: Option<Bytes>,
    },
    Uri(Uri),
    /// One value of a header, in the map's order (values of one name stay in order).
    Header(HeaderName, HeaderValue),
}

impl Replay {
    /// Copies the parts of `request`; `body` is `None` for an empty body, else its bytes.
    #[inline]
    pub(crate) fn copy<B>(request: &Request<B>, body: Option<Bytes>) -> Self {
        let headers = request.headers();
        let mut parts = Vec::with_capacity(2 + headers.len());
        parts.push(Part::Head {
            method: request.method().clone(),
            version: request.version(),
            extensions: request.extensions().clone(),
            body,
        });
        parts.push(Part::Uri(request.uri().clone()));
        parts.extend(
            headers
                .iter()
                .map(|(name, value)| Part::Header(name.clone(), value.clone())),
        );
        Self {
            parts: parts.into_boxed_slice(),
        }
    }

    /// The request again, now carrying `credential`.
    pub(crate) fn into_request<B>(self, credential: &SessionCredential) -> Request<B>
    where
        B: Default + From<Bytes>,
    {
        let mut request = Request::new(B::default());
        let mut headers = HeaderMap::with_capacity(self.parts.len());
        for part in self.parts {
            match part {
                Part::Head {
                    method,
                    version,
                    extensions,
                    body,
                } => {
                    *request.method_mut() = method;
                    *request.version_mut() = version;
                    *request.extensions_mut() = extensions;
                    if let Some(body) = body {
                        *request.body_mut() = B::from(body);
                    }
                }
                Part::Uri(uri) => *request.uri_mut() = uri,
                Part::Header(name, value) => {
                    headers.append(name, value);
                }
            }
        }
        let (name, value) = credential.header();
        headers.insert(name, value);
        *request.headers_mut() = headers;
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Empty, Full, StreamBody};

    #[test]
    fn keeps_by_size_hint() {
        assert_eq!(keep(&Empty::<Bytes>::new(), true, 10), Keep::Empty);
        assert_eq!(
            keep(&Full::new(Bytes::from_static(b"abc")), true, 10),
            Keep::Cloned(Bytes::from_static(b"abc"))
        );
        let other_body_of_known_size = String::from("abc");
        assert_eq!(keep(&other_body_of_known_size, true, 10), Keep::Buffer);
        assert_eq!(
            keep(&Full::new(Bytes::from_static(b"abcdefghijk")), true, 10),
            Keep::No
        );
        assert_eq!(keep(&Empty::<Bytes>::new(), false, 10), Keep::No);
        let stream = StreamBody::new(futures_util::stream::empty::<
            Result<http_body::Frame<Bytes>, std::convert::Infallible>,
        >());
        assert_eq!(keep(&stream, true, 10), Keep::No);
    }

    #[test]
    fn replays_parts_body_and_the_new_credential() {
        let mut request = Request::post("https://ts.example.com/api/x")
            .header("x-custom", "1")
            .header("x-many", "a")
            .header("x-many", "b")
            .header(http::header::AUTHORIZATION, "Bearer old")
            .body(Full::new(Bytes::from_static(b"payload")))
            .unwrap();
        request.extensions_mut().insert(7u32);
        let replay = Replay::copy(&request, Some(Bytes::from_static(b"payload")));
        let credential = SessionCredential::bearer("new").unwrap();
        let again: Request<Full<Bytes>> = replay.into_request(&credential);
        assert_eq!(again.method(), Method::POST);
        assert_eq!(again.uri(), "https://ts.example.com/api/x");
        assert_eq!(again.headers()["x-custom"], "1");
        let many: Vec<_> = again.headers().get_all("x-many").iter().collect();
        assert_eq!(many, ["a", "b"], "every value of a header, in order");
        assert_eq!(
            again
                .headers()
                .get_all(http::header::AUTHORIZATION)
                .iter()
                .count(),
            1
        );
        assert_eq!(again.headers()[http::header::AUTHORIZATION], "Bearer new");
        assert_eq!(again.extensions().get::<u32>(), Some(&7));
        assert_eq!(again.body().size_hint().exact(), Some(7));
        assert_eq!(again.version(), http::Version::HTTP_11);
    }

    #[test]
    fn an_empty_body_replays_as_the_default() {
        let request = Request::get("https://ts.example.com/api/x")
            .version(http::Version::HTTP_2)
            .body(Empty::<Bytes>::new())
            .unwrap();
        let replay = Replay::copy(&request, None);
        let credential = SessionCredential::bearer("new").unwrap();
        let again: Request<Full<Bytes>> = replay.into_request(&credential);
        assert_eq!(again.method(), Method::GET);
        assert_eq!(again.version(), http::Version::HTTP_2);
        assert_eq!(again.body().size_hint().exact(), Some(0));
    }
}
