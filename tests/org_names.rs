//! Orgs by name (`OrgIdentifier`) for `AuthHandle::switch_org`, on the paused clock through both
//! front doors: a name is looked up once among the orgs ThoughtSpot lists for the layer's user,
//! a name and its id share one credential, and an unknown name is a typed error that sends
//! nothing more for a minute.

mod common;

use std::time::Duration;

use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::{ErrorKind, ThoughtSpotAuthLayer};

use common::front::{Call, Client, Front};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const SESSION_USER: &str = "/api/rest/2.0/auth/session/user";

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
    // A name in another case is looked up once more, then found ignoring case.
    handle.switch_org("sales").await.unwrap();
    assert_eq!(handle.current_org(), Some(1));
    assert_eq!((ts.count(TOKEN_FULL), ts.count(SESSION_USER)), (3, 2));
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

async fn names_need_one_user(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let builder =
        ThoughtSpotAuthLayer::builder(ts.base_url()).act_as_users(mock::DEFAULT_SECRET_KEY);
    let built = ThoughtSpotAuthLayer::builder(ts.base_url())
        .act_as_users(mock::DEFAULT_SECRET_KEY)
        .org("Sales")
        .build();
    assert_eq!(built.err().unwrap().kind(), ErrorKind::Config);
    let (_client, handle) = Client::build(front, builder);
    let error = handle.switch_org("Sales").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    handle.switch_org(1).await.unwrap();
    assert_eq!(ts.count(SESSION_USER), 0);
}

both_fronts!(
    a_name_and_its_id_share_one_credential,
    a_layer_built_for_an_org_by_name_starts_in_it,
    a_layer_built_for_an_unknown_org_name_says_so,
    an_unknown_name_is_a_typed_error_that_is_not_asked_again_for_a_minute,
    names_need_one_user,
);
