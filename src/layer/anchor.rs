//! What a response future holds on to: the core, and a clone of the inner service to send a
//! replay through, behind reference counts striped by thread.
//!
//! Every response future needs a `'static` way back to the core in case its credential is
//! rejected. If all of them cloned one `Arc`, every request on every thread would write the same
//! reference count (measured: 40 ns a request on two threads). Instead each layered service has
//! one anchor per stripe (per core, up to eight), each alone on its cache lines, and a thread
//! always takes the same one (see [`crate::stripes`]).
//!
//! The clone of the inner service that replays go through is made here once, when the layer
//! wraps the service, rather than with every request: a kept request costs its parts and
//! nothing else (tower's `Retry` clones the service per request instead).

use std::sync::Arc;

use crate::authenticator::{Core, Owner};
use crate::stripes;

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
    /// One per stripe ([`stripes::count`]).
    stripes: Box<[Arc<Anchor<S>>]>,
}

impl<S: Clone> Anchors<S> {
    pub(crate) fn new(owner: Arc<Owner>, inner: &S) -> Self {
        let stripes = (0..stripes::count())
            .map(|_| {
                Arc::new(Anchor {
                    core: owner.core().clone(),
                    _owner: owner.clone(),
                    replay_via: inner.clone(),
                })
            })
            .collect();
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

    /// The anchor of `stripe` (this thread's, from [`crate::stripes::this_thread`]), cloned.
    #[inline]
    pub(crate) fn for_stripe(&self, stripe: usize) -> Arc<Anchor<S>> {
        self.stripes[stripe].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_do_not_share_cache_lines() {
        assert_eq!(std::mem::align_of::<Anchor<()>>(), 128);
    }
}
