//! The fleet protocol's writes: a leader renews its lease while it logs in, then publishes the
//! credential or the permanent failure it met, or holds the lease through a transient failure's
//! pause, and releases it.

use std::time::Duration;

use futures_util::future::Either;
use secrecy::ExposeSecret;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::shared_error::SharedError;
use super::{Fleet, SealedCredential, SealedFailure};
use crate::authenticator::Counters;
use crate::authenticator::credential::CacheKey;
use crate::error::Error;
use crate::session::SessionCredential;
use crate::store::{Generation, StoredEntry};
use crate::telemetry;

impl Fleet {
    /// Runs `login` while renewing the lease of `key` every third of its time, so that the lease
    /// outlives a slow login but not a dead leader.
    pub(crate) async fn renewing<F: std::future::Future>(
        &self,
        counters: &Counters,
        key: &CacheKey,
        holder: Generation,
        login: F,
    ) -> F::Output {
        let name = self.lease_name(key, holder);
        let renew = async {
            loop {
                tokio::time::sleep(self.lease / 3).await;
                let _ = self
                    .call(counters, self.store.try_lease(&name, holder, self.lease))
                    .await;
            }
        };
        let login = std::pin::pin!(login);
        let renew = std::pin::pin!(renew);
        match futures_util::future::select(login, renew).await {
            Either::Left((output, _)) => output,
            Either::Right(((), _)) => unreachable!("the renewal loop never ends"),
        }
    }

    /// Publishes a credential this replica logged in with, and releases the lease.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn publish(
        &self,
        counters: &Counters,
        key: &CacheKey,
        holder: Option<Generation>,
        generation: Generation,
        credential: &SessionCredential,
        lifetime: Duration,
        sent_at: Instant,
        user: Option<String>,
        org: Option<i64>,
    ) {
        if !self.available() {
            self.forget_lease(holder);
            return;
        }
        let names = self.names(key);
        let remaining = lifetime.saturating_sub(sent_at.elapsed());
        if remaining > Duration::from_millis(1) {
            let cookies = credential.session_cookies();
            let sealed = SealedCredential {
                token: credential.token().map(|t| t.expose_secret().to_owned()),
                jsessionid: cookies.map(|c| c.jsessionid().expose_secret().to_owned()),
                client_id: cookies
                    .and_then(|c| c.client_id())
                    .map(|c| c.expose_secret().to_owned()),
                lifetime_ms: u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX),
                user,
                org,
            };
            let plain = Zeroizing::new(serde_json::to_vec(&sealed).unwrap_or_default());
            drop(sealed);
            let value = names.keys.seal(&names.cred, &generation, &plain);
            let entry = StoredEntry {
                generation,
                value: value.into(),
                ttl: remaining,
            };
            if self
                .call(counters, self.store.write(&names.cred, entry))
                .await
                .is_some()
            {
                counters.store_publications.bump();
                telemetry::count(telemetry::names::STORE_WRITES, None);
            }
        }
        if let Some(holder) = holder {
            self.release(counters, key, holder).await;
        }
    }

    /// Shares a permanent failure for its window (so no other replica tries the same secret
    /// meanwhile), and releases the lease.
    pub(crate) async fn record_failure(
        &self,
        counters: &Counters,
        key: &CacheKey,
        holder: Option<Generation>,
        error: &Error,
        window: Duration,
        in_a_row: u32,
    ) {
        if !self.available() {
            self.forget_lease(holder);
            return;
        }
        if let Some(shared) = SharedError::of(error) {
            let names = self.names(key);
            let name = match &names.account_fail {
                Some(account) if error.kind() == crate::error::ErrorKind::Unauthorized => account,
                _ => &names.fail,
            };
            let generation = Generation::random();
            let plain = Zeroizing::new(
                serde_json::to_vec(&SealedFailure {
                    error: shared,
                    in_a_row,
                })
                .unwrap_or_default(),
            );
            let entry = StoredEntry {
                generation,
                value: names.keys.seal(name, &generation, &plain).into(),
                ttl: window,
            };
            let _ = self.call(counters, self.store.write(name, entry)).await;
        }
        if let Some(holder) = holder {
            self.release(counters, key, holder).await;
        }
    }

    /// A transient failure: keep the lease through the backoff, so that the fleet waits for this
    /// replica's next attempt instead of making its own.
    pub(crate) async fn hold(
        &self,
        counters: &Counters,
        key: &CacheKey,
        holder: Generation,
        delay: Duration,
    ) {
        let name = self.lease_name(key, holder);
        let _ = self
            .call(
                counters,
                self.store.try_lease(&name, holder, delay + self.lease),
            )
            .await;
    }

    /// Forgets the name of `holder`'s lease without a word to the store (which is down: the
    /// lease expires there by itself).
    fn forget_lease(&self, holder: Option<Generation>) {
        if let Some(holder) = holder {
            crate::sync::lock(&self.leases).remove(&holder);
        }
    }

    /// Gives the lease of `key` up, if `holder` still holds it.
    pub(crate) async fn release(&self, counters: &Counters, key: &CacheKey, holder: Generation) {
        let name = self.lease_name(key, holder);
        crate::sync::lock(&self.leases).remove(&holder);
        let _ = self
            .call(counters, self.store.remove_if(&name, holder))
            .await;
    }
}
