//! The mock as a server: where it listens, the users and orgs it is built with, and when it stops.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::json;
use thoughtspot_auth::mock::{Fault, MockThoughtSpot, MockUser};

use crate::harness::{Expect, Harness, Req, SESSION_USER, TOKEN_FULL, admin_login, lifetime_ms};

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
    assert!(resp.content_type_starts_with("text/html"));
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
    let login = |body| Req::post(TOKEN_FULL).json(body);
    let fin_by_key = || login(json!({"username": "fin", "secret_key": "custom-key"}));
    h.check([(
        "a default user, cleared",
        login(admin_login()),
        Expect::status(401),
    )])
    .await;
    let v = h
        .post(TOKEN_FULL, json!({"username": "fin", "password": "fin-pw"}))
        .await
        .json();
    assert_eq!(v["scope"]["org_id"], 5);
    assert_eq!(lifetime_ms(&v), 60_000);
    h.check([
        (
            "a user built locked",
            login(json!({"username": "gone", "password": "gone-pw"})),
            Expect::status(403),
        ),
        (
            "secret key, trusted auth built off",
            fin_by_key(),
            Expect::status(403),
        ),
    ])
    .await;
    h.mock.set_trusted_auth(true);
    h.check([(
        "the built secret key, trusted auth on",
        fin_by_key(),
        Expect::status(200),
    )])
    .await;
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
