//! Orgs by name (`OrgIdentifier`) for `AuthBuilder::org`, `AuthHandle::switch_org`,
//! `OrgOverride` and `ActAs::org`, on the paused clock through both front doors: a name is looked up once among the orgs ThoughtSpot lists for the layer's user,
//! a name and its id share one credential, and an unknown name is a typed error that sends
//! nothing more for a minute.

mod common;

use std::time::Duration;

use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser, PresentedCredential};
use thoughtspot_auth::{
    ActAs, ApiVersion, ErrorKind, MintBudget, OrgIdentifier, ThoughtSpotAuthLayer,
};

use common::front::{Call, Client, Front};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const SESSION_USER: &str = "/api/rest/2.0/auth/session/user";
const SEARCH: &str = "/api/rest/2.0/metadata/search";

async fn a_name_and_its_id_share_one_credential(front: Front) {
    // The mock's orgs: 0 "Primary", 1 "Sales", 2 "Marketing".
    let ts = MockThoughtSpot::start().await.unwrap();
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(0);
    let (client, handle) = Client::build(front, builder);
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);

    handle.switch_org("Sales").await.unwrap();
    assert_eq!(handle.current_org(), Some(1));
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (2, 1));
    handle.switch_org(1).await.unwrap();
    assert_eq!(ts.count(TOKEN_FULL), 2, "the id uses the name's credential");
    // Every org of that answer is known now.
    handle.switch_org("Marketing").await.unwrap();
    assert_eq!(handle.current_org(), Some(2));
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (3, 1));
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    // A name in another case is found ignoring case, as a lookup would.
    handle.switch_org("sales").await.unwrap();
    assert_eq!(handle.current_org(), Some(1));
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (3, 1));
}

async fn an_unknown_name_is_a_typed_error_that_is_not_asked_again_for_a_minute(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(2);
    let (client, handle) = Client::build(front, builder);
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
    // Fifty at once: one lookup.
    let burst = futures_util::future::join_all((0..50).map(|_| handle.switch_org("Nowhere")));
    let errors: Vec<_> = burst.await.into_iter().map(Result::unwrap_err).collect();
    assert!(errors.iter().all(|e| e.kind() == ErrorKind::UnknownOrg));
    assert_eq!(ts.count(SESSION_USER), 1, "one lookup for the burst");
    let error = &errors[0];
    assert!(error.to_string().contains("\"Nowhere\""), "{error}");
    assert_eq!(handle.current_org(), Some(2), "left as it was");
    for _ in 0..100 {
        let again = handle.switch_org("Nowhere").await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::UnknownOrg);
    }
    assert_eq!(ts.count(SESSION_USER), 1, "no storm");
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert!(handle.switch_org("Nowhere").await.is_err());
    assert_eq!(ts.count(SESSION_USER), 2, "asked again after the minute");
    assert_eq!(ts.count(TOKEN_FULL), 1);
}

async fn a_layer_built_for_an_org_by_name_starts_in_it(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org("Marketing");
    let (client, handle) = Client::build(front, builder);
    assert_eq!(
        handle.current_org(),
        None,
        "not looked up before the first request"
    );
    // A burst of first requests: one lookup (a login in the default org, one session/user),
    // then one login in the named org, which every request carries.
    let base = ts.base_url();
    let burst = futures_util::future::join_all((0..20).map(|_| client.send(Call::search(&base))));
    for reply in burst.await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200);
    }
    assert_eq!(handle.current_org(), Some(2));
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (2, 1));
    let searched: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/rest/2.0/metadata/search")
        .collect();
    assert_eq!(searched.len(), 20);
    for request in &searched {
        match &request.credential {
            thoughtspot_auth::mock::PresentedCredential::Token { org, .. } => assert_eq!(*org, 2),
            other => panic!("{other:?}"),
        }
    }
    // Later requests take the hot path in org 2; a revocation relogs in org 2.
    ts.revoke_all_tokens();
    assert_eq!(client.status(Call::search(&base)).await, 200);
    assert_eq!(ts.count(TOKEN_FULL), 3);
}

async fn a_layer_built_for_an_unknown_org_name_says_so(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org("Nowhere");
    let (client, handle) = Client::build(front, builder);
    let failure = client.send(Call::search(&ts.base_url())).await.unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::UnknownOrg), "{failure:?}");
    assert!(client.send(Call::search(&ts.base_url())).await.is_err());
    assert_eq!(ts.count(SESSION_USER), 1);
    assert_eq!(handle.current_org(), None);
    // A switch by id still works, and the name is no longer what requests wait for.
    handle.switch_org(1).await.unwrap();
    assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
}

/// Which user and org each data request's token was for, in order.
fn data_tokens(ts: &MockThoughtSpot) -> Vec<(String, i64)> {
    ts.requests()
        .into_iter()
        .filter(|r| r.path == SEARCH)
        .filter_map(|r| match r.credential {
            PresentedCredential::Token { user, org, .. } => Some((user, org)),
            _ => None,
        })
        .collect()
}

async fn an_org_override_by_name_shares_its_ids_credential(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let base = ts.base_url();
    let builder = ThoughtSpotAuthLayer::builder(&base)
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(0);
    let (client, _handle) = Client::build(front, builder);
    assert_eq!(client.status(Call::search(&base)).await, 200);
    // A burst naming an org not looked up yet: one lookup (with the current org's token),
    // one login in the named org.
    let burst = (0..20).map(|_| client.status(Call::search(&base).in_org("Sales")));
    let statuses = futures_util::future::join_all(burst).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (2, 1));
    // Its id, and another org of the same answer, need no lookup.
    assert_eq!(client.status(Call::search(&base).in_org(1)).await, 200);
    assert_eq!(
        client.status(Call::search(&base).in_org("Marketing")).await,
        200
    );
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (3, 1));
    let orgs: Vec<i64> = data_tokens(&ts).into_iter().map(|(_, org)| org).collect();
    assert_eq!(orgs[0], 0);
    assert!(orgs[1..21].iter().all(|o| *o == 1), "{orgs:?}");
    assert_eq!(orgs[21..], [1, 2]);
    // An unknown name: a typed error, nothing sent, asked once within the minute.
    for _ in 0..20 {
        let failure = client
            .send(Call::search(&base).in_org("Nowhere"))
            .await
            .unwrap_err();
        assert_eq!(failure.kind(), Some(ErrorKind::UnknownOrg), "{failure:?}");
    }
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (3, 2));
    assert_eq!(
        data_tokens(&ts).len(),
        23,
        "nothing sent for the unknown name"
    );
}

async fn act_as_org_by_name_is_looked_up_with_the_acting_users_token(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    for user in ["alice", "bob"] {
        ts.add_user(MockUser::new(user, "unused").orgs([0, 1, 2]));
    }
    let base = ts.base_url();
    let builder = ThoughtSpotAuthLayer::builder(&base)
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .mint_budget(MintBudget::unlimited());
    let (client, handle) = Client::build(front, builder);
    let as_user =
        |user: &str, org: OrgIdentifier| Call::search(&base).acting_as(ActAs::user(user).org(org));
    let burst = (0..10).map(|_| client.status(as_user("alice", "Sales".into())));
    let statuses = futures_util::future::join_all(burst).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Alice's token in her default org looked the name up; then her token for org 1.
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (2, 1));
    let lookup = ts
        .requests()
        .into_iter()
        .find(|r| r.path == SESSION_USER)
        .unwrap();
    assert!(
        matches!(&lookup.credential, PresentedCredential::Token { user, .. } if user == "alice"),
        "{:?}",
        lookup.credential
    );
    assert_eq!(client.status(as_user("alice", 1.into())).await, 200);
    assert_eq!(ts.count(TOKEN_FULL), 2, "the id shares the name's token");
    // The names are known for every user now (in any case).
    assert_eq!(client.status(as_user("bob", "sales".into())).await, 200);
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (3, 1));
    assert_eq!(client.status(as_user("bob", "Marketing".into())).await, 200);
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (4, 1));
    assert!(
        data_tokens(&ts)
            .iter()
            .all(|(user, org)| (user == "alice" && *org == 1) || (user == "bob" && *org > 0))
    );
    let failure = client
        .send(as_user("bob", "Nowhere".into()))
        .await
        .unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::UnknownOrg), "{failure:?}");

    // A switch by a name already known works in multi-user mode; an unknown one cannot be
    // looked up without a user.
    handle.switch_org("Marketing").await.unwrap();
    assert_eq!(handle.current_org(), Some(2));
    let error = handle.switch_org("Elsewhere").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
}

/// A name one user's orgs do not include is unknown to that user only: another user who belongs
/// to the org is served, and the first is still answered without a lookup.
async fn a_name_unknown_to_one_user_is_known_to_another(front: Front) {
    let ts = MockThoughtSpot::builder()
        .org(3, "Research")
        .start()
        .await
        .unwrap();
    ts.add_user(MockUser::new("carol", "unused").orgs([0]));
    ts.add_user(MockUser::new("dave", "unused").orgs([0, 3]));
    let base = ts.base_url();
    let builder = ThoughtSpotAuthLayer::builder(&base)
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .mint_budget(MintBudget::unlimited());
    let (client, _handle) = Client::build(front, builder);
    let as_user = |user: &str| Call::search(&base).acting_as(ActAs::user(user).org("Research"));
    let failure = client.send(as_user("carol")).await.unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::UnknownOrg), "{failure:?}");
    assert_eq!(client.status(as_user("dave")).await, 200);
    assert_eq!(ts.count(SESSION_USER), 2, "each user's own lookup");
    assert!(client.send(as_user("carol")).await.is_err());
    assert_eq!(ts.count(SESSION_USER), 2, "carol's answer remembered");
    assert_eq!(data_tokens(&ts), [("dave".to_owned(), 3)]);
}

/// In single-user modes an `ActAs` is no part of the key: its org name is ignored, as its user
/// is, and the request goes to its `OrgOverride`'s org.
async fn a_single_user_layer_ignores_an_act_as_org_name(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let base = ts.base_url();
    let builder = ThoughtSpotAuthLayer::builder(&base)
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .org(0);
    let (client, _handle) = Client::build(front, builder);
    let call = Call::search(&base)
        .in_org("Sales")
        .acting_as(ActAs::user("someone").org("Marketing"));
    assert_eq!(client.status(call).await, 200);
    assert_eq!(data_tokens(&ts), [(mock::DEFAULT_USER.to_owned(), 1)]);
}

async fn a_multi_user_layer_built_for_an_org_by_name_puts_every_user_in_it(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    ts.add_user(MockUser::new("alice", "unused").orgs([0, 1, 2]));
    let base = ts.base_url();
    let builder = ThoughtSpotAuthLayer::builder(&base)
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .org("Marketing");
    let (client, handle) = Client::build(front, builder);
    let call = Call::search(&base).acting_as(ActAs::user("alice"));
    assert_eq!(client.status(call.clone()).await, 200);
    assert_eq!(client.status(call).await, 200);
    assert_eq!(handle.current_org(), Some(2));
    assert_eq!(data_tokens(&ts), [("alice".into(), 2), ("alice".into(), 2)]);
    assert_eq!(ts.count(SESSION_USER), 1);
}

async fn the_beta_api_takes_ids_only(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let built = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .api(ApiVersion::Beta)
        .org("Sales")
        .build();
    assert_eq!(built.err().unwrap().kind(), ErrorKind::Config);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
        .api(ApiVersion::Beta);
    let (client, handle) = Client::build(front, builder);
    let error = handle.switch_org("Sales").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    let failure = client
        .send(Call::beta(&ts.base_url()).in_org("Sales"))
        .await
        .unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::Config), "{failure:?}");
    assert_eq!(ts.count(SESSION_USER), 0);
}

both_fronts!(
    a_name_and_its_id_share_one_credential,
    a_layer_built_for_an_org_by_name_starts_in_it,
    a_layer_built_for_an_unknown_org_name_says_so,
    an_unknown_name_is_a_typed_error_that_is_not_asked_again_for_a_minute,
    an_org_override_by_name_shares_its_ids_credential,
    act_as_org_by_name_is_looked_up_with_the_acting_users_token,
    a_multi_user_layer_built_for_an_org_by_name_puts_every_user_in_it,
    a_single_user_layer_ignores_an_act_as_org_name,
    a_name_unknown_to_one_user_is_known_to_another,
    the_beta_api_takes_ids_only,
);
