//! Where secrets come from (`thoughtspot_auth::secrets`), on the paused clock through both
//! front doors: one key per org, a key rotated while running (ThoughtSpot refuses the old one at
//! once), a file rewritten, a source that fails. The wire is read from the mock's request log:
//! which mints were made, and which the mock refused. The real-clock runs are in
//! `tests/realtime/rotation.rs`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use secrecy::ExposeSecret;
use thoughtspot_auth::mock::{self, MockThoughtSpot, MockUser};
use thoughtspot_auth::secrets::{
    PerOrgSecrets, ProvidedToken, SecretFile, SecretFn, SourceError, TokenFn, TokenProvider,
};
use thoughtspot_auth::session::TokenRequest;
use thoughtspot_auth::{ActAs, ErrorKind, ThoughtSpotAuthLayer};

use common::front::{Call, Client, Front};
use common::{LogCapture, assert_no_secret};

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

/// The mock with a user in orgs 0 to 2, org 1 and 2 with keys of their own.
async fn mock_with_org_keys() -> MockThoughtSpot {
    MockThoughtSpot::builder()
        .org_secret_key(1, "key-of-org-1")
        .org_secret_key(2, "key-of-org-2")
        .start()
        .await
        .unwrap()
}

/// The mock's answers to mints: (ok, refused).
fn mints(ts: &MockThoughtSpot) -> (usize, usize) {
    let log: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == TOKEN_FULL)
        .collect();
    let ok = log.iter().filter(|r| r.status == 200).count();
    (ok, log.len() - ok)
}

/// A source whose secret the test sets, counting how often it is read.
#[derive(Clone, Default)]
struct Switchable {
    secret: Arc<Mutex<String>>,
    reads: Arc<AtomicUsize>,
}

impl Switchable {
    fn new(secret: &str) -> Self {
        let source = Self::default();
        source.set(secret);
        source
    }

    fn set(&self, secret: &str) {
        *self.secret.lock().unwrap() = secret.to_owned();
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    fn source(&self) -> impl thoughtspot_auth::secrets::SecretSource + use<> {
        let this = self.clone();
        SecretFn::new(move |_org| {
            this.reads.fetch_add(1, Ordering::SeqCst);
            let secret = this.secret.lock().unwrap().clone();
            async move { Ok::<_, SourceError>(secret) }
        })
    }
}

async fn per_org_keys_mint_each_org_with_its_own_key(front: Front) {
    let ts = mock_with_org_keys().await;
    let keys = PerOrgSecrets::new()
        .org(1, "key-of-org-1")
        .org(2, "key-of-org-2")
        .default_secret(mock::DEFAULT_SECRET_KEY);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .secret_key_from(mock::DEFAULT_USER, keys.clone())
        .org(0);
    let (client, _handle) = Client::build(front, builder);
    for org in [0, 1, 2, 1, 0, 2] {
        let call = Call::search(&ts.base_url()).in_org(org);
        assert_eq!(client.status(call).await, 200, "org {org}");
    }
    assert_eq!(mints(&ts), (3, 0), "one mint per org, none refused");

    // Multi-user: each (user, org) minted with its org's key.
    let (users, _handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url()).act_as_users_from(keys),
    );
    for org in [0, 1, 2] {
        for user in [mock::DEFAULT_USER, mock::ANALYST_USER] {
            if user == mock::ANALYST_USER && org == 2 {
                continue; // not a member of org 2
            }
            let call = Call::search(&ts.base_url()).acting_as(ActAs::user(user).org(org));
            assert_eq!(users.status(call).await, 200, "{user} in org {org}");
        }
    }
    assert_eq!(mints(&ts), (8, 0), "five more, none refused");
}

async fn a_key_rotated_at_the_source_first_costs_no_rejection(front: Front) {
    let ts = mock_with_org_keys().await;
    let keys = PerOrgSecrets::new().org(1, "key-of-org-1");
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .secret_key_from(mock::DEFAULT_USER, keys.clone())
        .org(1);
    let (client, _handle) = Client::build(front, builder);
    let call = || Call::search(&ts.base_url());
    assert_eq!(client.status(call()).await, 200);
    keys.set(1, "rotated-key-of-org-1");
    ts.set_org_secret_key(1, "rotated-key-of-org-1");
    ts.revoke_all_tokens();
    assert_eq!(client.status(call()).await, 200);
    assert_eq!(mints(&ts), (2, 0), "the relogin read the new key");
}

async fn a_stale_key_of_one_org_blocks_that_org_only(front: Front) {
    let ts = mock_with_org_keys().await;
    let keys = PerOrgSecrets::new()
        .org(1, "key-of-org-1")
        .org(2, "key-of-org-2");
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .secret_key_from(mock::DEFAULT_USER, keys.clone())
        .org(1);
    let (client, _handle) = Client::build(front, builder);
    let in_org = |org| Call::search(&ts.base_url()).in_org(org);
    assert_eq!(client.status(in_org(1)).await, 200);
    assert_eq!(client.status(in_org(2)).await, 200);
    // Org 1's key rotated at ThoughtSpot only: org 1 is refused and waits for its window...
    ts.set_org_secret_key(1, "rotated-key-of-org-1");
    ts.revoke_all_tokens();
    assert_eq!(
        client.status(in_org(1)).await,
        401,
        "its relogin was refused"
    );
    let refused = client.send(in_org(1)).await.unwrap_err();
    assert!(refused.error.unwrap().is_refused_by_backoff());
    // ... and org 2, whose key is fine, goes on: a key is one org's, not the account's.
    assert_eq!(client.status(in_org(2)).await, 200);
    assert_eq!(client.status(in_org(2)).await, 200);
    assert_eq!(mints(&ts), (3, 1));
    keys.set(1, "rotated-key-of-org-1");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(client.status(in_org(1)).await, 200);
}

async fn a_rejected_login_reads_the_source_again_and_tries_a_new_secret_once(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let source = Switchable::new(mock::DEFAULT_SECRET_KEY);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .secret_key_from(mock::DEFAULT_USER, source.source())
        .org(0);
    let (client, handle) = Client::build(front, builder);
    let call = || Call::search(&ts.base_url());
    assert_eq!(client.status(call()).await, 200);
    assert_eq!(source.reads(), 1);

    // ThoughtSpot's key is rotated; the source learns it a moment later, between the attempt
    // with the old key and the look after its rejection.
    ts.set_secret_key("the-new-key");
    ts.revoke_all_tokens();
    let watcher = {
        let source = source.clone();
        tokio::spawn(async move {
            common::load::until(|| source.reads() >= 2).await;
            source.set("the-new-key");
        })
    };
    assert_eq!(client.status(call()).await, 200, "no request fails");
    watcher.await.unwrap();
    assert_eq!(
        mints(&ts),
        (2, 1),
        "one attempt with the old key, one with the new"
    );
    let stats = handle.stats();
    assert_eq!(stats.login_attempts, 3);
    assert_eq!(stats.failures.total(), 0, "the flight succeeded");
}

async fn a_window_ends_within_a_second_of_the_source_giving_another_secret(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let source = Switchable::new(mock::DEFAULT_SECRET_KEY);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .secret_key_from(mock::DEFAULT_USER, source.source())
        .permanent_failure_backoff(Duration::from_secs(600), Duration::from_secs(600))
        .org(0);
    let (client, _handle) = Client::build(front, builder);
    let call = || Call::search(&ts.base_url());
    assert_eq!(client.status(call()).await, 200);

    // Rotated at ThoughtSpot only: the relogin and the look after it both use the old key.
    ts.set_secret_key("the-new-key");
    ts.revoke_all_tokens();
    // The request that met the revocation gets its own 401 back: the relogin failed.
    assert_eq!(client.status(call()).await, 401);
    assert_eq!(
        mints(&ts),
        (1, 1),
        "one attempt with the old key, no second"
    );
    let reads = source.reads();
    assert_eq!(
        reads, 3,
        "the first login, the relogin, the look after its rejection"
    );

    // Inside the window: refused without a send and, within the second, without a read.
    for _ in 0..50 {
        let refused = client.send(call()).await.unwrap_err();
        assert!(refused.error.as_ref().unwrap().is_refused_by_backoff());
    }
    assert_eq!(source.reads(), reads);
    // A second later the source is looked at again (once), still the old key: still refused.
    tokio::time::advance(Duration::from_secs(1)).await;
    for _ in 0..50 {
        assert!(client.send(call()).await.is_err());
    }
    assert_eq!(source.reads(), reads + 1);
    assert_eq!(mints(&ts), (1, 1), "no attempt with the same old key");

    // The source gives the new key: the window ends at the next look.
    source.set("the-new-key");
    assert!(client.send(call()).await.is_err(), "not looked at yet");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(client.status(call()).await, 200);
    assert_eq!(mints(&ts), (2, 1));
}

async fn a_file_rewritten_while_running_is_read_at_the_next_login(front: Front) {
    let dir = std::env::temp_dir().join(format!("ts-secret-file-{}-{front:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("password");
    std::fs::write(&path, format!("{}\n", mock::DEFAULT_PASSWORD)).unwrap();
    let ts = MockThoughtSpot::start().await.unwrap();
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .password_from(mock::DEFAULT_USER, SecretFile::new(&path))
        .org(0);
    let (client, _handle) = Client::build(front, builder);
    let call = || Call::search(&ts.base_url());
    assert_eq!(client.status(call()).await, 200);
    std::fs::write(&path, "a-new-password\n").unwrap();
    ts.set_password(mock::DEFAULT_USER, "a-new-password");
    ts.revoke_all_tokens();
    assert_eq!(client.status(call()).await, 200);
    assert_eq!(mints(&ts), (2, 0));
    // The file gone: a transient failure, retried until the login deadline, nothing sent.
    std::fs::remove_file(&path).unwrap();
    ts.revoke_all_tokens();
    assert_eq!(client.status(call()).await, 401, "the relogin failed");
    let failed = client.send(call()).await.unwrap_err();
    assert_eq!(failed.kind(), Some(ErrorKind::Source), "{failed:?}");
    assert!(failed.text.contains("cannot be opened"), "{}", failed.text);
    assert_eq!(mints(&ts), (2, 0), "nothing sent without a secret");
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn a_source_failing_for_good_opens_a_window_and_a_new_answer_ends_it(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let keys = PerOrgSecrets::new().org(0, mock::DEFAULT_SECRET_KEY);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .secret_key_from(mock::DEFAULT_USER, keys.clone())
        .org(1);
    let (client, _handle) = Client::build(front, builder);
    let call = || Call::search(&ts.base_url());
    let failed = client.send(call()).await.unwrap_err();
    assert_eq!(failed.kind(), Some(ErrorKind::Source));
    assert!(
        failed.text.contains("no secret key for org 1"),
        "{}",
        failed.text
    );
    let refused = client.send(call()).await.unwrap_err();
    assert!(refused.error.unwrap().is_refused_by_backoff());
    keys.set(1, mock::DEFAULT_SECRET_KEY);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(client.status(call()).await, 200);
    assert_eq!(mints(&ts), (1, 0));
}

async fn no_source_secret_in_any_log_line_debug_or_error(front: Front) {
    let (logs, _guard) = LogCapture::install();
    let dir = std::env::temp_dir().join(format!("ts-hygiene-{}-{front:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("key");
    std::fs::write(&path, "file-key-0001").unwrap();
    let ts = MockThoughtSpot::builder()
        .secret_key("file-key-0001")
        .org_secret_key(1, "org-key-0001")
        .user_with(MockUser::new("svc", "svc-password-0001").orgs([0, 1]))
        .start()
        .await
        .unwrap();
    let keys = PerOrgSecrets::new()
        .org(1, "org-key-0001")
        .default_secret("file-key-0001");
    let file = SecretFile::new(&path);
    let closure = SecretFn::new(|_| async { Ok::<_, SourceError>("svc-password-0001") });
    let mut shown = vec![format!("{keys:?} {file:?} {closure:?}")];
    for (name, builder) in [
        (
            "per org",
            ThoughtSpotAuthLayer::builder(ts.base_url()).secret_key_from("svc", keys.clone()),
        ),
        (
            "file",
            ThoughtSpotAuthLayer::builder(ts.base_url()).secret_key_from("svc", file.clone()),
        ),
        (
            "closure",
            ThoughtSpotAuthLayer::builder(ts.base_url()).password_from("svc", closure),
        ),
        (
            "act as",
            ThoughtSpotAuthLayer::builder(ts.base_url()).act_as_users_from(keys.clone()),
        ),
    ] {
        shown.push(format!("{builder:?}"));
        let (client, handle) = Client::build(front, builder.org(0));
        let call = |org| {
            let call = Call::search(&ts.base_url()).in_org(org);
            if name == "act as" {
                call.acting_as(ActAs::user("svc").org(org))
            } else {
                call
            }
        };
        for org in [0, 1] {
            shown.push(format!(
                "{:?}",
                client.send(call(org)).await.map(|r| r.status)
            ));
        }
        // Rotated at ThoughtSpot only: rejections, a look at the source, a window.
        ts.set_secret_key("rotated-key-0002");
        ts.set_org_secret_key(1, "rotated-key-0002");
        ts.set_password("svc", "rotated-password-0002");
        ts.revoke_all_tokens();
        for org in [0, 1, 0, 1] {
            match client.send(call(org)).await {
                Ok(reply) => assert_eq!(reply.status, 401),
                Err(failure) => shown.push(format!("{failure:?} {}", failure.text)),
            }
        }
        shown.push(format!("{handle:?} {:?}", handle.stats()));
        ts.set_secret_key("file-key-0001");
        ts.set_org_secret_key(1, "org-key-0001");
        ts.set_password("svc", "svc-password-0001");
    }
    std::fs::remove_file(&path).unwrap();
    let (client, _handle) = Client::build(
        front,
        ThoughtSpotAuthLayer::builder(ts.base_url())
            .secret_key_from("svc", file)
            .org(0),
    );
    let failure = client.send(Call::search(&ts.base_url())).await.unwrap_err();
    shown.push(format!("{failure:?} {}", failure.text));
    std::fs::remove_dir_all(&dir).unwrap();

    // Provided tokens: every one the provider gave, through a rejection and a replay, and a
    // provider failure.
    let given = Arc::new(Mutex::new(Vec::<String>::new()));
    let minting = Minting::new(&ts, Some(Duration::from_secs(60)));
    let provider = {
        let (given, session) = (given.clone(), minting.session.clone());
        TokenFn::new(move |_org| {
            let (given, session) = (given.clone(), session.clone());
            async move {
                let request = TokenRequest::password("svc", "svc-password-0001");
                let login = session.v2().token_full(&request).await.unwrap();
                let token = login.credential.token().unwrap().expose_secret().to_owned();
                given.lock().unwrap().push(token.clone());
                Ok(ProvidedToken::new(token))
            }
        })
    };
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url()).token_provider(provider);
    shown.push(format!("{builder:?}"));
    let (client, handle) = Client::build(front, builder);
    shown.push(format!(
        "{:?}",
        client
            .send(Call::search(&ts.base_url()))
            .await
            .map(|r| r.status)
    ));
    ts.revoke_all_tokens();
    shown.push(format!(
        "{:?}",
        client
            .send(Call::search(&ts.base_url()))
            .await
            .map(|r| r.status)
    ));
    shown.push(format!("{handle:?} {:?}", handle.stats()));
    assert_eq!(
        given.lock().unwrap().len(),
        2,
        "the first token, and one after the rejection"
    );

    let everything = format!("{}\n{}", shown.join("\n"), logs.text());
    let mut secrets: Vec<String> = [
        "file-key-0001",
        "org-key-0001",
        "svc-password-0001",
        "rotated-key-0002",
        "rotated-password-0002",
    ]
    .map(String::from)
    .into();
    secrets.extend(given.lock().unwrap().iter().cloned());
    assert_no_secret(
        "what the sources' scenario showed and logged",
        &everything,
        &secrets,
    );
}

/// A provider that mints with the mock's own token API (as an identity provider would),
/// counting its calls; its first `failing` calls fail with `failure`.
#[derive(Clone)]
struct Minting {
    session: Arc<common::HyperSession>,
    calls: Arc<AtomicUsize>,
    failing: Arc<Mutex<(usize, Option<SourceError>)>>,
    /// This many calls answer the last token given again (a provider with a stale cache).
    repeating: Arc<Mutex<(usize, Option<String>)>>,
    lifetime: Option<Duration>,
}

impl Minting {
    fn new(ts: &MockThoughtSpot, lifetime: Option<Duration>) -> Self {
        Self {
            session: Arc::new(common::session_for(ts)),
            calls: Arc::new(AtomicUsize::new(0)),
            failing: Arc::new(Mutex::new((0, None))),
            repeating: Arc::new(Mutex::new((0, None))),
            lifetime,
        }
    }

    fn fail(&self, times: usize, failure: SourceError) {
        *self.failing.lock().unwrap() = (times, Some(failure));
    }

    fn repeat_last(&self, times: usize) {
        self.repeating.lock().unwrap().0 = times;
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn provider(&self) -> impl TokenProvider + use<> {
        let this = self.clone();
        TokenFn::new(move |org: Option<i64>| {
            let this = this.clone();
            async move {
                this.calls.fetch_add(1, Ordering::SeqCst);
                {
                    let mut failing = this.failing.lock().unwrap();
                    if failing.0 > 0 {
                        failing.0 -= 1;
                        return Err(failing.1.clone().unwrap());
                    }
                }
                {
                    let mut repeating = this.repeating.lock().unwrap();
                    if let (n @ 1.., Some(last)) = (repeating.0, repeating.1.clone()) {
                        repeating.0 = n - 1;
                        return Ok(ProvidedToken::new(last));
                    }
                }
                let mut request =
                    TokenRequest::password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
                        .validity_secs(60);
                request.org_id = org;
                let login = this.session.v2().token_full(&request).await.map_err(|e| {
                    SourceError::transient("the identity provider failed").with_cause(e)
                })?;
                let token = login.credential.token().unwrap().expose_secret().to_owned();
                this.repeating.lock().unwrap().1 = Some(token.clone());
                let provided = ProvidedToken::new(token);
                Ok(match this.lifetime {
                    Some(lifetime) => provided.lifetime(lifetime),
                    None => provided,
                })
            }
        })
    }
}

async fn a_provider_is_asked_once_per_need_and_its_tokens_live_what_it_says(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let minting = Minting::new(&ts, Some(Duration::from_secs(60)));
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .token_provider(minting.provider())
        .org(1);
    let (client, handle) = Client::build(front, builder);
    let base = ts.base_url();
    let all_ok = |statuses: Vec<http::StatusCode>| assert!(statuses.iter().all(|s| *s == 200));
    // A burst at cold start: one call.
    all_ok(join_all((0..50).map(|_| client.status(Call::search(&base)))).await);
    assert_eq!(minting.calls(), 1);
    // Refreshed before the 60 s end (at most 10 % before: after 54 s), once.
    tokio::time::sleep(Duration::from_secs(50)).await;
    all_ok(join_all((0..20).map(|_| client.status(Call::search(&base)))).await);
    assert_eq!(minting.calls(), 1, "not yet");
    tokio::time::sleep(Duration::from_secs(8)).await;
    all_ok(join_all((0..20).map(|_| client.status(Call::search(&base)))).await);
    common::load::until(|| minting.calls() == 2).await;
    // Rejected: asked again, and the request replayed with the new token.
    ts.revoke_all_tokens();
    assert_eq!(client.status(Call::search(&base)).await, 200);
    assert_eq!(minting.calls(), 3);
    let stats = handle.stats();
    assert_eq!((stats.replays, stats.failures.total()), (1, 0));
    // Another org: asked with it.
    assert_eq!(client.status(Call::search(&base).in_org(2)).await, 200);
    assert_eq!(minting.calls(), 4);
    assert!(
        ts.requests()
            .iter()
            .filter(|r| r.path == "/api/rest/2.0/metadata/search")
            .all(|r| r.status == 200 || r.status == 401)
    );
}

/// A provider that answers with the very token ThoughtSpot just rejected (a stale cache of its
/// own) is not believed: nothing is sent with that token again, the provider is asked again
/// after a pause, and the request waits for a fresh token.
async fn a_provider_giving_back_the_rejected_token_is_asked_again(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let minting = Minting::new(&ts, Some(Duration::from_secs(60)));
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url()).token_provider(minting.provider());
    let (client, handle) = Client::build(front, builder);
    let base = ts.base_url();
    assert_eq!(client.status(Call::search(&base)).await, 200);
    ts.revoke_all_tokens();
    minting.repeat_last(2);
    assert_eq!(client.status(Call::search(&base)).await, 200);
    assert_eq!(
        minting.calls(),
        1 + 2 + 1,
        "two stale answers, then a fresh token"
    );
    let refused = ts
        .requests()
        .iter()
        .filter(|r| r.path == "/api/rest/2.0/metadata/search" && r.status == 401)
        .count();
    assert_eq!(refused, 1, "the rejected token was sent once, never again");
    let stats = handle.stats();
    assert_eq!((stats.replays, stats.failures.source), (1, 2));
}

async fn a_provided_token_without_a_lifetime_lives_the_configured_default(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let minting = Minting::new(&ts, None);
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
        .token_provider(minting.provider())
        .provided_token_lifetime(Duration::from_secs(20));
    let (client, _handle) = Client::build(front, builder);
    let call = || Call::search(&ts.base_url());
    assert_eq!(client.status(call()).await, 200);
    tokio::time::sleep(Duration::from_secs(21)).await;
    assert_eq!(client.status(call()).await, 200);
    assert_eq!(
        minting.calls(),
        2,
        "past its 20 s, asked again before the request"
    );
}

async fn a_provider_failing_for_a_while_then_for_good(front: Front) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let minting = Minting::new(&ts, Some(Duration::from_secs(60)));
    let builder = ThoughtSpotAuthLayer::builder(ts.base_url()).token_provider(minting.provider());
    let (client, handle) = Client::build(front, builder);
    let call = || Call::search(&ts.base_url());
    // Transient: retried with backoff within the login deadline; the request succeeds.
    minting.fail(
        3,
        SourceError::transient("the identity provider is restarting"),
    );
    assert_eq!(client.status(call()).await, 200);
    assert_eq!(minting.calls(), 4);
    assert_eq!(handle.stats().failures.source, 3);
    // Permanent: the request gets the error, and the provider is not asked again in the window.
    minting.fail(
        1,
        SourceError::permanent("this service may not have tokens"),
    );
    ts.revoke_all_tokens();
    assert_eq!(client.status(call()).await, 401, "the relogin failed");
    let calls = minting.calls();
    let failure = client.send(call()).await.unwrap_err();
    assert_eq!(failure.kind(), Some(ErrorKind::Source));
    assert!(failure.error.unwrap().is_refused_by_backoff());
    assert!(
        failure.text.contains("may not have tokens"),
        "{}",
        failure.text
    );
    assert_eq!(minting.calls(), calls);
}

both_fronts!(
    a_stale_key_of_one_org_blocks_that_org_only,
    a_provider_is_asked_once_per_need_and_its_tokens_live_what_it_says,
    a_provider_giving_back_the_rejected_token_is_asked_again,
    a_provided_token_without_a_lifetime_lives_the_configured_default,
    a_provider_failing_for_a_while_then_for_good,
    per_org_keys_mint_each_org_with_its_own_key,
    a_key_rotated_at_the_source_first_costs_no_rejection,
    a_rejected_login_reads_the_source_again_and_tries_a_new_secret_once,
    a_window_ends_within_a_second_of_the_source_giving_another_secret,
    a_file_rewritten_while_running_is_read_at_the_next_login,
    a_source_failing_for_good_opens_a_window_and_a_new_answer_ends_it,
    no_source_secret_in_any_log_line_debug_or_error,
);
