//! Wire helpers shared by the routes: responses, error bodies per API generation, request body
//! parsing, cookies, forms and random identifiers.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use serde_json::{Map, Value, json};

use super::ExtensionSpelling;

/// Error type of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every response the mock sends.
pub(crate) type RespBody = BoxBody<Bytes, BoxError>;

/// A body from bytes.
pub(crate) fn full(body: impl Into<Bytes>) -> RespBody {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response with a content type.
pub(crate) fn response(
    status: StatusCode,
    content_type: &str,
    body: RespBody,
) -> Response<RespBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    resp
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<RespBody> {
    response(status, "application/json", full(value.to_string()))
}

/// A 204 with no body.
pub(crate) fn no_content() -> Response<RespBody> {
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// The ThoughtSpot error code that goes with a status, where there is one.
pub(crate) fn code_for(status: u16) -> Option<u32> {
    match status {
        400 | 415 => Some(10002),
        401 => Some(10097),
        403 => Some(10023),
        500 => Some(10038),
        _ => None,
    }
}

/// A generation-independent error: the real status, ThoughtSpot's code and a debug text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: Option<u32>,
    pub(crate) debug: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, debug: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code_for(status),
            debug: debug.into(),
        }
    }
    pub(crate) fn bad_request(debug: impl Into<String>) -> Self {
        Self::new(400, debug)
    }
    pub(crate) fn unauthorized(debug: impl Into<String>) -> Self {
        Self::new(401, debug)
    }
    pub(crate) fn forbidden(debug: impl Into<String>) -> Self {
        Self::new(403, debug)
    }
    pub(crate) fn not_found() -> Self {
        Self::new(404, "No such endpoint")
    }
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(405, "Method not allowed on this endpoint")
    }
    pub(crate) fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "Unsupported Content-Type: a JSON body needs Content-Type: application/json",
        )
    }
    pub(crate) fn no_credential() -> Self {
        Self::unauthorized(
            "No valid session or token: the credential is missing, expired or revoked",
        )
    }
}

/// Which API generation a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Generation {
    /// `/api/rest/2.0/...`
    V2,
    /// `/tspublic/rest/v2/...`
    Beta,
    /// `/callosum/...`
    V1,
    /// Anything else.
    Other,
}

impl Generation {
    pub(crate) fn of(path: &str) -> Generation {
        if path.starts_with("/api/rest/2.0/") {
            Generation::V2
        } else if path == "/tspublic/rest/v2" || path.starts_with("/tspublic/rest/v2/") {
            Generation::Beta
        } else if path.starts_with("/callosum/") {
            Generation::V1
        } else {
            Generation::Other
        }
    }
}

/// Source of random identifiers: a per-mock `RandomState` hashing a counter.
#[derive(Debug)]
pub(crate) struct Ids {
    state: RandomState,
    counter: AtomicU64,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            state: RandomState::new(),
            counter: AtomicU64::new(0),
        }
    }
}

impl Ids {
    pub(crate) fn next_u64(&self) -> u64 {
        let mut hasher = self.state.build_hasher();
        hasher.write_u64(self.counter.fetch_add(1, Ordering::Relaxed));
        hasher.finish()
    }

    /// `n` random 64-bit words as lowercase hex.
    pub(crate) fn hex(&self, words: usize) -> String {
        (0..words)
            .map(|_| format!("{:016x}", self.next_u64()))
            .collect()
    }

    /// A random UUID-shaped string.
    pub(crate) fn uuid(&self) -> String {
        uuid_from(self.next_u64(), self.next_u64())
    }
}

/// A UUID-shaped (version 4 layout) string from 128 bits.
pub(crate) fn uuid_from(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// A stable UUID-shaped id for a name (FNV-1a, so it is the same in every run).
pub(crate) fn stable_uuid(name: &str) -> String {
    let fnv = |seed: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    uuid_from(fnv(0), fnv(0x9e37_79b9_7f4a_7c15))
}

/// Renders errors in the shape of each API generation.
pub(crate) struct Renderer<'a> {
    pub(crate) ids: &'a Ids,
    pub(crate) spelling: ExtensionSpelling,
}

impl Renderer<'_> {
    pub(crate) fn error(&self, generation: Generation, err: &ApiError) -> Response<RespBody> {
        match generation {
            Generation::V2 | Generation::Other => self.v2_error(err),
            Generation::Beta => self.beta_error(err),
            Generation::V1 => self.v1_error(err),
        }
    }

    fn status(err: &ApiError) -> StatusCode {
        StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// v2.0: `{"error":{"message":{"code","debug","incident_id_guid","trace_id_guid"}}}`.
    pub(crate) fn v2_error(&self, err: &ApiError) -> Response<RespBody> {
        let mut message = Map::new();
        if let Some(code) = err.code {
            message.insert("code".into(), json!(code));
        }
        message.insert("debug".into(), json!(err.debug));
        message.insert("incident_id_guid".into(), json!(self.ids.uuid()));
        message.insert("trace_id_guid".into(), json!(self.ids.uuid()));
        json_response(
            Self::status(err),
            &json!({ "error": { "message": Value::Object(message) } }),
        )
    }

    /// Beta: always HTTP 500; the real status nested as the upstream response, except for a
    /// genuine 500, which gets the bare body.
    pub(crate) fn beta_error(&self, err: &ApiError) -> Response<RespBody> {
        const MESSAGE: &str = "Operation failed or unauthorized request";
        if err.status == 500 {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({ "error": { "message": MESSAGE } }),
            );
        }
        let mut data = Map::new();
        if let Some(code) = err.code {
            data.insert("code".into(), json!(code));
        }
        data.insert("debug".into(), json!(err.debug));
        data.insert("incident_id_guid".into(), json!(self.ids.uuid()));
        let key = match self.spelling {
            ExtensionSpelling::Extension => "extension",
            ExtensionSpelling::Extensions => "extensions",
        };
        let mut item = Map::new();
        item.insert("message".into(), json!(err.debug));
        item.insert(
            key.into(),
            json!({
                "code": "UPSTREAM_ERROR",
                "exception": {
                    "upstreamResponse": { "status": err.status, "data": Value::Object(data) }
                }
            }),
        );
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "error": { "message": MESSAGE, "errors": [Value::Object(item)] } }),
        )
    }

    /// v1: the real status with a top-level `{"debug","incident_id_guid"}`.
    pub(crate) fn v1_error(&self, err: &ApiError) -> Response<RespBody> {
        json_response(
            Self::status(err),
            &json!({ "debug": err.debug, "incident_id_guid": self.ids.uuid() }),
        )
    }
}

/// A header as an owned string, if present and printable.
pub(crate) fn header_string(
    headers: &HeaderMap,
    name: impl header::AsHeaderName,
) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The media type of the `Content-Type` header, lower-cased, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_json_media(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Parses a JSON object request body. An empty body is `None`. A body that isn't JSON is a 400;
/// JSON sent with another (or no) `Content-Type` is a 415; JSON that isn't an object is a 400.
pub(crate) fn json_body(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Option<Map<String, Value>>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let parsed = serde_json::from_slice::<Value>(body);
    let json_type = media_type(headers).is_some_and(|m| is_json_media(&m));
    match (parsed, json_type) {
        (Ok(Value::Object(map)), true) => Ok(Some(map)),
        (Ok(_), true) => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
        (Ok(_), false) => Err(ApiError::unsupported_media_type()),
        (Err(_), _) => Err(ApiError::bad_request("The request body is not valid JSON")),
    }
}

/// Lenient field readers over a JSON object.
pub(crate) struct Fields<'a>(pub(crate) Option<&'a Map<String, Value>>);

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0?.get(key).filter(|v| !v.is_null())
    }

    /// A string field; a number is accepted and turned into its decimal text.
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::bad_request(format!(
                "Field {key} must be a string"
            ))),
        }
    }

    /// A non-empty string field.
    pub(crate) fn non_empty(&self, key: &str) -> Result<Option<String>, ApiError> {
        Ok(self.string(key)?.filter(|s| !s.is_empty()))
    }

    /// An integer field; a string of digits is accepted.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("Field {key} must be an integer"))),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("Field {key} must be an integer"))),
            Some(_) => Err(ApiError::bad_request(format!(
                "Field {key} must be an integer"
            ))),
        }
    }

    /// A boolean field; `"true"`/`"false"` strings are accepted.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::bad_request(format!(
                "Field {key} must be a boolean"
            ))),
        }
    }
}

/// The bearer token of the `Authorization` header, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The value of a cookie in the `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
}

/// Decodes an `application/x-www-form-urlencoded` body.
pub(crate) fn form(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (decode(&pair[..eq]), decode(&pair[eq + 1..])),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// The first value of a form field.
pub(crate) fn form_field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Adds the two session cookies a login sets.
pub(crate) fn with_session_cookies(
    mut resp: Response<RespBody>,
    session_id: &str,
    client_id: &str,
) -> Response<RespBody> {
    let cookies = [
        format!("JSESSIONID={session_id}; Path=/; HttpOnly"),
        format!("clientId={client_id}; Path=/; Secure; HttpOnly"),
    ];
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    resp
}

/// Adds the `x-mock-user` and `x-mock-org` headers of data endpoints.
pub(crate) fn with_identity(
    mut resp: Response<RespBody>,
    user: &str,
    org: i64,
) -> Response<RespBody> {
    if let Ok(value) = HeaderValue::from_str(user) {
        resp.headers_mut().insert("x-mock-user", value);
    }
    resp.headers_mut()
        .insert("x-mock-org", HeaderValue::from(org));
    resp
}
