//! A mock and a plain hyper client, requests described as data (`Req`) and what a response must
//! show (`Expect`), so that cases of one shape can be tables of (name, request, expected) rows.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use thoughtspot_auth::mock::{
    DEFAULT_PASSWORD, DEFAULT_USER, MockThoughtSpot, MockThoughtSpotBuilder,
};

use crate::common::{HyperClient, hyper_client};

pub const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
pub const TOKEN_OBJECT: &str = "/api/rest/2.0/auth/token/object";
pub const SESSION_LOGIN: &str = "/api/rest/2.0/auth/session/login";
pub const SESSION_LOGOUT: &str = "/api/rest/2.0/auth/session/logout";
pub const SESSION_USER: &str = "/api/rest/2.0/auth/session/user";
pub const SESSION_TOKEN: &str = "/api/rest/2.0/auth/session/token";
pub const TOKEN_REVOKE: &str = "/api/rest/2.0/auth/token/revoke";
pub const TOKEN_VALIDATE: &str = "/api/rest/2.0/auth/token/validate";
pub const SEARCH: &str = "/api/rest/2.0/metadata/search";
pub const BETA_SESSION: &str = "/tspublic/rest/v2/session";
pub const BETA_GETTOKEN: &str = "/tspublic/rest/v2/session/gettoken";
pub const BETA_LOGIN: &str = "/tspublic/rest/v2/session/login";
pub const BETA_LOGOUT: &str = "/tspublic/rest/v2/session/logout";
pub const BETA_REVOKE: &str = "/tspublic/rest/v2/session/revoketoken";
pub const BETA_ORG: &str = "/tspublic/rest/v2/session/org";
pub const V1_LOGIN: &str = "/callosum/v1/tspublic/v1/session/login";
pub const V1_ORGS: &str = "/callosum/v1/tspublic/v1/session/orgs";
pub const V1_ISACTIVE: &str = "/callosum/v1/session/isactive";

/// The fields an error body describes itself with, besides its code.
const DESCRIBED: &[&str] = &["debug", "incident_id_guid", "trace_id_guid"];

/// The admin's password login, as a v2.0 `token/full` body.
pub fn admin_login() -> Value {
    json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD})
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Bytes),
}

/// One request, as data.
#[derive(Clone)]
pub struct Req {
    method: Method,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Body,
    /// Without the headers every other request carries (user agent, accept, X-Requested-By).
    bare: bool,
}

impl Req {
    fn new(method: Method, path: &'static str) -> Self {
        Req {
            method,
            path,
            headers: Vec::new(),
            body: Body::None,
            bare: false,
        }
    }

    pub fn get(path: &'static str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &'static str) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn put(path: &'static str) -> Self {
        Self::new(Method::PUT, path)
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    /// A body with this content type (none if empty).
    pub fn raw(mut self, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        self.body = Body::Raw(content_type, body.into());
        self
    }

    pub fn form(self, body: &'static str) -> Self {
        self.raw("application/x-www-form-urlencoded", body)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie)
    }

    pub fn bare(mut self) -> Self {
        self.bare = true;
        self
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// `Cookie` header value made of the `name=value` parts of the `Set-Cookie` headers.
    pub fn cookie_header(&self) -> String {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The upstream part of a beta error, in the `extensions` spelling.
    pub fn upstream(&self) -> Value {
        assert_eq!(self.status, 500);
        let v = self.json();
        assert_eq!(
            v["error"]["message"],
            "Operation failed or unauthorized request"
        );
        v["error"]["errors"][0]["extensions"]["exception"]["upstreamResponse"].clone()
    }

    pub fn content_type_starts_with(&self, prefix: &str) -> bool {
        self.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with(prefix)
    }
}

/// `expiration - creation` of a v2.0 token answer.
pub fn lifetime_ms(token: &Value) -> i64 {
    token["expiration_time_in_millis"].as_i64().unwrap()
        - token["creation_time_in_millis"].as_i64().unwrap()
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Where an API generation puts an error's status, code and description.
#[derive(Clone, Copy, Debug)]
enum Generation {
    /// v2.0: the HTTP status; `error.message` holds code, debug and ids.
    V2,
    /// Beta: HTTP 500 wrapping the real status; the upstream `data` holds code, debug and ids.
    Beta,
    /// v1: the HTTP status; the body itself holds debug and ids.
    V1,
}

/// What a response must show.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    generation: Generation,
    status: u16,
    code: Option<u64>,
    /// Fields of the error description that must be strings.
    strings: &'static [&'static str],
}

impl Expect {
    /// A v2.0 answer (or any answer judged by its status alone) with this status.
    pub fn status(status: u16) -> Self {
        Self::of(Generation::V2, status)
    }

    /// A beta error: 500 whose upstream status is `status`.
    pub fn beta(status: u16) -> Self {
        Self::of(Generation::Beta, status)
    }

    /// A v1 answer with this status.
    pub fn v1(status: u16) -> Self {
        Self::of(Generation::V1, status)
    }

    /// A v2.0 error with this status and code, described (debug, incident and trace ids).
    pub fn described(status: u16, code: u64) -> Self {
        Self::status(status).code(code).strings(DESCRIBED)
    }

    fn of(generation: Generation, status: u16) -> Self {
        Expect {
            generation,
            status,
            code: None,
            strings: &[],
        }
    }

    pub fn code(mut self, code: u64) -> Self {
        self.code = Some(code);
        self
    }

    pub fn strings(mut self, fields: &'static [&'static str]) -> Self {
        self.strings = fields;
        self
    }

    pub fn check(&self, row: &str, resp: &Resp) {
        let detail = match self.generation {
            Generation::Beta => {
                let upstream = resp.upstream();
                assert_eq!(upstream["status"], self.status, "{row}: upstream status");
                upstream["data"].clone()
            }
            Generation::V2 | Generation::V1 => {
                assert_eq!(resp.status, self.status, "{row}: status; {:?}", resp.body);
                if self.code.is_none() && self.strings.is_empty() {
                    return;
                }
                let body = resp.json();
                match self.generation {
                    Generation::V2 => body["error"]["message"].clone(),
                    _ => body,
                }
            }
        };
        if let Some(code) = self.code {
            assert_eq!(detail["code"].as_u64(), Some(code), "{row}: code");
        }
        for field in self.strings {
            assert!(detail[field].is_string(), "{row}: {field} is not a string");
        }
    }
}

pub struct Harness {
    pub mock: MockThoughtSpot,
    pub client: HyperClient,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(MockThoughtSpot::builder()).await
    }

    pub async fn with(builder: MockThoughtSpotBuilder) -> Self {
        Harness {
            mock: builder.start().await.expect("mock starts"),
            client: hyper_client(),
        }
    }

    /// Sends `req`; the answer's head, its body unread.
    pub async fn open(&self, req: Req) -> Result<http::Response<hyper::body::Incoming>, String> {
        let mut builder = Request::builder().method(req.method).uri(format!(
            "{}{}",
            self.mock.base_url(),
            req.path
        ));
        if !req.bare {
            builder = builder
                .header("user-agent", "mock-tests/1.0")
                .header("accept", "application/json")
                .header("x-requested-by", "ThoughtSpot");
        }
        for (k, v) in &req.headers {
            builder = builder.header(*k, v);
        }
        let bytes = match req.body {
            Body::None => Bytes::new(),
            Body::Json(v) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            Body::Raw(ct, b) => {
                if !ct.is_empty() {
                    builder = builder.header("content-type", ct);
                }
                b
            }
        };
        self.client
            .request(builder.body(Full::new(bytes)).unwrap())
            .await
            .map_err(|e| format!("request: {e:?}"))
    }

    pub async fn try_request(&self, req: Req) -> Result<Resp, String> {
        let (parts, body) = self.open(req).await?.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body: {e:?}"))?
            .to_bytes();
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn request(&self, req: Req) -> Resp {
        self.try_request(req).await.unwrap()
    }

    /// Sends each row's request in turn and checks its answer; a failure names the row.
    pub async fn check(&self, rows: impl IntoIterator<Item = (&str, Req, Expect)>) {
        for (name, req, expect) in rows {
            let resp = self.request(req).await;
            expect.check(name, &resp);
        }
    }

    pub async fn post(&self, path: &'static str, body: Value) -> Resp {
        self.request(Req::post(path).json(body)).await
    }

    pub async fn get_with_token(&self, path: &'static str, token: &str) -> Resp {
        self.request(Req::get(path).bearer(token)).await
    }

    pub async fn get_with_cookie(&self, path: &'static str, cookie: &str) -> Resp {
        self.request(Req::get(path).cookie(cookie)).await
    }

    pub async fn token(&self, user: &str, password: &str, org: Option<i64>) -> String {
        let mut body = json!({ "username": user, "password": password });
        if let Some(org) = org {
            body["org_id"] = json!(org);
        }
        let resp = self.post(TOKEN_FULL, body).await;
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        resp.json()["token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token(DEFAULT_USER, DEFAULT_PASSWORD, None).await
    }

    /// Logs in with a v2.0 cookie session; returns the `Cookie` header value.
    pub async fn cookie_login(&self, user: &str, password: &str, org: Option<&str>) -> String {
        let mut body = json!({ "username": user, "password": password });
        if let Some(org) = org {
            body["org_identifier"] = json!(org);
        }
        let resp = self.post(SESSION_LOGIN, body).await;
        assert_eq!(resp.status, 204, "{:?}", resp.body);
        resp.cookie_header()
    }
}
