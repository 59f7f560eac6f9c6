//! Per-thread stripes: how the hot path keeps two threads from writing one reference count.
//!
//! Everything a request clones on the hot path carries a reference count: the response future's
//! way back to the core ([`Anchor`](crate::layer)), and the credential's header value (a `Bytes`).
//! If every thread cloned the same one, two threads sending at once would pass its cache line
//! back and forth on every request (measured: tens of nanoseconds a request, more than a whole
//! static header). So each of those exists once per stripe, each alone on its cache lines, and
//! a thread always takes the same stripe. tower-http's `AddAuthorization` clones one shared
//! header value on every thread; the layer does not.
//!
//! There are as many stripes as the machine runs threads at once, up to [`STRIPES`]: threads
//! beyond that share stripes, but not a core at the same instant.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most stripes a striped value has.
pub(crate) const STRIPES: usize = 8;

/// How many stripes are in use: the machine's parallelism, from 1 to [`STRIPES`].
pub(crate) fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, STRIPES))
    })
}

/// This thread's stripe, below [`count`]. Threads take stripes in turn, the first time each
/// asks.
#[inline]
pub(crate) fn this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        let mut index = stripe.get();
        if index == usize::MAX {
            index = NEXT.fetch_add(1, Ordering::Relaxed) % count();
            stripe.set(index);
        }
        index
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_stripe_and_threads_spread_over_stripes() {
        let here = this_thread();
        assert_eq!(this_thread(), here);
        let there = std::thread::spawn(this_thread).join().unwrap();
        // Other tests' threads take stripes too, so only "in range" and "not always the same
        // one" can be asserted across threads: sixteen threads cannot all share one stripe.
        assert!(there < count() && count() <= STRIPES);
        let all: std::collections::HashSet<usize> = (0..16)
            .map(|_| std::thread::spawn(this_thread).join().unwrap())
            .collect();
        assert!(all.len() > 1 || count() == 1);
    }
}
