//! Quickstart: a hyper client that authenticates to ThoughtSpot by itself.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no environment it starts `MockThoughtSpot` (an in-process ThoughtSpot) with two-second
//! tokens, and shows the layer at work: one login for many requests, a refresh across an expiry,
//! a revoked token replaced and the request replayed, an org switch.
//!
//! With `THOUGHTSPOT_URL`, `THOUGHTSPOT_USERNAME` and `THOUGHTSPOT_PASSWORD` (or
//! `THOUGHTSPOT_SECRET_KEY`; optionally `THOUGHTSPOT_ORG_ID`, `THOUGHTSPOT_API`) set, it calls
//! that cluster instead — `GET /api/rest/2.0/auth/session/user` and a small liveboard search —
//! and exits non-zero if any call fails.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{AuthHandle, ThoughtSpotAuthLayer};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::var("THOUGHTSPOT_URL") {
        Ok(_) => against_a_cluster().await,
        Err(_) => against_the_mock().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A hyper-util client (https and http), the way a service would build one.
fn client() -> Result<
    hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    BoxError,
> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https),
    )
}

/// Sends one request and returns its status and body.
async fn call<S>(
    service: &mut S,
    method: Method,
    url: String,
    body: &'static str,
) -> Result<(StatusCode, Bytes), BoxError>
where
    S: Service<
            Request<Full<Bytes>>,
            Response = http::Response<thoughtspot_auth::ResponseBody<hyper::body::Incoming>>,
            Error = BoxError,
        >,
{
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))?;
    let response = service.ready().await?.call(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn report(handle: &AuthHandle, what: &str) {
    let stats = handle.stats();
    println!(
        "  {what:<44} logins {}  refreshes {}  replays {}  org {:?}",
        stats.logins, stats.refreshes, stats.replays, stats.current_org
    );
}

async fn against_the_mock() -> Result<(), BoxError> {
    let thoughtspot = MockThoughtSpot::builder()
        .default_token_validity(Duration::from_secs(2))
        .start()
        .await?;
    let base = thoughtspot.base_url();
    println!("MockThoughtSpot at {base} (tokens live 2 s)");

    // The whole integration: a layer on the client. No login code anywhere below.
    let layer = ThoughtSpotAuthLayer::builder(&base)
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(1)
        .build()?;
    let handle = layer.handle();
    let mut service = ServiceBuilder::new().layer(layer).service(client()?);
    let search = format!("{base}/api/rest/2.0/metadata/search");

    for _ in 0..5 {
        let (status, _) = call(&mut service, Method::POST, search.clone(), "{}").await?;
        ensure(status == StatusCode::OK, "a search failed")?;
    }
    report(&handle, "5 searches: one login");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _) = call(&mut service, Method::POST, search.clone(), "{}").await?;
    ensure(status == StatusCode::OK, "a search after expiry failed")?;
    report(&handle, "after the token expired: refreshed");

    thoughtspot.revoke_all_tokens();
    let (status, _) = call(&mut service, Method::POST, search.clone(), "{}").await?;
    ensure(status == StatusCode::OK, "a search after revocation failed")?;
    report(&handle, "token revoked: 401 caught, replayed");

    handle.switch_org(2).await?;
    let (status, body) = call(
        &mut service,
        Method::GET,
        format!("{base}/api/rest/2.0/auth/session/user"),
        "",
    )
    .await?;
    ensure(status == StatusCode::OK, "session/user failed")?;
    let user: serde_json::Value = serde_json::from_slice(&body)?;
    report(&handle, "switched org");
    println!(
        "  session/user says: {} in org {}",
        user["name"], user["current_org"]["name"]
    );
    println!(
        "ThoughtSpot saw {} login(s) for {} request(s)",
        thoughtspot.logins(),
        thoughtspot.requests().len()
    );
    Ok(())
}

async fn against_a_cluster() -> Result<(), BoxError> {
    let layer = ThoughtSpotAuthLayer::from_env()?;
    let handle = layer.handle();
    let base = std::env::var("THOUGHTSPOT_URL")?
        .trim_end_matches('/')
        .to_owned();
    let mut service = ServiceBuilder::new().layer(layer).service(client()?);

    let (status, body) = call(
        &mut service,
        Method::GET,
        format!("{base}/api/rest/2.0/auth/session/user"),
        "",
    )
    .await?;
    ensure(
        status == StatusCode::OK,
        &format!("session/user answered {status}"),
    )?;
    let user: serde_json::Value = serde_json::from_slice(&body)?;
    println!(
        "logged in as {} in org {}",
        user["name"], user["current_org"]["name"]
    );

    let search = r#"{"metadata":[{"type":"LIVEBOARD"}],"record_size":5}"#;
    let (status, body) = call(
        &mut service,
        Method::POST,
        format!("{base}/api/rest/2.0/metadata/search"),
        search,
    )
    .await?;
    ensure(
        status == StatusCode::OK,
        &format!("metadata/search answered {status}"),
    )?;
    let found: serde_json::Value = serde_json::from_slice(&body)?;
    println!(
        "found {} liveboard(s)",
        found.as_array().map_or(0, Vec::len)
    );
    report(&handle, "done");
    Ok(())
}

fn ensure(ok: bool, what: &str) -> Result<(), BoxError> {
    if ok { Ok(()) } else { Err(what.into()) }
}
