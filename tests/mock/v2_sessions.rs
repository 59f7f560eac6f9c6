//! v2.0 cookie sessions: `session/login` by password or bearer token, `session/user`,
//! `session/token`, `session/logout`.

use serde_json::json;
use thoughtspot_auth::mock::{DEFAULT_PASSWORD, DEFAULT_USER, PresentedCredential};

use crate::harness::{
    Expect, Harness, Req, SESSION_LOGIN, SESSION_LOGOUT, SESSION_TOKEN, SESSION_USER, lifetime_ms,
};

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
    h.check([(
        "JSESSIONID alone",
        Req::get(SESSION_USER).cookie(&jsession_only),
        Expect::status(401).code(10097),
    )])
    .await;
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
    assert_eq!(lifetime_ms(&st), 86_400_000);
    assert_eq!(
        h.mock.token_owner(st["token"].as_str().unwrap()),
        Some((DEFAULT_USER.into(), 1))
    );

    // Logout ends it.
    h.check([
        (
            "logout",
            Req::post(SESSION_LOGOUT).cookie(&cookie),
            Expect::status(204),
        ),
        (
            "session user after logout",
            Req::get(SESSION_USER).cookie(&cookie),
            Expect::status(401),
        ),
    ])
    .await;
    assert_eq!(h.mock.live_sessions(), 0);
}

#[tokio::test]
async fn a_bearer_token_becomes_a_session_in_its_org_unless_overridden() {
    let h = Harness::new().await;
    let token = h.token("analyst", "analyst-password", Some(1)).await;
    let login = || Req::post(SESSION_LOGIN).bearer(&token);
    // (name, request, status, the session's org where the login succeeds)
    let rows = [
        ("the token's org", login(), 204, Some(1)),
        (
            "org 0 by identifier",
            login().json(json!({"org_identifier": "0"})),
            204,
            Some(0),
        ),
        (
            "not a member of org 2",
            login().json(json!({"org_identifier": "Marketing"})),
            403,
            None,
        ),
    ];
    for (name, req, status, org) in rows {
        let resp = h.request(req).await;
        Expect::status(status).check(name, &resp);
        if let Some(org) = org {
            let user = h.get_with_cookie(SESSION_USER, &resp.cookie_header()).await;
            assert_eq!(user.json()["current_org"]["id"], org, "{name}: org");
        }
    }
    assert_eq!(h.mock.login_attempts_for("analyst"), 4);
}

#[tokio::test]
async fn org_search_finds_orgs_by_id_or_name_and_answers_an_unknown_one_with_nothing() {
    let h = Harness::new().await;
    let token = h.token(DEFAULT_USER, DEFAULT_PASSWORD, None).await;
    let search = |body: serde_json::Value| {
        Req::post("/api/rest/2.0/orgs/search")
            .bearer(&token)
            .json(body)
    };
    let all = h.request(search(json!({}))).await;
    assert_eq!(all.status, 200);
    let names: Vec<_> = all
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(
        names,
        [json!("Primary"), json!("Sales"), json!("Marketing")]
    );
    let sales = h
        .request(search(json!({"org_identifier": "sales"})))
        .await
        .json();
    assert_eq!(
        sales,
        json!([{"id": 1, "name": "Sales", "status": "ACTIVE", "description": null, "visibility": "SHOW"}])
    );
    let by_id = h
        .request(search(json!({"org_identifier": "2"})))
        .await
        .json();
    assert_eq!(by_id[0]["name"], "Marketing");
    let unknown = h
        .request(search(json!({"org_identifier": "Nowhere"})))
        .await;
    assert_eq!((unknown.status.as_u16(), unknown.json()), (200, json!([])));
    h.check([(
        "no credential",
        Req::post("/api/rest/2.0/orgs/search").json(json!({})),
        Expect::status(401).code(10097),
    )])
    .await;
}
