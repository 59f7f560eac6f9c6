//! The response body both doors give out: the inner body, after any frames read ahead of it to
//! look at a beta 500 (see the authenticator's rejection policy).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

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

impl<B: Body + Unpin> ResponseBody<B> {
    /// Reads up to `limit` bytes (a frame more at most) of a body nothing was read of yet, and
    /// returns them; every frame read stays at the front of the body, unchanged.
    pub(crate) async fn read_ahead(mut self, limit: usize) -> (Self, Vec<u8>) {
        use http_body_util::BodyExt;
        let Some(mut body) = self.inner.take() else {
            return (self, Vec::new());
        };
        let mut frames = VecDeque::new();
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
                    frames.push_back(frame);
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
        self.inner = (!ended && error.is_none()).then_some(body);
        self.read_ahead =
            (!frames.is_empty() || error.is_some()).then(|| Box::new(ReadAhead { frames, error }));
        (self, seen)
    }
}
