//! Refusals made visible: each class logged once per user per window (a looping page makes
//! one line a minute, not hundreds), the next line saying how many were not logged. Counted in
//! [`EmbedStats`](super::EmbedStats) whether logged or not. No token or key is in any line; a
//! user name is, where the refusal has one.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;

/// Why a call got no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    /// No session of the app (401).
    NoSession,
    /// The app refused the identity (403).
    RefusedByApp,
    /// A page of another origin (403).
    ForeignOrigin,
    /// Over the per-user rate (429).
    RateLimited,
    /// ThoughtSpot refused the user (403).
    ThoughtSpotRefused,
    /// ThoughtSpot unavailable or rate-limiting, or the queue full (503).
    Unavailable,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Self::NoSession => "no session",
            Self::RefusedByApp => "refused by the app",
            Self::ForeignOrigin => "foreign origin",
            Self::RateLimited => "rate-limited",
            Self::ThoughtSpotRefused => "ThoughtSpot refused",
            Self::Unavailable => "ThoughtSpot unavailable",
        }
    }

    /// What any page can cause is `debug`; what an operator acts on is `info`.
    fn operator_relevant(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::ThoughtSpotRefused | Self::Unavailable
        )
    }
}

/// Above this many remembered (class, user) pairs, those past their window are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// A kind of refusal, for one user (when it has one).
type Key = (Class, Option<Arc<str>>);

/// When each (class, user) was last logged, and how many refusals since went unlogged.
pub(crate) struct RefusalLog {
    window: Duration,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    map: HashMap<Key, (Instant, u64)>,
    /// Entries past their window are swept when the map grows past this (twice what was
    /// within its window at the last sweep), so that sweeping costs O(1) per refusal on average.
    sweep_above: usize,
}

impl RefusalLog {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            seen: Mutex::default(),
        }
    }

    /// Logs the refusal unless one of its class for `user` was logged within the window.
    pub(crate) fn note(&self, class: Class, user: Option<&Arc<str>>, reason: &str) {
        let now = Instant::now();
        let unlogged = {
            let within = |at: Instant| at.checked_add(self.window).is_none_or(|end| now < end);
            let mut seen = lock(&self.seen);
            if seen.map.len() > seen.sweep_above.max(PRUNE_ABOVE) {
                seen.map.retain(|_, (at, _)| within(*at));
                seen.sweep_above = 2 * seen.map.len();
            }
            match seen.map.entry((class, user.cloned())) {
                Entry::Occupied(mut entry) if within(entry.get().0) => {
                    entry.get_mut().1 += 1;
                    return;
                }
                Entry::Occupied(mut entry) => std::mem::replace(entry.get_mut(), (now, 0)).1,
                Entry::Vacant(entry) => {
                    entry.insert((now, 0));
                    0
                }
            }
        };
        let info = class.operator_relevant();
        let (class, user) = (class.name(), user.map(|u| &**u));
        let window_secs = self.window.as_secs();
        if info {
            tracing::info!(
                class,
                user,
                reason,
                unlogged,
                window_secs,
                "token endpoint refused a call"
            );
        } else {
            tracing::debug!(
                class,
                user,
                reason,
                unlogged,
                window_secs,
                "token endpoint refused a call"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_capture::Captured;

    fn logged(captured: &Captured) -> Vec<String> {
        captured.text().lines().map(str::to_owned).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn each_kind_is_logged_once_per_user_per_window_with_the_count_left_out() {
        let captured = Captured::default();
        let _guard = tracing::subscriber::set_default(captured.subscriber(tracing::Level::DEBUG));
        let log = RefusalLog::new(Duration::from_secs(60));
        let (alice, bob): (Arc<str>, Arc<str>) = ("alice".into(), "bob".into());
        for _ in 0..100 {
            log.note(Class::RateLimited, Some(&alice), "over the per-user rate");
            log.note(
                Class::ForeignOrigin,
                None,
                "the page is not of this app's origin",
            );
        }
        log.note(Class::RateLimited, Some(&bob), "over the per-user rate");
        log.note(
            Class::Unavailable,
            Some(&alice),
            "ThoughtSpot is unavailable",
        );
        let lines = logged(&captured);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].contains("INFO") && lines[0].contains("rate-limited"));
        assert!(lines[0].contains("user=\"alice\"") && lines[0].contains("unlogged=0"));
        assert!(lines[1].contains("DEBUG") && lines[1].contains("foreign origin"));
        tokio::time::advance(Duration::from_secs(61)).await;
        log.note(Class::RateLimited, Some(&alice), "over the per-user rate");
        let lines = logged(&captured);
        assert_eq!(lines.len(), 5);
        assert!(lines[4].contains("unlogged=99"), "{}", lines[4]);
    }
}
