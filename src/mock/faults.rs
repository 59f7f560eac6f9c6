//! Injected faults: what they are, how they are queued or drawn per path, and the responses they
//! produce.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::fault_bodies::{HugeBody, TruncatedBody};
use super::wire::{self, ApiError, Generation, RespBody};

/// A misbehaviour to inject with [`MockThoughtSpot::inject`](super::MockThoughtSpot::inject) (the
/// next requests to a path) or [`MockThoughtSpot::inject_random`](super::MockThoughtSpot::inject_random)
/// (each request to a path, with a probability).
///
/// A fault applies to requests to one path, whatever their method. The request is still counted,
/// logged (with [`RecordedRequest::fault`](super::RecordedRequest::fault) set), counted by
/// [`MockThoughtSpot::faults_injected`](super::MockThoughtSpot::faults_injected) and, for a
/// credential-minting endpoint, counted as a login attempt. Every response a fault shapes carries
/// the header [`FAULT_HEADER`] (`x-mock-fault`) naming its [`FaultKind`], so a client can tell an
/// injected failure from a real one; a dropped connection carries nothing, so the mock remembers
/// the `x-request-id` of each request it dropped
/// ([`MockThoughtSpot::dropped_request_ids`](super::MockThoughtSpot::dropped_request_ids)).
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
    /// A 200 `application/json` response of exactly this many bytes, streamed in chunks, with a
    /// `Content-Length` that announces it.
    HugeBody(usize),
    /// Like [`HugeBody`](Fault::HugeBody), but sent chunked, without `Content-Length`: the client
    /// learns the size only by reading.
    HugeChunkedBody(usize),
    /// Wait this long (on the tokio clock) and then handle the request normally.
    Delay(Duration),
    /// Handle the request normally (a login mints its token, with the server's times, at once),
    /// then wait this long before sending the answer: an answer slow on its way back.
    DelayAfter(Duration),
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

/// The header every faulted response carries: its value is the [`FaultKind`], e.g.
/// `x-mock-fault: status-503`. (A dropped connection has no response to carry it.)
pub const FAULT_HEADER: &str = "x-mock-fault";

/// The request header the mock reads to name a request in
/// [`MockThoughtSpot::dropped_request_ids`](super::MockThoughtSpot::dropped_request_ids).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What kind of [`Fault`] was applied: the value of the [`FAULT_HEADER`] on a faulted response,
/// and the key of [`MockThoughtSpot::faults_injected`](super::MockThoughtSpot::faults_injected).
///
/// `Display` and `FromStr` use the header spelling: `status-503`, `maintenance-page`,
/// `malformed-json`, `huge-body`, `huge-chunked-body`, `delay`, `delay-after`, `drop-connection`,
/// `close-mid-body`, `respond-418`, `redirect`.
///
/// ```
/// use thoughtspot_auth::mock::{Fault, FaultKind};
///
/// let fault = Fault::Status { status: 503, retry_after: Some(2) };
/// assert_eq!(fault.kind(), FaultKind::Status(503));
/// assert_eq!(fault.kind().to_string(), "status-503");
/// assert_eq!("status-503".parse(), Ok(FaultKind::Status(503)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultKind {
    /// [`Fault::Status`], with the HTTP status sent (the upstream status on the beta API).
    Status(u16),
    /// [`Fault::MaintenancePage`].
    MaintenancePage,
    /// [`Fault::MalformedJson`].
    MalformedJson,
    /// [`Fault::HugeBody`].
    HugeBody,
    /// [`Fault::HugeChunkedBody`].
    HugeChunkedBody,
    /// [`Fault::Delay`]: the response itself is the normal one, late.
    Delay,
    /// [`Fault::DelayAfter`]: the normal response, made at once and sent late.
    DelayAfter,
    /// [`Fault::DropConnection`]: counted, but no response carries it.
    DropConnection,
    /// [`Fault::CloseMidBody`].
    CloseMidBody,
    /// [`Fault::Respond`], with the status sent.
    Respond(u16),
    /// [`Fault::Redirect`].
    Redirect,
}

impl Fault {
    /// The kind of this fault.
    pub fn kind(&self) -> FaultKind {
        let sent = |status: u16| {
            StatusCode::from_u16(status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .as_u16()
        };
        match self {
            Fault::Status { status, .. } => FaultKind::Status(sent(*status)),
            Fault::MaintenancePage => FaultKind::MaintenancePage,
            Fault::MalformedJson => FaultKind::MalformedJson,
            Fault::HugeBody(_) => FaultKind::HugeBody,
            Fault::HugeChunkedBody(_) => FaultKind::HugeChunkedBody,
            Fault::Delay(_) => FaultKind::Delay,
            Fault::DelayAfter(_) => FaultKind::DelayAfter,
            Fault::DropConnection => FaultKind::DropConnection,
            Fault::CloseMidBody => FaultKind::CloseMidBody,
            Fault::Respond { status, .. } => FaultKind::Respond(sent(*status)),
            Fault::Redirect { .. } => FaultKind::Redirect,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Status(status) => write!(f, "status-{status}"),
            FaultKind::MaintenancePage => f.write_str("maintenance-page"),
            FaultKind::MalformedJson => f.write_str("malformed-json"),
            FaultKind::HugeBody => f.write_str("huge-body"),
            FaultKind::HugeChunkedBody => f.write_str("huge-chunked-body"),
            FaultKind::Delay => f.write_str("delay"),
            FaultKind::DelayAfter => f.write_str("delay-after"),
            FaultKind::DropConnection => f.write_str("drop-connection"),
            FaultKind::CloseMidBody => f.write_str("close-mid-body"),
            FaultKind::Respond(status) => write!(f, "respond-{status}"),
            FaultKind::Redirect => f.write_str("redirect"),
        }
    }
}

/// A [`FAULT_HEADER`] value that names no [`FaultKind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFaultKind;

impl fmt::Display for UnknownFaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a mock fault kind")
    }
}

impl std::error::Error for UnknownFaultKind {}

impl FromStr for FaultKind {
    type Err = UnknownFaultKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let status = |rest: &str| rest.parse::<u16>().map_err(|_| UnknownFaultKind);
        Ok(match s.trim() {
            "maintenance-page" => FaultKind::MaintenancePage,
            "malformed-json" => FaultKind::MalformedJson,
            "huge-body" => FaultKind::HugeBody,
            "huge-chunked-body" => FaultKind::HugeChunkedBody,
            "delay" => FaultKind::Delay,
            "delay-after" => FaultKind::DelayAfter,
            "drop-connection" => FaultKind::DropConnection,
            "close-mid-body" => FaultKind::CloseMidBody,
            "redirect" => FaultKind::Redirect,
            other => match (
                other.strip_prefix("status-"),
                other.strip_prefix("respond-"),
            ) {
                (Some(rest), _) => FaultKind::Status(status(rest)?),
                (_, Some(rest)) => FaultKind::Respond(status(rest)?),
                _ => return Err(UnknownFaultKind),
            },
        })
    }
}

/// SplitMix64: a tiny, good-enough generator for fault draws, reproducible from its seed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Faults waiting for their requests, per path (without the prefix): queued ones first, then
/// one draw against the path's random rules.
#[derive(Debug)]
pub(crate) struct FaultTable {
    queues: HashMap<String, VecDeque<(Fault, usize)>>,
    random: HashMap<String, Vec<(Fault, f64)>>,
    rng: Rng,
}

impl FaultTable {
    pub(crate) fn new(seed: u64) -> Self {
        FaultTable {
            queues: HashMap::new(),
            random: HashMap::new(),
            rng: Rng::new(seed),
        }
    }

    pub(crate) fn inject_random(&mut self, path: &str, fault: Fault, probability: f64) {
        let probability = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        if probability == 0.0 {
            return;
        }
        self.random
            .entry(path.to_owned())
            .or_default()
            .push((fault, probability));
    }

    pub(crate) fn inject(&mut self, path: &str, fault: Fault, times: usize) {
        if times == 0 {
            return;
        }
        self.queues
            .entry(path.to_owned())
            .or_default()
            .push_back((fault, times));
    }

    /// The fault for one request to `path`: the next queued one if any, else the outcome of one
    /// draw against the path's random rules (exclusive: their probabilities add up).
    pub(crate) fn take(&mut self, path: &str) -> Option<Fault> {
        self.take_queued(path).or_else(|| self.draw(path))
    }

    fn draw(&mut self, path: &str) -> Option<Fault> {
        let rules = self.random.get(path)?;
        let roll = self.rng.next_f64();
        let mut cumulative = 0.0;
        for (fault, probability) in rules {
            cumulative += probability;
            if roll < cumulative {
                return Some(fault.clone());
            }
        }
        None
    }

    fn take_queued(&mut self, path: &str) -> Option<Fault> {
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
        self.random.clear();
    }
}

/// What the server does with a fault.
pub(crate) enum FaultAction {
    /// Close the connection now.
    Drop,
    /// Sleep, then handle normally.
    Delay(Duration),
    /// Handle normally, then sleep before answering.
    DelayAfter(Duration),
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
pub(super) const PARTIAL_BODY: &str = r#"{"token":"mock-partial","creation_time_in_millis":"#;

/// The `Content-Length` [`Fault::CloseMidBody`] announces.
const ANNOUNCED_LENGTH: usize = 4096;

pub(crate) fn action(
    fault: Fault,
    generation: Generation,
    render: &wire::Renderer<'_>,
) -> FaultAction {
    match fault {
        Fault::Delay(d) => FaultAction::Delay(d),
        Fault::DelayAfter(d) => FaultAction::DelayAfter(d),
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
            RespBody::new(HugeBody::new(len, true)),
        )),
        Fault::HugeChunkedBody(len) => FaultAction::Respond(wire::response(
            StatusCode::OK,
            "application/json",
            RespBody::new(HugeBody::new(len, false)),
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
