//! Counters of what the authenticator did, read by `AuthHandle::stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::handle::{AuthStats, FailureCounts};
use crate::session::ErrorKind;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) login_attempts: AtomicU64,
    pub(crate) logins: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    pub(crate) replays: AtomicU64,
    pub(crate) rejected_responses: AtomicU64,
    pub(crate) credential_checks: AtomicU64,
    pub(crate) refused_by_backoff: AtomicU64,
    pub(crate) store_adoptions: AtomicU64,
    pub(crate) store_publications: AtomicU64,
    pub(crate) store_errors: AtomicU64,
    pub(crate) store_outages: AtomicU64,
    failures: [AtomicU64; 9],
}

fn slot(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Unauthorized => 0,
        ErrorKind::Forbidden => 1,
        ErrorKind::RateLimited => 2,
        ErrorKind::Unavailable => 3,
        ErrorKind::BadRequest => 4,
        ErrorKind::MalformedResponse => 5,
        ErrorKind::Transport => 6,
        ErrorKind::Config => 7,
        _ => 8,
    }
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self, kind: ErrorKind) {
        Self::bump(&self.failures[slot(kind)]);
    }

    pub(crate) fn snapshot(&self) -> AuthStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let f = |i: usize| get(&self.failures[i]);
        AuthStats {
            login_attempts: get(&self.login_attempts),
            logins: get(&self.logins),
            refreshes: get(&self.refreshes),
            invalidations: get(&self.invalidations),
            replays: get(&self.replays),
            rejected_responses: get(&self.rejected_responses),
            credential_checks: get(&self.credential_checks),
            refused_by_backoff: get(&self.refused_by_backoff),
            store_adoptions: get(&self.store_adoptions),
            store_publications: get(&self.store_publications),
            store_errors: get(&self.store_errors),
            store_outages: get(&self.store_outages),
            failures: FailureCounts {
                unauthorized: f(0),
                forbidden: f(1),
                rate_limited: f(2),
                unavailable: f(3),
                bad_request: f(4),
                malformed_response: f(5),
                transport: f(6),
                config: f(7) + f(8),
            },
            current_org: None,
            cached_credentials: 0,
        }
    }
}
