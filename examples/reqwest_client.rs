//! The quickstart's story through reqwest-middleware: a `reqwest` client that authenticates to
//! ThoughtSpot by itself.
//!
//! ```text
//! cargo run --example reqwest_client
//! ```
//!
//! With no environment it runs against an embedded `MockThoughtSpot` with two-second tokens: one
//! login for many requests, a refresh across an expiry, a revoked token caught and the request
//! replayed, an org switch. With `THOUGHTSPOT_URL` and credentials set (the quickstart's
//! variables) it calls that cluster's `GET /api/rest/2.0/auth/session/user` and a small
//! liveboard search, and exits non-zero if either fails. (For `https://` clusters, enable a TLS
//! feature of reqwest in your own crate, e.g. `reqwest = { features = ["rustls"] }`.)

use std::process::ExitCode;
use std::time::Duration;

use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{AuthHandle, ThoughtSpotAuthMiddleware};
use tower::BoxError;

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::var("THOUGHTSPOT_URL") {
        Ok(_) => against_a_cluster().await,
        Err(_) => against_the_mock().await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("reqwest_client failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn search(
    client: &ClientWithMiddleware,
    base: &str,
    body: &'static str,
) -> Result<String, BoxError> {
    let response = client
        .post(format!("{base}/api/rest/2.0/metadata/search"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        return Err(format!("metadata/search answered {status}").into());
    }
    Ok(text)
}

async fn whoami(client: &ClientWithMiddleware, base: &str) -> Result<serde_json::Value, BoxError> {
    let response = client
        .get(format!("{base}/api/rest/2.0/auth/session/user"))
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("session/user answered {status}").into());
    }
    Ok(serde_json::from_slice(&response.bytes().await?)?)
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

    let plain = reqwest::Client::new();
    let auth = ThoughtSpotAuthMiddleware::builder(&base)
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(1)
        .build_middleware(plain.clone())?;
    let handle = auth.handle();
    let client = ClientBuilder::new(plain).with(auth).build();

    for _ in 0..5 {
        search(&client, &base, "{}").await?;
    }
    report(&handle, "5 searches: one login");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    search(&client, &base, "{}").await?;
    report(&handle, "after the token expired: refreshed");
    thoughtspot.revoke_all_tokens();
    search(&client, &base, "{}").await?;
    report(&handle, "token revoked: 401 caught, replayed");
    handle.switch_org(2).await?;
    let user = whoami(&client, &base).await?;
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
    let base = std::env::var("THOUGHTSPOT_URL")?
        .trim_end_matches('/')
        .to_owned();
    let plain = reqwest::Client::new();
    let auth = ThoughtSpotAuthMiddleware::from_env(plain.clone())?;
    let handle = auth.handle();
    let client = ClientBuilder::new(plain).with(auth).build();
    let user = whoami(&client, &base).await?;
    println!(
        "logged in as {} in org {}",
        user["name"], user["current_org"]["name"]
    );
    let found = search(
        &client,
        &base,
        r#"{"metadata":[{"type":"LIVEBOARD"}],"record_size":5}"#,
    )
    .await?;
    let found: serde_json::Value = serde_json::from_str(&found)?;
    println!(
        "found {} liveboard(s)",
        found.as_array().map_or(0, Vec::len)
    );
    report(&handle, "done");
    Ok(())
}
