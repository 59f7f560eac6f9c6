//! Where ThoughtSpot lives: [`BaseUrl`] and the origin check the hot path makes on every request.

use std::fmt;
use std::net::IpAddr;

use http::Uri;
use http::uri::{Authority, Scheme};

use crate::error::Error;

/// The address of a ThoughtSpot cluster: scheme, host, port and an optional path prefix.
///
/// A trailing slash does not matter, and a path prefix is kept, so ThoughtSpot served behind a
/// reverse proxy at `https://example.com/ts/` works: every API path is appended to the prefix.
/// Plain `http://` is refused unless the host is loopback (`localhost`, `127.0.0.0/8`, `::1`) or
/// the caller opts in with [`BaseUrl::parse_allowing_http`].
///
/// ```
/// use thoughtspot_auth::BaseUrl;
///
/// let base = BaseUrl::parse("https://analytics.example.com/ts/")?;
/// assert_eq!(base.endpoint("/api/rest/2.0/auth/token/full").to_string(),
///            "https://analytics.example.com/ts/api/rest/2.0/auth/token/full");
/// assert!(BaseUrl::parse("http://analytics.example.com").is_err());
/// assert!(BaseUrl::parse("http://127.0.0.1:8080").is_ok());
/// # Ok::<(), thoughtspot_auth::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: Scheme,
    /// `scheme` is `https` (else `http`): the hot path's origin check compares literals.
    https: bool,
    authority: Authority,
    /// Empty, or `/segment...` without a trailing slash.
    prefix: String,
}

impl BaseUrl {
    /// Parses a base URL, refusing `http://` for hosts that are not loopback.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let base = Self::parse_allowing_http(url)?;
        if base.scheme == Scheme::HTTP && !base.is_loopback() {
            return Err(Error::config(format!(
                "refusing plain http:// for the non-loopback host {}: credentials would travel \
                 in clear; use https://, or opt in with `.allow_insecure_http(true)` on the \
                 builder (`BaseUrl::parse_allowing_http`)",
                base.authority.host()
            )));
        }
        Ok(base)
    }

    /// Parses a base URL and accepts `http://` for any host. Credentials then travel in clear:
    /// use it only inside a trusted network.
    pub fn parse_allowing_http(url: &str) -> Result<Self, Error> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|_| Error::config("the base URL is not a valid URL"))?;
        let scheme = match uri.scheme() {
            Some(s) if *s == Scheme::HTTP || *s == Scheme::HTTPS => s.clone(),
            _ => {
                return Err(Error::config(
                    "the base URL must start with https:// (or http:// for loopback)",
                ));
            }
        };
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::config("the base URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(Error::config(
                "the base URL must not carry user information; configure credentials instead",
            ));
        }
        if uri.query().is_some() {
            return Err(Error::config("the base URL must not have a query string"));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            https: scheme == Scheme::HTTPS,
            scheme,
            authority,
            prefix,
        })
    }

    /// The full URI of an API path such as `/api/rest/2.0/auth/token/full`.
    pub fn endpoint(&self, path: &str) -> Uri {
        debug_assert!(path.starts_with('/'));
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(format!("{}{}", self.prefix, path))
            .build()
            .expect("scheme, authority and an absolute path always make a valid URI")
    }

    /// The scheme, `http` or `https`.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// Host and port as written.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The path prefix (empty when ThoughtSpot is served at the root).
    pub fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.authority
            .port_u16()
            .unwrap_or(if self.scheme == Scheme::HTTPS {
                443
            } else {
                80
            })
    }

    /// Whether the host is loopback, where plain `http://` cannot be overheard.
    pub fn is_loopback(&self) -> bool {
        let host = self.authority.host();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether `uri` is for this cluster's origin (same scheme, host and port). A relative URI
    /// (no scheme and no host) counts as this origin: clients resolve it against the base.
    #[inline]
    pub fn is_same_origin(&self, uri: &Uri) -> bool {
        // The common case, written exactly as configured: compare bytes, without parsing host
        // and port or folding case (`Authority`'s own `==` folds case, at ten times the cost).
        // Against literals, the scheme's check folds to a look at `Uri`'s own tag (`Scheme`'s
        // `==` is a call that cannot inline).
        let scheme = uri.scheme_str();
        let same_scheme = if self.https {
            scheme == Some("https")
        } else {
            scheme == Some("http")
        };
        if same_scheme && uri.authority().map(Authority::as_str) == Some(self.authority.as_str()) {
            return true;
        }
        self.is_same_origin_spelled_otherwise(uri)
    }

    /// [`is_same_origin`](Self::is_same_origin) for a URI that does not spell the origin
    /// exactly as configured: another origin, or this one spelled otherwise (other case, the
    /// default port written out, a relative URI). Out of line and cold, so that the common
    /// check stays small enough to inline into the hot path (6 instructions fewer a request
    /// there; requests for other origins are passed through and may pay as much).
    #[cold]
    #[inline(never)]
    fn is_same_origin_spelled_otherwise(&self, uri: &Uri) -> bool {
        match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                self.has_origin(scheme.as_str(), authority.host(), authority.port_u16())
            }
            (None, None) => true,
            _ => false,
        }
    }

    /// Whether `scheme://host:port` (the port defaulting by scheme) is this cluster's origin.
    pub(crate) fn has_origin(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let default = match scheme {
            s if s.eq_ignore_ascii_case("https") => 443,
            s if s.eq_ignore_ascii_case("http") => 80,
            _ => return false,
        };
        scheme.eq_ignore_ascii_case(self.scheme.as_str())
            && host.eq_ignore_ascii_case(self.authority.host())
            && port.unwrap_or(default) == self.port()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BaseUrl")
            .field(&format_args!("{self}"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_and_prefix() {
        let a = BaseUrl::parse("https://ts.example.com/").unwrap();
        let b = BaseUrl::parse("https://ts.example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.endpoint("/x").to_string(), "https://ts.example.com/x");
        let p = BaseUrl::parse("https://ex.com/ts/").unwrap();
        assert_eq!(p.path_prefix(), "/ts");
        assert_eq!(p.to_string(), "https://ex.com/ts");
    }

    #[test]
    fn plain_http_only_for_loopback_or_opt_in() {
        for ok in [
            "http://localhost:1",
            "http://127.0.0.1",
            "http://127.3.2.1:80",
            "http://[::1]:9",
        ] {
            assert!(BaseUrl::parse(ok).is_ok(), "{ok}");
        }
        let err = BaseUrl::parse("http://ts.example.com").unwrap_err();
        assert!(err.to_string().contains("plain http://"), "{err}");
        assert!(BaseUrl::parse_allowing_http("http://ts.example.com").is_ok());
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "ts.example.com",
            "ftp://ts.example.com",
            "https://u:p@ts.example.com",
            "https://ts.example.com/?a=b",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
        let err = BaseUrl::parse("https://u:secretpw@ts.example.com").unwrap_err();
        assert!(!err.to_string().contains("secretpw"));
    }

    #[test]
    fn same_origin() {
        let base = BaseUrl::parse("https://ts.example.com/ts").unwrap();
        let yes: Uri = "https://TS.example.com:443/other".parse().unwrap();
        let rel: Uri = "/api/x".parse().unwrap();
        assert!(base.is_same_origin(&yes));
        assert!(base.is_same_origin(&rel));
        for no in [
            "http://ts.example.com/",
            "https://ts.example.com:8443/",
            "https://evil.example.com/",
            "https://ts.example.com.evil.com/",
        ] {
            assert!(!base.is_same_origin(&no.parse().unwrap()), "{no}");
        }
    }

    /// Only the scheme differs (the port written out is the base's own): another origin.
    #[test]
    fn the_scheme_alone_makes_another_origin() {
        let https = BaseUrl::parse("https://ts.example.com").unwrap();
        let http = BaseUrl::parse_allowing_http("http://ts.example.com").unwrap();
        let loopback = BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        for (base, other) in [
            (&https, "http://ts.example.com:443/api"),
            (&https, "HTTP://ts.example.com:443/api"),
            (&http, "https://ts.example.com:80/api"),
            (&loopback, "https://127.0.0.1:8080/api"),
        ] {
            assert!(
                !base.is_same_origin(&other.parse().unwrap()),
                "{base} {other}"
            );
        }
        assert!(loopback.is_same_origin(&"http://127.0.0.1:8080/api".parse().unwrap()));
    }
}
