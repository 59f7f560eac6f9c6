//! Which pages may make the endpoint mint: the app's own, as a modern CSRF defence decides.
//!
//! A page of another origin cannot read a token (no CORS header), but without this check its
//! calls would still mint one each: spending the user's per-user allowance (so the user's own
//! page then fails), and with persisted access rules writing to the user's record each time.
//!
//! 1. `Sec-Fetch-Site: same-origin` (every current browser sends the header) is the app's page.
//!    Any other value (`same-site`, `cross-site`, `none`) is refused, unless the request's
//!    `Origin` is one of the origins the app listed explicitly (a front end served from another
//!    origin than its API).
//! 2. Without `Sec-Fetch-Site` (an older browser), an `Origin` — or, without one, a `Referer` —
//!    that is present must be an allowed origin: the listed ones, or by default the request's
//!    own host (`Host`, or the URI's authority over HTTP/2).
//! 3. A request with none of these headers is no browser page's (a server-side client, curl):
//!    allowed, as the app's own session check still applies — except a GET that carries a
//!    cookie: a browser's top-level navigation from a foreign page can arrive so (a plain-http
//!    app, where browsers send no `Sec-Fetch-*`, and a page that sends no referrer), while a
//!    page's POST always carries `Origin`.

use http::HeaderMap;
use http::header::{COOKIE, HOST, ORIGIN, REFERER};
use http::request::Parts;

/// The origins the app lists as its own (`scheme://host[:port]`, compared without case and
/// without a default port).
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedOrigins {
    listed: Vec<String>,
}

impl AllowedOrigins {
    /// Adds an origin; `None` if it is not one (`https://app.example.com`, no path or query).
    pub(crate) fn add(&mut self, origin: &str) -> Option<()> {
        let uri: http::Uri = origin.trim().parse().ok()?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return None;
        }
        let normalized = normalize(origin)?;
        if !self.listed.contains(&normalized) {
            self.listed.push(normalized);
        }
        Some(())
    }

    /// Why the request must not mint, if it must not.
    pub(crate) fn refusal(&self, parts: &Parts) -> Option<&'static str> {
        let headers = &parts.headers;
        let origin = header(headers, ORIGIN).filter(|o| *o != "null");
        let listed = |value: Option<&str>| {
            value
                .and_then(normalize)
                .is_some_and(|o| self.listed.contains(&o))
        };
        if let Some(site) = header(headers, http::HeaderName::from_static("sec-fetch-site")) {
            if site.eq_ignore_ascii_case("same-origin") || listed(origin) {
                return None;
            }
            return Some("the page is not of this app's origin");
        }
        // An opaque origin (`Origin: null`: a sandboxed frame, a `data:` page) is nobody's.
        if header(headers, ORIGIN) == Some("null") {
            return Some("the page has no origin");
        }
        let Some(claimed) = origin.or_else(|| header(headers, REFERER)) else {
            // No browser header at all. A browser's top-level GET navigation can come without
            // any (plain http, no referrer) and still carry the app's cookie; a server-side
            // client rarely sends cookies. POSTs from a page always carry `Origin`.
            if parts.method == http::Method::GET && headers.contains_key(COOKIE) {
                return Some("the page that asked cannot be told: call with POST or from https");
            }
            return None;
        };
        let Some(claimed) = normalize(claimed) else {
            return Some("the page's origin is unreadable");
        };
        let own = || {
            let host = header(headers, HOST).or_else(|| parts.uri.authority().map(|a| a.as_str()));
            host.is_some_and(|host| same_host(&claimed, host))
        };
        if self.listed.contains(&claimed) || (self.listed.is_empty() && own()) {
            None
        } else {
            Some("the page is not of this app's origin")
        }
    }
}

fn header(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `scheme://host[:port]` of a URL or origin, lower case, without a default port.
fn normalize(url: &str) -> Option<String> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let host = authority.host().to_ascii_lowercase();
    let default = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    Some(match authority.port_u16() {
        Some(port) if port != default => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Whether the normalized origin `claimed` is on `host` (the request's `Host`: `host[:port]`).
/// The scheme is not compared: behind a proxy that ends TLS the server cannot know its own.
fn same_host(claimed: &str, host: &str) -> bool {
    let Some((scheme, authority)) = claimed.split_once("://") else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default).unwrap_or(&host);
    authority == host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::post("/api/thoughtspot/token");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn allowed(origins: &[&str]) -> AllowedOrigins {
        let mut allowed = AllowedOrigins::default();
        for origin in origins {
            allowed.add(origin).unwrap();
        }
        allowed
    }

    #[test]
    fn sec_fetch_site_decides_when_a_browser_sends_it() {
        let own = AllowedOrigins::default();
        let host = ("host", "app.example.com");
        assert_eq!(
            own.refusal(&parts(&[host, ("sec-fetch-site", "same-origin")])),
            None
        );
        for site in ["same-site", "cross-site", "none"] {
            assert!(
                own.refusal(&parts(&[host, ("sec-fetch-site", site)]))
                    .is_some(),
                "{site}"
            );
            // Even with an Origin that claims the host: the browser's word wins.
            let claims = parts(&[
                host,
                ("sec-fetch-site", site),
                ("origin", "https://app.example.com"),
            ]);
            assert!(own.refusal(&claims).is_some(), "{site}");
        }
    }

    #[test]
    fn a_listed_origin_may_call_from_another_origin() {
        let split = allowed(&["https://app.example.com"]);
        let from_app = parts(&[
            ("host", "api.example.com"),
            ("sec-fetch-site", "same-site"),
            ("origin", "https://APP.example.com:443"),
        ]);
        assert_eq!(split.refusal(&from_app), None);
        let from_other = parts(&[
            ("host", "api.example.com"),
            ("sec-fetch-site", "same-site"),
            ("origin", "https://blog.example.com"),
        ]);
        assert!(split.refusal(&from_other).is_some());
    }

    #[test]
    fn without_sec_fetch_site_the_origin_must_be_the_hosts_own() {
        let own = AllowedOrigins::default();
        for (origin, ok) in [
            ("https://app.example.com", true),
            ("http://app.example.com", true),
            ("https://app.example.com:8443", false),
            ("https://evil.example.com", false),
            ("https://app.example.com.evil.com", false),
            ("null", false),
            ("not a url", false),
        ] {
            let request = parts(&[("host", "app.example.com"), ("origin", origin)]);
            assert_eq!(own.refusal(&request).is_none(), ok, "{origin}");
        }
        let with_port = parts(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert_eq!(own.refusal(&with_port), None);
        let other_port = parts(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9090"),
        ]);
        assert!(own.refusal(&other_port).is_some());
    }

    #[test]
    fn the_referer_stands_in_for_a_missing_origin() {
        let own = AllowedOrigins::default();
        let host = ("host", "app.example.com");
        let ours = parts(&[
            host,
            ("referer", "https://app.example.com/dashboards/7?x=1"),
        ]);
        assert_eq!(own.refusal(&ours), None);
        let theirs = parts(&[host, ("referer", "https://evil.example.net/page")]);
        assert!(own.refusal(&theirs).is_some());
        // A listed origin replaces the default (the request's host) entirely.
        let listed = allowed(&["https://app.example.com"]);
        let via_proxy = parts(&[
            ("host", "internal:8080"),
            ("referer", "https://app.example.com/x"),
        ]);
        assert_eq!(listed.refusal(&via_proxy), None);
        let host_only = parts(&[
            ("host", "internal:8080"),
            ("referer", "http://internal:8080/x"),
        ]);
        assert!(listed.refusal(&host_only).is_some());
    }

    #[test]
    fn a_request_with_no_browser_headers_is_allowed_unless_a_cookie_get() {
        assert_eq!(AllowedOrigins::default().refusal(&parts(&[])), None);
        assert_eq!(
            allowed(&["https://app.example.com"]).refusal(&parts(&[("host", "x")])),
            None
        );
        // A POST (what a page's call without browser headers cannot be) with a cookie: allowed.
        assert_eq!(
            AllowedOrigins::default().refusal(&parts(&[("cookie", "app_session=1")])),
            None
        );
        // A GET with the app's cookie and nothing to tell the page by: a navigation from anywhere.
        let mut navigation = http::Request::get("/api/thoughtspot/token")
            .header("cookie", "app_session=1")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert!(AllowedOrigins::default().refusal(&navigation).is_some());
        navigation
            .headers
            .insert("referer", "https://app.example.com/x".parse().unwrap());
        navigation
            .headers
            .insert("host", "app.example.com".parse().unwrap());
        assert_eq!(AllowedOrigins::default().refusal(&navigation), None);
    }

    #[test]
    fn origins_are_listed_only_as_origins() {
        let mut allowed = AllowedOrigins::default();
        assert!(allowed.add("https://app.example.com").is_some());
        assert!(allowed.add("ftp://app.example.com").is_none());
        assert!(allowed.add("app.example.com").is_none());
        assert!(allowed.add("https://app.example.com/path").is_none());
        assert!(allowed.add("https://app.example.com/?x=1").is_none());
        assert!(allowed.add("https://app.example.com/").is_some());
    }
}
