//! How long credentials live (on tokio's clock) and what time the mock tells.

use std::time::Duration;

use thoughtspot_auth::mock::{
    DEFAULT_PASSWORD, DEFAULT_USER, MockThoughtSpot, PresentedCredential,
};

use crate::harness::{
    BETA_SESSION, Expect, Harness, Req, SESSION_USER, TOKEN_FULL, admin_login, now_ms,
};

#[tokio::test(start_paused = true)]
async fn expiry_follows_the_paused_tokio_clock() {
    let h = Harness::new().await;
    let token = h.admin_token().await;
    let cookie = h.cookie_login(DEFAULT_USER, DEFAULT_PASSWORD, None).await;

    tokio::time::advance(Duration::from_secs(299)).await;
    assert_eq!(h.get_with_token(SESSION_USER, &token).await.status, 200);
    assert_eq!(h.mock.live_tokens(), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    h.check([
        (
            "expired token",
            Req::get(SESSION_USER).bearer(&token),
            Expect::status(401).code(10097),
        ),
        (
            "expired token, beta: 500 wrapping 401",
            Req::get(BETA_SESSION).bearer(&token),
            Expect::beta(401),
        ),
    ])
    .await;
    assert_eq!(h.mock.live_tokens(), 0);
    assert!(matches!(
        h.mock.requests().last().unwrap().credential,
        PresentedCredential::Token { valid: false, .. }
    ));

    // Sessions last 1,800 s from login.
    assert_eq!(h.get_with_cookie(SESSION_USER, &cookie).await.status, 200);
    tokio::time::advance(Duration::from_secs(1_800 - 301)).await;
    assert_eq!(h.get_with_cookie(SESSION_USER, &cookie).await.status, 401);
    assert_eq!(h.mock.live_sessions(), 0);

    // Runtime validity settings.
    h.mock.set_default_token_validity(Duration::from_secs(10));
    let short = h.admin_token().await;
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(h.get_with_token(SESSION_USER, &short).await.status, 401);
}

/// A fresh token's creation time minus the local clock.
async fn skew_ms(h: &Harness) -> i64 {
    let v = h.post(TOKEN_FULL, admin_login()).await.json();
    v["creation_time_in_millis"].as_i64().unwrap() - now_ms()
}

#[tokio::test]
async fn clock_offset_shows_in_token_times() {
    let h =
        Harness::with(MockThoughtSpot::builder().clock_offset(Duration::from_secs(3_600), true))
            .await;
    let skew = skew_ms(&h).await;
    assert!((skew - 3_600_000).abs() < 5_000, "skew {skew}");

    h.mock.set_clock_offset(Duration::from_secs(600), false);
    let skew = skew_ms(&h).await;
    assert!((skew + 600_000).abs() < 5_000, "skew {skew}");
    assert!((h.mock.server_time_millis() - now_ms() + 600_000).abs() < 5_000);
}
