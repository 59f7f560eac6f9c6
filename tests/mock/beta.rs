//! The v2 beta API (`/tspublic/rest/v2/session...`): camelCase bodies, and every error an
//! HTTP 500 with the real status nested in the body.

use serde_json::{Value, json};
use thoughtspot_auth::mock::{
    DEFAULT_PASSWORD, DEFAULT_SECRET_KEY, DEFAULT_USER, ExtensionSpelling, Fault, MockThoughtSpot,
};

use crate::harness::{
    BETA_GETTOKEN, BETA_LOGIN, BETA_LOGOUT, BETA_ORG, BETA_REVOKE, BETA_SESSION, Expect, Harness,
    Req, now_ms,
};

/// The analyst's `gettoken` body.
fn analyst() -> Value {
    json!({"userName": "analyst", "password": "analyst-password"})
}

/// A mock, and a token for the analyst in org 1 from it, the answer's shape checked.
async fn mock_and_analyst_token() -> (Harness, String) {
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
    (h, token)
}

#[tokio::test]
async fn beta_gettoken_and_session_info() {
    let (h, token) = mock_and_analyst_token().await;

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
}

#[tokio::test]
async fn beta_errors_wrap_the_real_status() {
    let h = Harness::new().await;
    let unauth = h.request(Req::get(BETA_SESSION)).await;
    Expect::beta(401)
        .code(10097)
        .strings(&["debug", "incident_id_guid"])
        .check("no credential", &unauth);
    let e = unauth.json();
    assert_eq!(
        e["error"]["errors"][0]["extensions"]["code"],
        "UPSTREAM_ERROR"
    );
    assert!(e["error"]["errors"][0]["message"].is_string());
    let gettoken = |body| Req::post(BETA_GETTOKEN).json(body);
    h.check([
        (
            "wrong password",
            gettoken(json!({"userName": "analyst", "password": "nope"})),
            Expect::beta(401),
        ),
        (
            "no user name",
            gettoken(json!({"password": "nope"})),
            Expect::beta(400).code(10002),
        ),
        (
            "not a member of org 2",
            gettoken(json!({"userName": "analyst", "password": "analyst-password", "orgId": "2"})),
            Expect::beta(403),
        ),
    ])
    .await;

    // A genuine 500 has no upstream detail.
    h.mock.inject(
        BETA_GETTOKEN,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        1,
    );
    let bare = h.post(BETA_GETTOKEN, analyst()).await;
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
    let limited = h.post(BETA_GETTOKEN, analyst()).await;
    assert_eq!(limited.headers["retry-after"], "3");
    Expect::beta(429).check("faulted 429", &limited);
}

#[tokio::test]
async fn beta_login_org_switch_logout_and_revoke() {
    let (h, token) = mock_and_analyst_token().await;

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
        .request(Req::put(BETA_ORG).cookie(&cookie).json(json!({"id": "2"})))
        .await;
    assert_eq!(switched.status, 200);
    assert_eq!(switched.json(), json!(true));
    assert_eq!(
        h.get_with_cookie(BETA_SESSION, &cookie).await.json()["orgId"],
        2
    );
    h.check([(
        "org switch by bearer token",
        Req::put(BETA_ORG).bearer(&token).json(json!({"id": "0"})),
        Expect::beta(400),
    )])
    .await;

    let by_bearer = h.request(Req::post(BETA_LOGIN).bearer(&token)).await;
    assert_eq!(by_bearer.status, 200);
    assert_eq!(by_bearer.json()["userName"], "analyst");
    let analyst_cookie = by_bearer.cookie_header();
    h.check([(
        "org switch to an org not the user's",
        Req::put(BETA_ORG)
            .cookie(&analyst_cookie)
            .json(json!({"id": 2})),
        Expect::beta(403),
    )])
    .await;

    // Logout and revoke: each answers `true` and ends its credential.
    let rows = [
        (
            "logout",
            Req::post(BETA_LOGOUT).cookie(&cookie),
            Req::get(BETA_SESSION).cookie(&cookie),
        ),
        (
            "revoke",
            Req::post(BETA_REVOKE).bearer(&token),
            Req::get(BETA_SESSION).bearer(&token),
        ),
    ];
    for (name, end, after) in rows {
        let resp = h.request(end).await;
        assert_eq!(resp.status, 200, "{name}");
        assert_eq!(resp.json(), json!(true), "{name}");
        Expect::beta(401).check(
            &format!("session info after {name}"),
            &h.request(after).await,
        );
    }
}

#[tokio::test]
async fn beta_extension_spelling() {
    let h =
        Harness::with(MockThoughtSpot::builder().beta_error_spelling(ExtensionSpelling::Extension))
            .await;
    let resp = h.request(Req::get(BETA_SESSION)).await;
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
