//! What the core and the embed endpoint do with a source when ThoughtSpot rejects a login: read
//! it again once, and try the new secret only if it changed.

use secrecy::SecretString;

use super::{Fingerprint, SecretSource};
use crate::error::{Error, ErrorKind};

/// Reads the secret for `org`; a source's failure becomes [`Error::Source`].
pub(crate) async fn read(
    source: &dyn SecretSource,
    org: Option<i64>,
) -> Result<SecretString, Error> {
    source.secret(org).await.map_err(Error::Source)
}

/// Whether a login's failure may be a rotated secret's: the secret was refused (401, 10097) or
/// trusted authentication refused the key (403). Other answers say nothing about the secret.
pub(crate) fn may_be_stale(error: &Error) -> bool {
    !error.is_refused_by_backoff()
        && matches!(error.kind(), ErrorKind::Unauthorized | ErrorKind::Forbidden)
}

/// After a login with the secret `used` was rejected: the source's secret now, if it is another
/// one. A source that cannot change is not asked, and a source failing now changes nothing.
pub(crate) async fn changed_since(
    source: &dyn SecretSource,
    org: Option<i64>,
    used: Fingerprint,
) -> Option<SecretString> {
    if !source.may_change() {
        return None;
    }
    let now = source.secret(org).await.ok()?;
    (Fingerprint::of(&now) != used).then_some(now)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use secrecy::ExposeSecret;

    use super::*;
    use crate::secrets::{FixedSecret, PerOrgSecrets, SecretFn};

    #[tokio::test]
    async fn only_a_changed_secret_of_a_source_that_may_change_is_given() {
        let keys = PerOrgSecrets::new().org(1, "old");
        let used = Fingerprint::of(&read(&keys, Some(1)).await.unwrap());
        assert!(changed_since(&keys, Some(1), used).await.is_none());
        keys.set(1, "new");
        let new = changed_since(&keys, Some(1), used).await.unwrap();
        assert_eq!(new.expose_secret(), "new");

        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let fixed_like = FixedSecret::new("old");
        assert!(
            changed_since(&fixed_like, None, Fingerprint::of(&"x".into()))
                .await
                .is_none()
        );
        let failing = SecretFn::new(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
            async { Err::<String, _>(crate::secrets::SourceError::transient("down")) }
        });
        assert!(changed_since(&failing, None, used).await.is_none());
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        let err = read(&failing, None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Source);
        assert!(!err.is_permanent());
    }
}
