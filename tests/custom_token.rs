//! `auth/token/custom` against MockThoughtSpot over real HTTP: the typed request, the answer,
//! where the rules live for each persist option, each user seeing exactly their rows, and the
//! CORS a browser page needs to check a token.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use thoughtspot_auth::ErrorKind;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, RULES_HEADER};
use thoughtspot_auth::session::SessionCredential;
use thoughtspot_auth::session::{
    CustomTokenRequest, FilterOperator, FilterRule, NamedValues, PersistOption,
};
use tower::ServiceExt;

use common::{hyper_client, session_for};

const CUSTOM: &str = "/api/rest/2.0/auth/token/custom";

fn request(user: &str, persist: PersistOption) -> CustomTokenRequest {
    CustomTokenRequest::secret_key(user, mock::DEFAULT_SECRET_KEY, persist)
}

fn region(values: &[&str]) -> FilterRule {
    FilterRule::new("Region", FilterOperator::In, values.iter().copied())
}

/// `POST searchdata` with `credential`: the rows it saw and the rules header.
async fn rows(ts: &MockThoughtSpot, credential: &SessionCredential) -> (Vec<Value>, Value) {
    let (name, value) = credential.header();
    let request = http::Request::post(format!("{}/api/rest/2.0/searchdata", ts.base_url()))
        .header(name, value)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let response = hyper_client().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let rules: Value =
        serde_json::from_str(response.headers()[RULES_HEADER].to_str().unwrap()).unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    (body["rows"].as_array().unwrap().clone(), rules)
}

fn regions(rows: &[Value]) -> Vec<String> {
    let mut r: Vec<String> = rows
        .iter()
        .map(|row| row["Region"].as_str().unwrap().to_owned())
        .collect();
    r.dedup();
    r
}

#[tokio::test]
async fn the_answer_reads_as_a_login_with_its_lifetime_user_and_org() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let mut req = request(mock::ANALYST_USER, PersistOption::None);
    req.org_identifier = Some("1".into());
    req.validity_time_in_sec = Some(120);
    req.filter_rules.push(region(&["east"]));
    let minted = session.v2().token_custom(&req).await.unwrap();
    assert_eq!(minted.lifetime(), Some(Duration::from_secs(120)));
    assert_eq!(minted.login.org, Some(1));
    assert_eq!(minted.login.user.as_deref(), Some(mock::ANALYST_USER));
    let answer = &minted.access_token;
    assert!(answer.id.is_some());
    assert_eq!(
        answer.user.as_ref().and_then(|u| u.name.as_deref()),
        Some(mock::ANALYST_USER)
    );
    assert_eq!(answer.org.as_ref().and_then(|o| o.id), Some(1));
    let token = answer.token.expose_secret();
    assert!(!format!("{minted:?}").contains(token));
    assert_eq!(
        ts.token_owner(token),
        Some((mock::ANALYST_USER.to_owned(), 1))
    );
    // The rules live in the token only.
    assert_eq!(
        ts.token_attributes(token).unwrap()["filter_rules"],
        json!([{"column_name": "Region", "operator": "IN", "values": ["east"]}])
    );
    assert_eq!(ts.persisted_attributes(mock::ANALYST_USER, 1), None);
    assert_eq!(ts.count(CUSTOM), 1);
}

#[tokio::test]
async fn each_user_sees_exactly_their_rows() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let mut alice = request("alice", PersistOption::None);
    alice.auto_create = true;
    alice.filter_rules.push(region(&["east", "west"]));
    let mut bob = request("bob", PersistOption::None);
    bob.auto_create = true;
    bob.filter_rules.push(region(&["north"]));
    bob.filter_rules
        .push(FilterRule::new("Revenue", FilterOperator::Ge, [310]));
    bob.parameter_values
        .push(NamedValues::new("Currency", ["EUR"]));
    let alice = session.v2().token_custom(&alice).await.unwrap().login;
    let bob = session.v2().token_custom(&bob).await.unwrap().login;

    let (alice_rows, alice_rules) = rows(&ts, &alice.credential).await;
    assert_eq!(regions(&alice_rows), ["east", "west"]);
    assert_eq!(alice_rows.len(), 4);
    assert_eq!(
        alice_rules["filter_rules"][0]["values"],
        json!(["east", "west"])
    );

    let (bob_rows, bob_rules) = rows(&ts, &bob.credential).await;
    assert_eq!(
        bob_rows,
        [json!({"Region": "north", "Product": "gadget", "Revenue": 310})]
    );
    assert_eq!(
        bob_rules["parameter_values"],
        json!([{"name": "Currency", "values": ["EUR"]}])
    );
}

#[tokio::test]
async fn auto_create_is_always_sent_because_the_endpoint_defaults_it_to_true() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    // Left at false, an unknown user is not created (the mock, like a cluster, would create it
    // if the field were left out).
    let err = session
        .v2()
        .token_custom(&request("typo-user", PersistOption::None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let mut create = request("new-user", PersistOption::None);
    create.auto_create = true;
    create.display_name = Some("New User".into());
    session.v2().token_custom(&create).await.unwrap();
}

#[tokio::test]
async fn persisted_rules_are_written_when_the_token_is_minted() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let user = mock::ANALYST_USER;

    let mut replace = request(user, PersistOption::Replace);
    replace.filter_rules.push(region(&["south"]));
    let first = session.v2().token_custom(&replace).await.unwrap().login;
    // Written at mint time: visible before the token is ever used.
    assert_eq!(
        ts.persisted_attributes(user, 0).unwrap()["filter_rules"][0]["values"],
        json!(["south"])
    );
    // REPLACE again is idempotent; APPEND would add a second copy.
    session.v2().token_custom(&replace).await.unwrap();
    assert_eq!(
        ts.persisted_attributes(user, 0).unwrap()["filter_rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mut append = request(user, PersistOption::Append);
    append.filter_rules.push(region(&["south"]));
    session.v2().token_custom(&append).await.unwrap();
    assert_eq!(
        ts.persisted_attributes(user, 0).unwrap()["filter_rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Every credential of the user runs under the record, the first token included.
    let (seen, _) = rows(&ts, &first.credential).await;
    assert_eq!(regions(&seen), ["south"]);

    session
        .v2()
        .token_custom(&request(user, PersistOption::Reset))
        .await
        .unwrap();
    assert_eq!(ts.persisted_attributes(user, 0), None);
    let (seen, _) = rows(&ts, &first.credential).await;
    assert_eq!(seen.len(), mock::sample_rows().len());
}

#[tokio::test]
async fn refusals_and_unusable_answers_are_typed_and_carry_no_secret() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let mut wrong_key =
        CustomTokenRequest::secret_key(mock::ANALYST_USER, "wrong-s3cret-key", PersistOption::None);
    wrong_key.filter_rules.push(region(&["east"]));
    let err = session.v2().token_custom(&wrong_key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!format!("{err} {err:?}").contains("wrong-s3cret-key"));

    ts.lock_user(mock::ANALYST_USER);
    let err = session
        .v2()
        .token_custom(&request(mock::ANALYST_USER, PersistOption::None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    ts.unlock_user(mock::ANALYST_USER);

    let err = session
        .v2()
        .token_custom(&request(
            mock::ANALYST_USER,
            PersistOption::Other("MERGE".into()),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::BadRequest,
        "sent as written, refused by the cluster"
    );

    for (body, what) in [
        (r#"{"id":"x"}"#, "no token"),
        (r#"{"token":""}"#, "an empty token"),
        (
            r#"{"token":"t0k","creation_time_in_millis":5000,"expiration_time_in_millis":4000}"#,
            "expires before it was created",
        ),
        ("<html>maintenance</html>", "not JSON"),
    ] {
        ts.inject(
            CUSTOM,
            Fault::Respond {
                status: 200,
                content_type: if body.starts_with('<') {
                    "text/html"
                } else {
                    "application/json"
                }
                .into(),
                body: Bytes::from(body),
            },
            1,
        );
        let err = session
            .v2()
            .token_custom(&request(mock::ANALYST_USER, PersistOption::None))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::MalformedResponse | ErrorKind::Unavailable
            ),
            "{what}: {err}"
        );
    }

    let err = session
        .v2()
        .token_custom(&CustomTokenRequest {
            username: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn a_fractional_answer_is_read() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    ts.inject(
        CUSTOM,
        Fault::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: Bytes::from_static(
                br#"{"id":1,"token":"tok-frac","org":{"id":"0","name":"Primary"},
                "user":{"id":"g","name":"analyst"},"creation_time_in_millis":1000.4,
                "expiration_time_in_millis":"61000.9"}"#,
            ),
        },
        1,
    );
    let minted = session
        .v2()
        .token_custom(&request(mock::ANALYST_USER, PersistOption::None))
        .await
        .unwrap();
    assert_eq!(minted.lifetime(), Some(Duration::from_secs(60)));
    assert_eq!(minted.login.org, Some(0));
}

#[tokio::test]
async fn isactive_answers_a_browser_page_on_another_origin() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    let token = session
        .v2()
        .token_custom(&request(mock::ANALYST_USER, PersistOption::None))
        .await
        .unwrap()
        .login
        .credential;
    let url = format!("{}/callosum/v1/session/isactive", ts.base_url());
    let origin = "http://127.0.0.1:9";
    let preflight = http::Request::options(&url)
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization,x-requested-by",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = hyper_client().oneshot(preflight).await.unwrap();
    assert!(answer.status().is_success());
    assert_eq!(answer.headers()["access-control-allow-origin"], origin);
    let allowed = answer.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("x-requested-by"));

    for (credential, ok) in [(Some(&token), true), (None, false)] {
        let mut check = http::Request::get(&url)
            .header("origin", origin)
            .header("x-requested-by", "ThoughtSpot");
        if let Some(c) = credential {
            let (name, value) = c.header();
            check = check.header(name, value);
        }
        let answer = hyper_client()
            .oneshot(check.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(answer.status().is_success(), ok);
        assert_eq!(answer.headers()["access-control-allow-origin"], origin);
    }
}

/// As ThoughtSpot 10.14 and later: formula variables are kept on the user's record, so
/// `token/custom` refuses them with `NONE` or `RESET` (400), and mints nothing.
#[tokio::test]
async fn the_mock_refuses_formula_variables_that_are_not_persisted() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let session = session_for(&ts);
    for persist in [PersistOption::None, PersistOption::Reset] {
        let mut request = request(mock::ANALYST_USER, persist.clone());
        request
            .variable_values
            .push(thoughtspot_auth::session::NamedValues::new(
                "region_var",
                ["east"],
            ));
        let error = session.v2().token_custom(&request).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BadRequest, "{persist:?}");
    }
    assert_eq!(ts.live_tokens(), 0);
    let mut request = request(mock::ANALYST_USER, PersistOption::Append);
    request
        .variable_values
        .push(thoughtspot_auth::session::NamedValues::new(
            "region_var",
            ["east"],
        ));
    session.v2().token_custom(&request).await.unwrap();
}
