//! What the hot-path bench (`benches/hot_path.rs`) and the allocation test
//! (`tests/allocations.rs`) share: a no-op inner service, the services compared with the layer,
//! the request they all send, and a warm `ThoughtSpotAuthService`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Response, Uri, Version};
use http_body_util::{Empty, Full};
use thoughtspot_auth::{AuthHandle, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
use tower::util::MapResponse;
use tower::{Layer, Service};
use tower_http::auth::AddAuthorization;

/// The base URL every service here is configured for.
pub const BASE: &str = "https://ts.example.com";
/// The request's URI: a v2.0 data call on [`BASE`].
pub const URI: &str = "https://ts.example.com/api/rest/2.0/metadata/search";
/// The token every authenticating service attaches.
pub const TOKEN: &str = "a-static-token";

/// The request body: `Full` (the layer needs `Default + From<Bytes>`), here empty, so that its
/// size hint is exactly 0 and replay keeps it as `B::default()`.
pub type ReqBody = Full<Bytes>;

/// The request every id sends, built afresh each time as an application would: a POST to a
/// v2.0 path with an empty body and `Accept`, `Content-Type` and `User-Agent` headers.
pub fn request() -> Request<ReqBody> {
    Request::post(URI)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "thoughtspot-auth-bench/0.1")
        .body(Full::default())
        .expect("the bench request is valid")
}

/// A typical ThoughtSpot call's body: 35 bytes of JSON.
pub const JSON_BODY: &[u8] = br#"{"metadata":[{"type":"LIVEBOARD"}]}"#;

/// The same request with a small JSON body (of known size, so replay keeps it by reading it
/// into a buffer first).
pub fn request_with_body() -> Request<ReqBody> {
    let mut request = request();
    *request.body_mut() = Full::new(Bytes::from_static(JSON_BODY));
    request
}

/// Drives one request through a ready service: `poll_ready` once, `call`, and the response
/// future to completion with `now_or_never` (every service here is immediately ready).
#[inline]
pub fn send<S>(service: &mut S, request: Request<ReqBody>) -> S::Response
where
    S: Service<Request<ReqBody>>,
    S::Error: Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(error)) => panic!("the service failed to get ready: {error:?}"),
        Poll::Pending => panic!("the service is not ready"),
    }
    service
        .call(request)
        .now_or_never()
        .expect("the response future is ready at once")
        .expect("the service answers")
}

/// The inner service: answers every request at once with an empty 200.
#[derive(Clone, Copy, Debug, Default)]
pub struct Noop;

thread_local! {
    /// While parking is on for this thread ([`park_requests`]), the requests [`Noop`] was given,
    /// to be dropped by [`drop_parked`] after the clock stops.
    static PARKED: std::cell::RefCell<Option<Vec<Request<ReqBody>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Turns parking on for this thread: from now on [`Noop`] keeps the requests it is given (room
/// for `capacity` made now) instead of dropping them, so that freeing a request's header map,
/// URI and body, the same for every id but at the mercy of the allocator's state, falls outside
/// the timed region. What an id adds to a request (the attached header) is freed with it.
///
/// The room is made once per thread and touched before anything is timed (a fresh 200 KiB
/// vector is mapped anew by glibc: filling it inside the clock would time page faults).
pub fn park_requests(capacity: usize) {
    PARKED.with(|parked| {
        let mut parked = parked.borrow_mut();
        if parked.as_ref().is_some_and(|p| p.capacity() >= capacity) {
            return;
        }
        let mut room = Vec::with_capacity(capacity);
        room.extend((0..capacity).map(|_| request()));
        room.clear();
        *parked = Some(room);
    });
}

/// Drops the requests parked on this thread (keeping the room for more).
pub fn drop_parked() {
    PARKED.with(|parked| {
        if let Some(parked) = parked.borrow_mut().as_mut() {
            parked.clear();
        }
    });
}

impl<B: 'static> Service<Request<B>> for Noop {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut request = Some(request);
        if let Some(ours) = (&mut request as &mut dyn std::any::Any)
            .downcast_mut::<Option<Request<ReqBody>>>()
            .and_then(Option::take)
        {
            PARKED.with(|parked| match parked.borrow_mut().as_mut() {
                Some(parked) => parked.push(ours),
                None => drop(ours),
            });
        }
        ready(Ok(Response::new(Empty::new())))
    }
}

/// The floor: tower-http's `AddAuthorization` with a fixed bearer token.
pub fn static_header() -> AddAuthorization<Noop> {
    AddAuthorization::bearer(Noop, TOKEN)
}

/// A static header plus the least any layer that deals with rejections must add: a response
/// future that looks at every response's status (tower's `MapResponse`; it does nothing with
/// what it sees, where the layer would invalidate, log in and replay).
pub fn static_header_status_check()
-> MapResponse<AddAuthorization<Noop>, fn(NoopResponse) -> NoopResponse> {
    MapResponse::new(static_header(), look_at_status)
}

/// What [`Noop`] answers.
pub type NoopResponse = Response<Empty<Bytes>>;

fn look_at_status(response: NoopResponse) -> NoopResponse {
    std::hint::black_box(response.status() == http::StatusCode::UNAUTHORIZED);
    response
}

/// Exactly what the design allows the hot path, written by hand: one `ArcSwap` load of the
/// current header value, its clone, and the header inserted. Nothing else.
pub fn arc_swap_header() -> Floor<Noop> {
    Floor {
        inner: Noop,
        base: None,
        header: Arc::new(arc_swap::ArcSwap::from_pointee(
            HeaderValue::from_str(&format!("Bearer {TOKEN}")).expect("a header value"),
        )),
    }
}

/// The least a layer with the layer's job can do, written by hand: the origin check (the crate's
/// own), one `ArcSwap` load of the current header value, the header, and a response future that
/// looks at the status (tower's `MapResponse`). No orgs, no expiry, no way back to invalidate or
/// replay after a 401: a floor to measure against, not a working layer.
pub fn floor() -> MapResponse<Floor<Noop>, fn(NoopResponse) -> NoopResponse> {
    let mut floor = arc_swap_header();
    floor.base = Some(thoughtspot_auth::BaseUrl::parse(BASE).expect("the base URL"));
    MapResponse::new(floor, look_at_status)
}

/// See [`arc_swap_header`] and [`floor`].
#[derive(Clone)]
pub struct Floor<S> {
    inner: S,
    /// Checked against each request's URI, if set.
    base: Option<thoughtspot_auth::BaseUrl>,
    header: Arc<arc_swap::ArcSwap<HeaderValue>>,
}

impl<S, B> Service<Request<B>> for Floor<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if self
            .base
            .as_ref()
            .is_none_or(|base| base.is_same_origin(request.uri()))
        {
            let value = HeaderValue::clone(&self.header.load());
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        self.inner.call(request)
    }
}

/// What people write by hand: a token behind `Arc<RwLock<String>>`, formatted and parsed into a
/// header value on every request.
#[derive(Clone, Debug)]
pub struct HandRolled<S> {
    inner: S,
    token: Arc<RwLock<String>>,
}

pub fn rwlock_hand_rolled() -> HandRolled<Noop> {
    HandRolled::new(Noop, TOKEN)
}

impl<S> HandRolled<S> {
    pub fn new(inner: S, token: &str) -> Self {
        Self {
            inner,
            token: Arc::new(RwLock::new(token.to_owned())),
        }
    }
}

impl<S, B> Service<Request<B>> for HandRolled<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let value = {
            let token = self.token.read().expect("the token lock is not poisoned");
            HeaderValue::from_str(&format!("Bearer {}", *token)).expect("the token is a header")
        };
        request.headers_mut().insert(AUTHORIZATION, value);
        self.inner.call(request)
    }
}

/// A request's parts, copied: exactly what the layer keeps for a replay of an empty body.
#[derive(Debug)]
pub struct PartsCopy {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub extensions: Extensions,
}

impl PartsCopy {
    #[inline]
    pub fn of<B>(request: &Request<B>) -> Self {
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            extensions: request.extensions().clone(),
        }
    }
}

/// The inner service plus a copy of each request's parts, held until the response is there
/// (as the layer holds it) and then dropped: what replay must pay, and nothing else.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyParts<S> {
    inner: S,
}

pub fn parts_copy() -> CopyParts<Noop> {
    CopyParts::new(Noop)
}

impl<S> CopyParts<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> Service<Request<B>> for CopyParts<S>
where
    S: Service<Request<B>>,
    S::Future: Unpin,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = KeepWhileSent<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request<B>) -> Self::Future {
        let kept = PartsCopy::of(&request);
        KeepWhileSent {
            future: self.inner.call(request),
            kept: Some(kept),
        }
    }
}

/// The inner future, holding the parts copy until it completes.
#[derive(Debug)]
pub struct KeepWhileSent<F> {
    future: F,
    kept: Option<PartsCopy>,
}

impl<F: Future + Unpin> Future for KeepWhileSent<F> {
    type Output = F::Output;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let output = std::task::ready!(Pin::new(&mut self.future).poll(cx));
        drop(self.kept.take());
        Poll::Ready(output)
    }
}

/// A `ThoughtSpotAuthService` over [`Noop`] with a warm credential: see [`warm_layer_over`].
pub fn warm_layer(
    runtime: &tokio::runtime::Runtime,
    replay: bool,
) -> (ThoughtSpotAuthService<Noop>, AuthHandle) {
    warm_layer_over(runtime, replay, Noop)
}

/// A `ThoughtSpotAuthService` over `inner` with a warm credential (the static [`TOKEN`]: no
/// login exchange, never expires), so that every request from now on takes the hot path
/// (`Core::attach`). The one request that makes the credential goes through the slow path, which
/// needs a tokio runtime: it is sent in `runtime`. `replay: false` is `.replay(false)`; `true` the
/// default configuration.
pub fn warm_layer_over<S>(
    runtime: &tokio::runtime::Runtime,
    replay: bool,
    inner: S,
) -> (ThoughtSpotAuthService<S>, AuthHandle)
where
    S: Service<Request<ReqBody>, Response = Response<Empty<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = ThoughtSpotAuthLayer::builder(BASE).token(TOKEN);
    if !replay {
        builder = builder.replay(false);
    }
    let layer = builder.build().expect("the layer builds");
    let handle = layer.handle();
    let mut service = layer.layer(inner);
    let response = runtime.block_on(async {
        use tower::ServiceExt;
        service
            .ready()
            .await
            .expect("ready")
            .call(request())
            .await
            .expect("the first request makes the credential and is answered")
    });
    assert_eq!(response.status(), 200);
    assert_eq!(
        handle.stats().logins,
        1,
        "the first request made the credential"
    );
    (service, handle)
}

/// Asserts that `handle`'s layer made its credential once and, since, attached it to every
/// request without a login, an invalidation or a replay: the hot path.
pub fn assert_hot_path_only(handle: &AuthHandle) {
    let stats = handle.stats();
    assert_eq!(
        (
            stats.login_attempts,
            stats.logins,
            stats.refreshes,
            stats.invalidations,
            stats.replays
        ),
        (1, 1, 0, 0, 0),
        "every request after the first took the hot path: {stats:?}"
    );
}
