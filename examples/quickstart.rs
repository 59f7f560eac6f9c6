//! Quickstart: log in to ThoughtSpot and call it.
//!
//! With no environment it starts `MockThoughtSpot`, an in-process ThoughtSpot, and runs against
//! it. With `THOUGHTSPOT_URL`, `THOUGHTSPOT_USERNAME` and `THOUGHTSPOT_PASSWORD` (or
//! `THOUGHTSPOT_SECRET_KEY`) set it runs against that cluster instead, and exits non-zero if any
//! call fails.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::process::ExitCode;

use thoughtspot_auth::BaseUrl;
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::session::{Session, TokenRequest};
use thoughtspot_auth::transport::ServiceTransport;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("quickstart failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (_mock, url, request) = match std::env::var("THOUGHTSPOT_URL") {
        Ok(url) => {
            let user = std::env::var("THOUGHTSPOT_USERNAME")?;
            let request = match std::env::var("THOUGHTSPOT_SECRET_KEY") {
                Ok(key) => TokenRequest::secret_key(user, key),
                Err(_) => TokenRequest::password(user, std::env::var("THOUGHTSPOT_PASSWORD")?),
            };
            (None, url, request)
        }
        Err(_) => {
            let mock = MockThoughtSpot::start().await?;
            println!("started MockThoughtSpot at {}", mock.base_url());
            let url = mock.base_url();
            let request = TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD);
            (Some(mock), url, request)
        }
    };

    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let session = Session::new(BaseUrl::parse(&url)?, ServiceTransport::new(client));

    let login = session.v2().token_full(&request).await?;
    println!(
        "logged in as {} (org {:?}), token valid for {:?}",
        login.user.as_deref().unwrap_or("?"),
        login.org,
        login.lifetime
    );
    let me = session.v2().session_user(&login.credential).await?;
    println!(
        "session/user: {} in org {:?}, member of {} org(s)",
        me.display_name.or(me.name).unwrap_or_default(),
        me.current_org.and_then(|o| o.name),
        me.orgs.len()
    );
    Ok(())
}
