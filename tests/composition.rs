//! The layer and the middleware composed into the stacks people run: tower-http's trace,
//! timeout, sensitive-headers and follow-redirect layers; tower's retry above and below, and its
//! concurrency limit and buffer below; reqwest-retry in either order; an axum proxy.

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, PresentedCredential};
use thoughtspot_auth::{AuthBuilder, ThoughtSpotAuthLayer, ThoughtSpotAuthMiddleware};
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_http::follow_redirect::FollowRedirectLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};

use common::{LogCapture, hyper_client, search_request};

const SEARCH: &str = "/api/rest/2.0/metadata/search";
const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

fn builder(ts: &MockThoughtSpot) -> AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

#[tokio::test(start_paused = true)]
async fn a_tower_http_stack_keeps_credentials_home_and_out_of_logs() {
    let (logs, _guard) = LogCapture::install();
    let ts = MockThoughtSpot::start().await.unwrap();
    let elsewhere = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).build().unwrap();
    let handle = layer.handle();
    // Outermost first: redirects, a time limit, the layer, then a trace of what goes on the wire.
    let service = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(2),
        ))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(layer)
        .layer(
            TraceLayer::new_for_http().make_span_with(DefaultMakeSpan::new().include_headers(true)),
        )
        .service(hyper_client());

    assert_eq!(
        service
            .clone()
            .oneshot(search_request(&ts.base_url()))
            .await
            .unwrap()
            .status(),
        200
    );

    // ThoughtSpot redirects to another origin: the redirected request carries no credential.
    ts.inject(
        SEARCH,
        Fault::Redirect {
            location: format!("{}/api/rest/2.0/auth/session/user", elsewhere.base_url()),
        },
        1,
    );
    let response = service
        .clone()
        .oneshot(search_request(&ts.base_url()))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        401,
        "the other origin got no credential, so it refused"
    );
    let seen = elsewhere.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].credential, PresentedCredential::None);

    // A redirect within ThoughtSpot keeps working.
    ts.inject(
        SEARCH,
        Fault::Redirect {
            location: format!("{}/api/rest/2.0/auth/session/user", ts.base_url()),
        },
        1,
    );
    assert_eq!(
        service
            .clone()
            .oneshot(search_request(&ts.base_url()))
            .await
            .unwrap()
            .status(),
        200
    );

    // A login slower than the time limit: the caller times out, the shared login goes on, and the
    // next request uses its result.
    handle.invalidate();
    ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(5)), 1);
    let timed_out = service
        .clone()
        .oneshot(search_request(&ts.base_url()))
        .await
        .unwrap();
    assert_eq!(timed_out.status(), StatusCode::REQUEST_TIMEOUT);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        service
            .clone()
            .oneshot(search_request(&ts.base_url()))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(ts.logins(), 2);

    // The trace saw the credential header, and logged it as sensitive.
    let text = logs.text();
    assert!(text.contains("\"authorization\": Sensitive"), "{text}");
    assert!(!text.contains("Bearer "), "no credential in the trace");
}

#[tokio::test(start_paused = true)]
async fn follow_redirect_inside_the_layer_drops_the_credential_across_origins() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let elsewhere = MockThoughtSpot::start().await.unwrap();
    // The other order: the layer outside, FollowRedirect between it and the client. tower-http's
    // default policy filters credentials on cross-origin redirects.
    let service = ServiceBuilder::new()
        .layer(builder(&ts).build().unwrap())
        .layer(FollowRedirectLayer::new())
        .service(hyper_client());
    ts.inject(
        SEARCH,
        Fault::Redirect {
            location: format!("{}/api/rest/2.0/auth/session/user", elsewhere.base_url()),
        },
        1,
    );
    let _ = service
        .oneshot(search_request(&ts.base_url()))
        .await
        .unwrap();
    assert_eq!(
        elsewhere.requests()[0].credential,
        PresentedCredential::None
    );
}

/// Retries a request once more on a 5xx or a 401: a policy of the kind people write.
#[derive(Clone)]
struct RetryOnce(bool);

impl<B: Clone, R, E> tower::retry::Policy<Request<B>, Response<R>, E> for RetryOnce {
    type Future = std::future::Ready<()>;

    fn retry(
        &mut self,
        _: &mut Request<B>,
        result: &mut Result<Response<R>, E>,
    ) -> Option<Self::Future> {
        let again = match result {
            Ok(response) => response.status().is_server_error() || response.status() == 401,
            Err(_) => true,
        };
        (again && !self.0).then(|| {
            self.0 = true;
            std::future::ready(())
        })
    }

    fn clone_request(&mut self, request: &Request<B>) -> Option<Request<B>> {
        let mut clone = Request::new(request.body().clone());
        *clone.method_mut() = request.method().clone();
        *clone.uri_mut() = request.uri().clone();
        *clone.headers_mut() = request.headers().clone();
        Some(clone)
    }
}

#[tokio::test(start_paused = true)]
async fn tower_retry_above_the_layer_makes_no_extra_logins() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).build().unwrap();
    let handle = layer.handle();
    let service = ServiceBuilder::new()
        .layer(tower::retry::RetryLayer::new(RetryOnce(false)))
        .layer(layer)
        .service(hyper_client());
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        50,
    );
    let statuses =
        join_all((0..100).map(|_| service.clone().oneshot(search_request(&ts.base_url())))).await;
    assert!(statuses.into_iter().all(|r| r.unwrap().status() == 200));
    assert_eq!(ts.logins(), 1);
    // A revoked token: the layer replays; the retry above sees only the success.
    ts.revoke_all_tokens();
    assert_eq!(
        service
            .clone()
            .oneshot(search_request(&ts.base_url()))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!((ts.logins(), handle.stats().replays), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn tower_retry_below_the_layer_makes_no_extra_logins() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).build().unwrap();
    let handle = layer.handle();
    let retrying_client = tower::retry::RetryLayer::new(RetryOnce(false)).layer(hyper_client());
    let service = layer.layer(retrying_client);
    ts.inject(
        SEARCH,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        50,
    );
    let statuses =
        join_all((0..100).map(|_| service.clone().oneshot(search_request(&ts.base_url())))).await;
    assert!(statuses.into_iter().all(|r| r.unwrap().status() == 200));
    assert_eq!(ts.logins(), 1);
    // The retry below resends the stale token once; the layer then sees the 401 and logs in once.
    ts.revoke_all_tokens();
    assert_eq!(
        service
            .clone()
            .oneshot(search_request(&ts.base_url()))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!((ts.logins(), handle.stats().invalidations), (2, 1));
}

/// A concurrency limit below the layer: tower's `ConcurrencyLimit` takes its permit in
/// `poll_ready`, so every request waiting in the layer for the first login holds one. The login
/// must not need one of them.
#[tokio::test(start_paused = true)]
async fn a_concurrency_limit_below_the_layer_does_not_starve_the_login() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).build().unwrap();
    let handle = layer.handle();
    let service = ServiceBuilder::new()
        .layer(layer)
        .concurrency_limit(2)
        .service(hyper_client());
    eight_first_requests_make_one_prompt_login(service, &ts, &handle).await;
}

/// The same with tower's `Buffer` below the layer, which reserves a slot in `poll_ready`.
#[tokio::test(start_paused = true)]
async fn a_buffer_below_the_layer_does_not_starve_the_login() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).build().unwrap();
    let handle = layer.handle();
    let service = ServiceBuilder::new()
        .layer(layer)
        .buffer(2)
        .service(hyper_client());
    eight_first_requests_make_one_prompt_login(service, &ts, &handle).await;
}

async fn eight_first_requests_make_one_prompt_login<S, B>(
    service: S,
    ts: &MockThoughtSpot,
    handle: &thoughtspot_auth::AuthHandle,
) where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    let started = tokio::time::Instant::now();
    let statuses =
        join_all((0..8).map(|_| service.clone().oneshot(search_request(&ts.base_url())))).await;
    assert!(statuses.into_iter().all(|r| r.unwrap().status() == 200));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the login waited {:?} for capacity",
        started.elapsed()
    );
    assert_eq!(handle.stats().logins, 1);
}

fn reqwest_retry()
-> reqwest_retry::RetryTransientMiddleware<reqwest_retry::policies::ExponentialBackoff> {
    let policy = reqwest_retry::policies::ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(10), Duration::from_millis(100))
        .build_with_max_retries(3);
    reqwest_retry::RetryTransientMiddleware::new_with_policy(policy)
}

#[tokio::test(start_paused = true)]
async fn reqwest_retry_in_either_order_makes_no_login_storm() {
    for retry_outside in [true, false] {
        let ts = MockThoughtSpot::start().await.unwrap();
        let plain = reqwest::Client::new();
        let auth = ThoughtSpotAuthMiddleware::builder(ts.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .build_middleware(plain.clone())
            .unwrap();
        let handle = auth.handle();
        let client = if retry_outside {
            reqwest_middleware::ClientBuilder::new(plain)
                .with(reqwest_retry())
                .with(auth)
                .build()
        } else {
            reqwest_middleware::ClientBuilder::new(plain)
                .with(auth)
                .with(reqwest_retry())
                .build()
        };
        // Transient trouble on the data endpoint and at login at once.
        ts.inject(
            SEARCH,
            Fault::Status {
                status: 503,
                retry_after: None,
            },
            50,
        );
        ts.inject(
            TOKEN_FULL,
            Fault::Status {
                status: 503,
                retry_after: None,
            },
            1,
        );
        let results = join_all((0..100).map(|_| {
            client
                .post(format!("{}{SEARCH}", ts.base_url()))
                .header("content-type", "application/json")
                .send()
        }))
        .await;
        assert!(
            results.into_iter().all(|r| r.unwrap().status() == 200),
            "retry_outside={retry_outside}"
        );
        assert_eq!(handle.stats().logins, 1, "retry_outside={retry_outside}");
        assert_eq!(
            ts.logins(),
            2,
            "one failed attempt, one login (retry_outside={retry_outside})"
        );
        // A revoked token: one login whichever order.
        ts.revoke_all_tokens();
        let response = client
            .post(format!("{}{SEARCH}", ts.base_url()))
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(handle.stats().logins, 2, "retry_outside={retry_outside}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_streaming_reqwest_body_is_sent_once_and_never_refused() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let plain = reqwest::Client::new();
    let auth = ThoughtSpotAuthMiddleware::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .build_middleware(plain.clone())
        .unwrap();
    let handle = auth.handle();
    let client = reqwest_middleware::ClientBuilder::new(plain)
        .with(auth)
        .build();
    let stream = || {
        let frames = vec![Ok::<_, std::convert::Infallible>(http_body::Frame::data(
            Bytes::from_static(b"{}"),
        ))];
        reqwest::Body::wrap(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    };
    let send = |body| {
        client
            .post(format!("{}{SEARCH}", ts.base_url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(send(stream()).await.unwrap().status(), 200);
    ts.revoke_all_tokens();
    assert_eq!(
        send(stream()).await.unwrap().status(),
        401,
        "not replayable: the rejection comes back"
    );
    assert_eq!(handle.stats().replays, 0);
    assert_eq!(
        send(reqwest::Body::from("{}")).await.unwrap().status(),
        200,
        "the next request logged in"
    );
}

#[allow(dead_code)]
#[path = "../examples/axum_proxy.rs"]
mod axum_proxy;

#[tokio::test]
async fn the_axum_proxy_forwards_with_credentials_the_browser_never_holds() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).org(2).build().unwrap();
    let router = axum_proxy::router(&layer, &ts.base_url()).unwrap();
    let bound = axum_proxy::serve(router, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let browser = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let request = Request::post(format!(
        "http://{bound}/ts/api/rest/2.0/metadata/search?x=1"
    ))
    .header(header::CONTENT_TYPE, "application/json")
    .header(header::AUTHORIZATION, "Bearer the-browsers-own-token")
    .body(Full::new(Bytes::from_static(b"{}")))
    .unwrap();
    let response = browser.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mock-org"], "2");
    let seen: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == SEARCH)
        .collect();
    assert_eq!(seen.len(), 1);
    assert!(matches!(
        seen[0].credential,
        PresentedCredential::Token {
            org: 2,
            valid: true,
            ..
        }
    ));
    // A path the proxy does not serve.
    let response = browser
        .request(
            Request::get(format!("http://{bound}/elsewhere"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}
