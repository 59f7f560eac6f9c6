//! An axum service that forwards `/ts/*` to ThoughtSpot through the layer, so a browser-facing
//! app never holds ThoughtSpot credentials: the composed-into-an-existing-service case.
//!
//! ```text
//! cargo run --example axum_proxy
//! ```
//!
//! With no environment it starts `MockThoughtSpot`, serves the proxy on a free loopback port,
//! calls it the way a browser would (no credentials at all), and prints what happened. With
//! `THOUGHTSPOT_URL` and credentials set (see the quickstart) the proxy forwards to that cluster
//! and keeps serving on `PROXY_ADDR` (default 127.0.0.1:3000) until stopped.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{AuthHandle, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
use tower::{BoxError, Layer, ServiceExt};

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

/// What the proxy's handlers share: the authenticated client and where ThoughtSpot is.
#[derive(Clone)]
pub struct Proxy {
    client: ThoughtSpotAuthService<HttpsClient>,
    thoughtspot: String,
}

/// The proxy: `/ts/<path>` goes to `<thoughtspot>/<path>` with ThoughtSpot credentials attached
/// by the layer. Whatever credentials the caller sent are dropped first.
pub fn router(layer: &ThoughtSpotAuthLayer, thoughtspot: &str) -> Result<Router, BoxError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    let client = layer.layer(Client::builder(TokioExecutor::new()).build(https));
    let state = Proxy {
        client,
        thoughtspot: thoughtspot.trim_end_matches('/').to_owned(),
    };
    Ok(Router::new()
        .route("/ts/{*path}", any(forward))
        .with_state(state))
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().trim_start_matches("/ts");
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let Ok(uri) = format!("{}{path}{query}", proxy.thoughtspot).parse::<Uri>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    parts.uri = uri;
    strip_caller_credentials(&mut parts.headers);
    let request = axum::http::Request::from_parts(parts, body);
    match proxy.client.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(error) => {
            tracing::warn!(%error, "ThoughtSpot could not be reached");
            (StatusCode::BAD_GATEWAY, "ThoughtSpot is unavailable").into_response()
        }
    }
}

/// The browser's cookies and authorization are for this app, not for ThoughtSpot; `Host` must
/// be ThoughtSpot's.
fn strip_caller_credentials(headers: &mut HeaderMap) {
    for name in [header::AUTHORIZATION, header::COOKIE, header::HOST] {
        headers.remove(name);
    }
}

/// Serves `router` on `addr`; returns the bound address.
pub async fn serve(router: Router, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("the proxy stopped: {error}");
        }
    });
    Ok(bound)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    if std::env::var("THOUGHTSPOT_URL").is_ok() {
        let layer = ThoughtSpotAuthLayer::from_env()?;
        let router = router(&layer, &std::env::var("THOUGHTSPOT_URL")?)?;
        let addr: SocketAddr = std::env::var("PROXY_ADDR")
            .unwrap_or_else(|_| "127.0.0.1:3000".into())
            .parse()?;
        let bound = serve(router, addr).await?;
        println!("proxying http://{bound}/ts/* to ThoughtSpot; Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }

    let thoughtspot = MockThoughtSpot::start().await?;
    let layer = ThoughtSpotAuthLayer::builder(thoughtspot.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(1)
        .build()?;
    let handle: AuthHandle = layer.handle();
    let bound = serve(
        router(&layer, &thoughtspot.base_url())?,
        "127.0.0.1:0".parse()?,
    )
    .await?;
    println!(
        "proxy at http://{bound}/ts/ -> MockThoughtSpot at {}",
        thoughtspot.base_url()
    );

    // A "browser": a plain client with no ThoughtSpot credentials, and a stale cookie of its own.
    let browser = Client::builder(TokioExecutor::new()).build_http::<Body>();
    for _ in 0..3 {
        let request =
            axum::http::Request::post(format!("http://{bound}/ts/api/rest/2.0/metadata/search"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, "JSESSIONID=the-browsers-own")
                .body(Body::from("{}"))?;
        let response = browser.request(request).await?;
        println!("  browser -> proxy -> ThoughtSpot: {}", response.status());
        if !response.status().is_success() {
            return Err(format!("the proxy answered {}", response.status()).into());
        }
    }
    println!(
        "ThoughtSpot saw {} login(s); the layer made {}; the browser never held a credential",
        thoughtspot.logins(),
        handle.stats().logins
    );
    Ok(())
}
