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
use super::body::{ResponseBody, read_beta_500};
use crate::authenticator::CacheKey;
use crate::authenticator::Verdict;
use crate::replay::Replay;
use crate::transport::BoxError;

/// How much of a beta 500 is read to learn whether it rejects the credential.
pub(crate) const BETA_500_READ_LIMIT: usize = 64 * 1024;

type BoxedResponse<RB> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<RB>>, BoxError>> + Send + 'static>>;

pin_project! {
    /// The response future of [`ThoughtSpotAuthService`](super::ThoughtSpotAuthService).
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
    /// The request kept for a replay.
    pub(crate) replay: Option<Replay>,
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
                if core.verdict(response.status()) != Verdict::Fine {
                    return start_recovery(state, response, cx);
                }
                core.accepted();
                // Dropped where it lies: the kept request is not moved out just to go.
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
    cx: &mut Context<'_>,
) -> Poll<Result<Response<ResponseBody<RB>>, BoxError>>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Default + From<bytes::Bytes> + Send + 'static,
    RB: Body + Send + Unpin + 'static,
    RB::Data: Send,
    RB::Error: Send,
{
    let StateOwned::Sent { sent, .. } = state.as_mut().project_replace(State::Done) else {
        unreachable!("recovery starts from a sent request")
    };
    let mut future: BoxedResponse<RB> = Box::pin(recover(response, sent));
    let polled = future.as_mut().poll(cx);
    if polled.is_pending() {
        state.set(State::Boxed { future });
    }
    polled
}

/// Decides what a suspicious response means for the credential it carried and, if it was
/// rejected, invalidates that credential (only that generation), gets a new one from the shared
/// login and sends the kept request once more. The replay's answer is final, whatever it is.
/// Without a kept request, or if no new credential can be had, the original answer is returned.
pub(crate) async fn recover<S, B, RB>(
    response: Response<RB>,
    sent: Sent<S, B>,
) -> Result<Response<ResponseBody<RB>>, BoxError>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Default + From<bytes::Bytes> + Send + 'static,
    RB: Body + Send + Unpin + 'static,
    RB::Data: Send,
    RB::Error: Send,
{
    let core = sent.anchor.core().clone();
    let (parts, body) = response.into_parts();
    let (response, beta_500) = match core.verdict(parts.status) {
        Verdict::Fine => {
            core.accepted();
            return Ok(Response::from_parts(parts, ResponseBody::new(body)));
        }
        Verdict::Rejected => (Response::from_parts(parts, ResponseBody::new(body)), None),
        Verdict::ReadBody => {
            let (body, about) = read_beta_500(body, BETA_500_READ_LIMIT).await;
            (Response::from_parts(parts, body), Some(about))
        }
    };
    let Some(reason) = core.rejection(&sent.key, sent.generation, beta_500).await else {
        return Ok(response);
    };
    core.reject(&sent.key, sent.generation, reason);
    let Some(replay) = sent.replay else {
        tracing::debug!("the rejected request was not kept for a replay; returning the rejection");
        return Ok(response);
    };
    let credential = match core.credential(&sent.key).await {
        Ok(credential) => credential,
        Err(error) => {
            tracing::warn!(%error, "no new ThoughtSpot credential for the replay; returning the rejection");
            return Ok(response);
        }
    };
    let Some(request) = replay.into_request(&credential.session) else {
        tracing::warn!("the kept request could not be rebuilt; returning the rejection");
        return Ok(response);
    };
    drop(response);
    core.replaying(&sent.key, sent.generation, credential.generation);
    let replayed = sent
        .anchor
        .replay_via
        .clone()
        .oneshot(request)
        .await
        .map_err(Into::into)?;
    if core.verdict(replayed.status()) == Verdict::Fine {
        core.accepted();
    }
    Ok(replayed.map(ResponseBody::new))
}
