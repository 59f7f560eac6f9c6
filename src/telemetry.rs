//! What the layer records through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): the events an operator watches (logins, refreshes, rejections and replays,
//! invalidations, the cache's size), never a request's own way through the hot path. Without
//! the feature every function here is empty; with it and no recorder installed, each is one
//! look at the facade's global recorder.
//!
//! Labels are bounded: an org id, the credential mode, an outcome, a door, a reason. Never a
//! user name, a token or a URL.

use std::time::Duration;

use crate::error::ErrorKind;

/// Metric names, dotted and lower case as OpenTelemetry names them; the Prometheus exporter
/// writes them with underscores (`thoughtspot_auth_logins`).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) mod names {
    /// Counter: login attempts, by `mode`, `outcome` and `org`.
    pub(crate) const LOGINS: &str = "thoughtspot_auth.logins";
    /// Histogram, seconds: how long a login attempt took, by `mode` and `outcome`.
    pub(crate) const LOGIN_DURATION: &str = "thoughtspot_auth.login.duration";
    /// Counter: credentials replaced by a new login, by `kind` (`soft`: before expiry, in the
    /// background; `hard`: after it; `forced`: asked for while the old one was fresh).
    pub(crate) const REFRESHES: &str = "thoughtspot_auth.refreshes";
    /// Counter: responses that rejected their credential, by `door`.
    pub(crate) const REJECTIONS: &str = "thoughtspot_auth.rejections";
    /// Counter: requests sent again with a new credential, by `door`.
    pub(crate) const REPLAYS: &str = "thoughtspot_auth.replays";
    /// Counter: liveness checks after the beta API's ambiguous 500.
    pub(crate) const LIVENESS_CHECKS: &str = "thoughtspot_auth.liveness_checks";
    /// Counter: requests refused inside a permanent failure's backoff window.
    pub(crate) const REFUSED_BY_BACKOFF: &str = "thoughtspot_auth.refused_by_backoff";
    /// Counter: credentials forgotten, by `reason`.
    pub(crate) const INVALIDATIONS: &str = "thoughtspot_auth.invalidations";
    /// Gauge: cache entries (orgs, or (user, org) pairs in multi-user mode), with or without a
    /// credential at the moment; summed over the layers of the process.
    pub(crate) const CACHED: &str = "thoughtspot_auth.credentials.cached";
    /// Counter: cached credentials dropped to make room or because they went unused.
    pub(crate) const EVICTIONS: &str = "thoughtspot_auth.credentials.evictions";
    /// Gauge, seconds: how long the current credential of each org has left before it must be
    /// replaced, 0 while an org has none (single-user modes; updated when a credential is
    /// published and every 15 s).
    pub(crate) const REMAINING: &str = "thoughtspot_auth.credential.remaining";
    /// Counter: credentials adopted from a fleet's credential store.
    pub(crate) const STORE_ADOPTIONS: &str = "thoughtspot_auth.store.adoptions";
    /// Counter: credentials written to the credential store.
    pub(crate) const STORE_WRITES: &str = "thoughtspot_auth.store.writes";
    /// Counter: credential store calls that failed or timed out.
    pub(crate) const STORE_ERRORS: &str = "thoughtspot_auth.store.errors";
    /// Counter: outages of the credential store (logins went local).
    pub(crate) const STORE_OUTAGES: &str = "thoughtspot_auth.store.outages";
    /// Counter: tokens the embed endpoint answered with.
    pub(crate) const EMBED_TOKENS: &str = "thoughtspot_auth.embed.tokens";
    /// Counter: tokens the embed endpoint minted (concurrent calls for one user share one).
    pub(crate) const EMBED_MINTS: &str = "thoughtspot_auth.embed.mints";
    /// Counter: embed token requests answered without a token, by `class`.
    pub(crate) const EMBED_REFUSALS: &str = "thoughtspot_auth.embed.refusals";
    /// Counter: embed token requests over the per-user rate (429).
    pub(crate) const EMBED_RATE_LIMITED: &str = "thoughtspot_auth.embed.rate_limited";
    /// Histogram, seconds: from a token request to its token.
    pub(crate) const EMBED_TIME_TO_TOKEN: &str = "thoughtspot_auth.embed.time_to_token";
    /// Histogram, seconds: how long each login or mint waited for its turn of the mint budget.
    pub(crate) const BUDGET_WAIT: &str = "thoughtspot_auth.mint_budget.wait";
    /// Counter: logins or mints that found no turn of the mint budget within their deadline.
    pub(crate) const BUDGET_EXHAUSTED: &str = "thoughtspot_auth.mint_budget.exhausted";
}

/// Tells the installed recorder each metric's unit and meaning (an OpenTelemetry exporter
/// passes them on). Called when a layer or an embed endpoint is built: a recorder installed
/// later learns them from the next one.
pub(crate) fn describe() {
    #[cfg(feature = "metrics")]
    {
        use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
        describe_counter!(names::LOGINS, Unit::Count, "ThoughtSpot login attempts");
        describe_histogram!(
            names::LOGIN_DURATION,
            Unit::Seconds,
            "Duration of a login attempt"
        );
        describe_counter!(
            names::REFRESHES,
            Unit::Count,
            "Credentials replaced by a new login"
        );
        describe_counter!(
            names::REJECTIONS,
            Unit::Count,
            "Responses that rejected their credential"
        );
        describe_counter!(
            names::REPLAYS,
            Unit::Count,
            "Requests sent again with a new credential"
        );
        describe_counter!(
            names::LIVENESS_CHECKS,
            Unit::Count,
            "Credential checks after an ambiguous beta 500"
        );
        describe_counter!(
            names::REFUSED_BY_BACKOFF,
            Unit::Count,
            "Requests refused inside a backoff window"
        );
        describe_counter!(names::INVALIDATIONS, Unit::Count, "Credentials forgotten");
        describe_gauge!(
            names::REMAINING,
            Unit::Seconds,
            "Time left on each org's current credential"
        );
        describe_gauge!(names::CACHED, Unit::Count, "Credential cache entries");
        describe_counter!(
            names::EVICTIONS,
            Unit::Count,
            "Credential cache entries evicted"
        );
        describe_counter!(
            names::STORE_ADOPTIONS,
            Unit::Count,
            "Credentials adopted from the credential store"
        );
        describe_counter!(
            names::STORE_WRITES,
            Unit::Count,
            "Credentials written to the credential store"
        );
        describe_counter!(
            names::STORE_ERRORS,
            Unit::Count,
            "Failed credential store calls"
        );
        describe_counter!(
            names::STORE_OUTAGES,
            Unit::Count,
            "Credential store outages"
        );
        describe_counter!(
            names::EMBED_TOKENS,
            Unit::Count,
            "Embed token requests answered with a token"
        );
        describe_counter!(
            names::EMBED_MINTS,
            Unit::Count,
            "Tokens minted by the embed endpoint"
        );
        describe_counter!(
            names::EMBED_REFUSALS,
            Unit::Count,
            "Embed token requests refused"
        );
        describe_counter!(
            names::EMBED_RATE_LIMITED,
            Unit::Count,
            "Embed token requests over the per-user rate"
        );
        describe_histogram!(
            names::EMBED_TIME_TO_TOKEN,
            Unit::Seconds,
            "Time from an embed token request to its token"
        );
        describe_histogram!(
            names::BUDGET_WAIT,
            Unit::Seconds,
            "Time a login or mint waited for its turn of the mint budget"
        );
        describe_counter!(
            names::BUDGET_EXHAUSTED,
            Unit::Count,
            "Logins or mints that found no turn of the mint budget in time"
        );
    }
}

/// A login's outcome, as a label.
pub(crate) fn outcome(kind: Option<ErrorKind>) -> &'static str {
    match kind {
        None => "ok",
        Some(ErrorKind::Unauthorized) => "rejected",
        Some(ErrorKind::Forbidden) => "locked",
        Some(ErrorKind::RateLimited) => "rate_limited",
        Some(ErrorKind::Unavailable) => "unavailable",
        Some(ErrorKind::Transport) => "transport",
        Some(ErrorKind::Source) => "source",
        Some(_) => "invalid",
    }
}

/// Why a credential was invalidated (the log's words), as a label.
pub(crate) fn reason(words: &'static str) -> &'static str {
    match words {
        "rejected (401)" => "rejected_401",
        "rejected (beta 500, upstream 401)" => "rejected_beta_500",
        "rejected (beta 500, credential found dead)" => "found_dead",
        _ => "other",
    }
}

/// An org, as a label: its id, or `default` for the user's default org.
#[cfg(feature = "metrics")]
fn org_label(org: Option<i64>) -> String {
    org.map_or_else(|| "default".to_owned(), |org| org.to_string())
}

/// A login attempt ended.
pub(crate) fn login(mode: &'static str, outcome: &'static str, org: Option<i64>, took: Duration) {
    #[cfg(feature = "metrics")]
    {
        ::metrics::counter!(names::LOGINS, "mode" => mode, "outcome" => outcome, "org" => org_label(org))
            .increment(1);
        ::metrics::histogram!(names::LOGIN_DURATION, "mode" => mode, "outcome" => outcome)
            .record(took.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (mode, outcome, org, took);
}

/// Records one event of a counter with one bounded label (or none).
pub(crate) fn count(name: &'static str, label: Option<(&'static str, &'static str)>) {
    #[cfg(feature = "metrics")]
    match label {
        Some((key, value)) => ::metrics::counter!(name, key => value).increment(1),
        None => ::metrics::counter!(name).increment(1),
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (name, label);
}

/// Records `n` events of a counter with no label.
pub(crate) fn count_many(name: &'static str, n: u64) {
    #[cfg(feature = "metrics")]
    ::metrics::counter!(name).increment(n);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, n);
}

/// One observation of a histogram in seconds.
#[cfg_attr(not(feature = "embed"), allow(dead_code))]
pub(crate) fn seconds(name: &'static str, took: Duration) {
    #[cfg(feature = "metrics")]
    ::metrics::histogram!(name).record(took.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (name, took);
}

/// How long the current credential of `org` has left.
#[cfg(feature = "metrics")]
pub(crate) fn remaining(org: Option<i64>, left: Duration) {
    ::metrics::gauge!(names::REMAINING, "org" => org_label(org)).set(left.as_secs_f64());
}

/// Cache entries came (`delta` > 0) or went: a gauge moved by increments, so that several
/// layers in one process add up and concurrent changes never overwrite each other.
pub(crate) fn cached_changed(delta: i64) {
    #[cfg(feature = "metrics")]
    ::metrics::gauge!(names::CACHED).increment(delta as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = delta;
}
