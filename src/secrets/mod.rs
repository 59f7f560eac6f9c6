//! Where passwords, trusted-authentication secret keys and tokens come from: a [`SecretSource`]
//! is asked for the secret each time a login or a mint needs one, and the answer is dropped when
//! that call is done.
//!
//! Ready sources:
//!
//! - [`FixedSecret`]: one secret, fixed when the layer is built (what
//!   [`AuthBuilder::password`](crate::AuthBuilder::password) and
//!   [`AuthBuilder::secret_key`](crate::AuthBuilder::secret_key) use);
//! - [`PerOrgSecrets`]: one trusted-authentication key per org, with a default for the others
//!   (per-org keys exist since ThoughtSpot 9.2); a clone shares the map, so a key can be
//!   replaced while the layer runs;
//! - [`SecretFile`]: a file, read at every login (a mounted Kubernetes or Docker secret that is
//!   replaced is used from the next login on);
//! - [`SecretFn`]: an async closure, for a vault or anything else.
//!
//! And for tokens made elsewhere, a [`TokenProvider`] ([`TokenFn`] of an async closure): the
//! layer asks it for a bearer token when it needs one, and applies its expiry, single-flight,
//! rejection and replay rules to what it returns.
//!
//! # Rotation
//!
//! ThoughtSpot has no overlap window when a secret key is rotated: the old key fails at once.
//! When a login is rejected (401, or any 403: "trusted authentication is off" is one), the
//! source is read once more before the permanent-failure backoff applies; if the secret changed, one
//! login is tried with the new one. While a backoff window lasts, the source is looked at
//! again at most once a second, and a changed secret ends the window. So one attempt at most is
//! made with a stale secret per window, and no login storm with any.
//!
//! # Example
//!
//! ```
//! use thoughtspot_auth::ThoughtSpotAuthLayer;
//! use thoughtspot_auth::secrets::{PerOrgSecrets, SecretFile};
//!
//! // One service account, its password in a mounted secret.
//! let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
//!     .password_from("svc-reporting", SecretFile::new("/var/run/secrets/thoughtspot/password"))
//!     .build()?;
//!
//! // Many users, one trusted-authentication key per org.
//! let keys = PerOrgSecrets::new()
//!     .org(1, "key-of-org-1")
//!     .org(2, "key-of-org-2")
//!     .default_secret("key-of-the-primary-org");
//! let multi_user = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
//!     .act_as_users_from(keys.clone())
//!     .build()?;
//! // Later, after `POST auth/configure` made a new key for org 2:
//! keys.set(2, "the-new-key-of-org-2");
//! # Ok::<(), thoughtspot_auth::Error>(())
//! ```

mod file;
mod provider;
pub(crate) mod rotation;
mod sources;
pub(crate) mod stale_keys;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub use file::SecretFile;
pub use provider::{ProvidedToken, TokenFn, TokenFuture, TokenProvider};
pub use sources::{FixedSecret, PerOrgSecrets, SecretFn};

/// What [`SecretSource::secret`] returns.
pub type SecretFuture<'a> =
    Pin<Box<dyn Future<Output = Result<SecretString, SourceError>> + Send + 'a>>;

/// Gives the password or secret key a login needs. See the [module docs](self).
///
/// Called on the slow path only (a login, a mint, a look during a backoff window), never for a
/// request whose credential is fresh. Implementations should answer quickly or time out by
/// themselves: a login waits for the answer, within its login deadline.
pub trait SecretSource: Send + Sync + 'static {
    /// The secret for a login in `org` (`None`: the request names no org).
    fn secret(&self, org: Option<i64>) -> SecretFuture<'_>;

    /// Whether the secret can change while the layer runs. A source that says `false` (a
    /// [`FixedSecret`]) is never read again after a rejection.
    fn may_change(&self) -> bool {
        true
    }
}

impl<S: SecretSource + ?Sized> SecretSource for Arc<S> {
    fn secret(&self, org: Option<i64>) -> SecretFuture<'_> {
        (**self).secret(org)
    }

    fn may_change(&self) -> bool {
        (**self).may_change()
    }
}

/// A [`SecretSource`] or token provider could not give what was asked: a file that cannot be
/// read, a vault that does not answer. Transient unless made with [`SourceError::permanent`]:
/// a transient failure is retried with backoff within the login deadline, a permanent one opens
/// the permanent-failure backoff window.
///
/// Its message is what the source said; the sources of this crate never put a secret in it.
#[derive(Clone)]
pub struct SourceError {
    message: String,
    permanent: bool,
    cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl SourceError {
    /// A failure that may pass (a vault restarting, a file being replaced).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            cause: None,
        }
    }

    /// A failure that trying again soon cannot fix (no secret for that org).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            permanent: true,
            ..Self::transient(message)
        }
    }

    /// Attaches the underlying error, shown as this error's `source()`.
    pub fn with_cause(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Arc::new(cause));
        self
    }

    /// Whether trying again soon cannot help.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl fmt::Debug for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceError")
            .field("message", &self.message)
            .field("permanent", &self.permanent)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// Which secret a login used, to tell whether a source's answer changed without keeping the
/// secret: HMAC-SHA256 of it under a random key of this process, so that what stays in memory
/// while a backoff window lasts cannot be tested against guesses elsewhere. Never shown.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub(crate) fn of(secret: &SecretString) -> Self {
        static KEY: OnceLock<[u8; 32]> = OnceLock::new();
        let key = KEY.get_or_init(|| {
            let mut key = [0u8; 32];
            crate::store::sealed::fill_random(&mut key);
            key
        });
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
        mac.update(secret.expose_secret().as_bytes());
        Self(mac.finalize().into_bytes().into())
    }

    /// Eight bytes of it, for an atomic: enough to tell the secrets of one process apart.
    pub(crate) fn short(&self) -> u64 {
        u64::from_be_bytes(self.0[..8].try_into().expect("32 bytes"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

/// An empty secret is a source's mistake, never something to send.
pub(crate) fn non_empty(secret: SecretString) -> Result<SecretString, SourceError> {
    if secret.expose_secret().trim().is_empty() {
        Err(SourceError::transient(
            "the secret source gave an empty secret",
        ))
    } else {
        Ok(secret)
    }
}
