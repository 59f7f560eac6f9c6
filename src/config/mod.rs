//! Configuration: how to log in and every timing, checked into an `AuthConfig`. The builder
//! that reads like tower-http's is in `builder.rs`, reading it from the environment in `env.rs`.

mod builder;
mod env;

use std::sync::Arc;
use std::time::Duration;

pub use builder::AuthBuilder;

use crate::api_version::ApiVersion;
use crate::base_url::BaseUrl;
use crate::budget::MintBudget;
use crate::error::Error;
use crate::secrets::{SecretSource, TokenProvider};
use crate::store::CredentialStore;
use crate::transport::Transport;

/// Which secret a login presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretKind {
    /// A user's password.
    Password,
    /// The cluster's (or an org's) trusted-authentication secret key.
    SecretKey,
}

/// A secret as read from its source for one login, dropped when the login is done.
pub(crate) enum Secret {
    /// A user's password.
    Password(secrecy::SecretString),
    /// The cluster's trusted-authentication secret key.
    SecretKey(secrecy::SecretString),
}

impl Secret {
    pub(crate) fn new(kind: SecretKind, value: secrecy::SecretString) -> Self {
        match kind {
            SecretKind::Password => Self::Password(value),
            SecretKind::SecretKey => Self::SecretKey(value),
        }
    }
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
    /// Log in as `user` with the secret `secret` gives.
    Login {
        user: String,
        kind: SecretKind,
        secret: Arc<dyn SecretSource>,
    },
    /// A token the user supplied; it cannot be renewed.
    Static(crate::session::SessionCredential),
    /// Tokens from the user's provider, asked for when one is needed.
    Provider(Arc<dyn TokenProvider>),
    /// Multi-user trusted authentication: each request names its user with `ActAs`; `secret`
    /// gives the trusted-authentication key.
    ActAs { secret: Arc<dyn SecretSource> },
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
    /// Lifetime of a provided token whose provider does not say.
    pub(crate) provided_lifetime: Duration,
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
            provided_lifetime: Duration::from_secs(300),
            call_timeout: crate::session::DEFAULT_CALL_TIMEOUT,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            store_lease: DEFAULT_STORE_LEASE,
        }
    }
}

/// Default limit on a request body kept for a replay.
pub(crate) const DEFAULT_MAX_REPLAY_BODY_BYTES: usize = 64 * 1024;
/// Default number of orgs whose credentials are cached at once.
pub(crate) const DEFAULT_MAX_CACHED_ORGS: usize = 16;
/// Default number of (user, org) credentials cached at once in multi-user mode.
pub(crate) const DEFAULT_MAX_CACHED_USERS: usize = 10_000;
/// Default time after which an unused cached credential is dropped.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Default time limit of one credential store call.
pub(crate) const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(500);
/// Default lease on a fleet-wide login (renewed while the login runs).
pub(crate) const DEFAULT_STORE_LEASE: Duration = Duration::from_secs(5);

/// Everything the layer needs to know, checked. Built by [`AuthBuilder`].
#[derive(Clone)]
pub(crate) struct AuthConfig {
    pub(crate) base: BaseUrl,
    pub(crate) source: Source,
    pub(crate) kind: CredentialKind,
    pub(crate) api: ApiVersion,
    pub(crate) org: Option<i64>,
    /// The org to start in, by name: looked up before the first request's credential.
    pub(crate) org_name: Option<String>,
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
    /// What every login and mint sent to ThoughtSpot draws on.
    pub(crate) budget: MintBudget,
}

impl AuthConfig {
    /// The credential mode, as a metrics label.
    pub(crate) fn mode_label(&self) -> &'static str {
        match &self.source {
            Source::Login {
                kind: SecretKind::Password,
                ..
            } => "password",
            Source::Login {
                kind: SecretKind::SecretKey,
                ..
            } => "secret_key",
            Source::ActAs { .. } => "act_as",
            Source::Static(_) => "token",
            Source::Provider(_) => "provider",
        }
    }

    #[inline]
    pub(crate) fn multi_user(&self) -> bool {
        matches!(self.source, Source::ActAs { .. })
    }

    /// Whether a rejected login is the account's: a password is one for every org, so its
    /// rejection blocks them all; a secret key may be one per org, so its rejection blocks the
    /// org it was for (and, with one key for every org, each org tries it once per window).
    pub(crate) fn rejection_is_the_accounts(&self) -> bool {
        matches!(
            self.source,
            Source::Login {
                kind: SecretKind::Password,
                ..
            }
        )
    }

    /// Whether logins send anything of this crate's to ThoughtSpot (not for a static or a
    /// provided token), and so draw on the mint budget.
    pub(crate) fn mints(&self) -> bool {
        !matches!(self.source, Source::Static(_) | Source::Provider(_))
    }

    /// Which secret logins present and where it comes from; `None` for a static token.
    pub(crate) fn secret_source(&self) -> Option<(SecretKind, &Arc<dyn SecretSource>)> {
        match &self.source {
            Source::Login { kind, secret, .. } => Some((*kind, secret)),
            Source::ActAs { secret } => Some((SecretKind::SecretKey, secret)),
            Source::Static(_) | Source::Provider(_) => None,
        }
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
