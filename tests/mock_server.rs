//! Tests of `MockThoughtSpot` itself, over real HTTP with a plain hyper client.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use thoughtspot_auth::mock::{
    DEFAULT_PASSWORD, DEFAULT_SECRET_KEY, DEFAULT_USER, ExtensionSpelling, FAULT_HEADER, Fault,
    FaultKind, MockThoughtSpot, MockThoughtSpotBuilder, MockUser, PresentedCredential,
    REQUEST_ID_HEADER,
};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const TOKEN_OBJECT: &str = "/api/rest/2.0/auth/token/object";
const SESSION_LOGIN: &str = "/api/rest/2.0/auth/session/login";
const SESSION_LOGOUT: &str = "/api/rest/2.0/auth/session/logout";
const SESSION_USER: &str = "/api/rest/2.0/auth/session/user";
const SESSION_TOKEN: &str = "/api/rest/2.0/auth/session/token";
const TOKEN_REVOKE: &str = "/api/rest/2.0/auth/token/revoke";
const TOKEN_VALIDATE: &str = "/api/rest/2.0/auth/token/validate";
const SEARCH: &str = "/api/rest/2.0/metadata/search";
const BETA_SESSION: &str = "/tspublic/rest/v2/session";
const BETA_GETTOKEN: &str = "/tspublic/rest/v2/session/gettoken";
const BETA_LOGIN: &str = "/tspublic/rest/v2/session/login";
const BETA_LOGOUT: &str = "/tspublic/rest/v2/session/logout";
const BETA_REVOKE: &str = "/tspublic/rest/v2/session/revoketoken";
const BETA_ORG: &str = "/tspublic/rest/v2/session/org";
const V1_LOGIN: &str = "/callosum/v1/tspublic/v1/session/login";
const V1_ORGS: &str = "/callosum/v1/tspublic/v1/session/orgs";
const V1_ISACTIVE: &str = "/callosum/v1/session/isactive";

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Bytes),
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// `Cookie` header value made of the `name=value` parts of the `Set-Cookie` headers.
    fn cookie_header(&self) -> String {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn v2_code(&self) -> Option<u64> {
        self.json()["error"]["message"]["code"].as_u64()
    }

    /// The upstream part of a beta error, in the `extensions` spelling.
    fn upstream(&self) -> Value {
        assert_eq!(self.status, 500);
        let v = self.json();
        assert_eq!(
            v["error"]["message"],
            "Operation failed or unauthorized request"
        );
        v["error"]["errors"][0]["extensions"]["exception"]["upstreamResponse"].clone()
    }
}

struct Harness {
    mock: MockThoughtSpot,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Harness {
    async fn new() -> Self {
        Self::with(MockThoughtSpot::builder()).await
    }

    async fn with(builder: MockThoughtSpotBuilder) -> Self {
        Harness {
            mock: builder.start().await.expect("mock starts"),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Resp, String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.mock.base_url()))
            .header("user-agent", "mock-tests/1.0")
            .header("accept", "application/json")
            .header("x-requested-by", "ThoughtSpot");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let bytes = match body {
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
        let resp = self
            .client
            .request(builder.body(Full::new(bytes)).unwrap())
            .await
            .map_err(|e| format!("request: {e:?}"))?;
        let (parts, body) = resp.into_parts();
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

    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Body) -> Resp {
        self.try_send(method, path, headers, body).await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, &[], Body::Json(body)).await
    }

    async fn get_with_token(&self, path: &str, token: &str) -> Resp {
        let auth = format!("Bearer {token}");
        self.send(Method::GET, path, &[("authorization", &auth)], Body::None)
            .await
    }

    async fn get_with_cookie(&self, path: &str, cookie: &str) -> Resp {
        self.send(Method::GET, path, &[("cookie", cookie)], Body::None)
            .await
    }

    async fn token(&self, user: &str, password: &str, org: Option<i64>) -> String {
        let mut body = json!({ "username": user, "password": password });
        if let Some(org) = org {
            body["org_id"] = json!(org);
        }
        let resp = self.post(TOKEN_FULL, body).await;
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        resp.json()["token"].as_str().unwrap().to_owned()
    }

    async fn admin_token(&self) -> String {
        self.token(DEFAULT_USER, DEFAULT_PASSWORD, None).await
    }

    /// Logs in with a v2.0 cookie session; returns the `Cookie` header value.
    async fn cookie_login(&self, user: &str, password: &str, org: Option<&str>) -> String {
        let mut body = json!({ "username": user, "password": password });
        if let Some(org) = org {
            body["org_identifier"] = json!(org);
        }
        let resp = self.post(SESSION_LOGIN, body).await;
        assert_eq!(resp.status, 204, "{:?}", resp.body);
        resp.cookie_header()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn token_full_success_shape() {
    let h = Harness::new().await;
    let before = now_ms();
    let resp = h
        .post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD, "org_id": 1}),
        )
        .await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v = resp.json();
    let token = v["token"].as_str().unwrap();
    assert!(token.len() >= 32);
    let created = v["creation_time_in_millis"].as_i64().unwrap();
    let expires = v["expiration_time_in_millis"].as_i64().unwrap();
    assert_eq!(expires - created, 300_000);
    assert!((created - before).abs() < 5_000);
    assert_eq!(
        v["scope"],
        json!({"access_type": "FULL", "org_id": 1, "metadata_id": null})
    );
    assert_eq!(v["valid_for_username"], DEFAULT_USER);
    assert_eq!(v["valid_for_user_id"].as_str().unwrap().len(), 36);
    assert_eq!(h.mock.token_owner(token), Some((DEFAULT_USER.into(), 1)));
    assert_eq!(h.mock.live_tokens(), 1);

    // The token works on a data endpoint, bound to its org.
    let auth = format!("Bearer {token}");
    let search = h
        .send(
            Method::POST,
            SEARCH,
            &[("authorization", &auth)],
            Body::Json(json!({})),
        )
        .await;
    assert_eq!(search.status, 200);
    assert_eq!(search.headers["x-mock-user"], DEFAULT_USER);
    assert_eq!(search.headers["x-mock-org"], "1");
    assert_eq!(search.json()[0]["metadata_type"], "LIVEBOARD");

    // Without an org the token lands in the last-used org (1 now).
    let again = h
        .post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD, "validity_time_in_sec": 999_999}),
        )
        .await
        .json();
    assert_eq!(again["scope"]["org_id"], 1);
    // Validity capped at the maximum.
    assert_eq!(
        again["expiration_time_in_millis"].as_i64().unwrap()
            - again["creation_time_in_millis"].as_i64().unwrap(),
        86_400_000
    );

    // Object token.
    let obj = h
        .post(
            TOKEN_OBJECT,
            json!({"username": "analyst", "password": "analyst-password", "object_id": "lb-1"}),
        )
        .await;
    assert_eq!(obj.status, 200);
    assert_eq!(
        obj.json()["scope"],
        json!({"access_type": "REPORT_BOOK_VIEW", "org_id": 0, "metadata_id": "lb-1"})
    );
    let no_object = h
        .post(
            TOKEN_OBJECT,
            json!({"username": "analyst", "password": "analyst-password"}),
        )
        .await;
    assert_eq!(no_object.status, 400);
}

#[tokio::test]
async fn token_full_error_classes() {
    let h = Harness::new().await;
    let check = |resp: Resp, status: u16, code: u64| {
        assert_eq!(resp.status, status, "{:?}", resp.body);
        assert_eq!(resp.v2_code(), Some(code));
        let msg = &resp.json()["error"]["message"];
        assert!(msg["debug"].is_string());
        assert!(msg["incident_id_guid"].is_string());
        assert!(msg["trace_id_guid"].is_string());
    };
    check(
        h.post(TOKEN_FULL, json!({"password": "x"})).await,
        400,
        10002,
    );
    check(
        h.post(TOKEN_FULL, json!({"username": "nobody", "password": "x"}))
            .await,
        401,
        10097,
    );
    check(
        h.post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": "wrong"}),
        )
        .await,
        401,
        10097,
    );
    check(
        h.post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "secret_key": "wrong"}),
        )
        .await,
        401,
        10097,
    );
    // Not a member of org 2.
    check(
        h.post(
            TOKEN_FULL,
            json!({"username": "analyst", "password": "analyst-password", "org_id": 2}),
        )
        .await,
        403,
        10023,
    );
    // Locked.
    h.mock.lock_user("analyst");
    check(
        h.post(
            TOKEN_FULL,
            json!({"username": "analyst", "password": "analyst-password"}),
        )
        .await,
        403,
        10023,
    );
    h.mock.unlock_user("analyst");
    assert_eq!(
        h.post(
            TOKEN_FULL,
            json!({"username": "analyst", "password": "analyst-password"})
        )
        .await
        .status,
        200
    );
    // Secret key, then trusted auth off.
    let ok = h
        .post(
            TOKEN_FULL,
            json!({"username": "analyst", "secret_key": DEFAULT_SECRET_KEY}),
        )
        .await;
    assert_eq!(ok.status, 200);
    // Password wins over a wrong secret key.
    let ok = h
        .post(
            TOKEN_FULL,
            json!({"username": "analyst", "password": "analyst-password", "secret_key": "wrong"}),
        )
        .await;
    assert_eq!(ok.status, 200);
    h.mock.set_trusted_auth(false);
    check(
        h.post(
            TOKEN_FULL,
            json!({"username": "analyst", "secret_key": DEFAULT_SECRET_KEY}),
        )
        .await,
        403,
        10023,
    );
    h.mock.set_trusted_auth(true);
    // Auto-create with the secret key.
    check(
        h.post(
            TOKEN_FULL,
            json!({"username": "newbie", "secret_key": DEFAULT_SECRET_KEY}),
        )
        .await,
        401,
        10097,
    );
    let created = h
        .post(
            TOKEN_FULL,
            json!({"username": "newbie", "secret_key": DEFAULT_SECRET_KEY, "auto_create": true, "org_id": 2}),
        )
        .await;
    assert_eq!(created.status, 200);
    assert_eq!(created.json()["scope"]["org_id"], 2);
    // Bodies: not JSON → 400; JSON with another content type → 415.
    let not_json = h
        .send(
            Method::POST,
            TOKEN_FULL,
            &[],
            Body::Raw("application/json", Bytes::from_static(b"{username:")),
        )
        .await;
    check(not_json, 400, 10002);
    let wrong_type = h
        .send(
            Method::POST,
            TOKEN_FULL,
            &[],
            Body::Raw(
                "text/plain",
                Bytes::from(
                    json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD}).to_string(),
                ),
            ),
        )
        .await;
    assert_eq!(wrong_type.status, 415);
    // Password changed at run time.
    h.mock.set_password(DEFAULT_USER, "new-password");
    assert_eq!(
        h.post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD})
        )
        .await
        .status,
        401
    );
    h.token(DEFAULT_USER, "new-password", Some(0)).await;
}

#[tokio::test]
async fn cookie_login_sets_both_cookies_and_session_user_works() {
    let h = Harness::new().await;
    let resp = h
        .post(
            SESSION_LOGIN,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD, "org_identifier": "Sales", "remember_me": true}),
        )
        .await;
    assert_eq!(resp.status, 204);
    let set: Vec<&str> = resp
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set.len(), 2);
    assert!(set[0].starts_with("JSESSIONID=") && set[0].ends_with("; Path=/; HttpOnly"));
    assert!(set[1].starts_with("clientId=") && set[1].ends_with("; Path=/; Secure; HttpOnly"));
    let cookie = resp.cookie_header();

    let user = h.get_with_cookie(SESSION_USER, &cookie).await;
    assert_eq!(user.status, 200);
    let v = user.json();
    assert_eq!(v["name"], DEFAULT_USER);
    assert_eq!(v["display_name"], "TS Admin");
    assert_eq!(v["current_org"], json!({"id": 1, "name": "Sales"}));
    assert_eq!(v["orgs"].as_array().unwrap().len(), 3);
    assert_eq!(v["account_status"], "ACTIVE");
    assert_eq!(h.mock.live_sessions(), 1);

    // JSESSIONID alone is not enough.
    let jsession_only = cookie.split("; ").next().unwrap().to_owned();
    let resp = h.get_with_cookie(SESSION_USER, &jsession_only).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.v2_code(), Some(10097));
    let last = h.mock.requests().pop().unwrap();
    assert!(matches!(
        last.credential,
        PresentedCredential::Session {
            valid: false,
            client_id_sent: false,
            ..
        }
    ));

    // A session token for the session's user and org.
    let st = h.get_with_cookie(SESSION_TOKEN, &cookie).await;
    assert_eq!(st.status, 200);
    let st = st.json();
    assert!(st.get("scope").is_none());
    assert_eq!(
        st["expiration_time_in_millis"].as_i64().unwrap()
            - st["creation_time_in_millis"].as_i64().unwrap(),
        86_400_000
    );
    assert_eq!(
        h.mock.token_owner(st["token"].as_str().unwrap()),
        Some((DEFAULT_USER.into(), 1))
    );

    // Logout ends it.
    let out = h
        .send(
            Method::POST,
            SESSION_LOGOUT,
            &[("cookie", &cookie)],
            Body::None,
        )
        .await;
    assert_eq!(out.status, 204);
    assert_eq!(h.get_with_cookie(SESSION_USER, &cookie).await.status, 401);
    assert_eq!(h.mock.live_sessions(), 0);

    // Bearer token → session, for the token's org unless overridden.
    let token = h.token("analyst", "analyst-password", Some(1)).await;
    let auth = format!("Bearer {token}");
    let resp = h
        .send(
            Method::POST,
            SESSION_LOGIN,
            &[("authorization", &auth)],
            Body::None,
        )
        .await;
    assert_eq!(resp.status, 204);
    let user = h.get_with_cookie(SESSION_USER, &resp.cookie_header()).await;
    assert_eq!(user.json()["current_org"]["id"], 1);
    let resp = h
        .send(
            Method::POST,
            SESSION_LOGIN,
            &[("authorization", &auth)],
            Body::Json(json!({"org_identifier": "0"})),
        )
        .await;
    assert_eq!(resp.status, 204);
    let user = h.get_with_cookie(SESSION_USER, &resp.cookie_header()).await;
    assert_eq!(user.json()["current_org"]["id"], 0);
    // Not a member of org 2.
    let resp = h
        .send(
            Method::POST,
            SESSION_LOGIN,
            &[("authorization", &auth)],
            Body::Json(json!({"org_identifier": "Marketing"})),
        )
        .await;
    assert_eq!(resp.status, 403);
    assert_eq!(h.mock.login_attempts_for("analyst"), 4);
}

#[tokio::test]
async fn v2_auth_required_and_unknown_paths() {
    let h = Harness::new().await;
    let resp = h.send(Method::GET, SESSION_USER, &[], Body::None).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.v2_code(), Some(10097));
    let resp = h.get_with_token(SESSION_USER, "not-a-token").await;
    assert_eq!(resp.status, 401);
    let resp = h
        .send(Method::GET, "/api/rest/2.0/nothing/here", &[], Body::None)
        .await;
    assert_eq!(resp.status, 401);
    let token = h.admin_token().await;
    let resp = h.get_with_token("/api/rest/2.0/nothing/here", &token).await;
    assert_eq!(resp.status, 404);
    assert!(resp.json()["error"]["message"]["debug"].is_string());
    let resp = h.get_with_token("/somewhere/else", &token).await;
    assert_eq!(resp.status, 404);
}

#[tokio::test]
async fn revocation_and_validation() {
    let h = Harness::new().await;
    let t1 = h.admin_token().await;
    let t2 = h.admin_token().await;
    let ta = h.token("analyst", "analyst-password", None).await;
    let auth1 = format!("Bearer {t1}");

    let valid = h
        .send(
            Method::POST,
            TOKEN_VALIDATE,
            &[("authorization", &auth1)],
            Body::Json(json!({"token": t2})),
        )
        .await;
    assert_eq!(valid.status, 200);
    assert_eq!(valid.json()["token_type"], "BEARER");
    assert_eq!(valid.json()["scope"]["access_type"], "FULL");

    // Revoke t2 by value.
    let resp = h
        .send(
            Method::POST,
            TOKEN_REVOKE,
            &[("authorization", &auth1)],
            Body::Json(json!({"token": t2})),
        )
        .await;
    assert_eq!(resp.status, 204);
    assert_eq!(h.get_with_token(SESSION_USER, &t2).await.status, 401);
    let invalid = h
        .send(
            Method::POST,
            TOKEN_VALIDATE,
            &[("authorization", &auth1)],
            Body::Json(json!({"token": t2})),
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.v2_code(), Some(10002));

    // Revoke all of analyst's tokens by user_identifier.
    let resp = h
        .send(
            Method::POST,
            TOKEN_REVOKE,
            &[("authorization", &auth1)],
            Body::Json(json!({"user_identifier": "analyst"})),
        )
        .await;
    assert_eq!(resp.status, 204);
    assert_eq!(h.get_with_token(SESSION_USER, &ta).await.status, 401);

    // Revoke the presented token itself.
    let resp = h
        .send(
            Method::POST,
            TOKEN_REVOKE,
            &[("authorization", &auth1)],
            Body::None,
        )
        .await;
    assert_eq!(resp.status, 204);
    assert_eq!(h.get_with_token(SESSION_USER, &t1).await.status, 401);
    assert_eq!(h.mock.live_tokens(), 0);

    // Handle-side revocation.
    let a = h.admin_token().await;
    let _b = h.token("analyst", "analyst-password", None).await;
    let _c = h.token("analyst", "analyst-password", None).await;
    assert_eq!(h.mock.revoke_tokens_of("analyst"), 2);
    assert_eq!(h.mock.live_tokens(), 1);
    assert_eq!(h.get_with_token(SESSION_USER, &a).await.status, 200);
    assert_eq!(h.mock.revoke_all_tokens(), 1);
    assert_eq!(h.get_with_token(SESSION_USER, &a).await.status, 401);

    // Locking a user invalidates their credentials; unlocking restores them.
    let a = h.admin_token().await;
    h.mock.lock_user(DEFAULT_USER);
    assert_eq!(h.get_with_token(SESSION_USER, &a).await.status, 401);
    h.mock.unlock_user(DEFAULT_USER);
    assert_eq!(h.get_with_token(SESSION_USER, &a).await.status, 200);

    // Ending sessions.
    let c1 = h.cookie_login(DEFAULT_USER, DEFAULT_PASSWORD, None).await;
    let _c2 = h
        .cookie_login("analyst", "analyst-password", Some("1"))
        .await;
    assert_eq!(h.mock.end_all_sessions(), 2);
    assert_eq!(h.get_with_cookie(SESSION_USER, &c1).await.status, 401);
}

#[tokio::test(start_paused = true)]
async fn expiry_follows_the_paused_tokio_clock() {
    let h = Harness::new().await;
    let token = h.admin_token().await;
    let cookie = h.cookie_login(DEFAULT_USER, DEFAULT_PASSWORD, None).await;

    tokio::time::advance(Duration::from_secs(299)).await;
    assert_eq!(h.get_with_token(SESSION_USER, &token).await.status, 200);
    assert_eq!(h.mock.live_tokens(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    let expired = h.get_with_token(SESSION_USER, &token).await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.v2_code(), Some(10097));
    assert_eq!(h.mock.live_tokens(), 0);
    // Beta: 500 wrapping 401.
    let beta = h.get_with_token(BETA_SESSION, &token).await;
    assert_eq!(beta.upstream()["status"], 401);
    assert!(matches!(
        h.mock.requests().last().unwrap().credential,
        PresentedCredential::Token { valid: false, .. }
    ));

    // Sessions last 1,800 s from login.
    assert_eq!(h.get_with_cookie(SESSION_USER, &cookie).await.status, 200);
    tokio::time::advance(Duration::from_secs(1_800 - 301)).await;
    assert_eq!(h.get_with_cookie(SESSION_USER, &cookie).await.status, 401);
    assert_eq!(h.mock.live_sessions(), 0);

    // Runtime validity settings.
    h.mock.set_default_token_validity(Duration::from_secs(10));
    let short = h.admin_token().await;
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(h.get_with_token(SESSION_USER, &short).await.status, 401);
}

#[tokio::test]
async fn clock_offset_shows_in_token_times() {
    let h =
        Harness::with(MockThoughtSpot::builder().clock_offset(Duration::from_secs(3_600), true))
            .await;
    let v = h
        .post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD}),
        )
        .await
        .json();
    let skew = v["creation_time_in_millis"].as_i64().unwrap() - now_ms();
    assert!((skew - 3_600_000).abs() < 5_000, "skew {skew}");

    h.mock.set_clock_offset(Duration::from_secs(600), false);
    let v = h
        .post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD}),
        )
        .await
        .json();
    let skew = v["creation_time_in_millis"].as_i64().unwrap() - now_ms();
    assert!((skew + 600_000).abs() < 5_000, "skew {skew}");
    assert!((h.mock.server_time_millis() - now_ms() + 600_000).abs() < 5_000);
}

#[tokio::test]
async fn beta_gettoken_login_and_errors() {
    let h = Harness::new().await;
    let resp = h
        .post(
            BETA_GETTOKEN,
            json!({"userName": "analyst", "password": "analyst-password", "tokenExpiryDuration": "600", "orgId": "1"}),
        )
        .await;
    assert_eq!(resp.status, 200);
    let v = resp.json();
    assert_eq!(v["userName"], "analyst");
    assert_eq!(v["tokenType"], "Bearer");
    assert_eq!(v["tokenExpiryDuration"], "600");
    let created: i64 = v["tokenCreatedTime"].as_str().unwrap().parse().unwrap();
    assert!((created - now_ms()).abs() < 5_000);
    let token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(h.mock.token_owner(&token), Some(("analyst".into(), 1)));

    // Numbers accepted, secret key works.
    let v = h
        .post(
            BETA_GETTOKEN,
            json!({"userName": DEFAULT_USER, "secretKey": DEFAULT_SECRET_KEY, "tokenExpiryDuration": 60, "orgId": 2}),
        )
        .await
        .json();
    assert_eq!(v["tokenExpiryDuration"], "60");

    // Session info as a data endpoint.
    let info = h.get_with_token(BETA_SESSION, &token).await;
    assert_eq!(info.status, 200);
    let iv = info.json();
    assert_eq!(iv["userName"], "analyst");
    assert_eq!(iv["orgId"], 1);
    assert_eq!(iv["orgName"], "Sales");
    assert_eq!(info.headers["x-mock-org"], "1");
    assert_eq!(
        h.get_with_token("/tspublic/rest/v2/metadata/list", &token)
            .await
            .status,
        200
    );

    // Errors: 500 wrapping the real status.
    let unauth = h.send(Method::GET, BETA_SESSION, &[], Body::None).await;
    let up = unauth.upstream();
    assert_eq!(up["status"], 401);
    assert_eq!(up["data"]["code"], 10097);
    assert!(up["data"]["debug"].is_string());
    assert!(up["data"]["incident_id_guid"].is_string());
    let e = unauth.json();
    assert_eq!(
        e["error"]["errors"][0]["extensions"]["code"],
        "UPSTREAM_ERROR"
    );
    assert!(e["error"]["errors"][0]["message"].is_string());
    let wrong = h
        .post(
            BETA_GETTOKEN,
            json!({"userName": "analyst", "password": "nope"}),
        )
        .await;
    assert_eq!(wrong.upstream()["status"], 401);
    let missing = h.post(BETA_GETTOKEN, json!({"password": "nope"})).await;
    assert_eq!(missing.upstream()["status"], 400);
    assert_eq!(missing.upstream()["data"]["code"], 10002);
    let not_member = h
        .post(
            BETA_GETTOKEN,
            json!({"userName": "analyst", "password": "analyst-password", "orgId": "2"}),
        )
        .await;
    assert_eq!(not_member.upstream()["status"], 403);

    // Login: body credentials, then bearer.
    let login = h
        .post(
            BETA_LOGIN,
            json!({"userName": DEFAULT_USER, "password": DEFAULT_PASSWORD, "rememberMe": "true"}),
        )
        .await;
    assert_eq!(login.status, 200);
    let lv = login.json();
    assert_eq!(lv["token"], "");
    assert_eq!(lv["tokenType"], "");
    assert_eq!(lv["tokenExpiryDuration"], "1800");
    assert_eq!(login.headers.get_all("set-cookie").iter().count(), 2);
    let cookie = login.cookie_header();

    // Org switch works for the cookie session only.
    let switched = h
        .send(
            Method::PUT,
            BETA_ORG,
            &[("cookie", &cookie)],
            Body::Json(json!({"id": "2"})),
        )
        .await;
    assert_eq!(switched.status, 200);
    assert_eq!(switched.json(), json!(true));
    assert_eq!(
        h.get_with_cookie(BETA_SESSION, &cookie).await.json()["orgId"],
        2
    );
    let auth = format!("Bearer {token}");
    let by_token = h
        .send(
            Method::PUT,
            BETA_ORG,
            &[("authorization", &auth)],
            Body::Json(json!({"id": "0"})),
        )
        .await;
    assert_eq!(by_token.upstream()["status"], 400);

    let by_bearer = h
        .send(
            Method::POST,
            BETA_LOGIN,
            &[("authorization", &auth)],
            Body::None,
        )
        .await;
    assert_eq!(by_bearer.status, 200);
    assert_eq!(by_bearer.json()["userName"], "analyst");
    let analyst_cookie = by_bearer.cookie_header();
    let not_member = h
        .send(
            Method::PUT,
            BETA_ORG,
            &[("cookie", &analyst_cookie)],
            Body::Json(json!({"id": 2})),
        )
        .await;
    assert_eq!(not_member.upstream()["status"], 403);

    // Logout and revoke.
    let out = h
        .send(
            Method::POST,
            BETA_LOGOUT,
            &[("cookie", &cookie)],
            Body::None,
        )
        .await;
    assert_eq!(out.status, 200);
    assert_eq!(out.json(), json!(true));
    assert_eq!(
        h.get_with_cookie(BETA_SESSION, &cookie).await.upstream()["status"],
        401
    );
    let revoked = h
        .send(
            Method::POST,
            BETA_REVOKE,
            &[("authorization", &auth)],
            Body::None,
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.json(), json!(true));
    assert_eq!(
        h.get_with_token(BETA_SESSION, &token).await.upstream()["status"],
        401
    );

    // A genuine 500 has no upstream detail.
    h.mock.inject(
        BETA_GETTOKEN,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        1,
    );
    let bare = h
        .post(
            BETA_GETTOKEN,
            json!({"userName": "analyst", "password": "analyst-password"}),
        )
        .await;
    assert_eq!(bare.status, 500);
    assert_eq!(
        bare.json(),
        json!({"error": {"message": "Operation failed or unauthorized request"}})
    );
    // A faulted non-500 status is wrapped.
    h.mock.inject(
        BETA_GETTOKEN,
        Fault::Status {
            status: 429,
            retry_after: Some(3),
        },
        1,
    );
    let limited = h
        .post(
            BETA_GETTOKEN,
            json!({"userName": "analyst", "password": "analyst-password"}),
        )
        .await;
    assert_eq!(limited.headers["retry-after"], "3");
    assert_eq!(limited.upstream()["status"], 429);
}

#[tokio::test]
async fn beta_extension_spelling() {
    let h =
        Harness::with(MockThoughtSpot::builder().beta_error_spelling(ExtensionSpelling::Extension))
            .await;
    let resp = h.send(Method::GET, BETA_SESSION, &[], Body::None).await;
    assert_eq!(resp.status, 500);
    let v = resp.json();
    let item = &v["error"]["errors"][0];
    assert!(item.get("extensions").is_none());
    assert_eq!(
        item["extension"]["exception"]["upstreamResponse"]["status"],
        401
    );
    assert_eq!(
        item["extension"]["exception"]["upstreamResponse"]["data"]["code"],
        10097
    );
}

#[tokio::test]
async fn v1_login_org_switch_and_isactive() {
    let h = Harness::new().await;
    let form = |s: &'static str| {
        Body::Raw(
            "application/x-www-form-urlencoded",
            Bytes::from_static(s.as_bytes()),
        )
    };
    // X-Requested-By is required: send without it through a bare request.
    let req = Request::post(format!("{}{V1_LOGIN}", h.mock.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(
            b"username=tsadmin&password=mock-admin-password",
        )))
        .unwrap();
    assert_eq!(h.client.request(req).await.unwrap().status(), 400);

    let bad = h
        .send(
            Method::POST,
            V1_LOGIN,
            &[],
            form("username=tsadmin&password=nope"),
        )
        .await;
    assert_eq!(bad.status, 401);
    assert!(bad.json()["debug"].is_string());
    assert!(bad.json()["incident_id_guid"].is_string());

    let ok = h
        .send(
            Method::POST,
            V1_LOGIN,
            &[],
            form("username=tsadmin&password=mock-admin-password&rememberme=true"),
        )
        .await;
    assert_eq!(ok.status, 204);
    let cookie = ok.cookie_header();
    assert_eq!(h.get_with_cookie(V1_ISACTIVE, &cookie).await.status, 200);
    assert_eq!(
        h.send(Method::GET, V1_ISACTIVE, &[], Body::None)
            .await
            .status,
        401
    );

    let switched = h
        .send(
            Method::PUT,
            V1_ORGS,
            &[("cookie", &cookie)],
            form("orgid=2"),
        )
        .await;
    assert_eq!(switched.status, 204);
    assert_eq!(
        h.get_with_cookie(SESSION_USER, &cookie).await.json()["current_org"]["id"],
        2
    );
    let unknown_org = h
        .send(
            Method::PUT,
            V1_ORGS,
            &[("cookie", &cookie)],
            form("orgid=7"),
        )
        .await;
    assert_eq!(unknown_org.status, 403);
    let no_session = h.send(Method::PUT, V1_ORGS, &[], form("orgid=1")).await;
    assert_eq!(no_session.status, 401);
    // A later login without an org lands in the last-used org.
    let token = h.admin_token().await;
    assert_eq!(h.mock.token_owner(&token), Some((DEFAULT_USER.into(), 2)));
    assert_eq!(h.get_with_token(V1_ISACTIVE, &token).await.status, 200);
    assert_eq!(
        h.send(Method::GET, "/callosum/v1/unknown", &[], Body::None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn status_maintenance_malformed_and_respond_faults() {
    let h = Harness::new().await;
    let login = json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD});

    h.mock.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 503,
            retry_after: Some(7),
        },
        2,
    );
    for _ in 0..2 {
        let resp = h.post(TOKEN_FULL, login.clone()).await;
        assert_eq!(resp.status, 503);
        assert_eq!(resp.headers["retry-after"], "7");
        assert!(resp.json()["error"]["message"]["debug"].is_string());
    }
    h.mock.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        1,
    );
    let resp = h.post(TOKEN_FULL, login.clone()).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.v2_code(), Some(10097));
    assert!(resp.headers.get("retry-after").is_none());

    h.mock.inject(TOKEN_FULL, Fault::MaintenancePage, 1);
    let resp = h.post(TOKEN_FULL, login.clone()).await;
    assert_eq!(resp.status, 200);
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&resp.body).contains("<html>"));

    h.mock.inject(TOKEN_FULL, Fault::MalformedJson, 1);
    let resp = h.post(TOKEN_FULL, login.clone()).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers["content-type"], "application/json");
    assert!(serde_json::from_slice::<Value>(&resp.body).is_err());
    assert!(resp.body.starts_with(b"{"));

    h.mock.inject(
        SEARCH,
        Fault::Respond {
            status: 418,
            content_type: "text/plain".into(),
            body: Bytes::from_static(b"teapot"),
        },
        1,
    );
    let resp = h.send(Method::POST, SEARCH, &[], Body::None).await;
    assert_eq!(resp.status, 418);
    assert_eq!(resp.headers["content-type"], "text/plain");
    assert_eq!(&resp.body[..], b"teapot");

    // Then back to normal, and the faulted requests were logged and counted.
    assert_eq!(h.post(TOKEN_FULL, login.clone()).await.status, 200);
    assert_eq!(h.mock.count(TOKEN_FULL), 6);
    assert_eq!(h.mock.logins(), 6);
    let log = h.mock.requests();
    assert_eq!(log.iter().filter(|r| r.fault).count(), 6);
    assert_eq!(log[0].status, 503);

    // clear_faults drops pending ones.
    h.mock.inject(TOKEN_FULL, Fault::MaintenancePage, 5);
    h.mock.clear_faults();
    assert_eq!(h.post(TOKEN_FULL, login).await.status, 200);
}

#[tokio::test]
async fn huge_body_is_streamed_with_exact_length() {
    let h = Harness::new().await;
    for len in [5usize, 3 * 1024 * 1024 + 17] {
        h.mock.inject(TOKEN_FULL, Fault::HugeBody(len), 1);
        let resp = h.post(TOKEN_FULL, json!({})).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.headers["content-length"], len.to_string().as_str());
        assert_eq!(resp.body.len(), len);
    }
    let h2 = Harness::new().await;
    h2.mock.inject(TOKEN_FULL, Fault::HugeBody(100_000), 1);
    let body = h2.post(TOKEN_FULL, json!({})).await.json();
    assert!(body["padding"].is_string());
}

#[tokio::test(start_paused = true)]
async fn delay_fault_sleeps_on_the_tokio_clock() {
    let h = Harness::new().await;
    h.mock
        .inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(30)), 1);
    let start = tokio::time::Instant::now();
    let resp = h
        .post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD}),
        )
        .await;
    assert_eq!(resp.status, 200);
    assert!(start.elapsed() >= Duration::from_secs(30));
    let log = h.mock.requests();
    assert!(log[0].fault);
    assert_eq!(log[0].status, 200);
}

#[tokio::test]
async fn drop_connection_and_close_mid_body() {
    let h = Harness::new().await;
    let login = json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD});

    h.mock.inject(TOKEN_FULL, Fault::DropConnection, 1);
    let err = h
        .try_send(Method::POST, TOKEN_FULL, &[], Body::Json(login.clone()))
        .await
        .err()
        .expect("dropped connection is an error");
    assert!(err.starts_with("request:"), "{err}");
    assert_eq!(h.mock.requests()[0].status, 0);
    assert!(h.mock.requests()[0].fault);

    h.mock.inject(TOKEN_FULL, Fault::CloseMidBody, 1);
    let req = Request::post(format!("{}{TOKEN_FULL}", h.mock.base_url()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(login.to_string())))
        .unwrap();
    let resp = h.client.request(req).await.expect("headers arrive");
    assert_eq!(resp.status(), 200);
    let announced: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(announced > 0);
    assert!(resp.into_body().collect().await.is_err());

    // The mock is fine afterwards.
    assert_eq!(h.post(TOKEN_FULL, login).await.status, 200);
    assert_eq!(h.mock.count(TOKEN_FULL), 3);
}

#[tokio::test]
async fn counters_log_and_no_secrets_in_debug() {
    let h = Harness::new().await;
    let token = h.admin_token().await;
    let cookie = h
        .cookie_login("analyst", "analyst-password", Some("1"))
        .await;
    let _ = h
        .post(
            TOKEN_FULL,
            json!({"username": "analyst", "password": "wrong"}),
        )
        .await;
    let _ = h
        .post(
            BETA_GETTOKEN,
            json!({"userName": "analyst", "secretKey": DEFAULT_SECRET_KEY}),
        )
        .await;
    h.get_with_token(SESSION_USER, &token).await;
    h.get_with_cookie(SESSION_USER, &cookie).await;
    h.get_with_token(SESSION_USER, "bogus-token").await;
    h.get_with_cookie(SESSION_USER, "JSESSIONID=bogus; clientId=bogus")
        .await;

    assert_eq!(h.mock.count(SESSION_USER), 4);
    assert_eq!(h.mock.count(TOKEN_FULL), 2);
    assert_eq!(h.mock.logins(), 4);
    assert_eq!(h.mock.login_attempts_for("analyst"), 3);
    assert_eq!(h.mock.login_attempts_for(DEFAULT_USER), 1);
    assert_eq!(h.mock.login_attempts_for("nobody"), 0);

    let log = h.mock.requests();
    assert_eq!(log.len(), 8);
    let first = &log[0];
    assert_eq!(first.method, Method::POST);
    assert_eq!(first.path, TOKEN_FULL);
    assert_eq!(first.status, 200);
    assert_eq!(first.credential, PresentedCredential::None);
    assert_eq!(first.user_agent.as_deref(), Some("mock-tests/1.0"));
    assert_eq!(first.x_requested_by.as_deref(), Some("ThoughtSpot"));
    assert_eq!(first.content_type.as_deref(), Some("application/json"));
    assert_eq!(first.accept.as_deref(), Some("application/json"));
    assert_eq!(
        first.host.as_deref(),
        Some(h.mock.addr().to_string().as_str())
    );
    assert!(!first.fault);
    assert_eq!(log[2].status, 401);
    match &log[4].credential {
        PresentedCredential::Token {
            serial,
            user,
            org,
            valid,
        } => {
            assert_eq!((user.as_str(), *org, *valid), (DEFAULT_USER, 0, true));
            assert_eq!(*serial, 1);
        }
        other => panic!("{other:?}"),
    }
    match &log[5].credential {
        PresentedCredential::Session {
            user,
            org,
            valid,
            client_id_sent,
            ..
        } => assert_eq!(
            (user.as_str(), *org, *valid, *client_id_sent),
            ("analyst", 1, true, true)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(log[6].credential, PresentedCredential::UnknownToken);
    assert_eq!(log[7].credential, PresentedCredential::UnknownSession);

    let debug = format!("{:?} {:?}", log, h.mock);
    assert!(!debug.contains(&token));
    for part in cookie.split("; ") {
        let value = part.split_once('=').unwrap().1;
        assert!(!debug.contains(value), "cookie value in the log");
    }
    assert!(!debug.contains(DEFAULT_PASSWORD));
    assert!(!debug.contains(DEFAULT_SECRET_KEY));

    let user_debug = format!("{:?}", MockUser::new("u", "hunter2-secret").orgs([1]));
    assert!(!user_debug.contains("hunter2-secret"));
    let builder_debug = format!(
        "{:?}",
        MockThoughtSpot::builder()
            .secret_key("very-secret-key")
            .user("x", "pw-x-secret")
    );
    assert!(!builder_debug.contains("very-secret-key"));
    assert!(!builder_debug.contains("pw-x-secret"));
    assert!(!builder_debug.contains(DEFAULT_PASSWORD));

    h.mock.clear_log();
    assert!(h.mock.requests().is_empty());
    assert_eq!(h.mock.count(SESSION_USER), 0);
    assert_eq!(h.mock.logins(), 0);
    assert_eq!(h.mock.login_attempts_for("analyst"), 0);
}

#[tokio::test]
async fn path_prefix() {
    let h = Harness::with(MockThoughtSpot::builder().path_prefix("/ts/")).await;
    let base = h.mock.base_url();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(base.ends_with("/ts"));
    let token = h.admin_token().await;
    assert_eq!(h.get_with_token(SESSION_USER, &token).await.status, 200);
    assert_eq!(h.mock.count(SESSION_USER), 1);
    assert_eq!(h.mock.requests()[0].path, TOKEN_FULL);

    // Outside the prefix: 404.
    let req = Request::get(format!("http://{}{SESSION_USER}", h.mock.addr()))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(h.client.request(req).await.unwrap().status(), 404);

    // Faults use the path without the prefix.
    h.mock.inject(SESSION_USER, Fault::MaintenancePage, 1);
    let resp = h.get_with_token(SESSION_USER, &token).await;
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn custom_users_and_orgs() {
    let h = Harness::with(
        MockThoughtSpot::builder()
            .clear_users()
            .org(5, "Finance")
            .user_with(
                MockUser::new("fin", "fin-pw")
                    .orgs([5, 0])
                    .display_name("Fin Ance"),
            )
            .user_with(MockUser::new("gone", "gone-pw").locked())
            .secret_key("custom-key")
            .trusted_auth(false)
            .default_token_validity(Duration::from_secs(60))
            .max_token_validity(Duration::from_secs(120))
            .session_validity(Duration::from_secs(90)),
    )
    .await;
    assert_eq!(
        h.post(
            TOKEN_FULL,
            json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD})
        )
        .await
        .status,
        401
    );
    let v = h
        .post(TOKEN_FULL, json!({"username": "fin", "password": "fin-pw"}))
        .await
        .json();
    assert_eq!(v["scope"]["org_id"], 5);
    assert_eq!(
        v["expiration_time_in_millis"].as_i64().unwrap()
            - v["creation_time_in_millis"].as_i64().unwrap(),
        60_000
    );
    assert_eq!(
        h.post(
            TOKEN_FULL,
            json!({"username": "gone", "password": "gone-pw"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        h.post(
            TOKEN_FULL,
            json!({"username": "fin", "secret_key": "custom-key"})
        )
        .await
        .status,
        403
    );
    h.mock.set_trusted_auth(true);
    assert_eq!(
        h.post(
            TOKEN_FULL,
            json!({"username": "fin", "secret_key": "custom-key"})
        )
        .await
        .status,
        200
    );
    h.mock.add_user(MockUser::new("late", "late-pw").orgs([0]));
    let late = h.token("late", "late-pw", Some(0)).await;
    let user = h.get_with_token(SESSION_USER, &late).await.json();
    assert_eq!(user["current_org"], json!({"id": 0, "name": "Primary"}));
    let cookie = h.cookie_login("fin", "fin-pw", Some("Finance")).await;
    let user = h.get_with_cookie(SESSION_USER, &cookie).await.json();
    assert_eq!(user["display_name"], "Fin Ance");
    assert_eq!(user["current_org"]["name"], "Finance");
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let mock = MockThoughtSpot::start().await.unwrap();
    let addr = mock.addr();
    let clone = mock.clone();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    mock.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    drop(clone);

    let mock = MockThoughtSpot::start().await.unwrap();
    let addr = mock.addr();
    let clone = mock.clone();
    drop(mock);
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    drop(clone);
    let mut stopped = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            stopped = true;
            break;
        }
    }
    assert!(
        stopped,
        "the server kept listening after the last handle was dropped"
    );
}

// ----- probabilistic faults, fault marks, counters, dropped ids, recording switch ---------------

/// The fault kinds a seeded mock applies to `n` sequential requests to `path`.
async fn draws(seed: u64, n: usize) -> (Vec<Option<FaultKind>>, MockThoughtSpot) {
    let h = Harness::with(MockThoughtSpot::builder().seed(seed)).await;
    let token = h.admin_token().await;
    h.mock.inject_random(
        SEARCH,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        0.2,
    );
    h.mock.inject_random(SEARCH, Fault::MaintenancePage, 0.1);
    let auth = format!("Bearer {token}");
    let mut kinds = Vec::new();
    for _ in 0..n {
        let resp = h
            .send(
                Method::POST,
                SEARCH,
                &[("authorization", &auth)],
                Body::Json(json!({})),
            )
            .await;
        let kind = resp
            .headers
            .get(FAULT_HEADER)
            .map(|v| v.to_str().unwrap().parse::<FaultKind>().unwrap());
        match kind {
            None => assert_eq!(resp.status, 200),
            Some(FaultKind::Status(500)) => assert_eq!(resp.status, 500),
            Some(FaultKind::MaintenancePage) => {
                assert_eq!(resp.status, 200);
                assert!(String::from_utf8_lossy(&resp.body).contains("<html>"));
            }
            Some(other) => panic!("unexpected fault {other}"),
        }
        kinds.push(kind);
    }
    (kinds, h.mock)
}

#[tokio::test]
async fn random_faults_are_marked_counted_and_reproducible_from_the_seed() {
    let (first, mock) = draws(7, 400).await;
    let (again, _) = draws(7, 400).await;
    let (other, _) = draws(8, 400).await;
    assert_eq!(first, again, "the same seed gives the same faults");
    assert_ne!(first, other, "another seed gives others");

    let count = |kind| first.iter().filter(|k| **k == Some(kind)).count();
    let errors = count(FaultKind::Status(500));
    let pages = count(FaultKind::MaintenancePage);
    // Exclusive rules: 20 % and 10 % of 400 (binomial; these bounds are > 5 sigma wide).
    assert!((45..=115).contains(&errors), "{errors}");
    assert!((15..=65).contains(&pages), "{pages}");
    assert_eq!(mock.faults_injected(FaultKind::Status(500)), errors);
    assert_eq!(
        mock.faults_injected_at(SEARCH, FaultKind::MaintenancePage),
        pages
    );
    assert_eq!(
        mock.faults_injected_at(TOKEN_FULL, FaultKind::MaintenancePage),
        0
    );
    assert_eq!(
        mock.requests().iter().filter(|r| r.fault).count(),
        errors + pages
    );

    // Queued faults go first; clear_faults ends the random ones too.
    mock.inject(SEARCH, Fault::MalformedJson, 1);
    mock.clear_faults();
    mock.clear_log();
    assert_eq!(mock.faults_injected(FaultKind::Status(500)), 0);
}

#[tokio::test]
async fn queued_faults_come_before_random_ones_and_every_kind_is_marked() {
    let h = Harness::new().await;
    h.mock
        .inject_random(TOKEN_FULL, Fault::MaintenancePage, 1.0);
    let queued = [
        Fault::Status {
            status: 429,
            retry_after: Some(3),
        },
        Fault::Status {
            status: 1000,
            retry_after: None,
        },
        Fault::MalformedJson,
        Fault::HugeBody(10),
        Fault::Delay(Duration::from_millis(1)),
        Fault::CloseMidBody,
        Fault::Respond {
            status: 418,
            content_type: "text/plain".into(),
            body: Bytes::from_static(b"teapot"),
        },
        Fault::Redirect {
            location: "http://127.0.0.1:9/elsewhere".into(),
        },
    ];
    for fault in queued.iter().cloned() {
        h.mock.inject(TOKEN_FULL, fault, 1);
    }
    let login = json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD});
    for fault in &queued {
        let req = Request::post(format!("{}{TOKEN_FULL}", h.mock.base_url()))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(login.to_string())))
            .unwrap();
        let resp = h.client.request(req).await.unwrap();
        let mark: FaultKind = resp.headers()[FAULT_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(mark, fault.kind());
        assert_eq!(
            mark.to_string().parse(),
            Ok(mark),
            "Display and FromStr agree"
        );
    }
    assert_eq!(
        Fault::Status {
            status: 1000,
            retry_after: None
        }
        .kind(),
        FaultKind::Status(500)
    );
    // The random rule (probability 1) applies once the queue is empty.
    let resp = h.post(TOKEN_FULL, login).await;
    assert_eq!(resp.headers[FAULT_HEADER], "maintenance-page");
    assert_eq!(h.mock.faults_injected(FaultKind::MaintenancePage), 1);
    assert_eq!(h.mock.faults_injected(FaultKind::Delay), 1);
    assert_eq!(h.mock.faults_injected(FaultKind::Respond(418)), 1);
    assert!("bogus".parse::<FaultKind>().is_err());
    assert!("status-x".parse::<FaultKind>().is_err());
}

#[tokio::test]
async fn dropped_connections_are_remembered_by_request_id() {
    let h = Harness::new().await;
    h.mock.inject(SEARCH, Fault::DropConnection, 2);
    for id in ["req-1", ""] {
        let mut headers = vec![("content-type", "application/json")];
        if !id.is_empty() {
            headers.push((REQUEST_ID_HEADER, id));
        }
        let err = h
            .try_send(Method::POST, SEARCH, &headers, Body::None)
            .await
            .err();
        assert!(err.is_some(), "the connection was dropped");
    }
    assert_eq!(h.mock.dropped_request_ids(), vec!["req-1".to_owned()]);
    assert_eq!(h.mock.faults_injected(FaultKind::DropConnection), 2);
    h.mock.clear_log();
    assert!(h.mock.dropped_request_ids().is_empty());
}

#[tokio::test]
async fn recording_can_be_switched_off_and_counters_still_count() {
    let h = Harness::with(MockThoughtSpot::builder().record_requests(false)).await;
    h.mock.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let login = json!({"username": DEFAULT_USER, "password": DEFAULT_PASSWORD});
    assert_eq!(h.post(TOKEN_FULL, login.clone()).await.status, 503);
    let token = h.admin_token().await;
    h.get_with_token(SESSION_USER, &token).await;
    assert!(h.mock.requests().is_empty());
    assert_eq!(h.mock.count(TOKEN_FULL), 2);
    assert_eq!(h.mock.count(SESSION_USER), 1);
    assert_eq!(h.mock.logins(), 2);
    assert_eq!(h.mock.faults_injected(FaultKind::Status(503)), 1);

    h.mock.set_record_requests(true);
    h.get_with_token(SESSION_USER, &token).await;
    let log = h.mock.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, 200);
}

#[tokio::test]
async fn a_huge_chunked_body_has_no_content_length() {
    let h = Harness::new().await;
    h.mock
        .inject(TOKEN_FULL, Fault::HugeChunkedBody(300_000), 1);
    let resp = h.post(TOKEN_FULL, json!({})).await;
    assert_eq!(resp.status, 200);
    assert!(resp.headers.get("content-length").is_none());
    assert_eq!(resp.headers["transfer-encoding"], "chunked");
    assert_eq!(resp.headers[FAULT_HEADER], "huge-chunked-body");
    assert_eq!(resp.body.len(), 300_000);
    assert!(resp.json()["padding"].is_string());
}
