//! [`TokenProvider`]: bearer tokens that come from elsewhere (an identity provider, another
//! service, a vault), with the crate's expiry, single-flight, rejection and replay rules applied
//! to what it returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use secrecy::SecretString;

use super::SourceError;

/// What [`TokenProvider::token`] returns.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ProvidedToken, SourceError>> + Send + 'a>>;

/// Gives the bearer token a request needs, when the layer needs a new one: at the first
/// request, near the end of the last one's lifetime, and after ThoughtSpot rejected it. Set it
/// with [`AuthBuilder::token_provider`](crate::AuthBuilder::token_provider); [`TokenFn`] makes
/// one of an async closure.
///
/// Called on the slow path only, once for all requests waiting at that moment (single flight).
/// A provider that fails says whether the failure may pass ([`SourceError::transient`]: retried
/// with backoff within the login deadline) or not ([`SourceError::permanent`]: a backoff window).
pub trait TokenProvider: Send + Sync + 'static {
    /// A token for `org` (`None`: the request names no org).
    fn token(&self, org: Option<i64>) -> TokenFuture<'_>;
}

/// A token from a [`TokenProvider`], and how long it lives if the provider knows.
pub struct ProvidedToken {
    pub(crate) token: SecretString,
    pub(crate) lifetime: Option<Duration>,
}

impl ProvidedToken {
    /// The token `token`, living the configured default
    /// ([`AuthBuilder::provided_token_lifetime`](crate::AuthBuilder::provided_token_lifetime),
    /// 5 minutes unless set) from the moment it was asked for.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: SecretString::from(token.into()),
            lifetime: None,
        }
    }

    /// The token lives `lifetime` (at least a second) from the moment it was asked for: it is
    /// refreshed before then (at most 30 s or 10 % of it before, as logins are).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime.max(Duration::from_secs(1)));
        self
    }
}

impl fmt::Debug for ProvidedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvidedToken")
            .field("token", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// A [`TokenProvider`] made of an async closure: given the org, it returns a
/// [`ProvidedToken`] or a [`SourceError`].
///
/// ```
/// use std::time::Duration;
/// use thoughtspot_auth::ThoughtSpotAuthLayer;
/// use thoughtspot_auth::secrets::{ProvidedToken, SourceError, TokenFn};
///
/// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
///     .token_provider(TokenFn::new(|_org| async {
///         // Ask your identity provider here.
///         let token = std::env::var("TS_TOKEN")
///             .map_err(|e| SourceError::transient("no token yet").with_cause(e))?;
///         Ok(ProvidedToken::new(token).lifetime(Duration::from_secs(600)))
///     }))
///     .build()?;
/// # Ok::<(), thoughtspot_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct TokenFn<F>(F);

impl<F> TokenFn<F> {
    /// The provider that calls `f`.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> fmt::Debug for TokenFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenFn(..)")
    }
}

impl<F, Fut> TokenProvider for TokenFn<F>
where
    F: Fn(Option<i64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ProvidedToken, SourceError>> + Send + 'static,
{
    fn token(&self, org: Option<i64>) -> TokenFuture<'_> {
        Box::pin((self.0)(org))
    }
}
