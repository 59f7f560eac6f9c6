//! What the token endpoint's tests share: the app's session, the identity closure, the service
//! and one call through it (with the headers every answer must have).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use thoughtspot_auth::embed::{EmbedIdentity, EmbedTokenService, EmbedUser};
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::session::{FilterOperator, FilterRule, PersistOption};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{ActAs, TokenAttributes};
use tower::ServiceExt;

use crate::common::hyper_client;

/// What the app's own auth middleware inserts: the logged-in user, and whether the app lets
/// them embed.
#[derive(Clone)]
pub(crate) struct AppSession {
    pub(crate) user: String,
    pub(crate) allowed: bool,
    pub(crate) region: Option<&'static str>,
}

pub(crate) fn identify(parts: &http::request::Parts) -> EmbedIdentity {
    match parts.extensions.get::<AppSession>() {
        None => EmbedIdentity::Anonymous,
        Some(s) if !s.allowed => EmbedIdentity::Refused,
        Some(s) => {
            let mut act_as = ActAs::user(s.user.as_str());
            if let Some(region) = s.region {
                act_as = act_as.attributes(
                    TokenAttributes::new(PersistOption::None).filter(FilterRule::new(
                        "Region",
                        FilterOperator::Eq,
                        [region],
                    )),
                );
            }
            EmbedIdentity::User(EmbedUser::new(act_as).validity(Duration::from_secs(120)))
        }
    }
}

pub(crate) fn builder(ts: &MockThoughtSpot) -> thoughtspot_auth::embed::EmbedTokenServiceBuilder {
    EmbedTokenService::builder(ts.base_url(), mock::DEFAULT_SECRET_KEY)
        .transport(ServiceTransport::new(hyper_client()))
        .identity(identify)
}

pub(crate) fn call_as(user: Option<&str>) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::get("/api/thoughtspot/token")
        .body(Full::new(Bytes::new()))
        .unwrap();
    if let Some(user) = user {
        request.extensions_mut().insert(AppSession {
            user: user.to_owned(),
            allowed: true,
            region: None,
        });
    }
    request
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: String,
}

pub(crate) async fn send(
    service: &EmbedTokenService,
    request: http::Request<Full<Bytes>>,
) -> Answer {
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let answer = Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    };
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert!(
        !answer
            .headers
            .keys()
            .any(|name| name.as_str().starts_with("access-control-")),
        "no CORS header, ever"
    );
    answer
}
