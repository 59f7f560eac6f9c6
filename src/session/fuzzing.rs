//! The entry point of the `fuzz/` crate's target: every parser of ThoughtSpot's answers, over
//! arbitrary bytes.
//!
//! Hidden from the docs and not part of the API: it may change in any release. Run the fuzzer
//! with `cargo +nightly fuzz run parsers` in the repository (see the README).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Response, StatusCode};

use super::models::{SessionInfo, SessionLoginResponse, SessionUser, Token, TokenValidation};
use super::{
    Answer, ApiVersion, beta, error_body, lifetime_from_millis, lifetime_from_secs, server_millis,
    v2,
};

/// Statuses the fuzzer picks from, with its first byte.
const STATUSES: [u16; 12] = [200, 204, 400, 401, 403, 404, 415, 429, 500, 502, 503, 599];

/// Runs every parser of ThoughtSpot answers over `data`, which must never make one panic.
///
/// The first byte picks the answer's status (and, with its high bit, an HTML content type); the
/// rest is the body. The body goes through the error-body reader and the classifier of every API
/// generation (with a secret to scrub and the body as a `Retry-After` value), and, as a success
/// answer, through the JSON reader of every response type, the v2.0 token answer with its
/// lifetime arithmetic, and the beta login answer with its; a body that reads as one number
/// goes through the time and lifetime checks directly.
pub fn parse_answers(data: &[u8]) {
    let (selector, body) = data.split_first().map_or((0, data), |(s, rest)| (*s, rest));
    let status = StatusCode::from_u16(STATUSES[usize::from(selector) % STATUSES.len()])
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    if selector & 0x80 != 0 {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    }
    if let Ok(value) = HeaderValue::from_bytes(body) {
        headers.insert(RETRY_AFTER, value);
    }
    let body_bytes = body;
    let body = Bytes::copy_from_slice(body);

    let _ = error_body::ErrorBody::parse(&body);
    let _ = error_body::retry_after(&headers);
    for version in [ApiVersion::V2, ApiVersion::Beta, ApiVersion::V1] {
        let classified = error_body::classify(version, status, &headers, body.clone(), &["s3cret"]);
        let _ = (classified.to_string(), format!("{classified:?}"));
    }

    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    *response.headers_mut() = headers;
    let answer = Answer {
        response,
        sent_at: tokio::time::Instant::now(),
    };
    let _ = answer.json::<Token>(ApiVersion::V2);
    let _ = answer.json::<TokenValidation>(ApiVersion::V2);
    let _ = answer.json::<SessionUser>(ApiVersion::V2);
    if let Ok(value) = answer.json::<serde_json::Value>(ApiVersion::Beta) {
        let _ = SessionInfo::from_value(value);
    }
    let _ = v2::token_login(&answer, None, None);
    let _ = v2::custom_login(&answer, Some(300));
    if let Ok(beta) = answer.json::<SessionLoginResponse>(ApiVersion::Beta) {
        if let Some(secs) = beta.token_expiry_duration {
            let _ = beta::expiry_duration(status, secs);
        }
    }
    // The same bytes as one number, for the arithmetic alone: times and lifetimes of any value
    // (fractional, negative, non-finite, huge) must be refused or accepted, never panic.
    if let Some(number) = std::str::from_utf8(body_bytes)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
    {
        let _ = server_millis(status, "creation_time_in_millis", number);
        let _ = lifetime_from_millis(status, number);
        let _ = lifetime_from_secs(status, number);
    }
}
