//! The response body of `ThoughtSpotAuthService`: the inner body, after any frames the layer
//! read ahead to look at a beta 500.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::authenticator::Beta500;

pin_project! {
    /// The body of a response that went through the layer: exactly the inner service's body.
    /// Only for a beta 500 does the layer read the first frames (up to 64 KiB) to learn whether
    /// the credential was rejected; they are given back here first, unchanged.
    pub struct ResponseBody<B: Body> {
        // Boxed, and only there after a beta 500 was looked into, so that every other response
        // is the inner body and one pointer.
        read_ahead: Option<Box<ReadAhead<B>>>,
        #[pin]
        inner: Option<B>,
    }
}

/// What the layer read of a beta 500 before giving it out.
struct ReadAhead<B: Body> {
    frames: VecDeque<Frame<B::Data>>,
    error: Option<B::Error>,
}

impl<B: Body> ResponseBody<B> {
    #[inline]
    pub(crate) fn new(inner: B) -> Self {
        Self {
            read_ahead: None,
            inner: Some(inner),
        }
    }
}

/// An empty body, for middleware that makes responses of its own (tower-http's `Timeout`).
impl<B: Body> Default for ResponseBody<B> {
    fn default() -> Self {
        Self {
            read_ahead: None,
            inner: None,
        }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Some(ahead) = this.read_ahead {
            if let Some(frame) = ahead.frames.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if let Some(error) = ahead.error.take() {
                return Poll::Ready(Some(Err(error)));
            }
            *this.read_ahead = None;
        }
        match this.inner.as_pin_mut() {
            Some(inner) => inner.poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.read_ahead
            .as_ref()
            .is_none_or(|ahead| ahead.frames.is_empty() && ahead.error.is_none())
            && self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let ahead: u64 = self
            .read_ahead
            .iter()
            .flat_map(|ahead| &ahead.frames)
            .filter_map(|f| f.data_ref().map(|d| d.remaining() as u64))
            .sum();
        let mut hint = self
            .inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint);
        hint.set_lower(hint.lower() + ahead);
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper + ahead);
        }
        hint
    }
}

/// Reads up to `limit` bytes of a beta 500's body to classify it; the bytes read are kept at the
/// front of the returned body.
pub(crate) async fn read_beta_500<B: Body + Unpin>(
    // Generic so that the reqwest adapter reads its bodies with it too.
    mut body: B,
    limit: usize,
) -> (ResponseBody<B>, Beta500) {
    use http_body_util::BodyExt;
    let mut read_ahead = VecDeque::new();
    let mut seen = Vec::new();
    let mut error = None;
    let mut ended = false;
    while seen.len() <= limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    // A `Buf` may hold its bytes in several chunks; read them all without
                    // consuming the frame, which is given back as it is.
                    let mut slices = [std::io::IoSlice::new(&[]); 64];
                    let filled = data.chunks_vectored(&mut slices);
                    for slice in &slices[..filled] {
                        seen.extend_from_slice(slice);
                    }
                }
                read_ahead.push_back(frame);
            }
            Some(Err(e)) => {
                error = Some(e);
                break;
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    let verdict = Beta500::judge(&seen);
    let inner = if ended || error.is_some() {
        None
    } else {
        Some(body)
    };
    let read_ahead = (!read_ahead.is_empty() || error.is_some()).then(|| {
        Box::new(ReadAhead {
            frames: read_ahead,
            error,
        })
    });
    (ResponseBody { read_ahead, inner }, verdict)
}
