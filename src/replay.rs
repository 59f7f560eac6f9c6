//! How a request is kept for one replay after its credential was rejected.
//!
//! tower-http's `FollowRedirect` is the precedent: copy the parts (method, URI, version,
//! headers, extensions) and replay a body that `size_hint` says is empty as `B::default()`. A
//! body of known size up to a limit (64 KiB by default) is read once and sent from the buffer, so
//! it can be sent again. Anything else — a stream of unknown or larger size — is sent once and
//! never refused: if its credential is rejected, the caller gets the rejection.

use bytes::Bytes;
use http::{Extensions, HeaderMap, Method, Request, Uri, Version};
use http_body::Body;

use crate::credential::SessionCredential;

/// How a request's body can be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Not kept: replay is off, or the body is a stream of unknown or too large a size.
    No,
    /// Empty: replayed as `B::default()`.
    Empty,
    /// Of known size within the limit: read into a buffer first.
    Buffer,
}

/// Decides how `body` can be kept, from its size hint alone.
#[inline]
pub(crate) fn keep<B: Body>(body: &B, enabled: bool, limit: usize) -> Keep {
    if !enabled {
        return Keep::No;
    }
    match body.size_hint().exact() {
        Some(0) => Keep::Empty,
        Some(n) if n <= limit as u64 => Keep::Buffer,
        _ => Keep::No,
    }
}

/// A request kept for one replay.
#[derive(Debug)]
pub(crate) struct Replay {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
    body: Option<Bytes>,
}

impl Replay {
    /// Copies the parts of `request`; `body` is `None` for an empty body, else the buffer.
    #[inline]
    pub(crate) fn copy<B>(request: &Request<B>, body: Option<Bytes>) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            extensions: request.extensions().clone(),
            body,
        }
    }

    /// The request again, now carrying `credential`.
    pub(crate) fn into_request<B>(self, credential: &SessionCredential) -> Request<B>
    where
        B: Default + From<Bytes>,
    {
        let body = self.body.map_or_else(B::default, B::from);
        let mut request = Request::new(body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers;
        *request.extensions_mut() = self.extensions;
        let (name, value) = credential.header();
        request.headers_mut().insert(name, value);
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
            Keep::Buffer
        );
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
        assert_eq!(again.headers()[http::header::AUTHORIZATION], "Bearer new");
        assert_eq!(again.extensions().get::<u32>(), Some(&7));
        assert_eq!(again.body().size_hint().exact(), Some(7));
    }
}
