//! The guards of "Handing out a credential" (see the module docs), each on its own: a fake
//! ThoughtSpot whose logins answer only when the test lets them, a credential store whose writes
//! do the same, and callers polled by hand, so that every interleaving here is chosen, not timed.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Request, Response};
use tokio::sync::Semaphore;

use super::Owner;
use super::credential::CacheKey;
use crate::store::{CredentialStore, Generation, MemoryCredentialStore, StoreFuture, StoredEntry};
use crate::sync::lock;
use crate::transport::{Transport, TransportFuture};

/// Answers `token/full` with a new token each time, once the test lets a login through.
#[derive(Clone)]
struct GatedLogins {
    gate: Arc<Semaphore>,
    logins: Arc<AtomicUsize>,
}

impl Default for GatedLogins {
    fn default() -> Self {
        Self {
            gate: Arc::new(Semaphore::new(0)),
            logins: Arc::default(),
        }
    }
}

impl GatedLogins {
    fn let_through(&self, logins: usize) {
        self.gate.add_permits(logins);
    }

    fn logins(&self) -> usize {
        self.logins.load(Ordering::SeqCst)
    }
}

impl Transport for GatedLogins {
    fn send(&self, request: Request<Bytes>, _: usize) -> TransportFuture {
        let (gate, logins) = (self.gate.clone(), self.logins.clone());
        Box::pin(async move {
            let body = if request.uri().path().ends_with("/auth/token/full") {
                gate.acquire().await.expect("never closed").forget();
                let n = logins.fetch_add(1, Ordering::SeqCst) + 1;
                format!(
                    r#"{{"token":"tok-{n}","creation_time_in_millis":0,"expiration_time_in_millis":300000}}"#
                )
            } else {
                "{}".to_owned()
            };
            Ok(Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .expect("a valid response"))
        })
    }
}

/// A credential store in memory whose writes wait until the test lets them through.
#[derive(Clone)]
struct GatedWrites {
    inner: MemoryCredentialStore,
    gate: Arc<Semaphore>,
    started: Arc<AtomicUsize>,
}

impl Default for GatedWrites {
    fn default() -> Self {
        Self {
            inner: MemoryCredentialStore::default(),
            gate: Arc::new(Semaphore::new(0)),
            started: Arc::default(),
        }
    }
}

impl CredentialStore for GatedWrites {
    fn read<'a>(&'a self, names: &'a [String]) -> StoreFuture<'a, Vec<Option<StoredEntry>>> {
        self.inner.read(names)
    }

    fn write<'a>(&'a self, name: &'a str, entry: StoredEntry) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.started.fetch_add(1, Ordering::SeqCst);
            let _through = self.gate.acquire().await.expect("never closed");
            self.inner.write(name, entry).await
        })
    }

    fn remove_if<'a>(&'a self, name: &'a str, generation: Generation) -> StoreFuture<'a, bool> {
        self.inner.remove_if(name, generation)
    }

    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        holder: Generation,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        self.inner.try_lease(name, holder, ttl)
    }
}

fn owner(logins: &GatedLogins, store: Option<&GatedWrites>) -> Arc<Owner> {
    let mut builder = crate::layer::ThoughtSpotAuthLayer::builder("https://ts.example.com")
        .password("analyst", "pw")
        .transport(logins.clone());
    if let Some(store) = store {
        builder = builder
            .credential_store(store.clone())
            .credential_store_timeout(Duration::from_secs(3600));
    }
    Owner::new(builder.into_config().expect("a valid configuration"))
}

/// Polls `future` once, as its task would be when woken.
fn poll<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    future.now_or_never()
}

/// Lets the runtime's other tasks run until `condition` holds (a bounded number of turns).
async fn until(mut condition: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if condition() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the condition never held");
}

/// A login answers its waiters, and the credential is retired before they wake (rejected by
/// another request, or forgotten): a waiter then wakes to an answer it must not hand out, and
/// waits for the next login. The retire mark only grows: a late rejection of an older
/// generation must not make the newer, retired one usable again.
#[tokio::test(start_paused = true)]
async fn a_credential_retired_before_its_waiters_wake_is_never_handed_to_them() {
    for late_older_rejection in [false, true] {
        let logins = GatedLogins::default();
        let owner = owner(&logins, None);
        let core = owner.core().clone();
        let key = CacheKey::org(None);
        let slot = core.slot(&key);

        let mut waiter = Box::pin(core.credential(&key));
        assert!(poll(&mut waiter).is_none(), "waits for the login");
        logins.let_through(1);
        // The login publishes and answers; the waiter has not run since.
        until(|| slot.credential.load().is_some() && !slot.busy()).await;
        let answered = slot.credential.load_full().expect("published").generation;
        assert!(core.invalidate(&key, answered, "rejected by another request"));
        if late_older_rejection {
            core.invalidate(
                &key,
                answered - 1,
                "a late rejection of an older credential",
            );
        }

        assert!(
            poll(&mut waiter).is_none(),
            "handed out generation {answered}, retired before the waiter woke \
             (late older rejection: {late_older_rejection})"
        );
        logins.let_through(1);
        let handed = waiter.await.expect("the next login");
        assert!(handed.generation > answered);
        assert_eq!(logins.logins(), 2);
    }
}

/// A flight that has answered may linger (here it writes the credential store, which the test
/// holds). Its credential is rejected meanwhile: whoever needs a credential now must start the
/// next login, not join the flight that answered, whose only answer is the rejected one.
#[tokio::test(start_paused = true)]
async fn a_caller_never_joins_a_flight_that_has_answered() {
    let logins = GatedLogins::default();
    let store = GatedWrites::default();
    let owner = owner(&logins, Some(&store));
    let core = owner.core().clone();
    let key = CacheKey::org(None);
    let slot = core.slot(&key);

    let mut first = Box::pin(core.credential(&key));
    assert!(poll(&mut first).is_none());
    logins.let_through(1);
    until(|| store.started.load(Ordering::SeqCst) == 1).await;
    let answered = poll(&mut first)
        .expect("answered before the store write")
        .expect("logged in")
        .generation;
    let lingering = lock(&slot.flight)
        .as_ref()
        .map(|flight| flight.id)
        .expect("the flight is still writing the store");
    assert!(core.invalidate(&key, answered, "rejected"));

    let mut second = Box::pin(core.credential(&key));
    assert!(poll(&mut second).is_none(), "waits for a new login");
    let joined = lock(&slot.flight).as_ref().map(|flight| flight.id);
    assert_ne!(
        joined,
        Some(lingering),
        "joined the flight that had answered with the rejected credential"
    );

    store.gate.add_permits(100);
    logins.let_through(1);
    let handed = second.await.expect("the next login");
    assert!(handed.generation > answered);
    assert_eq!(logins.logins(), 2);
}
