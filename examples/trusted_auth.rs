//! Trusted authentication for many users: an axum app that calls ThoughtSpot as whichever user
//! each incoming request belongs to, through one layer holding the trusted-auth secret key.
//!
//! ```text
//! cargo run --example trusted_auth
//! ```
//!
//! The app's requests name their user in an `x-user` header (in a real app: your session or
//! identity middleware). The handler turns it into an `ActAs` extension and forwards `/ts/*` to
//! ThoughtSpot; the layer mints and caches one token per (user, org) with the secret key. With no
//! environment it runs against an embedded `MockThoughtSpot`, sends requests as three users, and
//! prints what ThoughtSpot saw. With `THOUGHTSPOT_URL` and `THOUGHTSPOT_SECRET_KEY` set it serves
//! on `APP_ADDR` (default 127.0.0.1:3000) until stopped.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser, PresentedCredential};
use thoughtspot_auth::{ActAs, ThoughtSpotAuthLayer, ThoughtSpotAuthService};
use tower::{BoxError, Layer, ServiceExt};

#[derive(Clone)]
struct App {
    thoughtspot: ThoughtSpotAuthService<Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>>,
    base: String,
}

fn router(layer: &ThoughtSpotAuthLayer, base: &str) -> Result<Router, BoxError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    let app = App {
        thoughtspot: layer.layer(Client::builder(TokioExecutor::new()).build(https)),
        base: base.trim_end_matches('/').to_owned(),
    };
    Ok(Router::new()
        .route("/ts/{*path}", any(as_user))
        .with_state(app))
}

/// Forwards the request to ThoughtSpot as the user it names.
async fn as_user(State(app): State<App>, request: Request) -> Response {
    let Some(user) = request
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return (StatusCode::UNAUTHORIZED, "who are you?").into_response();
    };
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().trim_start_matches("/ts");
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let Ok(uri) = format!("{}{path}{query}", app.base).parse::<Uri>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    parts.uri = uri;
    for name in [header::AUTHORIZATION, header::COOKIE, header::HOST] {
        parts.headers.remove(name);
    }
    parts.headers.remove("x-user");
    parts.extensions.insert(ActAs::user(user));
    match app
        .thoughtspot
        .oneshot(axum::http::Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response.map(Body::new),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

async fn serve(router: Router, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(bound)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    if let Ok(url) = std::env::var("THOUGHTSPOT_URL") {
        let layer = ThoughtSpotAuthLayer::builder(&url)
            .act_as_users(std::env::var("THOUGHTSPOT_SECRET_KEY")?)
            .build()?;
        let addr: SocketAddr = std::env::var("APP_ADDR")
            .unwrap_or_else(|_| "127.0.0.1:3000".into())
            .parse()?;
        let bound = serve(router(&layer, &url)?, addr).await?;
        println!(
            "http://{bound}/ts/* forwards to ThoughtSpot as the user in `x-user`; Ctrl-C to stop"
        );
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }

    let thoughtspot = MockThoughtSpot::start().await?;
    for user in ["alice", "bob", "carol"] {
        thoughtspot.add_user(MockUser::new(user, "never-used").orgs([0, 1]));
    }
    let layer = ThoughtSpotAuthLayer::builder(thoughtspot.base_url())
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .build()?;
    let handle = layer.handle();
    let bound = serve(
        router(&layer, &thoughtspot.base_url())?,
        "127.0.0.1:0".parse()?,
    )
    .await?;
    println!(
        "app at http://{bound}, MockThoughtSpot at {}",
        thoughtspot.base_url()
    );

    let browser = Client::builder(TokioExecutor::new()).build_http::<Body>();
    for round in 0..3 {
        for user in ["alice", "bob", "carol"] {
            let request = axum::http::Request::get(format!(
                "http://{bound}/ts/api/rest/2.0/auth/session/user"
            ))
            .header("x-user", user)
            .body(Body::empty())?;
            let response = browser.request(request).await?;
            if round == 0 {
                println!("  {user:<6} -> session/user: {}", response.status());
            }
            if !response.status().is_success() {
                return Err(format!("{user}'s request failed: {}", response.status()).into());
            }
        }
    }
    let anonymous = browser
        .request(
            axum::http::Request::get(format!("http://{bound}/ts/api/rest/2.0/auth/session/user"))
                .body(Body::empty())?,
        )
        .await?;
    println!(
        "  no x-user -> {} (nothing sent to ThoughtSpot)",
        anonymous.status()
    );

    let presented: Vec<String> = thoughtspot
        .requests()
        .into_iter()
        .filter_map(|r| match r.credential {
            PresentedCredential::Token { user, .. } => Some(user),
            _ => None,
        })
        .collect();
    println!(
        "9 requests as 3 users: {} tokens minted, requests carried tokens of {:?}",
        handle.stats().logins,
        {
            let mut users = presented;
            users.sort();
            users.dedup();
            users
        }
    );
    for user in ["alice", "bob", "carol"] {
        println!("  {user}: {:?}", handle.user_stats(user));
    }
    Ok(())
}
