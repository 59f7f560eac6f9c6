//! Reading ThoughtSpot's error bodies into a classified [`Error`], scrubbing the call's secrets
//! from everything kept.
//!
//! ThoughtSpot answers errors in several shapes (see the crate's API notes):
//! - v2.0 per spec: `{"error": {"message": {"code", "debug", "incident_id_guid", "trace_id_guid"}}}`
//! - v2.0 in the wild: `{"error": {"message": {"debug": {"code", "debug": "[\"...\"]"}}}}`
//! - the v2 beta: HTTP 500 whose real status sits at
//!   `error.errors[].extension(s).exception.upstreamResponse.{status, data: {code, debug, ...}}`
//! - v1: `{"debug": "...", "incident_id_guid": "..."}`
//!
//! All of them are read by searching for the fields rather than by one fixed structure, so a
//! shape we have not seen still yields whatever it carries.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::api_version::ApiVersion;
use crate::error::{ApiFailure, Error, FailureDetail};

/// ThoughtSpot's code for bad credentials and for a missing, expired or revoked token.
pub(crate) const CODE_UNAUTHORIZED: i64 = 10097;
/// ThoughtSpot's code for an inactive or locked account, disabled trusted auth, or a missing
/// privilege.
pub(crate) const CODE_FORBIDDEN: i64 = 10023;

/// The fields ThoughtSpot error bodies carry, found wherever they sit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<i64>,
    pub(crate) message: Option<String>,
    pub(crate) incident_id: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) upstream_status: Option<u16>,
}

/// How deep the search for error fields goes; real bodies nest five or six levels.
const MAX_DEPTH: usize = 12;
const MAX_MESSAGE_CHARS: usize = 500;

impl ErrorBody {
    /// Reads whatever error fields `body` carries. Never fails: a body that is not JSON yields
    /// nothing.
    pub(crate) fn parse(body: &[u8]) -> Self {
        let mut found = Self::default();
        if let Ok(value) = serde_json::from_slice::<Value>(body) {
            found.search(&value, 0);
        }
        found
    }

    fn search(&mut self, value: &Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match key.as_str() {
                        "upstreamResponse" | "upstream_response" => {
                            if let Some(status) = child.get("status").and_then(as_i64) {
                                self.upstream_status =
                                    self.upstream_status.or(u16::try_from(status).ok());
                            }
                            self.search(child, depth + 1);
                        }
                        "code" => match as_i64(child) {
                            Some(code) if self.code.is_none() => self.code = Some(code),
                            _ => self.search(child, depth + 1),
                        },
                        "debug" | "message" => match child {
                            Value::String(text) => self.note_message(text),
                            other => self.search(other, depth + 1),
                        },
                        "incident_id_guid" | "incidentId" | "incident_id" => {
                            if let Value::String(s) = child {
                                self.incident_id.get_or_insert_with(|| s.clone());
                            }
                        }
                        "trace_id_guid" | "traceId" | "trace_id" => {
                            if let Value::String(s) = child {
                                self.trace_id.get_or_insert_with(|| s.clone());
                            }
                        }
                        _ => self.search(child, depth + 1),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.search(item, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Keeps the most specific message: a nested one (upstream detail) replaces the generic
    /// gateway text "Operation failed or unauthorized request".
    fn note_message(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let generic = |m: &str| m.starts_with("Operation failed");
        match &self.message {
            Some(existing) if !generic(existing) => {}
            _ => self.message = Some(text.to_owned()),
        }
    }
}

fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a body is an HTML page (a maintenance page, a proxy's error page, a login form).
pub(crate) fn looks_like_html(headers: &HeaderMap, body: &[u8]) -> bool {
    let html_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("html"));
    html_type || body.trim_ascii_start().first() == Some(&b'<')
}

/// Turns a non-success answer into the right [`Error`], scrubbing `secrets` (what the call sent)
/// from everything kept.
pub(crate) fn classify(
    version: ApiVersion,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    secrets: &[&str],
) -> Error {
    let html = looks_like_html(headers, &body);
    let parsed = if html {
        ErrorBody::default()
    } else {
        ErrorBody::parse(&body)
    };
    let upstream_status = if version == ApiVersion::Beta || parsed.upstream_status.is_some() {
        parsed
            .upstream_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| *s != status)
    } else {
        None
    };
    let message = if html {
        Some("an HTML page where JSON was expected (maintenance or a proxy error)".to_owned())
    } else {
        parsed
            .message
            .map(|m| shorten(scrub(&m, secrets), MAX_MESSAGE_CHARS))
    };
    let failure = ApiFailure::new(FailureDetail {
        status,
        upstream_status,
        code: parsed.code,
        message,
        incident_id: parsed.incident_id.map(|id| scrub(&id, secrets)),
        trace_id: parsed.trace_id.map(|id| scrub(&id, secrets)),
        retry_after: retry_after(headers),
        raw_body: scrub_bytes(body, secrets),
    });
    let effective = failure.effective_status();
    if html && !effective.is_client_error() {
        return Error::Unavailable(failure);
    }
    match (effective.as_u16(), failure.code()) {
        (401, _) | (_, Some(CODE_UNAUTHORIZED)) if effective != StatusCode::FORBIDDEN => {
            Error::Unauthorized(failure)
        }
        (403, _) | (_, Some(CODE_FORBIDDEN)) => Error::Forbidden(failure),
        (429, _) => Error::RateLimited(failure),
        (s, _) if s >= 500 => Error::Unavailable(failure),
        (s, _) if (400..500).contains(&s) => Error::BadRequest(failure),
        _ => Error::Unavailable(failure),
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(24 * 3600)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(24 * 3600)),
    )
}

pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if text.contains(secret) {
            text = text.replace(secret, "[REDACTED]");
        }
    }
    text
}

fn scrub_bytes(body: Bytes, secrets: &[&str]) -> Bytes {
    let needs = secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .any(|s| body.windows(s.len()).any(|w| w == s.as_bytes()));
    if !needs {
        return body;
    }
    Bytes::from(scrub(&String::from_utf8_lossy(&body), secrets))
}

fn shorten(mut text: String, max_chars: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max_chars) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// A JSON error body with no secrets and no headers, classified: what most tests need.
#[cfg(test)]
pub(crate) fn classify_json(version: ApiVersion, status: u16, body: &str) -> Error {
    classify(
        version,
        StatusCode::from_u16(status).unwrap(),
        &HeaderMap::new(),
        Bytes::from(body.to_owned()),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn v2_spec_shape() {
        let e = classify_json(
            ApiVersion::V2,
            401,
            r#"{"error":{"message":{"code":10097,"debug":"Bad credentials","incident_id_guid":"inc-1","trace_id_guid":"tr-1"}}}"#,
        );
        let f = e.api_failure().unwrap();
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(f.code(), Some(10097));
        assert_eq!(f.message(), Some("Bad credentials"));
        assert_eq!(f.incident_id(), Some("inc-1"));
        assert_eq!(f.trace_id(), Some("tr-1"));
    }

    #[test]
    fn v2_wild_shape_one_level_deeper() {
        let e = classify_json(
            ApiVersion::V2,
            403,
            r#"{"error":{"message":{"debug":{"code":"10023","debug":"[\"User is locked\"]"}}}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        assert_eq!(e.api_failure().unwrap().code(), Some(10023));
        assert!(e.to_string().contains("User is locked"), "{e}");
    }

    #[test]
    fn v1_top_level_shape() {
        let e = classify_json(
            ApiVersion::V1,
            401,
            r#"{"debug":"session expired","incident_id_guid":"abc"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(e.api_failure().unwrap().incident_id(), Some("abc"));
    }

    #[test]
    fn beta_upstream_both_spellings() {
        for key in ["extension", "extensions"] {
            let body = format!(
                r#"{{"error":{{"message":"Operation failed or unauthorized request","errors":[{{"message":"x","{key}":{{"exception":{{"upstreamResponse":{{"status":401,"data":{{"code":10097,"debug":"Token expired","incident_id_guid":"i9"}}}}}}}}}}]}}}}"#
            );
            let e = classify_json(ApiVersion::Beta, 500, &body);
            let f = e.api_failure().unwrap();
            assert_eq!(e.kind(), ErrorKind::Unauthorized, "{key}");
            assert_eq!(f.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(f.upstream_status(), Some(StatusCode::UNAUTHORIZED));
            assert_eq!(f.incident_id(), Some("i9"));
            assert!(!f.is_ambiguous_beta_500());
        }
    }

    #[test]
    fn beta_bare_500_is_ambiguous_unavailable() {
        let e = classify_json(
            ApiVersion::Beta,
            500,
            r#"{"error":{"message":"Operation failed or unauthorized request"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.api_failure().unwrap().is_ambiguous_beta_500());
    }

    #[test]
    fn statuses_classify() {
        for (status, kind) in [
            (400, ErrorKind::BadRequest),
            (404, ErrorKind::BadRequest),
            (415, ErrorKind::BadRequest),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::Unavailable),
            (502, ErrorKind::Unavailable),
            (503, ErrorKind::Unavailable),
        ] {
            assert_eq!(
                classify_json(ApiVersion::V2, status, "{}").kind(),
                kind,
                "{status}"
            );
        }
    }

    #[test]
    fn html_error_page_is_unavailable() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, "text/html".parse().unwrap());
        let e = classify(
            ApiVersion::V2,
            StatusCode::BAD_GATEWAY,
            &headers,
            Bytes::from_static(b"<html>down for maintenance</html>"),
            &[],
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            http::header::RETRY_AFTER,
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let got = retry_after(&headers).unwrap();
        assert!(got > Duration::from_secs(100) && got <= Duration::from_secs(120));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn secrets_are_scrubbed_from_message_and_raw_body() {
        let e = classify(
            ApiVersion::V2,
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            Bytes::from_static(
                br#"{"error":{"message":{"debug":"token tok-SECRET-123 expired"}}}"#,
            ),
            &["tok-SECRET-123"],
        );
        let f = e.api_failure().unwrap();
        assert!(!e.to_string().contains("tok-SECRET-123"));
        assert!(!format!("{e:?}").contains("tok-SECRET-123"));
        assert!(!String::from_utf8_lossy(f.raw_body()).contains("tok-SECRET-123"));
    }

    #[test]
    fn non_json_and_deep_bodies_do_not_panic() {
        let deep = "[".repeat(100_000);
        for body in ["", "null", "{", "\u{0}", deep.as_str()] {
            let _ = classify_json(ApiVersion::V2, 500, body);
        }
        let long = format!(r#"{{"debug":"{}"}}"#, "é".repeat(10_000));
        let e = classify_json(ApiVersion::V2, 400, &long);
        assert!(e.api_failure().unwrap().message().unwrap().chars().count() <= 501);
    }
}
