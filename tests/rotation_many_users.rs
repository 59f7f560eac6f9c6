//! A rotated trusted-authentication key in multi-user mode, on the paused clock through both
//! front doors: ThoughtSpot answers 401 both for a dead key and for an unknown user, so a refusal
//! alone cannot say which. Two users who minted with the key before and are refused with it now
//! settle it: every other user's mint with the old key is held (nothing sent) until the secret
//! source gives the new key, so a rotation costs two stale mints, not one per active user.

mod common;

use std::time::Duration;

use futures_util::future::join_all;
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::secrets::PerOrgSecrets;
use thoughtspot_auth::{ActAs, MintBudget, ThoughtSpotAuthLayer};

use common::front::{Call, Client, Failure, Front, Reply};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const USERS: usize = 50;
const VALIDITY: Duration = Duration::from_secs(60);

fn succeeds(sent: Result<Reply, Failure>) -> bool {
    sent.is_ok_and(|reply| reply.status == 200)
}

async fn a_rotated_key_costs_two_stale_mints_not_one_per_user(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    for i in 0..USERS {
        ts.add_user(MockUser::new(format!("user-{i}"), "unused").orgs([0]));
    }
    let keys = PerOrgSecrets::new().default_secret(mock::DEFAULT_SECRET_KEY);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .act_as_users_from(keys.clone())
        .token_validity(VALIDITY)
        .mint_budget(MintBudget::unlimited());
    let (client, handle) = Client::build(front, builder);
    let base = ts.base_url();
    let call = |i: usize| Call::search(&base).acting_as(ActAs::user(format!("user-{i}")));
    let statuses = join_all((0..USERS).map(|i| client.status(call(i)))).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(ts.count(TOKEN_FULL), USERS);

    // Rotated at ThoughtSpot; the source still gives the old key. Every user's token ends.
    ts.set_secret_key("the-rotated-key");
    tokio::time::sleep(VALIDITY).await;
    for i in 0..USERS {
        assert!(!succeeds(client.send(call(i)).await), "user {i}");
    }
    assert_eq!(
        ts.count(TOKEN_FULL),
        USERS + 2,
        "two stale mints settle it; the others are held"
    );
    // An unknown user's refusal holds nothing: the key is not blamed for it.
    let stats = handle.stats();
    assert_eq!(stats.failures.unauthorized, USERS as u64, "{stats:?}");

    // The source gives the new key: every window ends at its next look (a second at most).
    keys.set_default("the-rotated-key");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let statuses = join_all((0..USERS).map(|i| client.status(call(i)))).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(ts.count(TOKEN_FULL), USERS + 2 + USERS);
}

/// Users the key never minted for (unknown to ThoughtSpot) are refused one by one: their
/// refusals never hold the key for the users it works for.
async fn unknown_users_never_hold_the_key(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.add_user(MockUser::new("known", "unused").orgs([0]));
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .mint_budget(MintBudget::unlimited());
    let (client, _handle) = Client::build(front, builder);
    let base = ts.base_url();
    let call = |user: String| Call::search(&base).acting_as(ActAs::user(user));
    for i in 0..10 {
        assert!(!succeeds(client.send(call(format!("nobody-{i}"))).await));
    }
    assert_eq!(client.status(call("known".into())).await, 200);
    assert_eq!(ts.count(TOKEN_FULL), 11);
}

both_fronts!(
    a_rotated_key_costs_two_stale_mints_not_one_per_user,
    unknown_users_never_hold_the_key,
);
