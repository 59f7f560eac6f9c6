//! Configuration: where ThoughtSpot lives, how to log in, and every timing, with the builder
//! that reads like tower-http's.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use http::uri::{Authority, Scheme};

use crate::Error;
use crate::session::ApiVersion;
use crate::store::CredentialStore;
use crate::transport::Transport;

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

/// How the layer proves who it is when it logs in.
#[derive(Clone)]
pub(crate) enum Secret {
    /// A user's password.
    Password(secrecy::SecretString),
    /// The cluster's trusted-authentication secret key.
    SecretKey(secrecy::SecretString),
}

/// What the layer presents on each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A bearer token (`token/full`, or the beta's `session/gettoken`). The default.
    #[default]
    BearerToken,
    /// A cookie session (`session/login`): `JSESSIONID` and `clientId`.
    CookieSession,
}

/// Where the credential comes from.
#[derive(Clone)]
pub(crate) enum Source {
    /// Log in as `user` with `secret`.
    Login { user: String, secret: Secret },
    /// A token the user supplied; it cannot be renewed.
    Static(crate::session::SessionCredential),
    /// Multi-user trusted authentication: each request names its user with `ActAs`.
    ActAs { secret_key: secrecy::SecretString },
}

/// Every timing the layer uses, with its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timings {
    /// Refresh this long before expiry at most (the margin is also at most 10 % of the lifetime).
    pub(crate) refresh_margin: Duration,
    /// How long a request waits for a login through transient failures before it gets the error.
    pub(crate) login_deadline: Duration,
    /// First wait after a transient login failure; doubles up to `transient_backoff_max`.
    pub(crate) transient_backoff: Duration,
    /// Longest wait between transient login failures.
    pub(crate) transient_backoff_max: Duration,
    /// No new attempt with the same password or key for this long after a permanent failure
    /// (doubling for each further one, up to `permanent_backoff_max`).
    pub(crate) permanent_backoff: Duration,
    /// Longest wait after repeated permanent failures.
    pub(crate) permanent_backoff_max: Duration,
    /// Lifetime of a cookie session when the server does not say (v2.0 does not).
    pub(crate) session_lifetime: Duration,
    /// The requested token validity (`validity_time_in_sec`, `tokenExpiryDuration`).
    pub(crate) token_validity: Option<Duration>,
    /// Time limit of one session call.
    pub(crate) call_timeout: Duration,
    /// Time limit of one credential store call; past it the replica logs in alone.
    pub(crate) store_timeout: Duration,
    /// How long a replica's lease on a fleet-wide login lasts unless renewed.
    pub(crate) store_lease: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(30),
            login_deadline: Duration::from_secs(30),
            transient_backoff: Duration::from_millis(250),
            transient_backoff_max: Duration::from_secs(30),
            permanent_backoff: Duration::from_secs(60),
            permanent_backoff_max: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(30 * 60),
            token_validity: None,
            call_timeout: crate::session::DEFAULT_CALL_TIMEOUT,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            store_lease: DEFAULT_STORE_LEASE,
        }
    }
}

/// Default limit on a request body kept for a replay.
pub const DEFAULT_MAX_REPLAY_BODY_BYTES: usize = 64 * 1024;
/// Default number of orgs whose credentials are cached at once.
pub const DEFAULT_MAX_CACHED_ORGS: usize = 16;
/// Default number of (user, org) credentials cached at once in multi-user mode.
pub const DEFAULT_MAX_CACHED_USERS: usize = 10_000;
/// Default time after which an unused cached credential is dropped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Default time limit of one credential store call.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(500);
/// Default lease on a fleet-wide login (renewed while the login runs).
pub const DEFAULT_STORE_LEASE: Duration = Duration::from_secs(5);

/// Everything the layer needs to know, checked. Built by [`AuthBuilder`].
#[derive(Clone)]
pub(crate) struct AuthConfig {
    pub(crate) base: BaseUrl,
    pub(crate) source: Source,
    pub(crate) kind: CredentialKind,
    pub(crate) api: ApiVersion,
    pub(crate) org: Option<i64>,
    pub(crate) timings: Timings,
    pub(crate) replay: bool,
    pub(crate) max_replay_body_bytes: usize,
    /// How many credentials the cache holds at most.
    pub(crate) max_cached: usize,
    /// Credentials unused this long are dropped.
    pub(crate) idle_timeout: Duration,
    pub(crate) transport: Option<Arc<dyn Transport>>,
    /// Where a fleet of replicas shares its credentials; `None`: this process only.
    pub(crate) store: Option<Arc<dyn CredentialStore>>,
}

impl AuthConfig {
    #[inline]
    pub(crate) fn multi_user(&self) -> bool {
        matches!(self.source, Source::ActAs { .. })
    }
}

/// Configures a [`ThoughtSpotAuthLayer`](crate::ThoughtSpotAuthLayer) (or, with the `reqwest`
/// feature, the reqwest-middleware adapter). Start with
/// [`ThoughtSpotAuthLayer::builder`](crate::ThoughtSpotAuthLayer::builder) or
/// [`AuthBuilder::from_env`].
///
/// ```
/// use std::time::Duration;
/// use thoughtspot_auth::ThoughtSpotAuthLayer;
///
/// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
///     .password("svc-reporting", "correct horse battery staple")
///     .org(2)
///     .token_validity(Duration::from_secs(900))
///     .build()?;
/// # Ok::<(), thoughtspot_auth::Error>(())
/// ```
#[must_use]
pub struct AuthBuilder {
    base: String,
    source: Option<Source>,
    kind: CredentialKind,
    api: ApiVersion,
    org: Option<i64>,
    timings: Timings,
    replay: bool,
    max_replay_body_bytes: usize,
    max_cached_orgs: usize,
    max_cached_users: usize,
    idle_timeout: Duration,
    allow_insecure_http: bool,
    transport: Option<Arc<dyn Transport>>,
    store: Option<Arc<dyn CredentialStore>>,
}

impl fmt::Debug for AuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthBuilder")
            .field("kind", &self.kind)
            .field("api", &self.api)
            .field("org", &self.org)
            .field("replay", &self.replay)
            .field("credential_store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthBuilder {
    /// A builder for the cluster at `base_url`. Set a credential source next: [`password`],
    /// [`secret_key`] or [`token`].
    ///
    /// [`password`]: AuthBuilder::password
    /// [`secret_key`]: AuthBuilder::secret_key
    /// [`token`]: AuthBuilder::token
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base: base_url.into(),
            source: None,
            kind: CredentialKind::default(),
            api: ApiVersion::V2,
            org: None,
            timings: Timings::default(),
            replay: true,
            max_replay_body_bytes: DEFAULT_MAX_REPLAY_BODY_BYTES,
            max_cached_orgs: DEFAULT_MAX_CACHED_ORGS,
            max_cached_users: DEFAULT_MAX_CACHED_USERS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            allow_insecure_http: false,
            transport: None,
            store: None,
        }
    }

    /// A builder from the environment: `THOUGHTSPOT_URL`, `THOUGHTSPOT_USERNAME`,
    /// `THOUGHTSPOT_PASSWORD` or `THOUGHTSPOT_SECRET_KEY`, and optionally `THOUGHTSPOT_ORG_ID`,
    /// `THOUGHTSPOT_TOKEN_VALIDITY_SECS` and `THOUGHTSPOT_API` (`v2`, the default, or `beta`).
    ///
    /// With the `redis` feature, `THOUGHTSPOT_REDIS_URL` (`redis://` or `rediss://`) shares
    /// credentials with the rest of the fleet through a [`RedisCredentialStore`], with
    /// `THOUGHTSPOT_REDIS_USERNAME`, `THOUGHTSPOT_REDIS_PASSWORD` (an ACL user and password,
    /// if not in the URL) and `THOUGHTSPOT_REDIS_KEY_PREFIX` optionally. Without the feature a
    /// set `THOUGHTSPOT_REDIS_URL` is an error rather than silently ignored.
    ///
    /// [`RedisCredentialStore`]: crate::store::RedisCredentialStore
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let need = |name: &str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Error::config(format!("{name} is not set")))
        };
        let mut builder = Self::new(need("THOUGHTSPOT_URL")?);
        let user = need("THOUGHTSPOT_USERNAME")?;
        builder = match (get("THOUGHTSPOT_SECRET_KEY"), get("THOUGHTSPOT_PASSWORD")) {
            (_, Some(password)) if !password.is_empty() => builder.password(user, password),
            (Some(key), _) if !key.is_empty() => builder.secret_key(user, key),
            _ => {
                return Err(Error::config(
                    "set THOUGHTSPOT_PASSWORD or THOUGHTSPOT_SECRET_KEY",
                ));
            }
        };
        if let Some(org) = get("THOUGHTSPOT_ORG_ID").filter(|v| !v.trim().is_empty()) {
            let org = org
                .trim()
                .parse()
                .map_err(|_| Error::config("THOUGHTSPOT_ORG_ID must be an integer"))?;
            builder = builder.org(org);
        }
        if let Some(secs) = get("THOUGHTSPOT_TOKEN_VALIDITY_SECS").filter(|v| !v.trim().is_empty())
        {
            let secs: u64 = secs.trim().parse().map_err(|_| {
                Error::config("THOUGHTSPOT_TOKEN_VALIDITY_SECS must be a whole number of seconds")
            })?;
            builder = builder.token_validity(Duration::from_secs(secs));
        }
        match get("THOUGHTSPOT_API").as_deref().map(str::trim) {
            None | Some("") | Some("v2") | Some("V2") | Some("2.0") => {}
            Some("beta") | Some("BETA") => builder = builder.api(ApiVersion::Beta),
            Some(_) => return Err(Error::config("THOUGHTSPOT_API must be `v2` or `beta`")),
        }
        if let Some(url) = get("THOUGHTSPOT_REDIS_URL").filter(|v| !v.trim().is_empty()) {
            builder = builder.redis_from_lookup(url.trim(), &get)?;
        }
        Ok(builder)
    }

    #[cfg(feature = "redis")]
    fn redis_from_lookup(
        self,
        url: &str,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let set = |name: &str| get(name).filter(|v| !v.is_empty());
        let mut store = crate::store::RedisCredentialStore::builder(url);
        if let Some(user) = set("THOUGHTSPOT_REDIS_USERNAME") {
            store = store.username(user);
        }
        if let Some(password) = set("THOUGHTSPOT_REDIS_PASSWORD") {
            store = store.password(password);
        }
        if let Some(prefix) = set("THOUGHTSPOT_REDIS_KEY_PREFIX") {
            store = store.key_prefix(prefix);
        }
        Ok(self.credential_store(store.build()?))
    }

    #[cfg(not(feature = "redis"))]
    fn redis_from_lookup(
        self,
        _url: &str,
        _get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        Err(Error::config(
            "THOUGHTSPOT_REDIS_URL is set, but thoughtspot-auth was built without its `redis` \
             feature",
        ))
    }

    /// Log in as `user` with a password.
    pub fn password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.source = Some(Source::Login {
            user: user.into(),
            secret: Secret::Password(secrecy::SecretString::from(password.into())),
        });
        self
    }

    /// Log in as `user` with the cluster's trusted-authentication secret key (the way for
    /// services; works with MFA on).
    pub fn secret_key(mut self, user: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.source = Some(Source::Login {
            user: user.into(),
            secret: Secret::SecretKey(secrecy::SecretString::from(secret_key.into())),
        });
        self
    }

    /// Present a token you obtained yourself. It cannot be renewed: when ThoughtSpot rejects it,
    /// requests get ThoughtSpot's answer. An invalid token is reported by [`build`].
    ///
    /// [`build`]: AuthBuilder::build
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.source = Some(match crate::session::SessionCredential::bearer(token) {
            Ok(credential) => Source::Static(credential),
            // Reported by `build`, without the token.
            Err(_) => Source::Login {
                user: String::new(),
                secret: Secret::Password(secrecy::SecretString::from(String::new())),
            },
        });
        self
    }

    /// Multi-user trusted authentication: act as whichever user each request names with
    /// [`ActAs`](crate::ActAs), minting and caching one token per (user, org) with the cluster's
    /// trusted-authentication secret key. A request without an `ActAs` fails before anything is
    /// sent; it never gets another user's credential.
    pub fn act_as_users(mut self, secret_key: impl Into<String>) -> Self {
        self.source = Some(Source::ActAs {
            secret_key: secrecy::SecretString::from(secret_key.into()),
        });
        self
    }

    /// Use cookie sessions (`JSESSIONID` + `clientId`) instead of bearer tokens.
    pub fn cookie_session(mut self) -> Self {
        self.kind = CredentialKind::CookieSession;
        self
    }

    /// Which credential to present (bearer token by default).
    pub fn credential_kind(mut self, kind: CredentialKind) -> Self {
        self.kind = kind;
        self
    }

    /// Which API generation to log in with: [`ApiVersion::V2`] (default) or
    /// [`ApiVersion::Beta`]. It also decides how rejected credentials look (401 or a 500 with an
    /// upstream 401).
    pub fn api(mut self, api: ApiVersion) -> Self {
        self.api = api;
        self
    }

    /// The org to work in. Always sent explicitly, since ThoughtSpot's default is documented two
    /// ways. Change it later with `AuthHandle::switch_org`. Org ids are int32 in ThoughtSpot's
    /// API: one outside that range fails `build` with [`Error::Config`].
    pub fn org(mut self, org_id: i64) -> Self {
        self.org = Some(org_id);
        self
    }

    /// The token validity to ask for (`validity_time_in_sec`; the server's default is 300 s and
    /// it may cap what it grants: the granted lifetime is what counts). Whole seconds, from one
    /// to `i32::MAX` (an int32 in ThoughtSpot's API); outside that `build` fails with
    /// [`Error::Config`].
    pub fn token_validity(mut self, validity: Duration) -> Self {
        self.timings.token_validity = Some(validity);
        self
    }

    /// Refresh at most this long before expiry (default 30 s; the margin is also at most 10 % of
    /// the lifetime, and a little jitter spreads refreshes out).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.timings.refresh_margin = margin;
        self
    }

    /// How long a request waits for a login, through transient failures, before it gets the
    /// error (default 30 s).
    pub fn login_deadline(mut self, deadline: Duration) -> Self {
        self.timings.login_deadline = deadline;
        self
    }

    /// Backoff after transient login failures (429, 5xx, maintenance, network): the first wait
    /// and the longest (defaults 250 ms and 30 s; `Retry-After` wins when longer).
    pub fn transient_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.timings.transient_backoff = first;
        self.timings.transient_backoff_max = max.max(first);
        self
    }

    /// Backoff after permanent login failures (bad credentials, locked account): no new attempt
    /// with the same password or key for `first` (default 60 s), doubling for each further one up
    /// to `max` (default 30 min). Repeated bad logins lock accounts.
    pub fn permanent_failure_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.timings.permanent_backoff = first;
        self.timings.permanent_backoff_max = max.max(first);
        self
    }

    /// The lifetime assumed for a cookie session when the server does not say (default 30 min).
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.timings.session_lifetime = lifetime;
        self
    }

    /// The time limit of one login or other session call (default 30 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.timings.call_timeout = timeout;
        self
    }

    /// Whether a request whose credential was rejected is sent once more with a new one (default
    /// on). Turn it off if you retry elsewhere; the request then gets the rejection.
    pub fn replay(mut self, enabled: bool) -> Self {
        self.replay = enabled;
        self
    }

    /// The largest request body kept for a replay (default 64 KiB). Larger or streaming bodies are
    /// sent once, never refused.
    pub fn max_replay_body_bytes(mut self, limit: usize) -> Self {
        self.max_replay_body_bytes = limit;
        self
    }

    /// How many orgs' credentials are cached at once (default 16); the least recently used goes.
    pub fn max_cached_orgs(mut self, max: usize) -> Self {
        self.max_cached_orgs = max.max(1);
        self
    }

    /// How many (user, org) credentials are cached at once in multi-user mode (default 10,000);
    /// the least recently used idle one goes first. Eviction never interrupts a request in
    /// flight: it keeps the credential it was sent with.
    pub fn max_cached_users(mut self, max: usize) -> Self {
        self.max_cached_users = max.max(1);
        self
    }

    /// Cached credentials unused for this long are dropped (default 15 min).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle.max(Duration::from_secs(1));
        self
    }

    /// Accept `http://` for a host that is not loopback. Credentials then travel in clear.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The transport for logins and other session calls. By default the tower layer uses a clone
    /// of the service it wraps, which never passes through the layer itself.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Shares credentials with the other replicas of a fleet through `store` (with the `redis`
    /// feature, a [`RedisCredentialStore`](crate::store::RedisCredentialStore)): one login per
    /// token lifetime for the whole fleet, one password attempt per backoff window, values
    /// sealed with a key derived from the password or secret key. The store is consulted only
    /// when a credential must be made or dropped; if it fails, this replica logs in alone. See
    /// [`store`](crate::store). Without a store (the default) credentials stay in this process.
    /// A static [`token`](Self::token) is never shared.
    pub fn credential_store(mut self, store: impl CredentialStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The time limit of one credential store call (default 500 ms). A store that does not
    /// answer in time is left alone for a second, and this replica logs in by itself.
    pub fn credential_store_timeout(mut self, timeout: Duration) -> Self {
        self.timings.store_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a replica's lease on a fleet-wide login lasts (default 5 s). The leader renews it
    /// while its login runs; if the leader dies, another replica takes over when it expires.
    pub fn credential_store_lease(mut self, lease: Duration) -> Self {
        self.timings.store_lease = lease.max(Duration::from_millis(30));
        self
    }

    #[cfg(feature = "reqwest")]
    pub(crate) fn has_transport(&self) -> bool {
        self.transport.is_some()
    }

    /// Checks the configuration.
    pub(crate) fn into_config(self) -> Result<AuthConfig, Error> {
        let base = if self.allow_insecure_http {
            BaseUrl::parse_allowing_http(&self.base)?
        } else {
            BaseUrl::parse(&self.base)?
        };
        let source = self.source.ok_or_else(|| {
            Error::config("no credentials: call `.password(..)`, `.secret_key(..)` or `.token(..)`")
        })?;
        if let Source::ActAs { secret_key } = &source {
            if secrecy::ExposeSecret::expose_secret(secret_key).is_empty() {
                return Err(Error::config(
                    "the trusted-authentication secret key is empty",
                ));
            }
        }
        if let Source::Login { user, .. } = &source {
            if user.trim().is_empty() {
                return Err(Error::config(
                    "the user name is empty, or the token is not a valid header value",
                ));
            }
        }
        if let Some(validity) = self.timings.token_validity {
            if validity < Duration::from_secs(1) {
                return Err(Error::config(
                    "the token validity must be at least one second",
                ));
            }
            // `validity_time_in_sec` is an int32 in ThoughtSpot's spec: a larger value would be
            // refused by the server on every login, or worse, wrapped.
            if validity.as_secs() > i32::MAX as u64 {
                return Err(Error::config(format!(
                    "the token validity must be at most {} seconds (an int32 in ThoughtSpot's API)",
                    i32::MAX
                )));
            }
        }
        if let Some(org) = self.org {
            check_org_id(org)?;
        }
        let max_cached = if matches!(source, Source::ActAs { .. }) {
            self.max_cached_users
        } else {
            self.max_cached_orgs
        };
        Ok(AuthConfig {
            base,
            source,
            kind: self.kind,
            api: self.api,
            org: self.org,
            timings: self.timings,
            replay: self.replay,
            max_replay_body_bytes: self.max_replay_body_bytes,
            max_cached,
            idle_timeout: self.idle_timeout,
            transport: self.transport,
            store: self.store,
        })
    }
}

/// Refuses an org id ThoughtSpot cannot hold: `org_id` is an int32 in its spec.
pub(crate) fn check_org_id(org: i64) -> Result<(), Error> {
    if i32::try_from(org).is_ok() {
        Ok(())
    } else {
        Err(Error::config(format!(
            "the org id {org} is out of range: ThoughtSpot's org ids are int32 ({} to {})",
            i32::MIN,
            i32::MAX
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_and_validities_beyond_int32_are_refused_when_built() {
        let builder = || AuthBuilder::new("https://ts.example.com").password("u", "pw");
        for org in [i64::from(i32::MAX) + 1, i64::from(i32::MIN) - 1, i64::MAX] {
            let err = builder().org(org).into_config().err().unwrap();
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{org}");
            assert!(err.to_string().contains("int32"), "{err}");
        }
        for org in [0, i64::from(i32::MAX), i64::from(i32::MIN)] {
            assert!(builder().org(org).into_config().is_ok(), "{org}");
        }
        for secs in [i32::MAX as u64 + 1, u64::MAX] {
            let err = builder()
                .token_validity(Duration::from_secs(secs))
                .into_config()
                .err()
                .unwrap();
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{secs}");
            assert!(err.to_string().contains("int32"), "{err}");
        }
        let at_most = builder().token_validity(Duration::from_secs(i32::MAX as u64));
        assert!(at_most.into_config().is_ok());
    }

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

    fn env(pairs: &[(&str, &str)]) -> Result<AuthBuilder, Error> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        AuthBuilder::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn from_env_reads_every_variable() {
        let config = env(&[
            ("THOUGHTSPOT_URL", "https://ts.example.com/"),
            ("THOUGHTSPOT_USERNAME", "svc"),
            ("THOUGHTSPOT_SECRET_KEY", "key-123"),
            ("THOUGHTSPOT_ORG_ID", "7"),
            ("THOUGHTSPOT_TOKEN_VALIDITY_SECS", "900"),
            ("THOUGHTSPOT_API", "beta"),
        ])
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(config.base.to_string(), "https://ts.example.com");
        assert!(
            matches!(&config.source, Source::Login { user, secret: Secret::SecretKey(_) } if user == "svc")
        );
        assert_eq!(config.org, Some(7));
        assert_eq!(
            config.timings.token_validity,
            Some(Duration::from_secs(900))
        );
        assert_eq!(config.api, ApiVersion::Beta);

        let config = env(&[
            ("THOUGHTSPOT_URL", "https://ts.example.com"),
            ("THOUGHTSPOT_USERNAME", "svc"),
            ("THOUGHTSPOT_PASSWORD", "pw"),
            ("THOUGHTSPOT_SECRET_KEY", "key"),
        ])
        .unwrap()
        .into_config()
        .unwrap();
        assert!(matches!(
            &config.source,
            Source::Login {
                secret: Secret::Password(_),
                ..
            }
        ));
        assert_eq!(config.api, ApiVersion::V2);
        assert_eq!(config.org, None);
    }

    #[test]
    fn from_env_reads_the_redis_url_without_leaking_its_password() {
        let mut vars = vec![
            ("THOUGHTSPOT_URL", "https://ts.example.com"),
            ("THOUGHTSPOT_USERNAME", "svc"),
            ("THOUGHTSPOT_PASSWORD", "pw"),
        ];
        assert!(env(&vars).unwrap().into_config().unwrap().store.is_none());
        vars.push((
            "THOUGHTSPOT_REDIS_URL",
            "redis://:redis-pw-123@127.0.0.1:6379/0",
        ));
        vars.push(("THOUGHTSPOT_REDIS_KEY_PREFIX", "svc:"));
        let result = env(&vars).and_then(AuthBuilder::into_config);
        #[cfg(feature = "redis")]
        assert!(result.unwrap().store.is_some());
        #[cfg(not(feature = "redis"))]
        {
            let error = result.err().unwrap().to_string();
            assert!(error.contains("`redis` feature"), "{error}");
            assert!(!error.contains("redis-pw-123"));
        }
        vars.retain(|(k, _)| *k != "THOUGHTSPOT_REDIS_URL");
        vars.push(("THOUGHTSPOT_REDIS_URL", "memcached://:redis-pw-123@host"));
        let error = env(&vars).err().unwrap().to_string();
        assert!(!error.contains("redis-pw-123"), "{error}");
    }

    #[test]
    fn from_env_says_what_is_missing_or_wrong_without_secrets() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "THOUGHTSPOT_URL is not set"),
            (
                &[("THOUGHTSPOT_URL", "https://x")],
                "THOUGHTSPOT_USERNAME is not set",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                ],
                "THOUGHTSPOT_PASSWORD or THOUGHTSPOT_SECRET_KEY",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                    ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
                    ("THOUGHTSPOT_ORG_ID", "one"),
                ],
                "THOUGHTSPOT_ORG_ID must be an integer",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                    ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
                    ("THOUGHTSPOT_API", "v3"),
                ],
                "THOUGHTSPOT_API must be",
            ),
            (
                &[
                    ("THOUGHTSPOT_URL", "https://x"),
                    ("THOUGHTSPOT_USERNAME", "u"),
                    ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
                    ("THOUGHTSPOT_TOKEN_VALIDITY_SECS", "-1"),
                ],
                "THOUGHTSPOT_TOKEN_VALIDITY_SECS",
            ),
        ];
        for (vars, expected) in cases {
            let err = env(vars)
                .and_then(AuthBuilder::into_config)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains("hunter2-secret"));
        }
        let builder = env(&[
            ("THOUGHTSPOT_URL", "https://x"),
            ("THOUGHTSPOT_USERNAME", "u"),
            ("THOUGHTSPOT_PASSWORD", "hunter2-secret"),
        ])
        .unwrap();
        assert!(!format!("{builder:?}").contains("hunter2-secret"));
    }
}
