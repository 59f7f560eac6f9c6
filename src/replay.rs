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
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};
use http_body::Body;
use http_body_util::Full;

use crate::session::SessionCredential;

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

/// A request kept for one replay: a copy of its parts and of its body if it has one.
///
/// The method, URI, version and every header (name, value, sensitivity, in the map's order) are
/// copied as bytes into one buffer: one allocation whatever the number of headers. Cloning the
/// `HeaderMap` instead would take two for the map and, for every value made from a `&str` or
/// `String` (most are), one more to make its `Bytes` shareable, plus an atomic count on both
/// sides; replays are rare, so the values are rebuilt from the bytes only when one is sent.
pub(crate) struct Replay {
    packed: Box<[u8]>,
    extensions: Extensions,
    /// `None` for an empty body.
    body: Option<Bytes>,
}

impl Replay {
    /// Copies the parts of `request`; `body` is `None` for an empty body, else its bytes. `None`
    /// (not kept) only for a part over 4 GiB, which no client sends.
    #[inline]
    pub(crate) fn copy<B>(request: &Request<B>, body: Option<Bytes>) -> Option<Self> {
        let uri = request.uri();
        let headers = request.headers();
        let scheme = uri.scheme_str();
        let authority = uri.authority().map(|a| a.as_str());
        let path_and_query = uri.path_and_query().map(|p| p.as_str());
        let mut size = 1 + field_size(Some(request.method().as_str()));
        size += field_size(scheme) + field_size(authority) + field_size(path_and_query);
        for (name, value) in headers {
            size += 1 + field_size(Some(name.as_str())) + field_size(Some(value.as_bytes()));
        }
        let mut packed = Vec::with_capacity(size);
        packed.push(version_code(request.version()));
        put(&mut packed, Some(request.method().as_str()))?;
        put(&mut packed, scheme)?;
        put(&mut packed, authority)?;
        put(&mut packed, path_and_query)?;
        for (name, value) in headers {
            packed.push(u8::from(value.is_sensitive()));
            put(&mut packed, Some(name.as_str()))?;
            put(&mut packed, Some(value.as_bytes()))?;
        }
        debug_assert_eq!(packed.len(), size);
        Some(Self {
            packed: packed.into_boxed_slice(),
            extensions: request.extensions().clone(),
            body,
        })
    }

    /// The request again, now carrying `credential`; `None` only if the kept bytes no longer
    /// make a request (they were written by [`copy`](Self::copy) from a valid one, so never).
    pub(crate) fn request<B>(&self, credential: &SessionCredential) -> Option<Request<B>>
    where
        B: Default + From<Bytes>,
    {
        let mut packed = Reader(&self.packed);
        let version = version_from_code(packed.byte()?)?;
        let method = Method::from_bytes(packed.field()??).ok()?;
        let mut uri = http::uri::Parts::default();
        uri.scheme = packed.field()?.map(Scheme::try_from).transpose().ok()?;
        uri.authority = packed.field()?.map(Authority::try_from).transpose().ok()?;
        uri.path_and_query = packed
            .field()?
            .map(PathAndQuery::try_from)
            .transpose()
            .ok()?;
        let mut headers = HeaderMap::new();
        while !packed.0.is_empty() {
            let sensitive = packed.byte()? != 0;
            let name = HeaderName::from_bytes(packed.field()??).ok()?;
            let mut value = HeaderValue::from_bytes(packed.field()??).ok()?;
            value.set_sensitive(sensitive);
            headers.append(name, value);
        }
        let (name, value) = credential.header();
        headers.insert(name, value);
        let mut request = Request::new(self.body.clone().map_or_else(B::default, B::from));
        *request.method_mut() = method;
        *request.uri_mut() = Uri::from_parts(uri).ok()?;
        *request.version_mut() = version;
        *request.headers_mut() = headers;
        *request.extensions_mut() = self.extensions.clone();
        Some(request)
    }
}

/// A field's length (4 bytes, `u32::MAX` for none) and its bytes.
fn field_size(field: Option<impl AsRef<[u8]>>) -> usize {
    4 + field.map_or(0, |f| f.as_ref().len())
}

/// Appends a field; `None` if it is too long to be told from a none (4 GiB).
fn put(packed: &mut Vec<u8>, field: Option<impl AsRef<[u8]>>) -> Option<()> {
    match field {
        Some(bytes) => {
            let bytes = bytes.as_ref();
            let len = u32::try_from(bytes.len())
                .ok()
                .filter(|len| *len != u32::MAX)?;
            packed.extend_from_slice(&len.to_le_bytes());
            packed.extend_from_slice(bytes);
        }
        None => packed.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
    Some(())
}

/// Reads back what [`Replay::copy`] packed; `None` where the bytes end early.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    /// `Some(None)` for a field that was none.
    fn field(&mut self) -> Option<Option<&'a [u8]>> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len);
        if len == u32::MAX {
            self.0 = rest;
            return Some(None);
        }
        let (field, rest) = rest.split_at_checked(len as usize)?;
        self.0 = rest;
        Some(Some(field))
    }
}

const VERSIONS: [Version; 5] = [
    Version::HTTP_09,
    Version::HTTP_10,
    Version::HTTP_11,
    Version::HTTP_2,
    Version::HTTP_3,
];

fn version_code(version: Version) -> u8 {
    VERSIONS.iter().position(|v| *v == version).unwrap_or(2) as u8
}

fn version_from_code(code: u8) -> Option<Version> {
    VERSIONS.get(usize::from(code)).copied()
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
        let replay = Replay::copy(&request, Some(Bytes::from_static(b"payload"))).unwrap();
        let credential = SessionCredential::bearer("new").unwrap();
        let again: Request<Full<Bytes>> = replay.request(&credential).unwrap();
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
        let replay = Replay::copy(&request, None).unwrap();
        let credential = SessionCredential::bearer("new").unwrap();
        let again: Request<Full<Bytes>> = replay.request(&credential).unwrap();
        assert_eq!(again.method(), Method::GET);
        assert_eq!(again.version(), http::Version::HTTP_2);
        assert_eq!(again.body().size_hint().exact(), Some(0));
    }

    /// `request` kept (with an empty body) and rebuilt for a replay with a new credential.
    fn kept_and_replayed(request: &Request<Empty<Bytes>>) -> Request<Full<Bytes>> {
        let credential = SessionCredential::bearer("new").unwrap();
        Replay::copy(request, None)
            .unwrap()
            .request(&credential)
            .unwrap()
    }

    #[test]
    fn every_form_of_uri_and_method_comes_back_the_same() {
        let cases = [
            (Method::GET, "https://ts.example.com/api/x?a=1&b=%20"),
            (Method::POST, "https://ts.example.com"),
            (
                Method::PUT,
                "http://127.0.0.1:8080/ts/callosum/v1/session/orgs",
            ),
            (Method::PATCH, "/api/rest/2.0/metadata/search?q"),
            (Method::CONNECT, "ts.example.com:443"),
            (Method::OPTIONS, "*"),
            (
                Method::from_bytes(b"PURGE").unwrap(),
                "custom+scheme://host/p",
            ),
        ];
        for (method, uri) in cases {
            let request = Request::builder()
                .method(method.clone())
                .uri(uri)
                .body(Empty::<Bytes>::new())
                .unwrap();
            let again = kept_and_replayed(&request);
            assert_eq!(again.method(), method, "{uri}");
            assert_eq!(again.uri(), request.uri(), "{uri}");
            assert_eq!(again.uri().to_string(), request.uri().to_string(), "{uri}");
        }
    }

    #[test]
    fn sensitivity_order_and_every_version_are_kept() {
        let mut secret = HeaderValue::from_static("s3cret");
        secret.set_sensitive(true);
        for version in VERSIONS {
            let request = Request::get("https://ts.example.com/x")
                .version(version)
                .header("x-secret", secret.clone())
                .header("x-plain", "p")
                .header("x-many", "1")
                .header("x-many", "2")
                .header("x-many", "3")
                .header("x-empty", "")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let again = kept_and_replayed(&request);
            assert_eq!(again.version(), version);
            assert!(again.headers()["x-secret"].is_sensitive());
            assert!(!again.headers()["x-plain"].is_sensitive());
            let many: Vec<_> = again.headers().get_all("x-many").iter().collect();
            assert_eq!(many, ["1", "2", "3"]);
            assert_eq!(again.headers()["x-empty"], "");
            assert_eq!(again.headers().len(), request.headers().len() + 1);
        }
    }

    #[test]
    fn cut_short_bytes_give_none_not_a_panic() {
        let request = Request::post("https://ts.example.com/x")
            .header("x-a", "b")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let whole = Replay::copy(&request, None).unwrap();
        let credential = SessionCredential::bearer("new").unwrap();
        for len in 0..whole.packed.len() {
            let cut = Replay {
                packed: whole.packed[..len].into(),
                extensions: Extensions::new(),
                body: None,
            };
            // Every prefix either ends between headers (a shorter request) or is refused.
            if let Some(again) = cut.request::<Full<Bytes>>(&credential) {
                assert!(again.headers().len() <= 2);
            }
        }
    }
}
