//! The v2 beta session API (the seeds) and the v1 calls, against MockThoughtSpot over real HTTP.

mod common;

use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;
use thoughtspot_auth::ErrorKind;
use thoughtspot_auth::mock::{self, ExtensionSpelling, Fault, MockThoughtSpot, MockUser};
use thoughtspot_auth::session::SessionCredential;
use thoughtspot_auth::session::{
    AccessLevel, BetaLoginRequest, BetaTokenRequest, SessionLoginRequest,
};

use common::session_for;

const GET_TOKEN: &str = "/tspublic/rest/v2/session/gettoken";

fn admin_token() -> BetaTokenRequest {
    BetaTokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

#[tokio::test]
async fn get_token_with_password_and_secret_key() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session
        .beta()
        .get_token(&admin_token().expiry_secs(120).org_id(1))
        .await
        .unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(120)));
    assert_eq!(login.org, Some(1));
    let info = session
        .beta()
        .session_info(&login.credential)
        .await
        .unwrap();
    assert_eq!(info.user_name.as_deref(), Some(mock::DEFAULT_USER));
    assert_eq!(info.org_id, Some(1));

    let mut view = BetaTokenRequest::secret_key("analyst", mock::DEFAULT_SECRET_KEY);
    view.access_level = Some(AccessLevel::ReportBookView);
    view.ts_object_id = Some("lb-1".into());
    let login = session.beta().get_token(&view).await.unwrap();
    assert_eq!(login.lifetime, Some(Duration::from_secs(300)));
    assert_eq!(login.user.as_deref(), Some("analyst"));
    let request = ts
        .requests()
        .into_iter()
        .rfind(|r| r.path == GET_TOKEN)
        .unwrap();
    assert_eq!(request.x_requested_by.as_deref(), Some("ThoughtSpot"));
}

#[tokio::test]
async fn beta_answers_with_numbers_or_no_expiry_are_read() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    for (body, lifetime) in [
        (
            r#"{"userName":"u","token":"tok-a","tokenCreatedTime":5,"tokenExpiryDuration":45,"tokenType":"Bearer","extra":1}"#,
            45,
        ),
        (
            r#"{"userName":"u","token":"tok-b","tokenExpiryDuration":"46"}"#,
            46,
        ),
        (r#"{"token":"tok-c"}"#, 300),
    ] {
        ts.inject(
            GET_TOKEN,
            Fault::Respond {
                status: 200,
                content_type: "application/json".into(),
                body: Bytes::from(body),
            },
            1,
        );
        let login = session.beta().get_token(&admin_token()).await.unwrap();
        assert_eq!(
            login.lifetime,
            Some(Duration::from_secs(lifetime)),
            "{body}"
        );
    }
    for body in [
        r#"{"token":""}"#,
        r#"{"userName":"u"}"#,
        r#"{"token":"t","tokenExpiryDuration":"-5"}"#,
        r#"{"token":"t","tokenExpiryDuration":"0"}"#,
    ] {
        ts.inject(
            GET_TOKEN,
            Fault::Respond {
                status: 200,
                content_type: "application/json".into(),
                body: Bytes::from(body),
            },
            1,
        );
        let err = session.beta().get_token(&admin_token()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{body}: {err}");
    }
}

/// The spec types `tokenCreatedTime` and `tokenExpiryDuration` as strings without saying of
/// what: the unused `tokenCreatedTime` never fails a login, whatever it holds, and the lifetime
/// reads every numeric spelling; only an unusable lifetime is refused, with the field named.
#[tokio::test]
async fn beta_gettoken_takes_every_spelling_the_spec_allows() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let respond = |body: &str| Fault::Respond {
        status: 200,
        content_type: "application/json".into(),
        body: Bytes::from(body.to_owned()),
    };
    for (body, lifetime) in [
        (
            r#"{"token":"tok-d","tokenCreatedTime":"2026-12-04T17:21:12Z","tokenExpiryDuration":"300"}"#,
            Duration::from_secs(300),
        ),
        (
            r#"{"token":"tok-e","tokenCreatedTime":"Fri, 04 Dec 2026 17:21:12 GMT","tokenExpiryDuration":120}"#,
            Duration::from_secs(120),
        ),
        (
            r#"{"token":"tok-f","tokenCreatedTime":{"odd":true},"tokenExpiryDuration":"90.5"}"#,
            Duration::from_millis(90_500),
        ),
        (
            r#"{"token":"tok-g","tokenCreatedTime":1767225600000.5,"tokenExpiryDuration":59.25}"#,
            Duration::from_millis(59_250),
        ),
    ] {
        ts.inject(GET_TOKEN, respond(body), 1);
        let login = session.beta().get_token(&admin_token()).await;
        assert_eq!(
            login.map(|l| l.lifetime).ok(),
            Some(Some(lifetime)),
            "{body}"
        );
    }
    for body in [
        r#"{"token":"t","tokenExpiryDuration":"in five minutes"}"#,
        r#"{"token":"t","tokenExpiryDuration":"NaN"}"#,
        r#"{"token":"t","tokenExpiryDuration":"-0.5"}"#,
        r#"{"token":"t","tokenExpiryDuration":1e300}"#,
        r#"{"token":"t","tokenExpiryDuration":"inf"}"#,
    ] {
        ts.inject(GET_TOKEN, respond(body), 1);
        let err = session.beta().get_token(&admin_token()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedResponse, "{body}: {err}");
        assert!(
            err.to_string().contains("tokenExpiryDuration"),
            "{body}: {err}"
        );
        assert!(!err.to_string().contains("five"), "{err}");
    }
}

#[tokio::test]
async fn beta_failures_are_500s_with_the_real_status_nested() {
    for spelling in [ExtensionSpelling::Extensions, ExtensionSpelling::Extension] {
        let ts = MockThoughtSpot::builder()
            .beta_error_spelling(spelling)
            .start()
            .await
            .unwrap();
        ts.add_user(MockUser::new("locked-out", "pw").locked());
        let session = session_for(&ts);

        let wrong = session
            .beta()
            .get_token(&BetaTokenRequest::password(mock::DEFAULT_USER, "wrong"))
            .await
            .unwrap_err();
        assert_eq!(
            wrong.kind(),
            ErrorKind::Unauthorized,
            "{spelling:?}: {wrong}"
        );
        let failure = wrong.api_failure().unwrap();
        assert_eq!(failure.status(), 500);
        assert_eq!(failure.upstream_status().map(|s| s.as_u16()), Some(401));
        assert_eq!(failure.code(), Some(10097));

        let locked = session
            .beta()
            .get_token(&BetaTokenRequest::password("locked-out", "pw"))
            .await
            .unwrap_err();
        assert_eq!(locked.kind(), ErrorKind::Forbidden, "{spelling:?}");

        // A genuine server fault is a bare 500: ambiguous, transient.
        ts.inject(
            GET_TOKEN,
            Fault::Status {
                status: 500,
                retry_after: None,
            },
            1,
        );
        let bare = session.beta().get_token(&admin_token()).await.unwrap_err();
        assert_eq!(bare.kind(), ErrorKind::Unavailable);
        assert!(bare.api_failure().unwrap().is_ambiguous_beta_500());

        ts.inject(
            GET_TOKEN,
            Fault::Status {
                status: 429,
                retry_after: Some(3),
            },
            1,
        );
        let limited = session.beta().get_token(&admin_token()).await.unwrap_err();
        assert_eq!(limited.kind(), ErrorKind::RateLimited);
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    }
}

#[tokio::test]
async fn beta_cookie_session_switch_org_and_logout() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session
        .beta()
        .login(&BetaLoginRequest {
            remember_me: Some(true),
            ..BetaLoginRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        })
        .await
        .unwrap();
    assert!(login.credential.session_cookies().is_some());
    assert_eq!(login.user.as_deref(), Some(mock::DEFAULT_USER));
    assert_eq!(login.lifetime, Some(Duration::from_secs(1800)));

    session
        .beta()
        .switch_org(&login.credential, 2)
        .await
        .unwrap();
    let info = session
        .beta()
        .session_info(&login.credential)
        .await
        .unwrap();
    assert_eq!(info.org_id, Some(2));

    let not_member = session
        .beta()
        .switch_org(&login.credential, 99)
        .await
        .unwrap_err();
    assert_ne!(not_member.kind(), ErrorKind::Unauthorized, "{not_member}");

    session.beta().logout(&login.credential).await.unwrap();
    let gone = session
        .beta()
        .session_info(&login.credential)
        .await
        .unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::Unauthorized);
    assert_eq!(
        gone.api_failure()
            .unwrap()
            .upstream_status()
            .map(|s| s.as_u16()),
        Some(401)
    );
}

#[tokio::test]
async fn beta_token_to_cookie_session_and_revoke() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let token = session.beta().get_token(&admin_token()).await.unwrap();
    let cookie = session
        .beta()
        .login_with_token(&token.credential)
        .await
        .unwrap();
    session
        .beta()
        .session_info(&cookie.credential)
        .await
        .unwrap();

    // Org switching is for cookie sessions only.
    let err = session
        .beta()
        .switch_org(&token.credential, 1)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest, "{err}");

    session
        .beta()
        .revoke_token(&token.credential)
        .await
        .unwrap();
    let err = session
        .beta()
        .session_info(&token.credential)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn v1_org_switch_login_and_liveness() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let login = session
        .v2()
        .session_login(
            &SessionLoginRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD).org_id(0),
        )
        .await
        .unwrap();
    session.v1().switch_org(&login.credential, 1).await.unwrap();
    let me = session.v2().session_user(&login.credential).await.unwrap();
    assert_eq!(me.current_org.and_then(|o| o.id), Some(1));
    let switch = ts
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/session/orgs"))
        .unwrap();
    assert_eq!(switch.method, http::Method::PUT);
    assert_eq!(
        switch.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );

    let v1 = session
        .v1()
        .login("analyst", &SecretString::from("analyst-password"), false)
        .await
        .unwrap();
    assert!(session.v1().is_active(&v1.credential).await.unwrap());
    let dead = SessionCredential::bearer("no-such-token").unwrap();
    assert!(!session.v1().is_active(&dead).await.unwrap());
    let wrong = session
        .v1()
        .login("analyst", &SecretString::from("wrong"), false)
        .await
        .unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::Unauthorized);
}
