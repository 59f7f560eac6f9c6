//! [`ThoughtSpotAuthService`]: the hot path, and the slow path of a request that waits for a
//! login or buffers its body for a replay.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tower::{Service, ServiceExt};

use super::anchor::{Anchor, Anchors};
use super::bounds::{Inner, InnerBody, KeptBody};
use super::future::{ResponseFuture, Sent, recover};
use crate::authenticator::{CachedCredential, Outgoing, Owner, Verdict};
use crate::base_url::BaseUrl;
use crate::handle::AuthHandle;
use crate::read_ahead::ResponseBody;
use crate::replay::{self, Keep, Replay};
use crate::transport::{BoxError, ServiceTransport};

/// The service [`ThoughtSpotAuthLayer`](super::ThoughtSpotAuthLayer) makes: attaches a valid credential to every request for
/// the ThoughtSpot origin and deals with expiry and rejection before the caller sees them.
///
/// A request's way through it:
/// 1. Not for the configured origin (scheme, host, port)? Passed through untouched: a credential
///    never leaves for another origin.
/// 2. The credential for the request's org ([`OrgOverride`](crate::OrgOverride), else the
///    handle's current org) is attached: one `ArcSwap` load and a clone of its prebuilt,
///    sensitive header (a copy per core, so that threads sending at once write no shared
///    reference count). Near expiry (the soft deadline: the lifetime less 30 s or 10 %, with
///    jitter) it is still attached and one background refresh starts; nobody waits. With none, or
///    past the hard deadline, the request waits for the one shared login.
/// 3. With replay on (the default) the request is kept for one replay if that is cheap: a copy
///    of its parts (method, URI, version and headers packed into one buffer), and an empty
///    body, a `Full<Bytes>` (by a clone of its `Bytes`) or another body of known size up to
///    64 KiB (read into a buffer first). Anything else is sent once, never refused.
/// 4. Sent. **401** (or, on the beta API, a **500 whose upstream status is 401**): that
///    credential's generation is invalidated (a late 401 never evicts a newer credential), one
///    login is shared by everyone who saw it, and the kept request is sent once more. The replay's
///    answer is final, unless its credential was made before the rejection was seen (a refresh
///    had already replaced the rejected one) and is rejected too: one revocation kills every
///    older token, so it is sent once more with a login made after it. A **bare beta 500** is ambiguous: the credential is checked once per
///    generation and replaced only if it is really dead, so genuine server errors cause no
///    logins. **403** is authorization, not authentication: returned as it is, no login.
///
/// Login failures: bad credentials, a locked account, an unusable answer are permanent — every
/// waiter gets the same [`Error`](crate::Error) and the credentials are not tried again until a
/// backoff window passes (60 s, doubling to 30 min): for every org after bad credentials (401),
/// for the org that met it after a 403 (a locked account, or not a member of that org: ThoughtSpot
/// does not say which). A request refused inside the window is told so
/// ([`Error::is_refused_by_backoff`](crate::Error::is_refused_by_backoff)). 429, 5xx, maintenance pages and
/// network errors are transient — retried with jittered exponential backoff honouring
/// `Retry-After`, while requests wait up to the login deadline (30 s); a still-valid credential
/// keeps being served meanwhile. Errors reach the caller boxed ([`tower::BoxError`]); downcast
/// to [`Error`](crate::Error).
///
/// Logins go over a clone of the inner service (never back through this one), unless the builder
/// was given a transport. Replays go through a clone of the inner service made when the layer
/// wrapped it (so [`get_mut`](Self::get_mut) changes what is sent first, not what is replayed).
/// The response body is the inner one, wrapped in [`ResponseBody`]. An example of the whole
/// stack is in the [module's example](crate::layer#example).
pub struct ThoughtSpotAuthService<S> {
    inner: S,
    anchors: Arc<Anchors<S>>,
    /// The current org's credential, as this clone last saw it.
    credential: CachedCredential,
}

impl<S: Clone> Clone for ThoughtSpotAuthService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            anchors: self.anchors.clone(),
            credential: self.credential.clone(),
        }
    }
}

impl<S> fmt::Debug for ThoughtSpotAuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThoughtSpotAuthService")
            .field("base", &self.anchors.core().config.base)
            .finish_non_exhaustive()
    }
}

impl<S: Clone> ThoughtSpotAuthService<S> {
    pub(super) fn new(owner: &Arc<Owner>, inner: S) -> Self {
        Self {
            anchors: Arc::new(Anchors::new(owner.clone(), &inner)),
            credential: owner.core().cached_credential(),
            inner,
        }
    }
}

impl<S> ThoughtSpotAuthService<S> {
    /// A handle on the credentials.
    pub fn handle(&self) -> AuthHandle {
        AuthHandle::new(self.anchors.owner.clone())
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, RB> Service<Request<B>> for ThoughtSpotAuthService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Default + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    RB: Body + Send + Unpin + 'static,
    RB::Data: Send,
    RB::Error: Into<BoxError> + Send,
{
    type Response = Response<ResponseBody<RB>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, B, RB>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let core = self.anchors.core();
        let key = match core.admit(&request) {
            Ok(Some(key)) => key,
            Ok(None) => return ResponseFuture::passthrough(self.inner.call(request)),
            Err(error) => {
                return ResponseFuture::boxed(Box::pin(std::future::ready(Err(error.into()))));
            }
        };
        let kept = match replay::keep(
            request.body(),
            core.config.replay,
            core.config.max_replay_body_bytes,
        ) {
            Keep::No => None,
            Keep::Empty => Replay::copy(&request, None),
            Keep::Cloned(body) => Replay::copy(&request, Some(body)),
            Keep::Buffer => return self.slow_path(request, key, None, true),
        };
        let stripe = crate::stripes::this_thread();
        let headers = request.headers_mut();
        let Some(generation) = core.attach(&key, headers, stripe, Some(&mut self.credential))
        else {
            return self.slow_path(request, key, kept, false);
        };
        let future = self.inner.call(request);
        let sent = Sent {
            anchor: self.anchors.for_stripe(stripe),
            key,
            generation,
            _body: PhantomData,
        };
        match kept {
            None => ResponseFuture::sent(future, sent),
            Some(replay) => ResponseFuture::kept(future, sent, replay),
        }
    }
}

impl<S> ThoughtSpotAuthService<S> {
    /// Waits for a login, or reads a small body so it can be sent twice (`buffer`). The inner
    /// service made ready for this call is let go at once, and a clone made ready again when the
    /// request can be sent: readiness can be capacity held (tower's `ConcurrencyLimit` takes a
    /// permit in `poll_ready`), and requests holding all of it while they wait for the login
    /// would leave none for the login itself.
    fn slow_path<F, B, RB>(
        &mut self,
        request: Request<B>,
        key: crate::authenticator::CacheKey,
        kept: Option<Replay>,
        buffer: bool,
    ) -> ResponseFuture<F, S, B, RB>
    where
        S: Inner<B, RB, Future: 'static>,
        B: KeptBody + Body<Data: Send, Error: Into<BoxError>>,
        RB: InnerBody<Error: Into<BoxError>>,
    {
        let spare = self.inner.clone();
        // Assigning drops the ready one, and with it any capacity it holds.
        self.inner = spare.clone();
        let slow = SlowPath {
            anchor: self.anchors.for_stripe(crate::stripes::this_thread()),
            spare,
            key,
            kept,
            buffer,
        };
        ResponseFuture::boxed(Box::pin(slow.send(request)))
    }
}

/// What a request that cannot take the hot path takes along.
struct SlowPath<S> {
    anchor: Arc<Anchor<S>>,
    /// A clone of the inner service, not made ready: the request is sent through it once it
    /// can be, and it is the session transport if none is installed yet.
    spare: S,
    key: crate::authenticator::CacheKey,
    /// The request kept for a replay, unless its body must be read first (`buffer`).
    kept: Option<Replay>,
    buffer: bool,
}

impl<S> SlowPath<S> {
    async fn send<B, RB>(self, request: Request<B>) -> Result<Response<ResponseBody<RB>>, BoxError>
    where
        S: Inner<B, RB, Future: 'static>,
        B: KeptBody + Body<Data: Send, Error: Into<BoxError>>,
        RB: InnerBody<Error: Into<BoxError>>,
    {
        let Self {
            anchor,
            spare,
            mut key,
            mut kept,
            buffer,
        } = self;
        let core = anchor.core().clone();
        core.offer_transport(|| Arc::new(ServiceTransport::<S, B>::new(spare.clone())));
        let mut request = request;
        if buffer {
            let (parts, body) = request.into_parts();
            let bytes = Limited::new(body, core.config.max_replay_body_bytes)
                .collect()
                .await?
                .to_bytes();
            request = Request::from_parts(parts, B::from(bytes.clone()));
            kept = Replay::copy(&request, Some(bytes));
        }
        let generation = core
            .attach_after_login(&mut key, &mut request)
            .await
            .map_err(BoxError::from)?;
        let response = spare.oneshot(request).await.map_err(Into::into)?;
        let verdict = core.judge(response.status());
        if verdict == Verdict::Fine {
            return Ok(response.map(ResponseBody::new));
        }
        recover(
            response,
            verdict,
            Sent {
                anchor,
                key,
                generation,
                _body: PhantomData,
            },
            kept,
        )
        .await
    }
}

/// The tower door's request, as the core admits it.
impl<B> Outgoing for Request<B> {
    #[inline(always)]
    fn is_for(&self, base: &BaseUrl) -> bool {
        base.is_same_origin(self.uri())
    }

    fn origin(&self) -> (Option<&str>, &str, Option<u16>) {
        let uri = self.uri();
        (
            uri.scheme_str(),
            uri.host().unwrap_or_default(),
            uri.port_u16(),
        )
    }

    #[inline]
    fn extensions(&self) -> &http::Extensions {
        Request::extensions(self)
    }

    #[inline]
    fn headers_mut(&mut self) -> &mut http::HeaderMap {
        Request::headers_mut(self)
    }
}
