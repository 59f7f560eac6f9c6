//! v2.0 bearer tokens: `token/full` and `token/object`, their error classes, what needs a
//! credential, revocation and validation.

use serde_json::json;
use thoughtspot_auth::mock::{DEFAULT_PASSWORD, DEFAULT_SECRET_KEY, DEFAULT_USER};

use crate::harness::{
    Expect, Harness, Req, SEARCH, SESSION_USER, TOKEN_FULL, TOKEN_OBJECT, TOKEN_REVOKE,
    TOKEN_VALIDATE, admin_login, lifetime_ms, now_ms,
};

const ANALYST: &str = "analyst-password";

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
    assert!(resp.content_type_starts_with("application/json"));
    let v = resp.json();
    let token = v["token"].as_str().unwrap();
    assert!(token.len() >= 32);
    let created = v["creation_time_in_millis"].as_i64().unwrap();
    assert_eq!(lifetime_ms(&v), 300_000);
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
    let search = h
        .request(Req::post(SEARCH).bearer(token).json(json!({})))
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
    assert_eq!(lifetime_ms(&again), 86_400_000);

    // Object token.
    let obj = h
        .post(
            TOKEN_OBJECT,
            json!({"username": "analyst", "password": ANALYST, "object_id": "lb-1"}),
        )
        .await;
    assert_eq!(obj.status, 200);
    assert_eq!(
        obj.json()["scope"],
        json!({"access_type": "REPORT_BOOK_VIEW", "org_id": 0, "metadata_id": "lb-1"})
    );
    h.check([(
        "object token without an object",
        Req::post(TOKEN_OBJECT).json(json!({"username": "analyst", "password": ANALYST})),
        Expect::status(400),
    )])
    .await;
}

/// `POST token/full` with this body.
fn login(body: serde_json::Value) -> Req {
    Req::post(TOKEN_FULL).json(body)
}

#[tokio::test]
async fn token_full_error_classes() {
    let h = Harness::new().await;
    let analyst = || login(json!({"username": "analyst", "password": ANALYST}));
    let analyst_key = || login(json!({"username": "analyst", "secret_key": DEFAULT_SECRET_KEY}));
    let newbie = json!({"username": "newbie", "secret_key": DEFAULT_SECRET_KEY});
    h.check([
        (
            "no username",
            login(json!({"password": "x"})),
            Expect::described(400, 10002),
        ),
        (
            "unknown user",
            login(json!({"username": "nobody", "password": "x"})),
            Expect::described(401, 10097),
        ),
        (
            "wrong password",
            login(json!({"username": DEFAULT_USER, "password": "wrong"})),
            Expect::described(401, 10097),
        ),
        (
            "wrong secret key",
            login(json!({"username": DEFAULT_USER, "secret_key": "wrong"})),
            Expect::described(401, 10097),
        ),
        (
            "not a member of org 2",
            login(json!({"username": "analyst", "password": ANALYST, "org_id": 2})),
            Expect::described(403, 10023),
        ),
    ])
    .await;

    h.mock.lock_user("analyst");
    h.check([("locked", analyst(), Expect::described(403, 10023))])
        .await;
    h.mock.unlock_user("analyst");
    h.check([
        ("unlocked", analyst(), Expect::status(200)),
        ("secret key", analyst_key(), Expect::status(200)),
        (
            "password wins over a wrong secret key",
            login(json!({"username": "analyst", "password": ANALYST, "secret_key": "wrong"})),
            Expect::status(200),
        ),
    ])
    .await;
    h.mock.set_trusted_auth(false);
    h.check([(
        "secret key, trusted auth off",
        analyst_key(),
        Expect::described(403, 10023),
    )])
    .await;
    h.mock.set_trusted_auth(true);

    // Auto-create with the secret key.
    h.check([(
        "unknown user, no auto_create",
        login(newbie.clone()),
        Expect::described(401, 10097),
    )])
    .await;
    let mut auto_create = newbie;
    auto_create["auto_create"] = json!(true);
    auto_create["org_id"] = json!(2);
    let created = h.post(TOKEN_FULL, auto_create).await;
    assert_eq!(created.status, 200);
    assert_eq!(created.json()["scope"]["org_id"], 2);

    // Bodies: not JSON → 400; JSON with another content type → 415.
    h.check([
        (
            "not JSON",
            Req::post(TOKEN_FULL).raw("application/json", &b"{username:"[..]),
            Expect::described(400, 10002),
        ),
        (
            "JSON as text/plain",
            Req::post(TOKEN_FULL).raw("text/plain", admin_login().to_string()),
            Expect::status(415),
        ),
    ])
    .await;

    // Password changed at run time.
    h.mock.set_password(DEFAULT_USER, "new-password");
    h.check([("old password", login(admin_login()), Expect::status(401))])
        .await;
    h.token(DEFAULT_USER, "new-password", Some(0)).await;
}

#[tokio::test]
async fn v2_auth_required_and_unknown_paths() {
    let h = Harness::new().await;
    let token = h.admin_token().await;
    const NOWHERE: &str = "/api/rest/2.0/nothing/here";
    h.check([
        (
            "no credential",
            Req::get(SESSION_USER),
            Expect::status(401).code(10097),
        ),
        (
            "unknown token",
            Req::get(SESSION_USER).bearer("not-a-token"),
            Expect::status(401),
        ),
        (
            "unknown path, no credential",
            Req::get(NOWHERE),
            Expect::status(401),
        ),
        (
            "unknown v2.0 path",
            Req::get(NOWHERE).bearer(&token),
            Expect::status(404).strings(&["debug"]),
        ),
        (
            "outside the API",
            Req::get("/somewhere/else").bearer(&token),
            Expect::status(404),
        ),
    ])
    .await;
}

#[tokio::test]
async fn revocation_and_validation() {
    let h = Harness::new().await;
    let t1 = h.admin_token().await;
    let t2 = h.admin_token().await;
    let ta = h.token("analyst", ANALYST, None).await;
    let by_t1 = |path| Req::post(path).bearer(&t1);

    let valid = h
        .request(by_t1(TOKEN_VALIDATE).json(json!({"token": t2})))
        .await;
    assert_eq!(valid.status, 200);
    assert_eq!(valid.json()["token_type"], "BEARER");
    assert_eq!(valid.json()["scope"]["access_type"], "FULL");

    h.check([
        (
            "revoke t2 by value",
            by_t1(TOKEN_REVOKE).json(json!({"token": t2})),
            Expect::status(204),
        ),
        (
            "t2 after its revocation",
            Req::get(SESSION_USER).bearer(&t2),
            Expect::status(401),
        ),
        (
            "validate t2 after its revocation",
            by_t1(TOKEN_VALIDATE).json(json!({"token": t2})),
            Expect::status(400).code(10002),
        ),
        (
            "revoke all of analyst's tokens",
            by_t1(TOKEN_REVOKE).json(json!({"user_identifier": "analyst"})),
            Expect::status(204),
        ),
        (
            "analyst's token after the revocation",
            Req::get(SESSION_USER).bearer(&ta),
            Expect::status(401),
        ),
        (
            "revoke the presented token",
            by_t1(TOKEN_REVOKE),
            Expect::status(204),
        ),
        (
            "t1 after its revocation",
            Req::get(SESSION_USER).bearer(&t1),
            Expect::status(401),
        ),
    ])
    .await;
    assert_eq!(h.mock.live_tokens(), 0);
}

#[tokio::test]
async fn the_mock_revokes_locks_and_ends_sessions() {
    let h = Harness::new().await;
    let a = h.admin_token().await;
    let _b = h.token("analyst", ANALYST, None).await;
    let _c = h.token("analyst", ANALYST, None).await;
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
    let _c2 = h.cookie_login("analyst", ANALYST, Some("1")).await;
    assert_eq!(h.mock.end_all_sessions(), 2);
    assert_eq!(h.get_with_cookie(SESSION_USER, &c1).await.status, 401);
}
