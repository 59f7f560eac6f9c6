//! What the mock records: counters, the request log, the switch that stops logging, and no
//! secret in any of its `Debug` output.

use http::Method;
use serde_json::json;
use thoughtspot_auth::mock::{
    DEFAULT_PASSWORD, DEFAULT_SECRET_KEY, DEFAULT_USER, Fault, FaultKind, MockThoughtSpot,
    MockUser, PresentedCredential,
};

use crate::common::assert_no_secret;
use crate::harness::{BETA_GETTOKEN, Harness, SESSION_USER, TOKEN_FULL, admin_login};

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

    for (path, requests) in [(SESSION_USER, 4), (TOKEN_FULL, 2)] {
        assert_eq!(h.mock.count(path), requests, "requests to {path}");
    }
    assert_eq!(h.mock.logins(), 4);
    for (user, attempts) in [("analyst", 3), (DEFAULT_USER, 1), ("nobody", 0)] {
        assert_eq!(h.mock.login_attempts_for(user), attempts, "{user}");
    }

    let log = h.mock.requests();
    assert_eq!(log.len(), 8);
    let first = &log[0];
    assert_eq!(first.method, Method::POST);
    assert_eq!(first.path, TOKEN_FULL);
    assert_eq!(first.status, 200);
    assert_eq!(first.credential, PresentedCredential::None);
    let host = h.mock.addr().to_string();
    let headers = [
        ("user agent", &first.user_agent, "mock-tests/1.0"),
        ("X-Requested-By", &first.x_requested_by, "ThoughtSpot"),
        ("content type", &first.content_type, "application/json"),
        ("accept", &first.accept, "application/json"),
        ("host", &first.host, host.as_str()),
    ];
    for (name, logged, sent) in headers {
        assert_eq!(logged.as_deref(), Some(sent), "{name}");
    }
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
    let mut secrets = vec![
        token.clone(),
        DEFAULT_PASSWORD.to_owned(),
        DEFAULT_SECRET_KEY.to_owned(),
    ];
    secrets.extend(
        cookie
            .split("; ")
            .map(|part| part.split_once('=').unwrap().1.to_owned()),
    );
    assert_no_secret("the log and the mock's Debug", &debug, &secrets);

    h.mock.clear_log();
    assert!(h.mock.requests().is_empty());
    assert_eq!(h.mock.count(SESSION_USER), 0);
    assert_eq!(h.mock.logins(), 0);
    assert_eq!(h.mock.login_attempts_for("analyst"), 0);
}

#[test]
fn users_and_builders_keep_passwords_and_keys_out_of_debug() {
    let user_debug = format!("{:?}", MockUser::new("u", "hunter2-secret").orgs([1]));
    assert_no_secret("MockUser", &user_debug, &["hunter2-secret".to_owned()]);
    let builder_debug = format!(
        "{:?}",
        MockThoughtSpot::builder()
            .secret_key("very-secret-key")
            .user("x", "pw-x-secret")
    );
    let secrets = ["very-secret-key", "pw-x-secret", DEFAULT_PASSWORD].map(str::to_owned);
    assert_no_secret("MockThoughtSpotBuilder", &builder_debug, &secrets);
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
    assert_eq!(h.post(TOKEN_FULL, admin_login()).await.status, 503);
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
