//! Building the endpoint: the cluster, the secret key, who a call is for, and its limits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::EmbedIdentity;
use super::limits::Backoff;
use super::mint::Minter;
use super::origin::AllowedOrigins;
use super::refusals::RefusalLog;
use super::service::{EmbedTokenService, Identify};
use crate::base_url::BaseUrl;
use crate::budget::MintBudget;
use crate::budget::rate::MintRate;
use crate::error::Error;
use crate::secrets::{FixedSecret, SecretSource};
use crate::session::Session;
use crate::transport::Transport;

impl EmbedTokenService {
    /// A builder for the cluster at `base_url`, minting with the trusted-authentication
    /// `secret_key`.
    pub fn builder(
        base_url: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> EmbedTokenServiceBuilder {
        EmbedTokenServiceBuilder::new(base_url.into(), secret_key.into())
    }
}

/// Builds an [`EmbedTokenService`].
pub struct EmbedTokenServiceBuilder {
    base_url: String,
    secret_key: Arc<dyn SecretSource>,
    empty_secret: bool,
    transport: Option<Arc<dyn Transport>>,
    identify: Option<Arc<Identify>>,
    validity: Option<Duration>,
    per_user: Option<MintRate>,
    global: Option<MintBudget>,
    max_queue_wait: Duration,
    backoff: Backoff,
    allowed_origins: Vec<String>,
    refusal_log_window: Duration,
}

impl fmt::Debug for EmbedTokenServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbedTokenServiceBuilder")
            .field("base_url", &self.base_url)
            .field("per_user", &self.per_user)
            .field("global", &self.global)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

impl EmbedTokenServiceBuilder {
    pub(super) fn new(base_url: String, secret_key: String) -> Self {
        let secret_key = FixedSecret::new(secret_key);
        Self {
            base_url,
            empty_secret: secret_key.is_empty(),
            secret_key: Arc::new(secret_key),
            transport: None,
            identify: None,
            validity: None,
            per_user: Some(MintRate::per_minute(60, 10)),
            global: Some(MintBudget::default()),
            max_queue_wait: Duration::from_secs(10),
            backoff: Backoff::default(),
            allowed_origins: Vec::new(),
            refusal_log_window: Duration::from_secs(60),
        }
    }

    /// Reads the trusted-authentication secret key from `source` at each mint instead of the
    /// key given to [`builder`](EmbedTokenService::builder): one key per org
    /// ([`PerOrgSecrets`](crate::secrets::PerOrgSecrets), by the identity's org), a file, a
    /// vault. A rotated key is used from the next mint on; a mint the old key fails is tried
    /// once more if the source gives another key. `revoke_user` names no org: it reads the
    /// source's key for none (a `PerOrgSecrets` needs a default for it). See
    /// [`secrets`](crate::secrets).
    pub fn secret_key_from(mut self, source: impl SecretSource) -> Self {
        self.secret_key = Arc::new(source);
        self.empty_secret = false;
        self
    }

    /// An origin whose pages may ask for tokens (`https://app.example.com`), for a front end
    /// served from another origin than the endpoint; repeat for several. Without any, only the
    /// endpoint's own origin may (see the [module docs](super), "Only the app's own pages").
    /// Listing origins replaces that default.
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// How long after logging a refusal (per class and user) the same kind is not logged
    /// again (default 60 s); each line says how many went unlogged meanwhile.
    pub fn refusal_log_window(mut self, window: Duration) -> Self {
        self.refusal_log_window = window;
        self
    }

    /// The transport mint calls go over (required).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Who a call is for (required): reads the app's own session from the request's parts
    /// (extensions or headers set by the app's auth middleware). Never take the user from the
    /// query string or body: any page could then ask for anyone's token.
    pub fn identity(
        mut self,
        identify: impl Fn(&http::request::Parts) -> EmbedIdentity + Send + Sync + 'static,
    ) -> Self {
        self.identify = Some(Arc::new(identify));
        self
    }

    /// The validity asked for tokens whose identity does not say (ThoughtSpot's default is
    /// 300 s).
    pub fn validity(mut self, validity: Duration) -> Self {
        self.validity = Some(validity);
        self
    }

    /// The most mints one user may cause (default 60 per minute, bursts of 10); `None` for no
    /// limit. Calls over it are answered 429 with `Retry-After`, so a page in a loop cannot burn
    /// the cluster's rate limit.
    ///
    /// Why these defaults: measured in Chromium with the Visual Embed SDK 1.52, a page asks for
    /// one token per load however many embeds it has (six `LiveboardEmbed`s made one call: the
    /// SDK keeps the token for the page), so a user who reloads a dashboard ten times in ten
    /// seconds makes about ten calls, which a burst of 10 refilled once a second absorbs with
    /// room for a few more pages; a page that calls in a loop meets 429 after its tenth call.
    /// The old default (30 per minute, bursts of 5) failed the sixth such reload.
    ///
    /// What counts: every mint sent to ThoughtSpot, whether it succeeds or fails (a failed mint
    /// cost the cluster a call too, and a page looping on failures must still be slowed; the
    /// failure's backoff applies on top). A call that sends nothing costs nothing: refused for
    /// want of a session or by the app, answered from a backoff, joining a mint already in
    /// flight, or turned away because the global queue is full.
    pub fn per_user_rate(mut self, rate: Option<MintRate>) -> Self {
        self.per_user = rate;
        self
    }

    /// The most mints in all (default 50 per second, bursts of 10: ThoughtSpot allows 100
    /// requests per second per client IP); `None` for no limit. Calls over it wait their turn,
    /// up to [`max_queue_wait`](Self::max_queue_wait).
    pub fn global_rate(mut self, rate: Option<MintRate>) -> Self {
        self.global = rate.map(MintBudget::new);
        self
    }

    /// Draws the mints on `budget`, shared with whatever else draws on it (a layer's logins
    /// and mints, with [`AuthBuilder::mint_budget`](crate::AuthBuilder::mint_budget)), instead
    /// of a global rate of the endpoint's own. Calls wait their turn up to
    /// [`max_queue_wait`](Self::max_queue_wait), as under the global rate.
    pub fn mint_budget(mut self, budget: MintBudget) -> Self {
        self.global = Some(budget);
        self
    }

    /// The longest a call waits for its turn under the global rate (default 10 s); beyond it
    /// the answer is 503 with `Retry-After`.
    pub fn max_queue_wait(mut self, wait: Duration) -> Self {
        self.max_queue_wait = wait;
        self
    }

    /// Backoff after transient mint failures (default 250 ms, doubling up to 30 s), as in the
    /// layer.
    pub fn transient_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff.transient = first;
        self.backoff.transient_max = max.max(first);
        self
    }

    /// Backoff after ThoughtSpot refused a user (default 60 s, doubling up to 30 min): no mint
    /// for that user meanwhile, so a locked user is not retried in a loop.
    pub fn permanent_failure_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff.permanent = first;
        self.backoff.permanent_max = max.max(first);
        self
    }

    /// The service.
    pub fn build(self) -> Result<EmbedTokenService, Error> {
        crate::telemetry::describe();
        let base = BaseUrl::parse(&self.base_url)?;
        let transport = self
            .transport
            .ok_or_else(|| Error::config("the token endpoint needs a transport"))?;
        let identify = self
            .identify
            .ok_or_else(|| Error::config("the token endpoint needs an identity closure"))?;
        if self.empty_secret {
            return Err(Error::config(
                "the trusted-authentication secret key is empty",
            ));
        }
        let minter = Minter::new(
            Session::new(base, transport),
            self.secret_key,
            self.per_user,
            self.global,
            self.max_queue_wait,
            self.backoff,
        );
        let mut origins = AllowedOrigins::default();
        for origin in &self.allowed_origins {
            origins.add(origin).ok_or_else(|| {
                Error::config(
                    "an allowed origin must be scheme://host[:port] (http or https, no path)",
                )
            })?;
        }
        Ok(EmbedTokenService {
            minter: Arc::new(minter),
            identify,
            default_validity: self.validity,
            origins: Arc::new(origins),
            refusals: Arc::new(RefusalLog::new(self.refusal_log_window)),
        })
    }
}
