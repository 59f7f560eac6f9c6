//! Access rules as ThoughtSpot defines them: formula variables must be persisted, and a user
//! holds one persisted rule set per org. Both front doors, on tokio's paused clock.

mod common;

use std::time::Duration;

use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::session::{FilterOperator, FilterRule, PersistOption};
use thoughtspot_auth::{ActAs, ErrorKind, ThoughtSpotAuthLayer, TokenAttributes};

use common::front::{Call, Client, Front};

const TOKEN_CUSTOM: &str = "/api/rest/2.0/auth/token/custom";

async fn start(front: Front) -> (MockThoughtSpot, Client, thoughtspot_auth::AuthHandle) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.add_user(MockUser::new("alice", "unused").orgs([0, 1]));
    let (client, handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url()).act_as_users(mock::DEFAULT_SECRET_KEY),
    );
    (ts, client, handle)
}

fn region(persist: PersistOption, region: &str) -> TokenAttributes {
    TokenAttributes::new(persist).filter(FilterRule::new("Region", FilterOperator::Eq, [region]))
}

fn as_alice(ts: &MockThoughtSpot, org: i64, rules: TokenAttributes) -> Call {
    Call::search(&ts.base_url()).acting_as(ActAs::user("alice").org(org).attributes(rules))
}

async fn formula_variables_in_the_token_only_are_refused_before_anything_is_sent(front: Front) {
    let (ts, client, _) = start(front).await;
    for persist in [PersistOption::None, PersistOption::Reset] {
        let rules = TokenAttributes::new(persist.clone()).variable("region_var", ["east"]);
        let failure = client.send(as_alice(&ts, 0, rules)).await.unwrap_err();
        assert_eq!(failure.kind(), Some(ErrorKind::Config), "{persist:?}");
        assert!(failure.text.contains("variable_values"), "{}", failure.text);
    }
    assert_eq!(ts.count(TOKEN_CUSTOM), 0, "nothing was sent");
    // Persisted, they are minted.
    let rules = TokenAttributes::new(PersistOption::Replace).variable("region_var", ["east"]);
    assert_eq!(client.status(as_alice(&ts, 0, rules)).await, 200);
    assert_eq!(
        ts.persisted_attributes("alice", 0).unwrap()["variable_values"][0]["values"],
        serde_json::json!(["east"])
    );
}

/// A second persisted set for one (user, org) would rewrite the record the first set's cached
/// token runs under: refused while the first lives, allowed in another org, and after the
/// user's credentials are forgotten or have expired.
async fn a_second_persisted_rule_set_is_refused_while_the_first_lives(front: Front) {
    let (ts, client, handle) = start(front).await;
    let east = || region(PersistOption::Replace, "east");
    let west = || region(PersistOption::Replace, "west");
    assert_eq!(client.status(as_alice(&ts, 0, east())).await, 200);
    let minted = ts.count(TOKEN_CUSTOM);

    let failure = client.send(as_alice(&ts, 0, west())).await.unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::Config));
    assert!(
        failure.text.contains("persisted rule set"),
        "{}",
        failure.text
    );
    assert_eq!(ts.count(TOKEN_CUSTOM), minted, "nothing was sent");
    assert_eq!(
        ts.persisted_attributes("alice", 0).unwrap()["filter_rules"][0]["values"],
        serde_json::json!(["east"]),
        "the record still says what the cached token runs under"
    );
    // The same set again is served from the cache; rules in the token only are independent.
    assert_eq!(client.status(as_alice(&ts, 0, east())).await, 200);
    let own = region(PersistOption::None, "north");
    assert_eq!(client.status(as_alice(&ts, 0, own)).await, 200);
    // Another org has a record of its own.
    assert_eq!(client.status(as_alice(&ts, 1, west())).await, 200);

    // Forgetting the user's credentials frees the (user, org).
    handle.invalidate_user("alice");
    assert_eq!(client.status(as_alice(&ts, 0, west())).await, 200);
    let failure = client.send(as_alice(&ts, 0, east())).await.unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::Config));
    // So does expiry (the mock's tokens live 300 s).
    tokio::time::advance(Duration::from_secs(301)).await;
    assert_eq!(client.status(as_alice(&ts, 0, east())).await, 200);
}

both_fronts!(
    formula_variables_in_the_token_only_are_refused_before_anything_is_sent,
    a_second_persisted_rule_set_is_refused_while_the_first_lives,
);
