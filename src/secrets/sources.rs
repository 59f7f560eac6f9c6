//! The sources that need no I/O of their own: a fixed secret, one per org, a closure.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};

use secrecy::SecretString;

use super::{SecretFuture, SecretSource, SourceError, non_empty};

/// One secret, fixed when the layer is built. See the [module docs](super).
///
/// ```
/// use thoughtspot_auth::ThoughtSpotAuthLayer;
/// use thoughtspot_auth::secrets::FixedSecret;
///
/// // The same as `.password("svc-reporting", "correct horse battery staple")`.
/// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
///     .password_from("svc-reporting", FixedSecret::new("correct horse battery staple"))
///     .build()?;
/// # Ok::<(), thoughtspot_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct FixedSecret(SecretString);

impl FixedSecret {
    /// The secret `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(SecretString::from(secret.into()))
    }

    pub(crate) fn is_empty(&self) -> bool {
        secrecy::ExposeSecret::expose_secret(&self.0)
            .trim()
            .is_empty()
    }
}

impl fmt::Debug for FixedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FixedSecret(<redacted>)")
    }
}

impl SecretSource for FixedSecret {
    fn secret(&self, _org: Option<i64>) -> SecretFuture<'_> {
        let secret = non_empty(self.0.clone());
        Box::pin(std::future::ready(secret))
    }

    fn may_change(&self) -> bool {
        false
    }
}

/// One trusted-authentication secret key per org, and a default for the others and for
/// requests that name no org. A clone shares the map: [`set`](Self::set) on any clone replaces
/// a key for every layer that uses it, from the next login on. See the [module docs](super)
/// for an example.
///
/// A login in an org with no key and no default fails with a permanent [`SourceError`]
/// (nothing is sent); setting a key for it ends that failure's backoff window within a second.
#[derive(Clone, Default)]
pub struct PerOrgSecrets {
    keys: Arc<RwLock<Keys>>,
}

#[derive(Default)]
struct Keys {
    by_org: HashMap<i64, SecretString>,
    default: Option<SecretString>,
}

impl PerOrgSecrets {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `org`'s key.
    pub fn org(self, org: i64, secret: impl Into<String>) -> Self {
        self.set(org, secret);
        self
    }

    /// Sets the key for orgs without one of their own, and for requests naming no org.
    pub fn default_secret(self, secret: impl Into<String>) -> Self {
        self.set_default(secret);
        self
    }

    /// Replaces the default key (after a rotation, say) for every clone of this map.
    pub fn set_default(&self, secret: impl Into<String>) {
        self.write().default = Some(SecretString::from(secret.into()));
    }

    /// Replaces `org`'s key (after a rotation, say) for every clone of this map.
    pub fn set(&self, org: i64, secret: impl Into<String>) {
        self.write()
            .by_org
            .insert(org, SecretString::from(secret.into()));
    }

    /// Removes `org`'s key: its logins use the default again.
    pub fn remove(&self, org: i64) {
        self.write().by_org.remove(&org);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lookup(&self, org: Option<i64>) -> Result<SecretString, SourceError> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = org
            .and_then(|o| keys.by_org.get(&o))
            .or(keys.default.as_ref());
        match (found, org) {
            (Some(secret), _) => non_empty(secret.clone()),
            (None, Some(org)) => Err(SourceError::permanent(format!(
                "no secret key for org {org}, and no default"
            ))),
            (None, None) => Err(SourceError::permanent(
                "no default secret key, and the login names no org",
            )),
        }
    }
}

impl fmt::Debug for PerOrgSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut orgs: Vec<i64> = keys.by_org.keys().copied().collect();
        orgs.sort_unstable();
        f.debug_struct("PerOrgSecrets")
            .field("orgs", &orgs)
            .field("default", &keys.default.is_some())
            .finish()
    }
}

impl SecretSource for PerOrgSecrets {
    fn secret(&self, org: Option<i64>) -> SecretFuture<'_> {
        Box::pin(std::future::ready(self.lookup(org)))
    }
}

/// A source made of an async closure: given the org (`None` when the login names none), it
/// returns the secret, or a [`SourceError`] saying whether the failure may pass. See the
/// [module docs](super).
///
/// ```
/// use thoughtspot_auth::ThoughtSpotAuthLayer;
/// use thoughtspot_auth::secrets::{SecretFn, SourceError};
///
/// let layer = ThoughtSpotAuthLayer::builder("https://analytics.example.com")
///     .secret_key_from(
///         "svc-reporting",
///         SecretFn::new(|_org| async {
///             // Ask the vault here.
///             std::env::var("TS_SECRET_KEY")
///                 .map_err(|e| SourceError::transient("TS_SECRET_KEY is not set").with_cause(e))
///         }),
///     )
///     .build()?;
/// # Ok::<(), thoughtspot_auth::Error>(())
/// ```
#[derive(Clone)]
pub struct SecretFn<F>(F);

impl<F> SecretFn<F> {
    /// The source that calls `f`.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> fmt::Debug for SecretFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretFn(..)")
    }
}

impl<F, Fut, S> SecretSource for SecretFn<F>
where
    F: Fn(Option<i64>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, SourceError>> + Send + 'static,
    S: Into<String>,
{
    fn secret(&self, org: Option<i64>) -> SecretFuture<'_> {
        let answer = (self.0)(org);
        Box::pin(async move { non_empty(SecretString::from(answer.await?.into())) })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    async fn read(source: &impl SecretSource, org: Option<i64>) -> Result<String, SourceError> {
        Ok(source.secret(org).await?.expose_secret().to_owned())
    }

    #[tokio::test]
    async fn per_org_keys_fall_back_to_the_default_and_follow_set_on_every_clone() {
        let keys = PerOrgSecrets::new().org(1, "k1").org(2, "k2");
        assert_eq!(read(&keys, Some(1)).await.unwrap(), "k1");
        let missing = read(&keys, Some(3)).await.unwrap_err();
        assert!(missing.is_permanent(), "{missing}");
        assert!(missing.to_string().contains("org 3"), "{missing}");
        assert!(read(&keys, None).await.unwrap_err().is_permanent());
        let shared = keys.clone().default_secret("k0");
        assert_eq!(read(&keys, Some(3)).await.unwrap(), "k0");
        assert_eq!(read(&keys, None).await.unwrap(), "k0");
        shared.set(2, "k2-rotated");
        shared.set_default("k0-rotated");
        assert_eq!(read(&keys, None).await.unwrap(), "k0-rotated");
        assert_eq!(read(&keys, Some(2)).await.unwrap(), "k2-rotated");
        keys.remove(2);
        assert_eq!(read(&shared, Some(2)).await.unwrap(), "k0-rotated");
        let shown = format!("{keys:?}");
        assert_eq!(shown, "PerOrgSecrets { orgs: [1], default: true }");
    }

    #[tokio::test]
    async fn closures_fixed_secrets_and_empty_answers() {
        let source = SecretFn::new(|org: Option<i64>| async move {
            match org {
                Some(7) => Ok("seven"),
                Some(_) => Ok("  "),
                None => Err(SourceError::permanent("vault says no")),
            }
        });
        assert_eq!(read(&source, Some(7)).await.unwrap(), "seven");
        let empty = read(&source, Some(1)).await.unwrap_err();
        assert!(!empty.is_permanent() && empty.to_string().contains("empty"));
        assert!(read(&source, None).await.unwrap_err().is_permanent());
        assert!(source.may_change());
        let fixed = FixedSecret::new("pw");
        assert_eq!(read(&fixed, Some(1)).await.unwrap(), "pw");
        assert!(!fixed.may_change());
        assert_eq!(format!("{fixed:?}"), "FixedSecret(<redacted>)");
        assert!(FixedSecret::new(" ").is_empty());
    }
}
