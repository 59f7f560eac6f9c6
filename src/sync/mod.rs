//! The small machinery the core and the embed endpoint share: a mutex lock that shrugs off
//! poisoning, spawning onto the runtime at hand, one answer that many wait for (a single
//! flight), backoff arithmetic, and the counter every statistic is kept in.

mod backoff;
mod counter;
mod shared_answer;

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::task::AbortHandle;

pub(crate) use backoff::{doubled, equal_jitter, random_fraction};
pub(crate) use counter::Counter;
pub(crate) use shared_answer::{Answer, Pending, shared_answer};

/// Locks a mutex that guards plain state; a panic elsewhere cannot leave that state torn.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `future` as a task of its own on the runtime this is called from; `None` outside one.
/// A task of its own, so that a caller who goes away never cancels work others wait for.
pub(crate) fn spawn<F>(future: F) -> Option<AbortHandle>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    Some(runtime.spawn(future).abort_handle())
}
