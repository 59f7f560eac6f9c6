//! The bodies of the faults that misbehave on the wire: a huge body, and one cut short.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::wire::BoxError;

/// Chunk size of [`HugeBody`].
const CHUNK: usize = 64 * 1024;
/// Filler of [`HugeBody`].
static PADDING: [u8; CHUNK] = [b'a'; CHUNK];
/// Start of a [`HugeBody`] long enough to be a JSON object.
const HUGE_HEAD: &[u8] = br#"{"padding":""#;
/// End of a [`HugeBody`] long enough to be a JSON object.
const HUGE_TAIL: &[u8] = br#""}"#;

/// A body of exactly `len` bytes, generated chunk by chunk: `{"padding":"aaa…"}` when it is
/// long enough to be that, spaces otherwise. With `announced`, its size hint is exact (hyper
/// sends `Content-Length`); without, unknown (hyper sends it chunked).
#[derive(Debug)]
pub(super) struct HugeBody {
    len: usize,
    sent: usize,
    announced: bool,
}

impl HugeBody {
    pub(super) fn new(len: usize, announced: bool) -> Self {
        HugeBody {
            len,
            sent: 0,
            announced,
        }
    }
}

impl Body for HugeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.sent >= this.len {
            return Poll::Ready(None);
        }
        let framed = this.len >= HUGE_HEAD.len() + HUGE_TAIL.len();
        let chunk = if !framed {
            let n = this.len - this.sent;
            Bytes::from(vec![b' '; n])
        } else if this.sent == 0 {
            Bytes::from_static(HUGE_HEAD)
        } else {
            let body_end = this.len - HUGE_TAIL.len();
            if this.sent >= body_end {
                Bytes::from_static(HUGE_TAIL)
            } else {
                let n = (body_end - this.sent).min(CHUNK);
                Bytes::from_static(&PADDING[..n])
            }
        };
        this.sent += chunk.len();
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.len
    }

    fn size_hint(&self) -> SizeHint {
        if self.announced {
            SizeHint::with_exact((self.len - self.sent) as u64)
        } else {
            SizeHint::default()
        }
    }
}

/// A body that sends [`PARTIAL_BODY`](super::faults::PARTIAL_BODY), gives the connection a chance to flush it, then fails so
/// that hyper aborts the connection short of the announced `Content-Length`.
#[derive(Debug, Default)]
pub(super) struct TruncatedBody {
    step: u8,
}

impl Body for TruncatedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.step += 1;
        match self.step {
            1 => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                super::faults::PARTIAL_BODY.as_bytes(),
            ))))),
            2 => {
                // Pending lets hyper flush the head and the partial body before the error.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            _ => Poll::Ready(Some(Err(
                "mock: connection closed mid-body (injected)".into()
            ))),
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
