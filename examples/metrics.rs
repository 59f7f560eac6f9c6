//! Metrics an operator scrapes: the layer records through the `metrics` facade (feature
//! `metrics`), and the application picks the exporter. Here, `metrics-exporter-prometheus`
//! serves `/metrics`.
//!
//! ```text
//! cargo run --example metrics                                   # prints what it serves, ends
//! METRICS_ADDR=127.0.0.1:9184 METRICS_SERVE=1 cargo run --example metrics   # keeps serving
//! ```
//!
//! Runs against an embedded `MockThoughtSpot`: a login, requests on the cached token, a token
//! revoked behind the layer's back (401, one login, the request replayed), a wrong password.
//! Then it fetches its own `/metrics` and prints the layer's lines, or, with `METRICS_SERVE`,
//! keeps serving them for a Prometheus server to scrape until it is stopped.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use metrics_exporter_prometheus::PrometheusBuilder;
use thoughtspot_auth::ThoughtSpotAuthLayer;
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use tower::{BoxError, Layer, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let addr: SocketAddr = std::env::var("METRICS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:0".into())
        .parse()?;
    // Any free port unless one is given: bind it here, then hand the exporter the address.
    let addr = std::net::TcpListener::bind(addr)?.local_addr()?;
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()?;

    let thoughtspot = MockThoughtSpot::start().await?;
    let base = thoughtspot.base_url();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let search = || {
        http::Request::post(format!("{base}/api/rest/2.0/metadata/search"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{}")))
    };

    let layer = ThoughtSpotAuthLayer::builder(&base)
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(1)
        .build()?;
    let handle = layer.handle();
    let service = layer.layer(client.clone());
    for _ in 0..3 {
        service.clone().oneshot(search()?).await?;
    }
    thoughtspot.revoke_all_tokens();
    let replayed = service.clone().oneshot(search()?).await?;
    assert_eq!(replayed.status(), 200, "the 401 was answered by a replay");

    let wrong = ThoughtSpotAuthLayer::builder(&base)
        .password(mock::DEFAULT_USER, "not-the-password")
        .build()?
        .layer(client.clone());
    assert!(
        wrong.oneshot(search()?).await.is_err(),
        "a wrong password fails"
    );

    let stats = handle.stats();
    println!(
        "stats(): logins {}  replays {}  rejected responses {}",
        stats.logins, stats.replays, stats.rejected_responses
    );
    if std::env::var_os("METRICS_SERVE").is_some() {
        println!("serving http://{addr}/metrics until stopped");
        std::future::pending::<()>().await;
    }
    let scraped = client
        .get(format!("http://{addr}/metrics").parse()?)
        .await?
        .into_body()
        .collect()
        .await?
        .to_bytes();
    println!("http://{addr}/metrics serves:");
    for line in String::from_utf8_lossy(&scraped).lines() {
        if line.starts_with("thoughtspot_auth") {
            println!("  {line}");
        }
    }
    Ok(())
}
