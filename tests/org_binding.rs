//! Credentials are made for the org they serve: beta bearer tokens are minted with the configured
//! org (the mock says whose and where each token is), and a cookie login on a cluster whose v2.0
//! login refuses `org_identifier` moves its session with the v1 org switch. On tokio's paused
//! clock.

mod common;

use std::sync::{Arc, Mutex};

use thoughtspot_auth::mock::{self, MockThoughtSpot, PresentedCredential};
use thoughtspot_auth::{ApiVersion, ThoughtSpotAuthLayer};
use tower::ServiceExt;

use common::front::{Call, Client, FRONTS};

const SESSION_LOGIN: &str = "/api/rest/2.0/auth/session/login";
const V1_SWITCH_ORG: &str = "/callosum/v1/tspublic/v1/session/orgs";
const SEARCH: &str = "/api/rest/2.0/metadata/search";

fn builder(ts: &MockThoughtSpot) -> thoughtspot_auth::AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

/// The bearer tokens a beta layer set to org 1 presents were minted for org 1 (then org 2 after
/// a switch, and org 0 for a request that asks for it), as the mock's record of each token says.
#[tokio::test(start_paused = true)]
async fn beta_bearer_tokens_are_minted_for_the_configured_org() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).api(ApiVersion::Beta).org(1).build().unwrap();
    let handle = layer.handle();
    let presented: Arc<Mutex<Vec<String>>> = Arc::default();
    let spy = presented.clone();
    let service = tower::ServiceBuilder::new()
        .layer(layer)
        .map_request(move |request: http::Request<_>| {
            let bearer = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned);
            spy.lock().unwrap().extend(bearer);
            request
        })
        .service(common::hyper_client());
    let send = |org: Option<i64>| {
        let mut request = http::Request::get(format!("{}/tspublic/rest/v2/session", ts.base_url()))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        if let Some(org) = org {
            request
                .extensions_mut()
                .insert(thoughtspot_auth::OrgOverride::new(org));
        }
        service.clone().oneshot(request)
    };
    let owner = |index: usize| {
        let token = presented.lock().unwrap()[index].clone();
        ts.token_owner(&token).expect("a token the mock minted")
    };

    assert_eq!(send(None).await.unwrap().status(), 200);
    assert_eq!(owner(0), (mock::DEFAULT_USER.to_owned(), 1));
    handle.switch_org(2).await.unwrap();
    assert_eq!(send(None).await.unwrap().status(), 200);
    assert_eq!(owner(1), (mock::DEFAULT_USER.to_owned(), 2));
    assert_eq!(send(Some(0)).await.unwrap().status(), 200);
    assert_eq!(owner(2), (mock::DEFAULT_USER.to_owned(), 0));
    assert_eq!(presented.lock().unwrap().len(), 3);
}

/// On a cluster whose v2.0 session login refuses `org_identifier` (a 400), a cookie login logs
/// in without it and moves the session with the v1 org switch: for the configured org, and again
/// for an org switched to. Through both front doors.
#[tokio::test(start_paused = true)]
async fn a_cookie_login_falls_back_to_the_v1_org_switch() {
    for front in FRONTS {
        let ts = MockThoughtSpot::builder()
            .refuse_org_identifier(true)
            .start()
            .await
            .unwrap();
        let (client, handle) = Client::build(front, builder(&ts).cookie_session().org(1));
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
        handle.switch_org(2).await.unwrap();
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);

        let seen: Vec<PresentedCredential> = ts
            .requests()
            .into_iter()
            .filter(|r| r.path == SEARCH)
            .map(|r| r.credential)
            .collect();
        assert!(
            matches!(
                seen.as_slice(),
                [
                    PresentedCredential::Session {
                        org: 1,
                        valid: true,
                        ..
                    },
                    PresentedCredential::Session {
                        org: 2,
                        valid: true,
                        ..
                    },
                ]
            ),
            "{front:?}: {seen:?}"
        );
        let statuses = |path: &str| -> Vec<u16> {
            ts.requests()
                .into_iter()
                .filter(|r| r.path == path)
                .map(|r| r.status)
                .collect()
        };
        assert_eq!(
            statuses(SESSION_LOGIN),
            [400, 204, 400, 204],
            "{front:?}: refused with the org, then made without it, for each org"
        );
        assert_eq!(statuses(V1_SWITCH_ORG), [204, 204], "{front:?}");
        assert_eq!(handle.stats().logins, 2, "{front:?}");
    }
}
