//! The authenticator's cache entry: a [`SessionCredential`] with the key and generation it
//! belongs to, its soft and hard deadlines on the local monotonic clock, its phase, and a copy of
//! its header for each stripe of threads.

use std::fmt;

use bytes::Bytes;
use http::HeaderValue;

use crate::session::SessionCredential;
use crate::stripes;

/// A copy of `value` over a `Bytes` whose reference count sits alone on its cache lines.
fn own_line_copy(value: &HeaderValue) -> HeaderValue {
    let bytes = Bytes::from_owner(OwnLine(value.as_bytes().into()));
    // The bytes came from a valid header value, so this cannot fail; if it did, sharing the
    // original would only cost speed.
    let mut copy = HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| value.clone());
    copy.set_sensitive(value.is_sensitive());
    copy
}

/// The owner of a striped header value's bytes. `Bytes::from_owner` keeps its reference count
/// at the start of the owner's allocation, which this alignment gives 128 bytes of its own
/// (adjacent-line prefetching pairs 64-byte lines). The bytes, a secret, are wiped when the last
/// request carrying them is dropped.
#[repr(align(128))]
struct OwnLine(Box<[u8]>);

impl AsRef<[u8]> for OwnLine {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for OwnLine {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut *self.0);
    }
}

/// Whose a credential is: the key of the credential cache. `user` is set only in multi-user
/// trusted authentication; otherwise the configured user is implied. `attributes`, the access
/// rules a multi-user token carries, are part of the key: one user's tokens with different rules
/// are different credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) user: Option<std::sync::Arc<str>>,
    pub(crate) org: Option<i64>,
    pub(crate) attributes: Option<crate::identity::AttributeKey>,
}

impl CacheKey {
    #[inline]
    pub(crate) fn org(org: Option<i64>) -> Self {
        Self {
            user: None,
            org,
            attributes: None,
        }
    }

    /// The key of a multi-user request. Access rules that live only in the token
    /// (`PersistOption::None`) are refused in cookie-session mode: a session ignores them, so
    /// the request would run without its rules.
    pub(crate) fn act_as(
        act_as: &crate::identity::ActAs,
        org: Option<i64>,
        kind: crate::config::CredentialKind,
    ) -> Result<Self, crate::error::Error> {
        if let Some(attributes) = &act_as.attributes {
            attributes.set.check()?;
            if kind == crate::config::CredentialKind::CookieSession
                && attributes.set.persist == crate::session::PersistOption::None
            {
                return Err(crate::error::Error::config(
                    "access rules with persist option NONE live only in the token, and a cookie \
                     session ignores them: use bearer tokens, or persist the rules (REPLACE); \
                     nothing was sent",
                ));
            }
        }
        Ok(Self {
            user: Some(act_as.user.clone()),
            org,
            attributes: act_as.attributes.clone(),
        })
    }
}

/// How far a credential is through its life. Flipped by a timer task, so that the hot path
/// reads an atomic instead of a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Use it.
    Fresh = 0,
    /// Use it, and start one background refresh.
    Soft = 1,
    /// Do not use it: wait for the shared login.
    Hard = 2,
}

/// A credential in the layer's cache: the prebuilt header, whose it is, which login made it, and
/// where it is in its life. `repr(C)`, what the hot path reads first (phase, generation, the
/// header), so that a credential not in cache costs as few line misses as can be.
#[repr(C)]
pub(crate) struct Credential {
    phase: std::sync::atomic::AtomicU8,
    /// Set by the first request that sees the soft phase, so only one asks for a refresh.
    pub(crate) refresh_claimed: std::sync::atomic::AtomicBool,
    /// Set by a handle's `refresh`: the credential is replaced while it was still fresh.
    pub(crate) refresh_forced: std::sync::atomic::AtomicBool,
    /// Increases with every login; a rejection invalidates only the generation it saw.
    pub(crate) generation: u64,
    /// Where its login stands in the order logins were *sent* (`Core::login_sends`): a login
    /// sent after a rejection was seen was sent after whatever caused it. 0 for a credential
    /// adopted from the credential store, whose login another replica sent at a time this one
    /// cannot place, and for tests.
    pub(crate) login_sent: u64,
    pub(crate) session: SessionCredential,
    pub(crate) key: CacheKey,
    /// `None` for a static token, which never expires by our clock.
    pub(crate) lifetime: Option<std::time::Duration>,
    pub(crate) soft_at: Option<tokio::time::Instant>,
    pub(crate) hard_at: Option<tokio::time::Instant>,
    /// The header value again for each stripe of threads (see [`crate::stripes`]), made with
    /// the credential so that the hot path never allocates. Empty for a multi-user credential:
    /// thousands of users' tokens spread their requests over thousands of counts already, and
    /// each copy costs memory (some 380 bytes).
    striped: Box<[HeaderValue]>,
}

impl Credential {
    pub(crate) fn new(
        session: SessionCredential,
        key: CacheKey,
        generation: u64,
        login_sent: u64,
        lifetime: Option<std::time::Duration>,
        soft_at: Option<tokio::time::Instant>,
        hard_at: Option<tokio::time::Instant>,
    ) -> Self {
        Self {
            generation,
            login_sent,
            lifetime,
            soft_at,
            hard_at,
            phase: std::sync::atomic::AtomicU8::new(Phase::Fresh as u8),
            refresh_claimed: std::sync::atomic::AtomicBool::new(false),
            refresh_forced: std::sync::atomic::AtomicBool::new(false),
            striped: match &key.user {
                Some(_) => Box::default(),
                None => (0..stripes::count())
                    .map(|_| own_line_copy(session.header_value()))
                    .collect(),
            },
            session,
            key,
        }
    }

    /// The header value for threads of `stripe`: equal to the session credential's, but over a
    /// reference count of its own, alone on its cache lines, so that threads of different
    /// stripes attaching it at once never write the same one.
    #[inline]
    pub(crate) fn header_for(&self, stripe: usize) -> &HeaderValue {
        self.striped
            .get(stripe)
            .unwrap_or_else(|| self.session.header_value())
    }

    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(std::sync::atomic::Ordering::Acquire) {
            0 => Phase::Fresh,
            1 => Phase::Soft,
            _ => Phase::Hard,
        }
    }

    /// Moves the credential on in its life; never back.
    pub(crate) fn advance(&self, phase: Phase) {
        self.phase
            .fetch_max(phase as u8, std::sync::atomic::Ordering::AcqRel);
    }

    /// Brings the phase up to date with the clock (for the slow path, which may run before the
    /// timer task did).
    pub(crate) fn catch_up(&self, now: tokio::time::Instant) -> Phase {
        if self.hard_at.is_some_and(|t| now >= t) {
            self.advance(Phase::Hard);
        } else if self.soft_at.is_some_and(|t| now >= t) {
            self.advance(Phase::Soft);
        }
        self.phase()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("session", &self.session)
            .field("key", &self.key)
            .field("generation", &self.generation)
            .field("login_sent", &self.login_sent)
            .field("lifetime", &self.lifetime)
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stripe_presents_the_same_sensitive_header_over_its_own_count() {
        let session = SessionCredential::bearer("tok-striped").unwrap();
        let credential = Credential::new(session, CacheKey::org(None), 1, 0, None, None, None);
        let first = credential.header_for(0).clone();
        assert_eq!(first, "Bearer tok-striped");
        assert!(first.is_sensitive());
        for stripe in 0..stripes::STRIPES {
            assert_eq!(credential.header_for(stripe), &first);
            assert!(credential.header_for(stripe).is_sensitive());
        }
        // Each stripe's bytes are a copy of their own, not a view of one shared buffer.
        let addresses: std::collections::HashSet<*const u8> = (0..stripes::count())
            .map(|stripe| credential.header_for(stripe).as_bytes().as_ptr())
            .collect();
        assert_eq!(addresses.len(), stripes::count());
        assert!(!format!("{credential:?}").contains("tok-striped"));
    }

    #[test]
    fn a_multi_user_credential_shares_one_header_value() {
        let session = SessionCredential::bearer("tok-user").unwrap();
        let key = CacheKey {
            user: Some("alice".into()),
            org: None,
            attributes: None,
        };
        let credential = Credential::new(session, key, 1, 0, None, None, None);
        let original = credential.session.header_value().as_bytes().as_ptr();
        for stripe in 0..stripes::STRIPES {
            assert_eq!(credential.header_for(stripe).as_bytes().as_ptr(), original);
        }
    }
}
