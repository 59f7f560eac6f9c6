//! A request for another spelling of the cluster's own loopback origin.
//!
//! The origin rule is strict on purpose: a credential goes only to the configured scheme, host
//! and port. With ThoughtSpot (or the mock) on loopback, `localhost` and `127.0.0.1` name the
//! same server but are different origins, and a request spelled the other way passes through
//! with no credential: all its sender sees is the server's 401. The rule stays; this makes the
//! mistake findable with one warning.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::base_url::BaseUrl;

/// Set once the warning has been given: once per process, so that a misconfigured service does
/// not log on every request.
static WARNED: AtomicBool = AtomicBool::new(false);

/// Called only for requests the front doors pass through (another origin); warns once if the
/// request's origin is a loopback alias of the configured one.
#[cold]
#[inline(never)]
pub(crate) fn passed_through(base: &BaseUrl, scheme: Option<&str>, host: &str, port: Option<u16>) {
    warn_once(&WARNED, base, scheme, host, port);
}

fn warn_once(
    warned: &AtomicBool,
    base: &BaseUrl,
    scheme: Option<&str>,
    host: &str,
    port: Option<u16>,
) {
    if warned.load(Ordering::Relaxed) || !is_loopback_alias(base, scheme, host, port) {
        return;
    }
    if !warned.swap(true, Ordering::Relaxed) {
        let scheme = scheme.unwrap_or_default();
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        tracing::warn!(
            configured = %base,
            request_origin = %format_args!("{scheme}://{host}{port}"),
            "a request to another spelling of ThoughtSpot's loopback address was sent without a \
             credential: only the base URL's exact scheme, host and port get one (localhost and \
             127.0.0.1 are different origins); use the base URL's spelling in requests"
        );
    }
}

/// Same scheme and port as the base URL, a different host, and both hosts loopback.
fn is_loopback_alias(base: &BaseUrl, scheme: Option<&str>, host: &str, port: Option<u16>) -> bool {
    let Some(scheme) = scheme else { return false };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        return false;
    };
    scheme.eq_ignore_ascii_case(base.scheme().as_str())
        && port.unwrap_or(default_port) == base.port()
        && base.is_loopback()
        && !host.eq_ignore_ascii_case(base.authority().host())
        && is_loopback_host(host)
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_capture::Captured;

    fn captured(run: impl FnOnce()) -> String {
        let out = Captured::default();
        tracing::subscriber::with_default(out.subscriber(tracing::Level::INFO), run);
        out.text()
    }

    #[test]
    fn a_loopback_alias_is_warned_about_once() {
        let base = BaseUrl::parse("http://localhost:8080").unwrap();
        let warned = AtomicBool::new(false);
        let log = captured(|| {
            for _ in 0..3 {
                warn_once(&warned, &base, Some("http"), "127.0.0.1", Some(8080));
            }
            warn_once(&warned, &base, Some("http"), "[::1]", Some(8080));
        });
        assert_eq!(log.matches(" WARN ").count(), 1, "{log}");
        assert!(log.contains("http://127.0.0.1:8080"), "{log}");
        assert!(log.contains("http://localhost:8080"), "{log}");
    }

    #[test]
    fn other_origins_pass_in_silence() {
        let base = BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        let warned = AtomicBool::new(false);
        let log = captured(|| {
            // Another port, another scheme, another host, the exact origin, no scheme.
            warn_once(&warned, &base, Some("http"), "localhost", Some(9090));
            warn_once(&warned, &base, Some("https"), "localhost", Some(8080));
            warn_once(&warned, &base, Some("http"), "example.com", Some(8080));
            warn_once(&warned, &base, Some("http"), "127.0.0.1", Some(8080));
            warn_once(&warned, &base, None, "localhost", Some(8080));
        });
        assert_eq!(log, "");
        assert!(!warned.load(Ordering::Relaxed));

        // A base URL that is not loopback has no aliases here.
        let base = BaseUrl::parse("https://ts.example.com").unwrap();
        let log = captured(|| warn_once(&warned, &base, Some("https"), "localhost", None));
        assert_eq!(log, "");
    }

    /// Through both front doors, as a user meets it: the base URL says `localhost`, the requests
    /// say `127.0.0.1`; each front door's first such request warns (the flag is reset between
    /// them), and the requests reach the server without a credential.
    #[cfg(all(feature = "mock", feature = "reqwest"))]
    #[tokio::test(flavor = "current_thread")]
    async fn both_front_doors_warn_when_an_alias_passes_through() {
        use bytes::Bytes;
        use http_body_util::Full;
        use tower::{Layer, ServiceExt};

        use crate::mock::{self, MockThoughtSpot};

        let ts = MockThoughtSpot::start().await.unwrap();
        let ip_url = ts.base_url();
        let base = ip_url.replace("127.0.0.1", "localhost");
        assert_ne!(base, ip_url);
        let search = format!("{ip_url}/api/rest/2.0/metadata/search");

        let out = Captured::default();
        let _guard = tracing::subscriber::set_default(out.subscriber(tracing::Level::INFO));
        let warnings = || {
            let log = out.text();
            log.matches("another spelling of ThoughtSpot's loopback address")
                .count()
        };

        WARNED.store(false, Ordering::Relaxed);
        let layer = crate::layer::ThoughtSpotAuthLayer::builder(&base)
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .build()
            .unwrap();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let service = layer.layer(client);
        for _ in 0..2 {
            let request = http::Request::post(&search)
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap();
            let response = service.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 401);
        }
        assert_eq!(warnings(), 1, "tower");

        WARNED.store(false, Ordering::Relaxed);
        let plain = reqwest::Client::new();
        let auth = crate::middleware::ThoughtSpotAuthMiddleware::builder(&base)
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .build_middleware(plain.clone())
            .unwrap();
        let client = reqwest_middleware::ClientBuilder::new(plain)
            .with(auth)
            .build();
        for _ in 0..2 {
            let response = client.post(&search).body("{}").send().await.unwrap();
            assert_eq!(response.status(), 401);
        }
        assert_eq!(warnings(), 2, "reqwest-middleware");
        assert_eq!(ts.logins(), 0, "nothing was sent for the alias");
    }
}
