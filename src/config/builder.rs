//! [`AuthBuilder`]: every setting, with its default, checked into an `AuthConfig` by
//! [`build`](AuthBuilder::build).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{
    AuthConfig, CredentialKind, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CACHED_ORGS,
    DEFAULT_MAX_CACHED_USERS, DEFAULT_MAX_REPLAY_BODY_BYTES, SecretKind, Source, Timings,
    check_org_id,
};
use crate::api_version::ApiVersion;
use crate::base_url::BaseUrl;
use crate::budget::MintBudget;
use crate::error::Error;
use crate::identity::OrgIdentifier;
use crate::secrets::{FixedSecret, SecretSource, TokenProvider};
use crate::store::CredentialStore;
use crate::transport::Transport;

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
    org: Option<OrgIdentifier>,
    timings: Timings,
    replay: bool,
    max_replay_body_bytes: usize,
    max_cached_orgs: usize,
    max_cached_users: usize,
    idle_timeout: Duration,
    allow_insecure_http: bool,
    transport: Option<Arc<dyn Transport>>,
    store: Option<Arc<dyn CredentialStore>>,
    budget: Option<MintBudget>,
    /// The fixed password or secret key given is empty: reported by `build`.
    empty_secret: bool,
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
            budget: None,
            empty_secret: false,
        }
    }

    /// Log in as `user` with a password.
    pub fn password(self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.fixed(user.into(), SecretKind::Password, password.into())
    }

    /// Log in as `user` with a password read from `source` at each login: a file re-read when
    /// it changes, a vault, ... See [`secrets`](crate::secrets).
    ///
    /// ```
    /// use thoughtspot_auth::ThoughtSpotAuthLayer;
    /// use thoughtspot_auth::secrets::SecretFile;
    ///
    /// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
    ///     .password_from("svc-reporting", SecretFile::new("/run/secrets/ts-password"))
    ///     .build()?;
    /// # Ok::<(), thoughtspot_auth::Error>(())
    /// ```
    pub fn password_from(mut self, user: impl Into<String>, source: impl SecretSource) -> Self {
        self.empty_secret = false;
        self.source = Some(Source::Login {
            user: user.into(),
            kind: SecretKind::Password,
            secret: Arc::new(source),
        });
        self
    }

    /// Log in as `user` with the cluster's trusted-authentication secret key (the way for
    /// services; works with MFA on).
    pub fn secret_key(self, user: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.fixed(user.into(), SecretKind::SecretKey, secret_key.into())
    }

    /// Log in as `user` with a trusted-authentication secret key read from `source` at each
    /// login: one key per org ([`PerOrgSecrets`](crate::secrets::PerOrgSecrets)), a file, a
    /// vault. A rotated key is picked up without a restart. See [`secrets`](crate::secrets).
    ///
    /// ```
    /// use thoughtspot_auth::ThoughtSpotAuthLayer;
    /// use thoughtspot_auth::secrets::PerOrgSecrets;
    ///
    /// let keys = PerOrgSecrets::new().org(1, "key-of-org-1").org(2, "key-of-org-2");
    /// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
    ///     .secret_key_from("svc-reporting", keys)
    ///     .org(2)
    ///     .build()?;
    /// # Ok::<(), thoughtspot_auth::Error>(())
    /// ```
    pub fn secret_key_from(mut self, user: impl Into<String>, source: impl SecretSource) -> Self {
        self.empty_secret = false;
        self.source = Some(Source::Login {
            user: user.into(),
            kind: SecretKind::SecretKey,
            secret: Arc::new(source),
        });
        self
    }

    fn fixed(mut self, user: String, kind: SecretKind, secret: String) -> Self {
        let secret = FixedSecret::new(secret);
        self.empty_secret = secret.is_empty();
        self.source = Some(Source::Login {
            user,
            kind,
            secret: Arc::new(secret),
        });
        self
    }

    /// Present a token you obtained yourself. It cannot be renewed: when ThoughtSpot rejects it,
    /// requests get ThoughtSpot's answer. An invalid token is reported by [`build`].
    ///
    /// [`build`]: AuthBuilder::build
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.empty_secret = false;
        self.source = Some(match crate::session::SessionCredential::bearer(token) {
            Ok(credential) => Source::Static(credential),
            // Reported by `build`, without the token.
            Err(_) => Source::Login {
                user: String::new(),
                kind: SecretKind::Password,
                secret: Arc::new(FixedSecret::new("")),
            },
        });
        self
    }

    /// Bearer tokens from `provider`, asked for when one is needed: at the first request, before
    /// the last one's lifetime ends (the provider's, else
    /// [`provided_token_lifetime`](Self::provided_token_lifetime)), and after ThoughtSpot
    /// rejected it, with the expiry, single-flight, rejection and replay rules of every mode.
    /// See [`TokenFn`](crate::secrets::TokenFn) for an example.
    pub fn token_provider(mut self, provider: impl TokenProvider) -> Self {
        self.empty_secret = false;
        self.source = Some(Source::Provider(Arc::new(provider)));
        self
    }

    /// How long a provided token lives when its provider does not say (default 5 minutes,
    /// ThoughtSpot's default token validity). At least a second.
    pub fn provided_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.timings.provided_lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// Multi-user trusted authentication: act as whichever user each request names with
    /// [`ActAs`](crate::ActAs), minting and caching one token per (user, org) with the cluster's
    /// trusted-authentication secret key. A request without an `ActAs` fails before anything is
    /// sent; it never gets another user's credential.
    pub fn act_as_users(self, secret_key: impl Into<String>) -> Self {
        let secret = FixedSecret::new(secret_key);
        let empty = secret.is_empty();
        let mut builder = self.act_as_users_from(secret);
        builder.empty_secret = empty;
        builder
    }

    /// Multi-user trusted authentication, as [`act_as_users`](Self::act_as_users), with the
    /// secret key read from `source` at each mint: one key per org
    /// ([`PerOrgSecrets`](crate::secrets::PerOrgSecrets)), a file, a vault. See
    /// [`secrets`](crate::secrets).
    ///
    /// ```
    /// use thoughtspot_auth::ThoughtSpotAuthLayer;
    /// use thoughtspot_auth::secrets::PerOrgSecrets;
    ///
    /// let keys = PerOrgSecrets::new()
    ///     .org(1, "key-of-org-1")
    ///     .default_secret("key-of-the-primary-org");
    /// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
    ///     .act_as_users_from(keys)
    ///     .build()?;
    /// # Ok::<(), thoughtspot_auth::Error>(())
    /// ```
    pub fn act_as_users_from(mut self, source: impl SecretSource) -> Self {
        self.empty_secret = false;
        self.source = Some(Source::ActAs {
            secret: Arc::new(source),
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

    /// The org to work in, by id or by name ([`OrgIdentifier`]). Always sent explicitly, since
    /// ThoughtSpot's default is documented two ways. Change it later with
    /// `AuthHandle::switch_org`. Org ids are int32 in ThoughtSpot's API: one outside that range
    /// fails `build` with [`Error::Config`].
    ///
    /// A name is looked up before the first request's credential is made: one login in the
    /// user's default org and one `auth/session/user` call, then the named org's own login. An
    /// unknown name fails the requests with [`Error::UnknownOrg`] (asked again after a minute).
    /// Names need one user and the v2.0 API; elsewhere `build` fails with [`Error::Config`].
    pub fn org(mut self, org: impl Into<OrgIdentifier>) -> Self {
        self.org = Some(org.into());
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

    /// What every login and mint of this layer draws on (all orgs, all users): by default a
    /// budget of its own of 50 a second in bursts of 10, below ThoughtSpot's 100 requests per
    /// second per client IP. Give several layers, or a layer and the embed endpoint, clones of
    /// one budget to share it. A login waits for its turn within its login deadline; a request
    /// whose credential is fresh never touches it. See [`MintBudget`].
    pub fn mint_budget(mut self, budget: MintBudget) -> Self {
        self.budget = Some(budget);
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
        if self.empty_secret {
            return Err(Error::config(match source {
                Source::ActAs { .. } => "the trusted-authentication secret key is empty",
                _ => "the password or secret key is empty",
            }));
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
        let (org, org_name) = match self.org {
            Some(OrgIdentifier::Id(id)) => {
                check_org_id(id)?;
                (Some(id), None)
            }
            Some(OrgIdentifier::Name(name)) => {
                if name.trim().is_empty() {
                    return Err(Error::config("the org name is empty"));
                }
                if self.api == ApiVersion::Beta {
                    return Err(Error::config(
                        "the beta API takes org ids only: name the org by id, or use the v2.0 API",
                    ));
                }
                (None, Some(name))
            }
            None => (None, None),
        };
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
            org,
            org_name,
            timings: self.timings,
            replay: self.replay,
            max_replay_body_bytes: self.max_replay_body_bytes,
            max_cached,
            idle_timeout: self.idle_timeout,
            transport: self.transport,
            store: self.store,
            budget: self.budget.unwrap_or_default(),
        })
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
            assert_eq!(err.kind(), crate::error::ErrorKind::Config, "{org}");
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
            assert_eq!(err.kind(), crate::error::ErrorKind::Config, "{secs}");
            assert!(err.to_string().contains("int32"), "{err}");
        }
        let at_most = builder().token_validity(Duration::from_secs(i32::MAX as u64));
        assert!(at_most.into_config().is_ok());
    }
}
