//! A full session scenario, every result and error formatted with `{:?}` and `{}`, everything
//! logged at TRACE captured: no password, secret key, token or cookie value appears anywhere.

mod common;

use secrecy::ExposeSecret;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, MockUser};
use thoughtspot_auth::session::{
    BetaLoginRequest, BetaTokenRequest, RevokeTokenRequest, SessionLoginRequest, TokenRequest,
};
use thoughtspot_auth::{BaseUrl, Login};

use common::{LogCapture, assert_no_secret, session_for};

fn remember(login: &Login, secrets: &mut Vec<String>) {
    if let Some(token) = login.credential.token() {
        secrets.push(token.expose_secret().to_owned());
    }
    if let Some(cookies) = login.credential.session_cookies() {
        secrets.push(cookies.jsessionid().expose_secret().to_owned());
        secrets.extend(cookies.client_id().map(|c| c.expose_secret().to_owned()));
    }
    secrets.push(login.credential.header_value().to_str().unwrap().to_owned());
}

#[tokio::test]
async fn no_secret_in_any_debug_display_or_log_line() {
    let (logs, _guard) = LogCapture::install();
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.add_user(MockUser::new("locked-out", "locked-out-password").locked());
    let session = session_for(&ts);
    let mut out: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = vec![
        mock::DEFAULT_PASSWORD.into(),
        mock::DEFAULT_SECRET_KEY.into(),
        "analyst-password".into(),
        "locked-out-password".into(),
        "a-wrong-password".into(),
    ];
    let shown = std::cell::RefCell::new(Vec::<String>::new());
    let show =
        |value: &dyn std::fmt::Debug| shown.borrow_mut().push(format!("{value:?} {value:#?}"));

    // Requests themselves.
    let password = TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD).org_id(1);
    let trusted = TokenRequest::secret_key("analyst", mock::DEFAULT_SECRET_KEY);
    let cookie_req = SessionLoginRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD);
    let beta_req = BetaTokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD);
    let beta_login = BetaLoginRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD);
    show(&password);
    show(&trusted);
    show(&cookie_req);
    show(&beta_req);
    show(&beta_login);
    show(&session);
    show(&BaseUrl::parse(&ts.base_url()).unwrap());

    // Every success path.
    let v2 = session.v2();
    let token = v2.token_full(&password).await.unwrap();
    let trusted_token = v2.token_full(&trusted).await.unwrap();
    let object = v2
        .token_object(&password.clone().object_id("lb-1").org_id(0))
        .await;
    let cookie = v2.session_login(&cookie_req).await.unwrap();
    let converted = v2
        .session_login_with_token(&token.credential, Some("2"))
        .await
        .unwrap();
    let session_token = v2.session_token(&cookie.credential).await.unwrap();
    let beta_token = session.beta().get_token(&beta_req).await.unwrap();
    let beta_cookie = session.beta().login(&beta_login).await.unwrap();
    for login in [
        &token,
        &trusted_token,
        &cookie,
        &converted,
        &session_token,
        &beta_token,
        &beta_cookie,
    ] {
        remember(login, &mut secrets);
        show(login);
        show(&login.credential);
        show(&login.credential.header());
    }
    if let Ok(object) = &object {
        remember(object, &mut secrets);
    }
    show(&object);
    show(&v2.session_user(&cookie.credential).await);
    show(
        &v2.token_validate(&token.credential, token.credential.token().unwrap())
            .await,
    );
    show(&session.beta().session_info(&beta_cookie.credential).await);
    show(&session.beta().switch_org(&beta_cookie.credential, 1).await);
    show(&session.v1().switch_org(&cookie.credential, 1).await);
    show(&session.v1().is_active(&cookie.credential).await);
    show(&RevokeTokenRequest {
        token: trusted_token.credential.token().cloned(),
        user_identifier: None,
    });

    // Every failure path, formatted both ways.
    let mut errors = Vec::new();
    errors.push(
        v2.token_full(&TokenRequest::password(
            mock::DEFAULT_USER,
            "a-wrong-password",
        ))
        .await
        .unwrap_err(),
    );
    errors.push(
        v2.token_full(&TokenRequest::password("locked-out", "locked-out-password"))
            .await
            .unwrap_err(),
    );
    errors.push(
        session
            .beta()
            .get_token(&BetaTokenRequest::password(
                mock::DEFAULT_USER,
                "a-wrong-password",
            ))
            .await
            .unwrap_err(),
    );
    for fault in [
        Fault::Status {
            status: 429,
            retry_after: Some(1),
        },
        Fault::MaintenancePage,
        Fault::MalformedJson,
        Fault::DropConnection,
        Fault::HugeBody(2 * 1024 * 1024),
    ] {
        ts.inject("/api/rest/2.0/auth/token/full", fault, 1);
        errors.push(v2.token_full(&password).await.unwrap_err());
    }
    v2.token_revoke(
        &token.credential,
        &RevokeTokenRequest {
            token: trusted_token.credential.token().cloned(),
            user_identifier: None,
        },
    )
    .await
    .unwrap();
    errors.push(
        v2.session_user(&trusted_token.credential)
            .await
            .unwrap_err(),
    );
    errors.push(
        v2.token_validate(&token.credential, trusted_token.credential.token().unwrap())
            .await
            .unwrap_err(),
    );
    v2.session_logout(&cookie.credential).await.unwrap();
    errors.push(v2.session_user(&cookie.credential).await.unwrap_err());
    session
        .beta()
        .logout(&beta_cookie.credential)
        .await
        .unwrap();
    errors.push(
        session
            .beta()
            .session_info(&beta_cookie.credential)
            .await
            .unwrap_err(),
    );
    session
        .beta()
        .revoke_token(&beta_token.credential)
        .await
        .unwrap();
    for error in &errors {
        out.push(format!("{error} | {error:?} | {error:#?}"));
        if let Some(failure) = error.api_failure() {
            out.push(String::from_utf8_lossy(failure.raw_body()).into_owned());
        }
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            out.push(s.to_string());
            source = s.source();
        }
    }
    show(&ts);
    show(&ts.requests());

    assert!(
        secrets.len() >= 15,
        "the scenario collected the secrets it made"
    );
    out.extend(shown.into_inner());
    let everything = out.join("\n");
    assert_no_secret("formatted values and errors", &everything, &secrets);
    assert_no_secret("the TRACE log", &logs.text(), &secrets);
}

/// Every mode of the layer, its failures, org switching, logout and revoke, with a spy under the
/// layer that records each credential value sent: none of them, and no password or key, may
/// appear in any log line or formatted value. The log must still say what happened.
#[tokio::test(start_paused = true)]
async fn the_layer_leaks_nothing_and_logs_what_happened() {
    use std::sync::{Arc, Mutex};
    use thoughtspot_auth::{ApiVersion, ThoughtSpotAuthLayer};
    use tower::{ServiceBuilder, ServiceExt};

    let (logs, _guard) = LogCapture::install();
    let ts = MockThoughtSpot::start().await.unwrap();
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut out = Vec::new();
    let base = ts.base_url();

    let password = || {
        ThoughtSpotAuthLayer::builder(&base).password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
    };
    let configurations = [
        (password().org(1), false),
        (
            ThoughtSpotAuthLayer::builder(&base).secret_key("analyst", mock::DEFAULT_SECRET_KEY),
            false,
        ),
        (password().cookie_session(), false),
        (
            ThoughtSpotAuthLayer::builder(&base)
                .secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
                .cookie_session()
                .org(2),
            false,
        ),
        (password().api(ApiVersion::Beta), true),
        (
            password().api(ApiVersion::Beta).cookie_session().org(1),
            true,
        ),
        (
            ThoughtSpotAuthLayer::builder(&base).password(mock::DEFAULT_USER, "a-wrong-password"),
            false,
        ),
    ];
    let beta_request = |base: &str| {
        http::Request::get(format!("{base}/tspublic/rest/v2/session"))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    };
    for (builder, beta) in configurations {
        let request = || {
            if beta {
                beta_request(&base)
            } else {
                common::search_request(&base)
            }
        };
        out.push(format!("{builder:?}"));
        let layer = builder.build().unwrap();
        let handle = layer.handle();
        let spy = sent.clone();
        let service = ServiceBuilder::new()
            .layer(layer.clone())
            .map_request(
                move |request: http::Request<http_body_util::Full<bytes::Bytes>>| {
                    for name in [http::header::AUTHORIZATION, http::header::COOKIE] {
                        if let Some(value) = request.headers().get(&name) {
                            let value = value.to_str().unwrap().to_owned();
                            // The whole header and each secret part of it.
                            for part in value.split(&[' ', ';', '='][..]).filter(|p| p.len() > 12) {
                                spy.lock().unwrap().push(part.to_owned());
                            }
                            spy.lock().unwrap().push(value);
                        }
                    }
                    request
                },
            )
            .service(common::hyper_client());
        out.push(format!("{layer:?} {service:?} {handle:?}"));
        for _ in 0..2 {
            match service.clone().oneshot(request()).await {
                Ok(response) => out.push(format!("{:?}", response.headers())),
                Err(error) => out.push(format!("{error} {error:?}")),
            }
        }
        ts.revoke_all_tokens();
        ts.end_all_sessions();
        let replayed = service.clone().oneshot(request()).await;
        out.push(format!("{:?}", replayed.map(|r| r.status())));
        out.push(format!("{:?}", handle.switch_org(1).await));
        out.push(format!("{:?}", handle.switch_org(99).await));
        out.push(format!("{:?}", handle.refresh().await));
        out.push(format!("{:?}", handle.logout().await));
        let _ = service.clone().oneshot(request()).await;
        out.push(format!("{:?}", handle.revoke().await));
        out.push(format!("{:?} {:#?}", handle.stats(), handle.stats()));
    }

    let mut secrets: Vec<String> = sent.lock().unwrap().clone();
    assert!(secrets.len() > 20, "the spy saw the credentials sent");
    secrets.extend([
        mock::DEFAULT_PASSWORD.to_owned(),
        mock::DEFAULT_SECRET_KEY.to_owned(),
        "a-wrong-password".to_owned(),
    ]);
    secrets.sort();
    secrets.dedup();
    let text = logs.text();
    assert_no_secret("formatted values", &out.join("\n"), &secrets);
    assert_no_secret("the TRACE log", &text, &secrets);
    assert_no_secret(
        "the mock's request log",
        &format!("{:?}", ts.requests()),
        &secrets,
    );

    // What the log must say: one span per login with org, generation, lifetime and outcome;
    // invalidations with their reason; replays.
    assert!(
        text.contains(
            "thoughtspot.login{org=Some(1) generation=1 lifetime_secs=300.0 outcome=\"ok\"}"
        ),
        "{text}"
    );
    assert!(text.contains("outcome=Unauthorized"));
    assert!(
        text.contains("ThoughtSpot credential invalidated")
            && text.contains("reason=\"rejected (401)\"")
    );
    assert!(text.contains("reason=\"rejected (beta 500, upstream 401)\""));
    assert!(text.contains("replaying a request with a new ThoughtSpot credential"));
}
