//! A rotated key told apart from an unknown user, where one key mints for many users (multi-user
//! mode): ThoughtSpot refuses both with 401. A user who minted with a key before and is refused
//! with it now suggests the key is dead; a second such user within a minute settles it. Then
//! every user's mint with that key is held, nothing sent, until the source gives another key
//! (each user's window ends early then) or the hold ends, after which one refused probe holds
//! it again; a success with the key ends the suspicion. So a rotation costs two stale mints and
//! one per hold, not one per active user (plus the mints already under way when the first
//! refusal comes back).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::Fingerprint;
use crate::error::Error;
use crate::sync::lock;

/// Two refusals of known users must come within this to hold the key.
const BOTH_WITHIN: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct StaleKeys {
    suspects: Mutex<HashMap<Option<i64>, Suspect>>,
}

struct Suspect {
    secret: Fingerprint,
    first_user: Arc<str>,
    since: Instant,
    /// Until when the key is held, and what its mints answer meanwhile.
    held: Option<(Instant, Error)>,
}

impl StaleKeys {
    /// `user`, who minted with `secret` in `org` before, was refused with it (`error`). Returns
    /// whether the key is held now (for `hold`).
    pub(crate) fn refused(
        &self,
        org: Option<i64>,
        user: &Arc<str>,
        secret: Fingerprint,
        error: &Error,
        hold: Duration,
    ) -> bool {
        let now = Instant::now();
        let mut suspects = lock(&self.suspects);
        if let Some(suspect) = suspects.get_mut(&org).filter(|s| s.secret == secret) {
            if suspect.held.as_ref().is_some_and(|(until, _)| now < *until) {
                return true;
            }
            // A key held before is held again at its first refusal after the hold: one probe
            // per hold, not two.
            let confirmed = suspect.held.is_some()
                || (now < suspect.since + BOTH_WITHIN && *suspect.first_user != **user);
            if confirmed {
                suspect.held = Some((now + hold, error.clone()));
                tracing::warn!(
                    org = ?org,
                    hold_secs = hold.as_secs(),
                    "two users who minted with this secret key before are refused with it now: \
                     it was rotated; holding every user's mints with it until the secret source \
                     gives the new key"
                );
                return true;
            }
        }
        if suspects.len() >= 1_024 {
            suspects.clear();
        }
        suspects.insert(
            org,
            Suspect {
                secret,
                first_user: user.clone(),
                since: now,
                held: None,
            },
        );
        false
    }

    /// What a mint with `secret` in `org` answers without being sent, while the key is held.
    pub(crate) fn held(&self, org: Option<i64>, secret: Fingerprint) -> Option<Error> {
        let suspects = lock(&self.suspects);
        let suspect = suspects.get(&org).filter(|s| s.secret == secret)?;
        let (until, error) = suspect.held.as_ref()?;
        (Instant::now() < *until).then(|| error.clone())
    }

    /// A mint with `secret` in `org` succeeded: the key is not dead.
    pub(crate) fn succeeded(&self, org: Option<i64>, secret: Fingerprint) {
        let mut suspects = lock(&self.suspects);
        if suspects.get(&org).is_some_and(|s| s.secret == secret) {
            suspects.remove(&org);
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn two_known_users_refused_within_a_minute_hold_the_key_until_a_success() {
        let keys = StaleKeys::default();
        let old = Fingerprint::of(&SecretString::from("old"));
        let new = Fingerprint::of(&SecretString::from("new"));
        let error = Error::config("refused");
        let hold = Duration::from_secs(60);
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        assert!(!keys.refused(Some(1), &alice, old, &error, hold));
        assert!(
            !keys.refused(Some(1), &alice, old, &error, hold),
            "the same user twice"
        );
        assert!(keys.held(Some(1), old).is_none());
        assert!(keys.refused(Some(1), &bob, old, &error, hold));
        assert!(keys.held(Some(1), old).is_some());
        assert!(keys.held(Some(1), new).is_none(), "another key is not held");
        assert!(keys.held(Some(2), old).is_none(), "nor another org");
        tokio::time::advance(hold).await;
        assert!(keys.held(Some(1), old).is_none(), "the hold ends");
        assert!(
            keys.refused(Some(1), &alice, old, &error, hold),
            "the probe after it is refused: held again at once"
        );
        // Refusals too far apart hold nothing.
        assert!(!keys.refused(Some(3), &alice, old, &error, hold));
        tokio::time::advance(BOTH_WITHIN).await;
        assert!(!keys.refused(Some(3), &bob, old, &error, hold));
        assert!(keys.refused(Some(3), &alice, old, &error, hold));
        keys.succeeded(Some(3), old);
        assert!(keys.held(Some(3), old).is_none(), "a success ends it");
    }
}
