//! Working in several ThoughtSpot orgs through one layer.
//!
//! ```text
//! cargo run --example org_switch
//! ```
//!
//! Runs against an embedded `MockThoughtSpot` (three orgs). Shows the handle's `switch_org`
//! (atomic: requests in flight keep their org), a per-request `OrgOverride`, the per-org
//! credential cache (switching back costs no login), and the same with cookie sessions, where
//! each org gets a session of its own.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{OrgOverride, ThoughtSpotAuthLayer};
use tower::{BoxError, Layer, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let thoughtspot = MockThoughtSpot::start().await?;
    let base = thoughtspot.base_url();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();

    for (label, builder) in [
        ("bearer tokens", ThoughtSpotAuthLayer::builder(&base)),
        (
            "cookie sessions",
            ThoughtSpotAuthLayer::builder(&base).cookie_session(),
        ),
    ] {
        println!("with {label}:");
        let layer = builder
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .org(0)
            .build()?;
        let handle = layer.handle();
        let service = layer.layer(client.clone());

        let whoami = |org: Option<i64>| {
            let service = service.clone();
            let url = format!("{base}/api/rest/2.0/auth/session/user");
            async move {
                let mut request = Request::get(url).body(Full::new(Bytes::new()))?;
                if let Some(org) = org {
                    request.extensions_mut().insert(OrgOverride::new(org));
                }
                let body = service
                    .oneshot(request)
                    .await?
                    .into_body()
                    .collect()
                    .await?
                    .to_bytes();
                let user: serde_json::Value = serde_json::from_slice(&body)?;
                Ok::<_, BoxError>(
                    user["current_org"]["name"]
                        .as_str()
                        .unwrap_or("?")
                        .to_owned(),
                )
            }
        };

        println!("  current org 0            -> {}", whoami(None).await?);
        handle.switch_org(1).await?;
        println!("  after switch_org(1)      -> {}", whoami(None).await?);
        println!("  one request with org 2   -> {}", whoami(Some(2)).await?);
        let before = thoughtspot.logins();
        handle.switch_org(0).await?;
        println!(
            "  back to org 0            -> {} ({} new login(s): cached)",
            whoami(None).await?,
            thoughtspot.logins() - before
        );
        match handle.switch_org(99).await {
            Ok(()) => println!("  switch_org(99) succeeded?"),
            Err(error) => println!(
                "  switch_org(99) refused: {:?}, still in org {:?}",
                error.kind(),
                handle.current_org()
            ),
        }
        println!(
            "  logins {}, cached credentials {}",
            handle.stats().logins,
            handle.stats().cached_credentials
        );
        handle.logout().await?;
    }
    Ok(())
}
