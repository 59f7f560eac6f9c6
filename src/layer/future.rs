//! The response future of `ThoughtSpotAuthService`, and what happens when a credential is
//! rejected.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tower::{Service, ServiceExt};

use super::anchor::Anchor;
use super::bounds::{Inner, InnerBody, KeptBody};
use crate::authenticator::{CacheKey, Door, Verdict};
use crate::read_ahead::ResponseBody;
use crate::replay::Replay;
use crate::session::SessionCredential;
use crate::transport::BoxError;

type BoxedResponse<RB> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<RB>>, BoxError>> + Send + 'static>>;

pin_project! {
    /// The response future of [`ThoughtSpotAuthService`](crate::ThoughtSpotAuthService); see the
    /// [module's example](crate::layer#example).
    pub struct ResponseFuture<F, S, B, RB: Body> {
        #[pin]
        state: State<F, S, B, RB>,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateOwned]
    enum State<F, S, B, RB: Body> {
        // Not for ThoughtSpot: untouched.
        Passthrough { #[pin] future: F },
        // Sent with a credential that was ready: the hot path.
        Sent { #[pin] future: F, sent: Sent<S, B> },
        // The same, with the request kept for a replay: a variant of its own, so that a request
        // without one never drops an empty room for one (22 instructions a request).
        Kept { #[pin] future: F, sent: Sent<S, B>, replay: Replay },
        // Waiting for a login, or recovering from a rejection.
        Boxed { future: BoxedResponse<RB> },
        // The response was given out.
        Done,
    }
}

/// What a sent request needs if its credential turns out rejected.
pub(crate) struct Sent<S, B> {
    /// The way back to the core, and the service a replay is sent through.
    pub(crate) anchor: Arc<Anchor<S>>,
    pub(crate) key: CacheKey,
    pub(crate) generation: u64,
    pub(crate) _body: std::marker::PhantomData<fn() -> B>,
}

impl<F, S, B, RB: Body> ResponseFuture<F, S, B, RB> {
    #[inline]
    pub(crate) fn passthrough(future: F) -> Self {
        Self {
            state: State::Passthrough { future },
        }
    }

    #[inline]
    pub(crate) fn sent(future: F, sent: Sent<S, B>) -> Self {
        Self {
            state: State::Sent { future, sent },
        }
    }

    #[inline]
    pub(crate) fn kept(future: F, sent: Sent<S, B>, replay: Replay) -> Self {
        Self {
            state: State::Kept {
                future,
                sent,
                replay,
            },
        }
    }

    #[inline]
    pub(crate) fn boxed(future: BoxedResponse<RB>) -> Self {
        Self {
            state: State::Boxed { future },
        }
    }
}

impl<F, S, B, RB, E> Future for ResponseFuture<F, S, B, RB>
where
    F: Future<Output = Result<Response<RB>, E>>,
    E: Into<BoxError>,
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Default + From<bytes::Bytes> + Send + 'static,
    RB: Body + Send + Unpin + 'static,
    RB::Data: Send,
    RB::Error: Send,
{
    type Output = Result<Response<ResponseBody<RB>>, BoxError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        match state.as_mut().project() {
            StateProj::Sent { future, sent } => {
                let response = ready!(future.poll(cx)).map_err(Into::into)?;
                let core = sent.anchor.core();
                let verdict = core.judge(response.status());
                if verdict != Verdict::Fine {
                    return start_recovery(state, response, verdict, cx);
                }
                // Dropped where it lies: the kept request is not moved out just to go.
                state.set(State::Done);
                Poll::Ready(Ok(response.map(ResponseBody::new)))
            }
            StateProj::Kept { future, sent, .. } => {
                let response = ready!(future.poll(cx)).map_err(Into::into)?;
                let verdict = sent.anchor.core().judge(response.status());
                if verdict != Verdict::Fine {
                    return start_recovery(state, response, verdict, cx);
                }
                state.set(State::Done);
                Poll::Ready(Ok(response.map(ResponseBody::new)))
            }
            StateProj::Passthrough { future } => {
                let response = ready!(future.poll(cx)).map_err(Into::into)?;
                Poll::Ready(Ok(response.map(ResponseBody::new)))
            }
            StateProj::Boxed { future } => future.as_mut().poll(cx),
            StateProj::Done => panic!("`ResponseFuture` polled after it completed"),
        }
    }
}

/// Out of the hot path's way (so that `poll` stays small enough to inline): the response may
/// reject the credential, so the rest happens in a boxed [`recover`].
#[cold]
#[inline(never)]
fn start_recovery<F, S, B, RB>(
    mut state: Pin<&mut State<F, S, B, RB>>,
    response: Response<RB>,
    verdict: Verdict,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<ResponseBody<RB>>, BoxError>>
where
    S: Inner<B, RB>,
    B: KeptBody,
    RB: InnerBody,
{
    let (sent, replay) = match state.as_mut().project_replace(State::Done) {
        StateOwned::Sent { sent, .. } => (sent, None),
        StateOwned::Kept { sent, replay, .. } => (sent, Some(replay)),
        _ => unreachable!("recovery starts from a sent request"),
    };
    let mut future: BoxedResponse<RB> = Box::pin(recover(response, verdict, sent, replay));
    let polled = future.as_mut().poll(cx);
    if polled.is_pending() {
        state.set(State::Boxed { future });
    }
    polled
}

/// The tower door's side of the rejection policy: the kept request, and the service a replay is
/// sent through.
struct LayerDoor<S, B, RB> {
    replay_via: S,
    replay: Option<Replay>,
    _bodies: std::marker::PhantomData<fn() -> (B, RB)>,
}

impl<S, B, RB> Door for LayerDoor<S, B, RB>
where
    S: Inner<B, RB>,
    B: KeptBody,
    RB: InnerBody,
{
    type Response = Response<ResponseBody<RB>>;
    type Error = BoxError;
    const NAME: &'static str = "tower";

    fn status(response: &Self::Response) -> http::StatusCode {
        response.status()
    }

    async fn read_ahead(response: Self::Response, limit: usize) -> (Self::Response, Vec<u8>) {
        let (parts, body) = response.into_parts();
        let (body, seen) = body.read_ahead(limit).await;
        (Response::from_parts(parts, body), seen)
    }

    fn can_replay(&self) -> bool {
        self.replay.is_some()
    }

    fn replay(
        &mut self,
        credential: &SessionCredential,
    ) -> Option<impl Future<Output = Result<Self::Response, BoxError>> + Send + '_> {
        let request = self.replay.as_ref()?.request(credential)?;
        let sent = self.replay_via.clone().oneshot(request);
        Some(async move {
            let response = sent.await.map_err(Into::into)?;
            Ok(response.map(ResponseBody::new))
        })
    }
}

/// Hands a response that was not plainly fine to the core's rejection policy.
pub(crate) async fn recover<S, B, RB>(
    response: Response<RB>,
    verdict: Verdict,
    sent: Sent<S, B>,
    replay: Option<Replay>,
) -> Result<Response<ResponseBody<RB>>, BoxError>
where
    S: Inner<B, RB>,
    B: KeptBody,
    RB: InnerBody,
{
    let core = sent.anchor.core().clone();
    let mut door = LayerDoor {
        replay_via: sent.anchor.replay_via.clone(),
        replay,
        _bodies: std::marker::PhantomData,
    };
    core.recover(
        &mut door,
        &sent.key,
        sent.generation,
        response.map(ResponseBody::new),
        verdict,
    )
    .await
}
