//! What the layer records through the `metrics` facade (feature `metrics`), read back from
//! `metrics-util`'s debugging recorder after a scripted run, and checked against `stats()`.
//! One test in a binary of its own: the recorder is the process's global one.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use thoughtspot_auth::embed::{EmbedIdentity, EmbedTokenService, EmbedUser, MintRate};
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::store::MemoryCredentialStore;
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{ActAs, ThoughtSpotAuthLayer};
use tower::ServiceExt;

/// Every metric recorded so far: (name, sorted labels) → value.
type Recorded = HashMap<(String, Vec<(String, String)>), f64>;

fn read(snapshotter: &metrics_util::debugging::Snapshotter) -> Recorded {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let mut labels: Vec<(String, String)> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let value = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(h) => h.len() as f64,
            };
            ((key.key().name().to_owned(), labels), value)
        })
        .collect()
}

/// The sum of `name` over every label set whose labels include `with`.
fn sum(recorded: &Recorded, name: &str, with: &[(&str, &str)]) -> f64 {
    recorded
        .iter()
        .filter(|((n, labels), _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, value)| value)
        .sum()
}

fn as_user(base: &str, user: &str) -> http::Request<Full<Bytes>> {
    let mut request = common::search_request(base);
    request.extensions_mut().insert(ActAs::user(user));
    request
}

#[tokio::test(start_paused = true)]
async fn what_is_recorded_agrees_with_stats_and_names_no_user_or_secret() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");

    let ts = MockThoughtSpot::start().await.unwrap();
    let base = ts.base_url();
    for i in 0..3 {
        ts.add_user(MockUser::new(format!("metrics-user-{i}"), "unused").orgs([0]));
    }

    // A login, a soft refresh, a revocation answered by a replay, a forced refresh.
    let (service, handle) = common::layered(
        ThoughtSpotAuthLayer::builder(&base)
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .org(1),
    );
    assert_eq!(
        common::send(&service, common::search_request(&base))
            .await
            .unwrap(),
        200
    );
    tokio::time::advance(Duration::from_secs(290)).await;
    for _ in 0..100 {
        assert_eq!(
            common::send(&service, common::search_request(&base))
                .await
                .unwrap(),
            200
        );
        if handle.stats().refreshes == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(handle.stats().refreshes, 1, "the soft refresh landed");
    ts.revoke_all_tokens();
    assert_eq!(
        common::send(&service, common::search_request(&base))
            .await
            .unwrap(),
        200
    );
    handle.refresh().await.unwrap();
    // An org switch: a login for org 2.
    handle.switch_org(2).await.unwrap();
    assert_eq!(
        common::send(&service, common::search_request(&base))
            .await
            .unwrap(),
        200
    );

    // A wrong password.
    let (wrong, wrong_handle) = common::layered(
        ThoughtSpotAuthLayer::builder(&base).password(mock::DEFAULT_USER, "not-the-password"),
    );
    assert!(
        common::send(&wrong, common::search_request(&base))
            .await
            .is_err()
    );

    // Three users through a cache with room for two.
    let (many, many_handle) = common::layered(
        ThoughtSpotAuthLayer::builder(&base)
            .act_as_users(mock::DEFAULT_SECRET_KEY)
            .max_cached_users(2),
    );
    for i in 0..3 {
        let user = format!("metrics-user-{i}");
        assert_eq!(
            common::send(&many, as_user(&base, &user)).await.unwrap(),
            200
        );
    }

    // The embed endpoint: a token, then the same user over its rate.
    let embed = EmbedTokenService::builder(&base, mock::DEFAULT_SECRET_KEY)
        .transport(ServiceTransport::new(common::hyper_client()))
        .identity(|_: &http::request::Parts| {
            EmbedIdentity::User(EmbedUser::new(ActAs::user("metrics-user-0")))
        })
        .per_user_rate(Some(MintRate::per_minute(1, 1)))
        .build()
        .unwrap();
    let call = || {
        http::Request::get("/api/thoughtspot/token")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    assert_eq!(embed.clone().oneshot(call()).await.unwrap().status(), 200);
    assert_eq!(embed.clone().oneshot(call()).await.unwrap().status(), 429);

    // Two replicas sharing a store: one logs in and writes, the other adopts.
    let store = MemoryCredentialStore::new();
    let replica = |store: &MemoryCredentialStore| {
        common::layered(
            ThoughtSpotAuthLayer::builder(&base)
                .password(mock::ANALYST_USER, mock::ANALYST_PASSWORD)
                .credential_store(store.clone()),
        )
    };
    let ((first, first_handle), (second, second_handle)) = (replica(&store), replica(&store));
    assert_eq!(
        common::send(&first, common::search_request(&base))
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        common::send(&second, common::search_request(&base))
            .await
            .unwrap(),
        200
    );

    let recorded = read(&snapshotter);
    let (stats, wrong_stats, many_stats) =
        (handle.stats(), wrong_handle.stats(), many_handle.stats());
    const LOGINS: &str = "thoughtspot_auth.logins";
    let ok_in = |org| {
        sum(
            &recorded,
            LOGINS,
            &[("mode", "password"), ("outcome", "ok"), ("org", org)],
        )
    };
    assert_eq!(
        ok_in("1") + ok_in("2"),
        stats.logins as f64,
        "{recorded:#?}"
    );
    assert_eq!(ok_in("2"), 1.0, "the switch logged in for org 2");
    assert_eq!(
        sum(
            &recorded,
            LOGINS,
            &[("mode", "password"), ("outcome", "rejected")]
        ),
        wrong_stats.failures.unauthorized as f64
    );
    assert_eq!(
        sum(&recorded, LOGINS, &[("mode", "act_as"), ("outcome", "ok")]),
        many_stats.logins as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.refreshes", &[("kind", "soft")]),
        1.0
    );
    assert_eq!(
        sum(
            &recorded,
            "thoughtspot_auth.refreshes",
            &[("kind", "forced")]
        ),
        1.0
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.refreshes", &[]),
        stats.refreshes as f64
    );
    assert_eq!(
        sum(
            &recorded,
            "thoughtspot_auth.rejections",
            &[("door", "tower")]
        ),
        stats.rejected_responses as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.replays", &[("door", "tower")]),
        stats.replays as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.invalidations", &[]),
        stats.invalidations as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.credentials.evictions", &[]),
        1.0
    );
    assert!(stats.replays >= 1 && stats.rejected_responses >= 1);
    for org in ["1", "2"] {
        let left = sum(
            &recorded,
            "thoughtspot_auth.credential.remaining",
            &[("org", org)],
        );
        assert!(left > 0.0 && left <= 300.0, "org {org}: {left} s left");
    }
    let embed_stats = embed.stats();
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.embed.tokens", &[]),
        embed_stats.tokens as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.embed.mints", &[]),
        embed_stats.mints as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.embed.rate_limited", &[]),
        embed_stats.rate_limited as f64
    );
    assert_eq!(embed_stats.rate_limited, 1);
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.embed.time_to_token", &[]),
        1.0
    );
    // Every login that was sent, and every mint of the embed endpoint, took a turn of its
    // mint budget first; none waited past its deadline.
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.mint_budget.wait", &[]),
        sum(&recorded, "thoughtspot_auth.logins", &[]) + embed_stats.mints as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.mint_budget.exhausted", &[]),
        0.0
    );
    let (first_stats, second_stats) = (first_handle.stats(), second_handle.stats());
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.store.writes", &[]),
        (first_stats.store_publications + second_stats.store_publications) as f64
    );
    assert_eq!(
        sum(&recorded, "thoughtspot_auth.store.adoptions", &[]),
        (first_stats.store_adoptions + second_stats.store_adoptions) as f64
    );
    assert_eq!(
        second_stats.store_adoptions, 1,
        "the second replica adopted"
    );

    assert_eq!(
        sum(&recorded, "thoughtspot_auth.credentials.cached", &[]),
        [
            &handle,
            &wrong_handle,
            &many_handle,
            &first_handle,
            &second_handle
        ]
        .iter()
        .map(|h| h.cache_size() as f64)
        .sum::<f64>(),
        "the cache entries of every layer in the process"
    );

    // A forgotten credential reads 0 at the next report, not the time it had left.
    handle.invalidate();
    tokio::time::advance(Duration::from_secs(16)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let after = read(&snapshotter);
    for org in ["1", "2"] {
        assert_eq!(
            sum(
                &after,
                "thoughtspot_auth.credential.remaining",
                &[("org", org)]
            ),
            0.0,
            "org {org}"
        );
    }

    // Labels are bounded: never a user name, a password, a secret key or a token.
    for (name, labels) in recorded.keys() {
        for (key, value) in labels {
            for secret in [
                "metrics-user",
                mock::DEFAULT_USER,
                mock::DEFAULT_PASSWORD,
                "not-the-password",
                mock::DEFAULT_SECRET_KEY,
                mock::ANALYST_USER,
                mock::ANALYST_PASSWORD,
                "127.0.0.1",
            ] {
                assert!(!value.contains(secret), "{name}: {key}={value}");
            }
        }
    }
}
