//! Backoff arithmetic: a delay that doubles with each failure in a row up to a cap, and the
//! jitter that keeps many clients from retrying in step.

use std::time::Duration;

/// `first`, doubled for each failure in a row after the first (`nth` counts from 1), capped
/// at `max`.
pub(crate) fn doubled(first: Duration, nth: u32, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(nth.saturating_sub(1).min(20));
    first.saturating_mul(factor).min(max)
}

/// "Equal jitter": half of `ceiling` fixed, half random, so that retries spread out but never
/// collapse to nothing.
pub(crate) fn equal_jitter(ceiling: Duration) -> Duration {
    ceiling.mul_f64(0.5 + 0.5 * random_fraction())
}

/// A number in `[0, 1)`, random enough to spread refreshes and retries (not for secrets).
pub(crate) fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_first_and_caps() {
        let first = Duration::from_millis(250);
        let max = Duration::from_secs(30);
        assert_eq!(doubled(first, 0, max), first);
        assert_eq!(doubled(first, 1, max), first);
        assert_eq!(doubled(first, 2, max), first * 2);
        assert_eq!(doubled(first, 8, max), max);
        assert_eq!(doubled(first, u32::MAX, max), max);
        assert_eq!(doubled(Duration::MAX, 5, Duration::MAX), Duration::MAX);
    }

    #[test]
    fn jitter_keeps_at_least_half() {
        let ceiling = Duration::from_secs(8);
        for _ in 0..1000 {
            let d = equal_jitter(ceiling);
            assert!(d >= ceiling / 2 && d <= ceiling, "{d:?}");
        }
    }

    #[test]
    fn random_fraction_is_in_range() {
        for _ in 0..1000 {
            let x = random_fraction();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
