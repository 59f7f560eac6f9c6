//! A full session scenario, every result and error formatted with `{:?}` and `{}`, everything
//! logged at TRACE captured: no password, secret key, token or cookie value appears anywhere.
//! A credential's whole life (soft and hard refresh, rejection, replay, backoff refusals) is
//! covered the same way in `secret_hygiene_lifecycle.rs`.

mod common;

use secrecy::ExposeSecret;
use thoughtspot_auth::BaseUrl;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, MockUser};
use thoughtspot_auth::session::{
    BetaLoginRequest, BetaTokenRequest, Login, RevokeTokenRequest, SessionLoginRequest,
    TokenRequest,
};

use common::spy::Spy;
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

type Body = http_body_util::Full<bytes::Bytes>;

/// One front door, as the scenario drives it: redirects followed outside the layer (tower-http's
/// `FollowRedirectLayer` above the tower layer; reqwest's own redirect handling below the
/// middleware), a spy under the layer.
type Answer = (http::StatusCode, http::HeaderMap);

#[derive(Clone)]
enum Stack {
    Tower(tower::util::BoxCloneService<http::Request<Body>, Answer, tower::BoxError>),
    Reqwest(reqwest_middleware::ClientWithMiddleware),
}

impl Stack {
    fn build(
        front: common::front::Front,
        builder: thoughtspot_auth::AuthBuilder,
        spy: &Spy,
        out: &mut Vec<String>,
    ) -> (Self, thoughtspot_auth::AuthHandle) {
        use common::front::Front;
        out.push(format!("{builder:?}"));
        match front {
            Front::Tower => {
                let layer = builder.build().unwrap();
                let handle = layer.handle();
                let spy = spy.clone();
                let stack = tower::ServiceBuilder::new()
                    .map_response(|r: http::Response<_>| (r.status(), r.headers().clone()))
                    .layer(tower_http::follow_redirect::FollowRedirectLayer::new())
                    .layer(layer.clone())
                    .map_request(move |request: http::Request<Body>| {
                        spy.note(request.headers());
                        request
                    })
                    .service(common::hyper_client());
                out.push(format!("{layer:?} {handle:?}"));
                let service = tower::util::BoxCloneService::new(stack);
                (Self::Tower(service), handle)
            }
            Front::Reqwest => {
                let plain = reqwest::Client::new();
                let auth = builder.build_middleware(plain.clone()).unwrap();
                let handle = auth.handle();
                out.push(format!("{auth:?} {handle:?}"));
                let client = reqwest_middleware::ClientBuilder::new(plain)
                    .with(auth)
                    .with(spy.clone())
                    .build();
                (Self::Reqwest(client), handle)
            }
        }
    }

    /// Sends a request to `url` (in `org` if given); the outcome, formatted every way.
    async fn send(&self, url: &str, org: Option<i64>) -> String {
        use tower::ServiceExt;
        match self {
            Self::Tower(service) => {
                let mut request = http::Request::get(url)
                    .header("content-type", "application/json")
                    .body(Body::default())
                    .unwrap();
                if let Some(org) = org {
                    request
                        .extensions_mut()
                        .insert(thoughtspot_auth::OrgOverride::new(org));
                }
                match service.clone().oneshot(request).await {
                    Ok((status, headers)) => format!("{status} {headers:?}"),
                    Err(error) => {
                        let typed = error.downcast_ref::<thoughtspot_auth::Error>();
                        format!("{error} {error:?} {typed:?} {:?}", typed.map(|e| e.kind()))
                    }
                }
            }
            Self::Reqwest(client) => {
                let mut request = client.get(url).header("content-type", "application/json");
                if let Some(org) = org {
                    request = request.with_extension(thoughtspot_auth::OrgOverride::new(org));
                }
                match request.send().await {
                    Ok(response) => format!(
                        "{} {:?} {response:?}",
                        response.status(),
                        response.headers()
                    ),
                    Err(error) => format!("{error} {error:?}"),
                }
            }
        }
    }
}

/// ONE scenario over every feature: both front doors; every mode (v2.0 password and secret-key
/// tokens, cookie sessions from a password and from the key, beta tokens and cookie sessions, a
/// static token, a wrong password); login failures; redirects to another origin and within
/// ThoughtSpot; revocation and replay; org switches and per-request orgs; refresh; logout;
/// revoke — with everything logged at TRACE captured and every public value formatted. No
/// password, secret key, token or cookie value may appear anywhere, and the other origin's mock
/// must have seen no credential at all.
#[tokio::test(start_paused = true)]
async fn one_scenario_every_feature_both_front_doors_no_secret_anywhere() {
    use thoughtspot_auth::mock::{Fault, PresentedCredential};
    use thoughtspot_auth::{ApiVersion, ThoughtSpotAuthLayer};

    let (logs, _guard) = LogCapture::install();
    let ts = MockThoughtSpot::start().await.unwrap();
    let elsewhere = MockThoughtSpot::start().await.unwrap();
    let spy = Spy::default();
    let mut out: Vec<String> = Vec::new();
    let base = ts.base_url();
    let session = common::session_for(&ts);
    let static_token = session
        .v2()
        .token_full(&TokenRequest::password(
            mock::DEFAULT_USER,
            mock::DEFAULT_PASSWORD,
        ))
        .await
        .unwrap();
    let static_value = static_token
        .credential
        .token()
        .unwrap()
        .expose_secret()
        .to_owned();

    let password = || {
        ThoughtSpotAuthLayer::builder(&base).password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
    };
    let secret_key = || {
        ThoughtSpotAuthLayer::builder(&base)
            .secret_key(mock::DEFAULT_USER, mock::DEFAULT_SECRET_KEY)
    };
    let mut other_origin_requests = 0;
    for front in common::front::FRONTS {
        let modes: Vec<(&str, thoughtspot_auth::AuthBuilder, bool)> = vec![
            ("v2.0 password token", password().org(1), false),
            ("v2.0 secret-key token", secret_key().org(2), false),
            ("v2.0 password cookie", password().cookie_session(), false),
            (
                "v2.0 secret-key cookie",
                secret_key().cookie_session().org(1),
                false,
            ),
            ("beta token", password().api(ApiVersion::Beta).org(1), true),
            (
                "beta cookie",
                password().api(ApiVersion::Beta).cookie_session().org(2),
                true,
            ),
            (
                "static token",
                ThoughtSpotAuthLayer::builder(&base).token(static_value.clone()),
                false,
            ),
            (
                "wrong password",
                ThoughtSpotAuthLayer::builder(&base)
                    .password(mock::DEFAULT_USER, "a-wrong-password"),
                false,
            ),
        ];
        for (name, builder, beta) in modes {
            out.push(format!("{front:?} {name}"));
            let (stack, handle) = Stack::build(front, builder, &spy, &mut out);
            let path = if beta {
                "/tspublic/rest/v2/session"
            } else {
                "/api/rest/2.0/metadata/search"
            };
            let url = format!("{base}{path}");
            for _ in 0..2 {
                out.push(stack.send(&url, None).await);
            }
            // ThoughtSpot redirects to another origin, then within itself (a mode that cannot log
            // in never gets that far).
            if name != "wrong password" {
                ts.inject(
                    path,
                    Fault::Redirect {
                        location: format!(
                            "{}/api/rest/2.0/auth/session/user",
                            elsewhere.base_url()
                        ),
                    },
                    1,
                );
                out.push(stack.send(&url, None).await);
                other_origin_requests += 1;
                ts.inject(
                    path,
                    Fault::Redirect {
                        location: format!("{base}/api/rest/2.0/auth/session/user"),
                    },
                    1,
                );
                out.push(stack.send(&url, None).await);
            }
            // Revoked behind the layer's back: caught and replayed.
            ts.revoke_all_tokens();
            ts.end_all_sessions();
            out.push(stack.send(&url, None).await);
            out.push(stack.send(&url, Some(0)).await);
            // Login failures of every class.
            for fault in [
                Fault::MalformedJson,
                Fault::MaintenancePage,
                Fault::Status {
                    status: 429,
                    retry_after: Some(1),
                },
                Fault::DropConnection,
            ] {
                let login = if beta {
                    "/tspublic/rest/v2/session/gettoken"
                } else {
                    "/api/rest/2.0/auth/token/full"
                };
                ts.inject(login, fault.clone(), 1);
                out.push(format!(
                    "{fault:?} {} {:?}",
                    fault.kind(),
                    handle.refresh().await
                ));
            }
            tokio::time::advance(std::time::Duration::from_secs(120)).await;
            out.push(format!("{:?}", handle.switch_org(1).await));
            out.push(format!(
                "{:?}",
                handle
                    .switch_org(99)
                    .await
                    .map_err(|e| format!("{e} {e:?}"))
            ));
            out.push(format!(
                "{:?} {:?}",
                handle.current_org(),
                handle.credential_kind()
            ));
            out.push(stack.send(&url, Some(2)).await);
            out.push(format!(
                "{:?}",
                handle.refresh().await.map_err(|e| format!("{e} {e:?}"))
            ));
            out.push(format!(
                "{:?}",
                handle.logout().await.map_err(|e| format!("{e} {e:?}"))
            ));
            out.push(stack.send(&url, None).await);
            out.push(format!(
                "{:?}",
                handle.revoke().await.map_err(|e| format!("{e} {e:?}"))
            ));
            out.push(format!("{:?} {:#?}", handle.stats(), handle.stats()));
            handle.invalidate();
        }
    }
    out.push(format!(
        "{ts:?} {elsewhere:?} {:?} {:?}",
        ts.requests(),
        elsewhere.requests()
    ));

    // Credentials went to ThoughtSpot only: the other origin saw every redirected request, bare.
    let foreign = elsewhere.requests();
    assert_eq!(
        foreign.len(),
        other_origin_requests,
        "every redirect to the other origin was followed"
    );
    assert!(
        foreign
            .iter()
            .all(|r| r.credential == PresentedCredential::None),
        "{foreign:?}"
    );
    assert_eq!(elsewhere.logins(), 0);
    let host = ts.addr().to_string();
    assert!(
        ts.requests()
            .iter()
            .all(|r| r.host.as_deref() == Some(host.as_str()))
    );

    let mut secrets = spy.seen();
    assert!(
        secrets.len() > 100,
        "the spies saw the credentials sent: {}",
        secrets.len()
    );
    secrets.extend([
        mock::DEFAULT_PASSWORD.to_owned(),
        mock::DEFAULT_SECRET_KEY.to_owned(),
        "a-wrong-password".to_owned(),
        static_value,
    ]);
    secrets.sort();
    secrets.dedup();
    let text = logs.text();
    assert!(
        text.contains("thoughtspot.login") && text.contains("TRACE"),
        "the TRACE log was captured"
    );
    assert_no_secret("formatted values and errors", &out.join("\n"), &secrets);
    assert_no_secret("the TRACE log", &text, &secrets);
}
