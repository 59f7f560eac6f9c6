//! The endpoint's protections on the paused clock: the backoff after ThoughtSpot refuses, the
//! answer while it is unavailable, the per-user rate and the global rate.

use std::time::Duration;

use thoughtspot_auth::embed::MintRate;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot};
use tokio::time::Instant;

use crate::{AppSession, TOKEN_FULL, builder, call_as, send};

#[tokio::test(start_paused = true)]
async fn a_locked_user_is_refused_once_and_not_retried_until_the_backoff_passes() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts)
        .permanent_failure_backoff(Duration::from_secs(60), Duration::from_secs(600))
        .build()
        .unwrap();
    ts.lock_user(mock::ANALYST_USER);
    let answer = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("locked"), "{}", answer.body);
    assert!(!answer.body.contains(mock::DEFAULT_SECRET_KEY));
    for _ in 0..20 {
        assert_eq!(
            send(&service, call_as(Some(mock::ANALYST_USER)))
                .await
                .status,
            403
        );
    }
    assert_eq!(
        ts.login_attempts_for(mock::ANALYST_USER),
        1,
        "no retry loop"
    );
    assert_eq!(service.stats().suppressed, 20);
    // Others are not held back.
    assert_eq!(
        send(&service, call_as(Some(mock::DEFAULT_USER)))
            .await
            .status,
        200
    );

    ts.unlock_user(mock::ANALYST_USER);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(
        send(&service, call_as(Some(mock::ANALYST_USER)))
            .await
            .status,
        200
    );
    assert_eq!(ts.login_attempts_for(mock::ANALYST_USER), 2);
}

#[tokio::test(start_paused = true)]
async fn thoughtspot_unavailable_or_rate_limiting_is_a_503_with_retry_after() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    ts.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 429,
            retry_after: Some(7),
        },
        1,
    );
    let answer = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.headers["retry-after"], "7");
    // Within the wait no mint is sent.
    let again = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    assert_eq!(again.status, 503);
    assert_eq!(ts.count(TOKEN_FULL), 1);
    tokio::time::advance(Duration::from_secs(8)).await;
    ts.inject(TOKEN_FULL, Fault::MaintenancePage, 1);
    assert_eq!(
        send(&service, call_as(Some(mock::ANALYST_USER)))
            .await
            .status,
        503
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        send(&service, call_as(Some(mock::ANALYST_USER)))
            .await
            .status,
        200
    );
    assert_eq!(ts.count(TOKEN_FULL), 3);
}

#[tokio::test(start_paused = true)]
async fn a_looping_page_hits_the_per_user_rate_not_the_cluster() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts)
        .per_user_rate(Some(MintRate::per_minute(6, 3)))
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(
            send(&service, call_as(Some(mock::ANALYST_USER)))
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    let limited = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    assert_eq!(limited.headers["retry-after"], "10");
    assert_eq!(ts.count(TOKEN_FULL), 3);
    assert_eq!(
        send(&service, call_as(Some(mock::DEFAULT_USER)))
            .await
            .status,
        200
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        send(&service, call_as(Some(mock::ANALYST_USER)))
            .await
            .status,
        200
    );
}

#[tokio::test(start_paused = true)]
async fn many_users_at_once_all_get_tokens_at_the_global_rate() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts)
        .global_rate(Some(MintRate::per_second(10, 2)))
        .max_queue_wait(Duration::from_secs(60))
        .build()
        .unwrap();
    for i in 0..40 {
        ts.add_user(mock::MockUser::new(format!("user-{i}"), "unused"));
    }
    let started = Instant::now();
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let service = service.clone();
            tokio::spawn(async move {
                let user = format!("user-{i}");
                let mut request = call_as(None);
                request.extensions_mut().insert(AppSession {
                    user: user.clone(),
                    allowed: true,
                    region: None,
                });
                let answer = send(&service, request).await;
                (user, answer.status, answer.body, Instant::now())
            })
        })
        .collect();
    let mut done = Vec::new();
    for call in calls {
        done.push(call.await.unwrap());
    }
    let mut last = started;
    for (user, status, body, at) in &done {
        assert_eq!(*status, 200, "{user}");
        assert_eq!(ts.token_owner(body).map(|o| o.0).as_ref(), Some(user));
        last = last.max(*at);
    }
    assert_eq!(ts.count(TOKEN_FULL), 40);
    // 40 mints at 10/s with a burst of 2: the last one no earlier than 3.8 s in.
    assert!(
        last - started >= Duration::from_millis(3_800),
        "{:?}",
        last - started
    );

    let hurried = builder(&ts)
        .global_rate(Some(MintRate::per_second(1, 1)))
        .max_queue_wait(Duration::from_secs(2))
        .build()
        .unwrap();
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let hurried = hurried.clone();
            tokio::spawn(async move {
                let mut request = call_as(None);
                request.extensions_mut().insert(AppSession {
                    user: format!("other-{i}"),
                    allowed: true,
                    region: None,
                });
                send(&hurried, request).await
            })
        })
        .collect();
    let mut unavailable = 0;
    for call in calls {
        let answer = call.await.unwrap();
        if answer.status == 503 {
            assert!(answer.headers.contains_key("retry-after"));
            unavailable += 1;
        }
    }
    assert_eq!(
        unavailable, 2,
        "the queue holds 2 s of mints beyond the first"
    );
}

/// A mint ThoughtSpot failed still counts against the user's allowance (it cost the cluster a
/// call, and a page looping on failures must be slowed too).
#[tokio::test(start_paused = true)]
async fn a_failed_mint_counts_against_the_users_allowance() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts)
        .per_user_rate(Some(MintRate::per_minute(1, 2)))
        .build()
        .unwrap();
    ts.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let user = || call_as(Some(mock::ANALYST_USER));
    assert_eq!(send(&service, user()).await.status, 503);
    // Past the failure's backoff: one mint of the burst of two is left.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(send(&service, user()).await.status, 200);
    assert_eq!(send(&service, user()).await.status, 429);
    assert_eq!(ts.count(TOKEN_FULL), 2);
}

/// A call turned away because the global queue is full sent nothing, and costs the user
/// nothing: the allowance it reserved is given back.
#[tokio::test(start_paused = true)]
async fn a_call_turned_away_by_the_full_queue_costs_the_user_nothing() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts)
        .per_user_rate(Some(MintRate::per_minute(1, 2)))
        .global_rate(Some(MintRate::per_second(1, 1)))
        .max_queue_wait(Duration::ZERO)
        .build()
        .unwrap();
    let user = || call_as(Some(mock::ANALYST_USER));
    assert_eq!(
        send(&service, call_as(Some(mock::DEFAULT_USER)))
            .await
            .status,
        200,
        "another user takes this second's mint"
    );
    assert_eq!(
        send(&service, user()).await.status,
        503,
        "the queue is full"
    );
    assert_eq!(ts.login_attempts_for(mock::ANALYST_USER), 0);
    for _ in 0..2 {
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            send(&service, user()).await.status,
            200,
            "the burst is whole"
        );
    }
}
