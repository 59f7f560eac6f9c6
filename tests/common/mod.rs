//! Shared set-up for the integration tests.
#![allow(dead_code)]

pub mod front;
pub mod heap;
pub mod load;
pub mod spy;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use thoughtspot_auth::BaseUrl;
use thoughtspot_auth::mock::MockThoughtSpot;
use thoughtspot_auth::session::Session;
use thoughtspot_auth::transport::ServiceTransport;

pub type HyperClient = Client<HttpConnector, Full<Bytes>>;
pub type HyperSession = Session<ServiceTransport<HyperClient>>;

pub fn hyper_client() -> HyperClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn session_for(mock: &MockThoughtSpot) -> HyperSession {
    Session::new(
        BaseUrl::parse(&mock.base_url()).expect("the mock's URL is valid"),
        ServiceTransport::new(hyper_client()),
    )
}

/// A tracing subscriber that keeps everything logged, at every level, as text.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogCapture {
    /// Installs the capture for the current thread (tokio's default test runtime is
    /// single-threaded, so the tasks it spawns log here too).
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(capture.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Asserts that none of `secrets` occurs in `haystack`.
pub fn assert_no_secret(what: &str, haystack: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !haystack.contains(secret.as_str()),
            "{what} contains a secret ({} chars long)",
            secret.len()
        );
    }
}

pub type AuthService = thoughtspot_auth::ThoughtSpotAuthService<HyperClient>;

/// The tower stack under test: hyper-util's client wrapped in the layer.
pub fn layered(
    builder: thoughtspot_auth::AuthBuilder,
) -> (AuthService, thoughtspot_auth::AuthHandle) {
    let layer = builder.build().expect("the layer builds");
    let handle = layer.handle();
    (tower::Layer::layer(&layer, hyper_client()), handle)
}

pub fn search_request(base: &str) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("{base}/api/rest/2.0/metadata/search"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Sends one request through `service` (a clone, so callers can fan out) and returns the status.
pub async fn send(
    service: &AuthService,
    request: http::Request<Full<Bytes>>,
) -> Result<http::StatusCode, tower::BoxError> {
    use tower::ServiceExt;
    let response = service.clone().oneshot(request).await?;
    Ok(response.status())
}
