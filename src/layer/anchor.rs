//! What a response future holds on to: the core, and a clone of the inner service to send a
//! replay through, behind reference counts striped by thread.
//!
//! Every response future needs a `'static` way back to the core in case its credential is
//! rejected. If all of them cloned one `Arc`, every request on every thread would write the same
//! reference count, and two threads sending at once would pass its cache line back and forth
//! (measured: 40 ns a request on two threads, more than a whole static header). Instead each
//! layered service has [`STRIPES`] anchors, each alone on its cache lines, and a thread always
//! takes the same one.
//!
//! The clone of the inner service that replays go through is made here once, when the layer
//! wraps the service, rather than with every request: a kept request costs its parts and
//! nothing else (tower's `Retry` clones the service per request instead).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::authenticator::{Core, Owner};

/// Anchors per layered service: enough that the worker threads of a typical runtime rarely
/// share one.
const STRIPES: usize = 8;

/// One stripe. Aligned so that its reference count, at the start of its allocation, shares a
/// cache line with no other stripe's (128 bytes: adjacent-line prefetching pairs 64-byte lines).
#[repr(align(128))]
pub(crate) struct Anchor<S> {
    core: Arc<Core>,
    _owner: Arc<Owner>,
    /// A clone of the inner service, made when the layer wrapped it: replays are sent through
    /// (a clone of) it.
    pub(crate) replay_via: S,
}

impl<S> Anchor<S> {
    #[inline]
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }
}

/// The anchors of one layered service, shared by its clones.
pub(crate) struct Anchors<S> {
    /// The core, one pointer away rather than two.
    core: Arc<Core>,
    pub(crate) owner: Arc<Owner>,
    stripes: [Arc<Anchor<S>>; STRIPES],
}

impl<S: Clone> Anchors<S> {
    pub(crate) fn new(owner: Arc<Owner>, inner: &S) -> Self {
        let stripes = std::array::from_fn(|_| {
            Arc::new(Anchor {
                core: owner.core().clone(),
                _owner: owner.clone(),
                replay_via: inner.clone(),
            })
        });
        Self {
            core: owner.core().clone(),
            owner,
            stripes,
        }
    }
}

impl<S> Anchors<S> {
    #[inline]
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// This thread's anchor, cloned.
    #[inline]
    pub(crate) fn for_this_thread(&self) -> Arc<Anchor<S>> {
        self.stripes[this_threads_stripe()].clone()
    }
}

/// Threads take stripes in turn, the first time each sends a request.
#[inline]
fn this_threads_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        let mut index = stripe.get();
        if index == usize::MAX {
            index = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            stripe.set(index);
        }
        index
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_stripe_and_two_threads_take_two() {
        let here = this_threads_stripe();
        assert_eq!(this_threads_stripe(), here);
        let there = std::thread::spawn(this_threads_stripe).join().unwrap();
        // Other tests' threads take stripes too, so only "in range" and "not always the same
        // one" can be asserted across threads: sixteen threads cannot all share one stripe.
        assert!(there < STRIPES);
        let all: std::collections::HashSet<usize> = (0..16)
            .map(|_| std::thread::spawn(this_threads_stripe).join().unwrap())
            .collect();
        assert!(all.len() > 1);
    }

    #[test]
    fn stripes_do_not_share_cache_lines() {
        assert_eq!(std::mem::align_of::<Anchor<()>>(), 128);
    }
}
