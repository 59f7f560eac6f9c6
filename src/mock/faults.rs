//! Injected faults: what they are, how they are queued per path, and the responses they produce.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};

use super::wire::{self, ApiError, BoxError, Generation, RespBody};

/// A misbehaviour to inject with [`MockThoughtSpot::inject`](super::MockThoughtSpot::inject).
///
/// A fault applies to the next requests to one path, whatever their method. The request is
/// still counted, logged (with [`RecordedRequest::fault`](super::RecordedRequest::fault) set)
/// and, for a credential-minting endpoint, counted as a login attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and the error body of the path's API generation: the v2.0 spec
    /// shape (`{"error":{"message":{"code",..}}}`), for the v2 beta an HTTP 500 wrapping the
    /// status as the upstream status (a bare 500 body when `status` is 500), for v1 a top-level
    /// `{"debug","incident_id_guid"}`. With `retry_after`, a `Retry-After: <seconds>` header
    /// is added.
    Status {
        /// The HTTP status (the upstream status on the beta); an invalid one is sent as 500.
        status: u16,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// A 200 `text/html` maintenance page, as ThoughtSpot shows during upgrades.
    MaintenancePage,
    /// A 200 `application/json` response whose JSON object is cut short.
    MalformedJson,
    /// A 200 `application/json` response of exactly this many bytes, streamed in chunks.
    HugeBody(usize),
    /// Wait this long (on the tokio clock) and then handle the request normally.
    Delay(Duration),
    /// Close the connection without sending any response.
    DropConnection,
    /// Send a 200 with a `Content-Length` larger than the body actually sent, then close the
    /// connection.
    CloseMidBody,
    /// Answer with exactly this.
    Respond {
        /// The HTTP status; an invalid one is sent as 500.
        status: u16,
        /// The `Content-Type` header value.
        content_type: String,
        /// The body.
        body: Bytes,
    },
    /// A redirect (`302 Found`) to `location`, which may be another origin: for testing that
    /// credentials do not follow redirects elsewhere.
    Redirect {
        /// The `Location` header value.
        location: String,
    },
}

/// Faults waiting for their requests, per path (without the prefix).
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    queues: HashMap<String, VecDeque<(Fault, usize)>>,
}

impl FaultTable {
    pub(crate) fn inject(&mut self, path: &str, fault: Fault, times: usize) {
        if times == 0 {
            return;
        }
        self.queues
            .entry(path.to_owned())
            .or_default()
            .push_back((fault, times));
    }

    /// Takes the fault for one request to `path`, if any is queued.
    pub(crate) fn take(&mut self, path: &str) -> Option<Fault> {
        let queue = self.queues.get_mut(path)?;
        let (fault, remaining) = queue.front_mut()?;
        let fault = fault.clone();
        *remaining -= 1;
        if *remaining == 0 {
            queue.pop_front();
        }
        if queue.is_empty() {
            self.queues.remove(path);
        }
        Some(fault)
    }

    pub(crate) fn clear(&mut self) {
        self.queues.clear();
    }
}

/// What the server does with a fault.
pub(crate) enum FaultAction {
    /// Close the connection now.
    Drop,
    /// Sleep, then handle normally.
    Delay(Duration),
    /// Send this response.
    Respond(Response<RespBody>),
}

/// The maintenance page of [`Fault::MaintenancePage`].
const MAINTENANCE_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>ThoughtSpot - Maintenance</title></head>\
<body><h1>ThoughtSpot is undergoing maintenance</h1>\
<p>The cluster is being upgraded. Please try again in a few minutes.</p></body></html>\n";

/// The cut-short JSON of [`Fault::MalformedJson`].
const MALFORMED_JSON: &str = r#"{"token":"mock-malformed","creation_time_in_millis":17"#;

/// What [`Fault::CloseMidBody`] sends before closing.
const PARTIAL_BODY: &str = r#"{"token":"mock-partial","creation_time_in_millis":"#;

/// The `Content-Length` [`Fault::CloseMidBody`] announces.
const ANNOUNCED_LENGTH: usize = 4096;

pub(crate) fn action(
    fault: Fault,
    generation: Generation,
    render: &wire::Renderer<'_>,
) -> FaultAction {
    match fault {
        Fault::Delay(d) => FaultAction::Delay(d),
        Fault::DropConnection => FaultAction::Drop,
        Fault::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let err = ApiError::new(status.as_u16(), "Injected fault");
            let mut resp = render.error(generation, &err);
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            FaultAction::Respond(resp)
        }
        Fault::MaintenancePage => FaultAction::Respond(wire::response(
            StatusCode::OK,
            "text/html; charset=utf-8",
            wire::full(MAINTENANCE_PAGE),
        )),
        Fault::MalformedJson => FaultAction::Respond(wire::response(
            StatusCode::OK,
            "application/json",
            wire::full(MALFORMED_JSON),
        )),
        Fault::HugeBody(len) => FaultAction::Respond(wire::response(
            StatusCode::OK,
            "application/json",
            RespBody::new(HugeBody::new(len)),
        )),
        Fault::CloseMidBody => {
            let mut resp = wire::response(
                StatusCode::OK,
                "application/json",
                RespBody::new(TruncatedBody::default()),
            );
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(ANNOUNCED_LENGTH));
            FaultAction::Respond(resp)
        }
        Fault::Respond {
            status,
            content_type,
            body,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = Response::new(wire::full(body));
            *resp.status_mut() = status;
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                resp.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            FaultAction::Respond(resp)
        }
        Fault::Redirect { location } => {
            let mut resp = Response::new(wire::full(Bytes::new()));
            *resp.status_mut() = StatusCode::FOUND;
            if let Ok(value) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, value);
            }
            FaultAction::Respond(resp)
        }
    }
}

/// Chunk size of [`HugeBody`].
const CHUNK: usize = 64 * 1024;
/// Filler of [`HugeBody`].
static PADDING: [u8; CHUNK] = [b'a'; CHUNK];
/// Start of a [`HugeBody`] long enough to be a JSON object.
const HUGE_HEAD: &[u8] = br#"{"padding":""#;
/// End of a [`HugeBody`] long enough to be a JSON object.
const HUGE_TAIL: &[u8] = br#""}"#;

/// A body of exactly `len` bytes, generated chunk by chunk: `{"padding":"aaa…"}` when it is
/// long enough to be that, spaces otherwise.
#[derive(Debug)]
struct HugeBody {
    len: usize,
    sent: usize,
}

impl HugeBody {
    fn new(len: usize) -> Self {
        HugeBody { len, sent: 0 }
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
        SizeHint::with_exact((self.len - self.sent) as u64)
    }
}

/// A body that sends [`PARTIAL_BODY`], gives the connection a chance to flush it, then fails so
/// that hyper aborts the connection short of the announced `Content-Length`.
#[derive(Debug, Default)]
struct TruncatedBody {
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
                PARTIAL_BODY.as_bytes(),
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
