//! Backoff for the token endpoint: what a user's last failed mint means for the next call. (Its
//! rates are the crate's `budget`.)

use std::time::Duration;

use tokio::time::Instant;

use crate::sync::doubled;

/// A user's last failed mint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    /// No mint for this user before then.
    pub(crate) until: Instant,
    /// Failures in a row of this kind.
    pub(crate) streak: u32,
    /// Rejected credentials, a locked user, an invalid request: trying again cannot help.
    pub(crate) permanent: bool,
}

/// The backoff rules (the layer's defaults: 250 ms doubling to 30 s after transient failures,
/// 60 s doubling to 30 min after permanent ones).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) transient: Duration,
    pub(crate) transient_max: Duration,
    pub(crate) permanent: Duration,
    pub(crate) permanent_max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            transient: Duration::from_millis(250),
            transient_max: Duration::from_secs(30),
            permanent: Duration::from_secs(60),
            permanent_max: Duration::from_secs(30 * 60),
        }
    }
}

impl Backoff {
    /// The failure after `previous`, at `now`; `retry_after` is the server's wish.
    pub(crate) fn next(
        &self,
        previous: Option<Failure>,
        permanent: bool,
        retry_after: Option<Duration>,
        now: Instant,
    ) -> Failure {
        let streak = match previous {
            Some(p) if p.permanent == permanent => p.streak.saturating_add(1),
            _ => 1,
        };
        let (first, max) = if permanent {
            (self.permanent, self.permanent_max)
        } else {
            (self.transient, self.transient_max)
        };
        let delay = doubled(first, streak, max);
        Failure {
            until: now + delay.max(retry_after.unwrap_or_default()),
            streak,
            permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_and_honours_retry_after() {
        let b = Backoff::default();
        let now = Instant::now();
        let f1 = b.next(None, false, None, now);
        assert_eq!(f1.until - now, Duration::from_millis(250));
        let f2 = b.next(Some(f1), false, Some(Duration::from_secs(5)), now);
        assert_eq!((f2.streak, f2.until - now), (2, Duration::from_secs(5)));
        let p = b.next(Some(f2), true, None, now);
        assert_eq!((p.streak, p.until - now), (1, Duration::from_secs(60)));
        let mut f = p;
        for _ in 0..30 {
            f = b.next(Some(f), true, None, now);
        }
        assert_eq!(f.until - now, Duration::from_secs(30 * 60));
    }
}
