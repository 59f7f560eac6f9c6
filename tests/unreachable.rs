//! A ThoughtSpot that cannot be reached: the error names the cause in words, and when nothing
//! was ever reached the first callers hear it within a few attempts, not at the login deadline.
//! A cluster that was reached and drops out gets the usual patience. Both front doors, on
//! tokio's paused clock (the connections are real; refused ones are refused at once).

mod common;

use std::time::Duration;

use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{ErrorKind, ThoughtSpotAuthLayer};
use tokio::time::Instant;

use common::front::{Call, Client, Front};

/// A loopback address where nothing listens: a port that was just free.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn password(base: &str) -> thoughtspot_auth::AuthBuilder {
    ThoughtSpotAuthLayer::builder(base).password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

/// A first request to `base` fails within three attempts (well under 5 s of the paused clock)
/// with a transport error whose message names `cause`.
async fn fails_fast_naming(front: Front, base: &str, cause: &str) {
    let (client, handle) = Client::build(front, password(base));
    let started = Instant::now();
    let failure = client.send(Call::search(base)).await.unwrap_err();
    println!("{front:?}: {}", failure.text);
    assert_eq!(failure.kind(), Some(ErrorKind::Transport));
    assert!(failure.text.contains(cause), "{}", failure.text);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(handle.stats().login_attempts, 3);
}

async fn connection_refused_is_named_and_fails_fast(front: Front) {
    fails_fast_naming(front, &closed_port(), "connection refused").await;
}

async fn a_client_without_tls_for_an_https_url_is_named(front: Front) {
    fails_fast_naming(front, "https://ts.example.com", "no TLS support for https").await;
}

/// Reached once, then gone: the login keeps trying toward its deadline (30 s by default), as a
/// restart or a failover may bring the cluster back.
async fn a_cluster_that_was_reached_gets_patience(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let base = ts.base_url();
    let (client, handle) = Client::build(front, password(&base));
    assert_eq!(client.status(Call::search(&base)).await, 200);
    ts.shutdown().await;
    handle.invalidate();
    let started = Instant::now();
    let failure = client.send(Call::search(&base)).await.unwrap_err();
    assert_eq!(
        failure.kind(),
        Some(ErrorKind::Transport),
        "{}",
        failure.text
    );
    assert!(
        started.elapsed() >= Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(handle.stats().login_attempts > 4, "{:?}", handle.stats());
}

/// A ThoughtSpot that answered (here a 503) was reached, though nothing was published yet:
/// connection refused afterwards is a restart to wait for, not a reason to give up.
async fn a_cluster_that_answered_once_gets_patience(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let base = ts.base_url();
    ts.inject(
        "/api/rest/2.0/auth/token/full",
        thoughtspot_auth::mock::Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let (client, handle) = Client::build(front, password(&base));
    let started = Instant::now();
    let sent = tokio::spawn({
        let (client, base) = (client.clone(), base.clone());
        async move { client.send(Call::search(&base)).await }
    });
    common::load::until(|| ts.count("/api/rest/2.0/auth/token/full") == 1).await;
    ts.shutdown().await;
    let failure = sent.await.unwrap().unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(handle.stats().login_attempts > 4, "{:?}", handle.stats());
    assert_eq!(
        failure.kind(),
        Some(ErrorKind::Transport),
        "{}",
        failure.text
    );
}

both_fronts!(
    a_cluster_that_answered_once_gets_patience,
    connection_refused_is_named_and_fails_fast,
    a_client_without_tls_for_an_https_url_is_named,
    a_cluster_that_was_reached_gets_patience,
);
