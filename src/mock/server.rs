//! The HTTP side: the accept loop, one hyper HTTP/1.1 connection task per client, and the
//! request pipeline (prefix, body, log, faults, routes).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::context::{Ctx, Shared};
use super::faults::{self, FAULT_HEADER, FaultAction, REQUEST_ID_HEADER};
use super::log::RecordedRequest;
use super::routes;
use super::state::Presented;
use super::wire::{self, ApiError, Generation, RespBody};
// Poisoning ignored: a panicking test must not break the mock for the others.
use crate::sync::lock;

/// The largest request body the mock reads; larger ones get a 413.
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

/// The endpoints whose requests count as login attempts.
pub(crate) const LOGIN_PATHS: &[&str] = &[
    "/api/rest/2.0/auth/token/full",
    "/api/rest/2.0/auth/token/object",
    "/api/rest/2.0/auth/token/custom",
    "/api/rest/2.0/auth/session/login",
    "/tspublic/rest/v2/session/login",
    "/tspublic/rest/v2/session/gettoken",
    "/callosum/v1/tspublic/v1/session/login",
];

/// The error a connection's service returns to make hyper close the connection.
#[derive(Debug)]
pub(crate) struct ConnectionAbort(String);

impl std::fmt::Display for ConnectionAbort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectionAbort {}

/// Accepts connections until the shutdown signal changes or its sender is dropped; then aborts
/// every connection task and waits for them.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "mock ThoughtSpot: accept failed");
                    tokio::task::yield_now().await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { handle(&shared, req).await }
    });
    // No header read timeout: no timer may be pending in a paused-clock test, or tokio would
    // auto-advance the clock to it.
    let result = http1::Builder::new()
        .keep_alive(true)
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(err) = result {
        tracing::debug!(error = %err, "mock ThoughtSpot: connection closed with an error");
    }
}

/// The username a login attempt names in its body, if any.
fn login_user(headers: &HeaderMap, body: &Bytes) -> Option<String> {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
        return ["username", "userName"]
            .iter()
            .find_map(|k| map.get(*k).and_then(|v| v.as_str()))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
    }
    if wire::media_type(headers).as_deref() == Some("application/x-www-form-urlencoded") {
        return wire::form_field(&wire::form(body), "username").filter(|s| !s.is_empty());
    }
    None
}

fn record(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    presented: &Presented,
    fault: bool,
    body: &Bytes,
) -> Option<super::log::Ticket> {
    let entry = RecordedRequest {
        method: method.clone(),
        path: path.to_owned(),
        credential: presented.credential.clone(),
        status: 0,
        user_agent: wire::header_string(headers, header::USER_AGENT),
        x_requested_by: wire::header_string(headers, "x-requested-by"),
        content_type: wire::header_string(headers, header::CONTENT_TYPE),
        accept: wire::header_string(headers, header::ACCEPT),
        host: wire::header_string(headers, header::HOST),
        fault,
    };
    let mut log = lock(&shared.log);
    let ticket = log.arrival(entry);
    if LOGIN_PATHS.contains(&path) {
        let user =
            login_user(headers, body).or_else(|| presented.credential.user().map(str::to_owned));
        log.login_attempt(user.as_deref());
    }
    ticket
}

/// The request pipeline.
async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, ConnectionAbort> {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path();
    let inside = shared.strip_prefix(raw_path);
    let path = inside.unwrap_or(raw_path).to_owned();

    let body = match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => Some(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => None,
        Err(err) => return Err(ConnectionAbort(format!("reading the request body: {err}"))),
    };
    let body_bytes = body.clone().unwrap_or_default();

    let fault = lock(&shared.faults).take(&path);
    let presented = shared.state().presented(&parts.headers);
    let ticket = record(
        shared,
        &parts.method,
        &path,
        &parts.headers,
        &presented,
        fault.is_some(),
        &body_bytes,
    );

    let generation = Generation::of(&path);
    let mut delayed = false;
    let mut delay_after = None;
    let mut response = None;
    let kind = fault.as_ref().map(faults::Fault::kind);
    if let Some(fault) = fault {
        lock(&shared.log).fault(&path, fault.kind());
        match faults::action(fault, generation, &shared.renderer()) {
            FaultAction::Drop => {
                tracing::debug!(path = %path, "mock ThoughtSpot: dropping the connection (injected)");
                if let Some(id) = wire::header_string(&parts.headers, REQUEST_ID_HEADER) {
                    lock(&shared.log).dropped(id);
                }
                return Err(ConnectionAbort(
                    "connection dropped (injected fault)".into(),
                ));
            }
            FaultAction::Delay(d) => {
                delayed = true;
                tokio::time::sleep(d).await;
            }
            FaultAction::DelayAfter(d) => delay_after = Some(d),
            FaultAction::Respond(resp) => response = Some(resp),
        }
    }
    let mut response = match response {
        Some(resp) => resp,
        None => match (body, inside) {
            (_, None) => routes::not_found(),
            (None, Some(_)) => shared.renderer().error(
                generation,
                &ApiError::new(413, "The request body is too large"),
            ),
            (Some(body), Some(_)) => routes::route(&Ctx {
                shared,
                method: &parts.method,
                path: &path,
                headers: &parts.headers,
                body: &body,
            }),
        },
    };
    if let Some(d) = delay_after {
        delayed = true;
        tokio::time::sleep(d).await;
    }
    if let Some(kind) = kind {
        if let Ok(value) = http::HeaderValue::from_str(&kind.to_string()) {
            response.headers_mut().insert(FAULT_HEADER, value);
        }
    }
    let status = response.status().as_u16();
    tracing::debug!(method = %parts.method, path = %path, status, delayed, "mock ThoughtSpot");
    lock(&shared.log).set_status(ticket, status);
    Ok(response)
}
