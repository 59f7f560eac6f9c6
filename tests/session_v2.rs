//! The v2.0 session API against MockThoughtSpot over real HTTP: every operation, success and
//! failure, and every way an answer can be broken.

mod common;

use std::time::Duration;

use bytes::Bytes;
use secrecy::ExposeSecret;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, MockUser, PresentedCredential};
use thoughtspot_auth::session::{RevokeTokenRequest, SessionLoginRequest, TokenRequest};
use thoughtspot_auth::transport::TransportErrorKind;
use thoughtspot_auth::{BaseUrl, Error, ErrorKind};

use common::session_for;

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

fn admin() -> TokenRequest {
    TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

#[tokio::test]
async fn token_full_with_password_gives_a_working_token() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session.v2().token_full(&admin().org_id(1)).await.unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(300)));
    assert_eq!(login.org, Some(1));
    assert_eq!(login.user.as_deref(), Some(mock::DEFAULT_USER));
    assert!(login.credential.is_bearer());

    let me = session.v2().session_user(&login.credential).await.unwrap();
    assert_eq!(me.name.as_deref(), Some(mock::DEFAULT_USER));
    assert_eq!(me.current_org.as_ref().and_then(|o| o.id), Some(1));
    assert_eq!(me.orgs.len(), 3);

    let log = ts.requests();
    let mint = log.iter().find(|r| r.path == TOKEN_FULL).unwrap();
    assert_eq!(mint.method, http::Method::POST);
    assert_eq!(mint.accept.as_deref(), Some("application/json"));
    assert_eq!(mint.content_type.as_deref(), Some("application/json"));
    assert_eq!(mint.x_requested_by.as_deref(), Some("ThoughtSpot"));
    assert_eq!(
        mint.user_agent.as_deref(),
        Some(concat!("thoughtspot-auth/", env!("CARGO_PKG_VERSION")))
    );
    let user_call = log
        .iter()
        .find(|r| r.path.ends_with("/session/user"))
        .unwrap();
    assert!(matches!(
        &user_call.credential,
        PresentedCredential::Token {
            valid: true,
            org: 1,
            ..
        }
    ));
    assert_eq!(user_call.content_type, None, "no body, no content type");
}

#[tokio::test]
async fn token_full_with_secret_key_validity_and_auto_create() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session
        .v2()
        .token_full(
            &TokenRequest::secret_key("analyst", mock::DEFAULT_SECRET_KEY).validity_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(60)));
    assert_eq!(login.user.as_deref(), Some("analyst"));

    let mut jit = TokenRequest::secret_key("newcomer", mock::DEFAULT_SECRET_KEY).org_id(1);
    jit.auto_create = Some(true);
    jit.email = Some("newcomer@example.com".into());
    jit.display_name = Some("New Comer".into());
    let login = session.v2().token_full(&jit).await.unwrap();
    let token = login.credential.token().unwrap().expose_secret().to_owned();
    assert_eq!(ts.token_owner(&token), Some(("newcomer".to_owned(), 1)));
}

#[tokio::test]
async fn validity_is_capped_by_the_server_and_read_from_its_answer() {
    let ts = MockThoughtSpot::builder()
        .max_token_validity(Duration::from_secs(120))
        .start()
        .await
        .unwrap();
    let login = session_for(&ts)
        .v2()
        .token_full(&admin().validity_secs(3600))
        .await
        .unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn a_server_clock_hours_off_changes_no_lifetime() {
    for ahead in [true, false] {
        let ts = MockThoughtSpot::builder()
            .clock_offset(Duration::from_secs(3600), ahead)
            .start()
            .await
            .unwrap();
        let login = session_for(&ts).v2().token_full(&admin()).await.unwrap();
        assert_eq!(
            login.lifetime,
            Some(Duration::from_secs(300)),
            "ahead={ahead}"
        );
    }
}

#[tokio::test]
async fn login_failures_are_classified() {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.add_user(MockUser::new("locked-out", "pw").locked());
    let session = session_for(&ts);

    let wrong = session
        .v2()
        .token_full(&TokenRequest::password(
            mock::DEFAULT_USER,
            "wrong-password",
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Unauthorized);
    assert!(wrong.is_permanent());
    let failure = wrong.api_failure().unwrap();
    assert_eq!(failure.status(), 401);
    assert_eq!(failure.code(), Some(10097));
    assert!(failure.incident_id().is_some());

    let locked = session
        .v2()
        .token_full(&TokenRequest::password("locked-out", "pw"))
        .await
        .unwrap_err();
    assert_eq!(locked.kind(), ErrorKind::Forbidden);
    assert_eq!(locked.api_failure().unwrap().code(), Some(10023));

    let not_member = session
        .v2()
        .token_full(&TokenRequest::password("analyst", "analyst-password").org_id(2))
        .await
        .unwrap_err();
    assert_eq!(not_member.kind(), ErrorKind::Forbidden);

    ts.set_trusted_auth(false);
    let no_trusted = session
        .v2()
        .token_full(&TokenRequest::secret_key(
            "analyst",
            mock::DEFAULT_SECRET_KEY,
        ))
        .await
        .unwrap_err();
    assert_eq!(no_trusted.kind(), ErrorKind::Forbidden);

    let missing = session
        .v2()
        .token_full(&TokenRequest::password("", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        missing.kind(),
        ErrorKind::Config,
        "caught before anything is sent"
    );
    assert_eq!(ts.login_attempts_for(""), 0);
}

#[tokio::test]
async fn token_object_scopes_to_one_object() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session
        .v2()
        .token_object(&admin().object_id("lb-guid-1"))
        .await
        .unwrap();
    let validation = session
        .v2()
        .token_validate(&login.credential, login.credential.token().unwrap())
        .await
        .unwrap();
    let scope = validation.scope.unwrap();
    assert_eq!(scope.access_type.as_deref(), Some("REPORT_BOOK_VIEW"));
    assert_eq!(scope.metadata_id.as_deref(), Some("lb-guid-1"));
    assert_eq!(validation.token_type.as_deref(), Some("BEARER"));
    assert_eq!(
        session
            .v2()
            .token_object(&admin())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
}

#[tokio::test]
async fn cookie_session_login_user_and_logout() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session
        .v2()
        .session_login(
            &SessionLoginRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD).org_id(2),
        )
        .await
        .unwrap();
    assert!(!login.credential.is_bearer());
    assert!(
        login
            .credential
            .session_cookies()
            .unwrap()
            .client_id()
            .is_some()
    );
    assert_eq!(
        login.lifetime, None,
        "v2.0 says nothing of a session's lifetime"
    );
    assert_eq!(login.org, Some(2));

    let me = session.v2().session_user(&login.credential).await.unwrap();
    assert_eq!(me.current_org.and_then(|o| o.id), Some(2));
    assert!(matches!(
        ts.requests().last().unwrap().credential,
        PresentedCredential::Session {
            valid: true,
            client_id_sent: true,
            org: 2,
            ..
        }
    ));
    assert_eq!(ts.live_sessions(), 1);

    session
        .v2()
        .session_logout(&login.credential)
        .await
        .unwrap();
    assert_eq!(ts.live_sessions(), 0);
    let after = session
        .v2()
        .session_user(&login.credential)
        .await
        .unwrap_err();
    assert_eq!(after.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn a_token_becomes_a_cookie_session_in_another_org() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let token = session.v2().token_full(&admin().org_id(0)).await.unwrap();
    let cookie = session
        .v2()
        .session_login_with_token(&token.credential, Some("1"))
        .await
        .unwrap();
    let me = session.v2().session_user(&cookie.credential).await.unwrap();
    assert_eq!(me.current_org.and_then(|o| o.id), Some(1));
}

#[tokio::test]
async fn revoke_validate_and_session_token() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let first = session.v2().token_full(&admin()).await.unwrap();
    let second = session.v2().session_token(&first.credential).await.unwrap();
    assert_eq!(second.lifetime, Some(Duration::from_secs(24 * 3600)));
    session.v2().session_user(&second.credential).await.unwrap();

    // Revoke the first with the second, by value.
    let request = RevokeTokenRequest {
        token: first.credential.token().cloned(),
        ..RevokeTokenRequest::default()
    };
    session
        .v2()
        .token_revoke(&second.credential, &request)
        .await
        .unwrap();
    let rejected = session
        .v2()
        .session_user(&first.credential)
        .await
        .unwrap_err();
    assert_eq!(rejected.kind(), ErrorKind::Unauthorized);
    let invalid = session
        .v2()
        .token_validate(&second.credential, first.credential.token().unwrap())
        .await
        .unwrap_err();
    assert_eq!(invalid.kind(), ErrorKind::BadRequest);
    assert_eq!(invalid.api_failure().unwrap().code(), Some(10002));

    // With an empty request the presented token revokes itself.
    session
        .v2()
        .token_revoke(&second.credential, &RevokeTokenRequest::default())
        .await
        .unwrap();
    assert_eq!(ts.live_tokens(), 0);
}

#[tokio::test(start_paused = true)]
async fn tokens_expire_by_the_servers_clock() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session
        .v2()
        .token_full(&admin().validity_secs(60))
        .await
        .unwrap();
    session.v2().session_user(&login.credential).await.unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    let expired = session
        .v2()
        .session_user(&login.credential)
        .await
        .unwrap_err();
    assert_eq!(expired.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn transient_failures_are_classified_with_retry_after() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let cases = [
        (
            Fault::Status {
                status: 429,
                retry_after: Some(7),
            },
            ErrorKind::RateLimited,
        ),
        (
            Fault::Status {
                status: 503,
                retry_after: None,
            },
            ErrorKind::Unavailable,
        ),
        (
            Fault::Status {
                status: 500,
                retry_after: None,
            },
            ErrorKind::Unavailable,
        ),
        (Fault::MaintenancePage, ErrorKind::Unavailable),
    ];
    for (fault, kind) in cases {
        ts.inject(TOKEN_FULL, fault, 1);
        let err = session.v2().token_full(&admin()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        assert!(!err.is_permanent(), "{err}");
        if kind == ErrorKind::RateLimited {
            assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        }
    }
    // The faults were used up: the next login works.
    session.v2().token_full(&admin()).await.unwrap();
}

#[tokio::test]
async fn broken_answers_are_typed_errors() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);

    ts.inject(TOKEN_FULL, Fault::MalformedJson, 1);
    let err = session.v2().token_full(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{err}");

    ts.inject(TOKEN_FULL, Fault::HugeBody(20 * 1024 * 1024), 1);
    let err = session.v2().token_full(&admin()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind() == TransportErrorKind::TooLarge { limit: 1024 * 1024 }),
        "{err}"
    );

    ts.inject(TOKEN_FULL, Fault::DropConnection, 1);
    let err = session.v2().token_full(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");

    ts.inject(TOKEN_FULL, Fault::CloseMidBody, 1);
    let err = session.v2().token_full(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");

    session.v2().token_full(&admin()).await.unwrap();
}

/// The spec types the `*_time_in_millis` as `number`: fractions are taken, and times that are
/// no time at all (negative, not finite, beyond 2^53 ms) are refused with a typed error naming
/// the field.
#[tokio::test]
async fn token_times_are_numbers_with_fractions() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    ts.inject(
        TOKEN_FULL,
        respond(
            r#"{"token":"tok-frac","creation_time_in_millis":1767225600000.25,"expiration_time_in_millis":1767225660000.75}"#,
        ),
        1,
    );
    let login = session.v2().token_full(&admin()).await.unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_micros(60_000_500)));

    ts.inject(
        TOKEN_FULL,
        respond(r#"{"token":"tok-frac-s","creation_time_in_millis":"1000.5","expiration_time_in_millis":"61000.5"}"#),
        1,
    );
    let login = session.v2().token_full(&admin()).await.unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(60)));

    for (body, field) in [
        (
            r#"{"token":"t","creation_time_in_millis":-1000,"expiration_time_in_millis":299000}"#,
            "creation_time_in_millis",
        ),
        (
            r#"{"token":"t","creation_time_in_millis":"NaN","expiration_time_in_millis":1000}"#,
            "creation_time_in_millis",
        ),
        (
            r#"{"token":"t","creation_time_in_millis":1000,"expiration_time_in_millis":"inf"}"#,
            "expiration_time_in_millis",
        ),
        (
            r#"{"token":"t","creation_time_in_millis":1e300,"expiration_time_in_millis":1e300}"#,
            "creation_time_in_millis",
        ),
    ] {
        ts.inject(TOKEN_FULL, respond(body), 1);
        let err = session.v2().token_full(&admin()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{body}: {err}");
        assert!(err.to_string().contains(field), "{body}: {err}");
    }
}

fn respond(body: &str) -> Fault {
    Fault::Respond {
        status: 200,
        content_type: "application/json".into(),
        body: Bytes::from(body.to_owned()),
    }
}

#[tokio::test]
async fn token_answers_are_read_leniently_and_checked_for_sense() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);

    // Strings for numbers, unknown fields, no scope: fine.
    ts.inject(
        TOKEN_FULL,
        respond(r#"{"token":"tok-lenient","creation_time_in_millis":"1000","expiration_time_in_millis":"61000","future":{"x":1}}"#),
        1,
    );
    let login = session.v2().token_full(&admin().org_id(2)).await.unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(60)));
    assert_eq!(
        login.org,
        Some(2),
        "the org asked for when the answer has no scope"
    );

    // No times at all: the validity asked for.
    ts.inject(TOKEN_FULL, respond(r#"{"token":"tok-no-times"}"#), 1);
    let login = session
        .v2()
        .token_full(&admin().validity_secs(90))
        .await
        .unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(90)));

    let broken = [
        (
            r#"{"creation_time_in_millis":1,"expiration_time_in_millis":2}"#,
            "lacks the field `token`",
        ),
        (r#"{"token":12345}"#, "wrong type"),
        (r#"{"token":""}"#, "empty"),
        (
            r#"{"token":"t","creation_time_in_millis":5000,"expiration_time_in_millis":1000}"#,
            "expires before",
        ),
        (
            r#"{"token":"t","creation_time_in_millis":5000,"expiration_time_in_millis":5000}"#,
            "expires before",
        ),
        (
            r#"{"token":"t","creation_time_in_millis":0,"expiration_time_in_millis":9000000000000000}"#,
            "implausibly long",
        ),
        (r#"[]"#, "wrong type"),
        (r#""#, "empty body"),
    ];
    for (body, reason) in broken {
        ts.inject(TOKEN_FULL, respond(body), 1);
        let err = session.v2().token_full(&admin()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{body}: {err}");
        assert!(err.to_string().contains(reason), "{body}: {err}");
    }

    // Plain text or HTML with 200 is a maintenance or proxy page: unavailable, not success.
    for (content_type, body) in [
        ("text/plain", "Service is restarting"),
        ("text/html", "<html>maintenance</html>"),
    ] {
        ts.inject(
            TOKEN_FULL,
            Fault::Respond {
                status: 200,
                content_type: content_type.into(),
                body: Bytes::from(body),
            },
            1,
        );
        let err = session.v2().token_full(&admin()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{body}: {err}");
    }

    // JSON with the wrong content type is still JSON.
    ts.inject(
        TOKEN_FULL,
        Fault::Respond {
            status: 200,
            content_type: "text/plain".into(),
            body: Bytes::from(r#"{"token":"tok-ct"}"#),
        },
        1,
    );
    session.v2().token_full(&admin()).await.unwrap();
}

#[tokio::test]
async fn error_bodies_in_the_wild_shape_are_read() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    ts.inject(
        TOKEN_FULL,
        Fault::Respond {
            status: 403,
            content_type: "application/json".into(),
            body: Bytes::from(r#"{"error":{"message":{"debug":{"code":10023,"debug":"[\"User account is locked\"]"}},"unknown":true}}"#),
        },
        1,
    );
    let err = session.v2().token_full(&admin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.api_failure().unwrap().code(), Some(10023));
    assert!(err.to_string().contains("locked"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_call_that_takes_too_long_times_out() {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(60)), 1);
    let session = session_for(&ts).timeout(Duration::from_secs(5));
    let err = session.v2().token_full(&admin()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind() == TransportErrorKind::Timeout),
        "{err}"
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_and_trailing_slash_works() {
    let ts = MockThoughtSpot::builder()
        .path_prefix("/ts")
        .start()
        .await
        .unwrap();
    assert!(ts.base_url().ends_with("/ts"));
    let base = BaseUrl::parse(&format!("{}/", ts.base_url())).unwrap();
    let session = thoughtspot_auth::session::Session::new(
        base,
        thoughtspot_auth::transport::ServiceTransport::new(common::hyper_client()),
    );
    let login = session.v2().token_full(&admin()).await.unwrap();
    session.v2().session_user(&login.credential).await.unwrap();
    assert_eq!(ts.count(TOKEN_FULL), 1);
}

#[tokio::test]
async fn reqwest_client_is_a_transport() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = thoughtspot_auth::session::Session::new(
        BaseUrl::parse(&ts.base_url()).unwrap(),
        reqwest::Client::new(),
    );
    let login = session.v2().token_full(&admin().org_id(1)).await.unwrap();
    let me = session.v2().session_user(&login.credential).await.unwrap();
    assert_eq!(me.current_org.and_then(|o| o.id), Some(1));
    let log = ts.requests();
    assert_eq!(log[0].x_requested_by.as_deref(), Some("ThoughtSpot"));

    ts.inject(TOKEN_FULL, Fault::HugeBody(5 * 1024 * 1024), 1);
    let err = session.v2().token_full(&admin()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if matches!(t.kind(), TransportErrorKind::TooLarge { .. })),
        "{err}"
    );
    let err = session
        .v2()
        .token_full(&TokenRequest::password(mock::DEFAULT_USER, "nope"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}
