//! Hostile and malformed login answers, met through the layer (both front doors): each gives
//! the waiting request a typed error (`thoughtspot_auth::Error` inside the boxed tower error or
//! the reqwest-middleware error) of the right kind, with bounded memory and no panic; and when a
//! background refresh meets one, the still-valid credential stays in service.
//!
//! The crate's classification, which these tests hold it to: an answer that is not JSON at all
//! (an HTML maintenance page, plain text) is `Unavailable` and a body that breaks off or is too
//! large is `Transport` — transient, retried with backoff; JSON of the wrong shape, a missing or
//! unusable token, a lifetime that makes no sense are `MalformedResponse` — permanent, and start
//! a backoff window in which nothing is sent. (How the session API classifies each answer is
//! tested in `session_v2.rs`; here it is the layer's behaviour.)

mod common;

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot, PresentedCredential};
use thoughtspot_auth::{ApiVersion, AuthBuilder, AuthStats, ErrorKind, ThoughtSpotAuthLayer};

use common::front::{Call, Client, FRONTS, Front};

#[global_allocator]
static HEAP: common::heap::Counting = common::heap::Counting;

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const GET_TOKEN: &str = "/tspublic/rest/v2/session/gettoken";
const SEARCH: &str = "/api/rest/2.0/metadata/search";
const BETA_SESSION: &str = "/tspublic/rest/v2/session";
const MIB: usize = 1024 * 1024;
/// What a failed login may make the test thread hold at its peak, whatever the answer's size.
const MEMORY_BOUND: isize = 4 * MIB as isize;

/// One hostile login answer and how the layer must take it.
struct Case {
    name: &'static str,
    beta: bool,
    fault: Fault,
    kind: ErrorKind,
}

fn json_200(body: serde_json::Value) -> Fault {
    text_200("application/json", body.to_string())
}

fn text_200(content_type: &str, body: impl Into<Bytes>) -> Fault {
    Fault::Respond {
        status: 200,
        content_type: content_type.to_owned(),
        body: body.into(),
    }
}

fn token(created: i64, expires: i64) -> serde_json::Value {
    json!({
        "token": "hostile-token-value",
        "creation_time_in_millis": created,
        "expiration_time_in_millis": expires,
        "scope": {"access_type": "FULL", "org_id": 0},
        "valid_for_username": mock::DEFAULT_USER,
    })
}

fn cases() -> Vec<Case> {
    use ErrorKind::{MalformedResponse as Malformed, Transport, Unavailable};
    let now = 1_767_225_600_000_i64;
    let v2 = |name, fault, kind| Case {
        name,
        beta: false,
        fault,
        kind,
    };
    let beta = |name, fault, kind| Case {
        name,
        beta: true,
        fault,
        kind,
    };
    vec![
        v2(
            "plain text where JSON was due",
            text_200("application/json", "OK"),
            Unavailable,
        ),
        v2(
            "an HTML maintenance page with 200",
            Fault::MaintenancePage,
            Unavailable,
        ),
        v2(
            "a wrong content type and a text body",
            text_200("text/plain", "Service temporarily unavailable"),
            Unavailable,
        ),
        v2(
            "an XML body",
            text_200("application/xml", "<error>down</error>"),
            Unavailable,
        ),
        v2("an empty body", text_200("application/json", ""), Malformed),
        v2("JSON cut short", Fault::MalformedJson, Malformed),
        v2(
            "a JSON array",
            json_200(json!([token(now, now + 300_000)])),
            Malformed,
        ),
        v2(
            "no token",
            json_200(
                json!({"creation_time_in_millis": now, "expiration_time_in_millis": now + 300_000}),
            ),
            Malformed,
        ),
        v2(
            "a token that is a number",
            json_200(
                json!({"token": 12345, "creation_time_in_millis": now, "expiration_time_in_millis": now + 300_000}),
            ),
            Malformed,
        ),
        v2(
            "a token that is an object",
            json_200(json!({"token": {"value": "x"}})),
            Malformed,
        ),
        v2(
            "an empty token",
            json_200(
                json!({"token": "", "creation_time_in_millis": now, "expiration_time_in_millis": now + 300_000}),
            ),
            Malformed,
        ),
        v2(
            "a token no header can carry",
            json_200(
                json!({"token": "line\nbreak", "creation_time_in_millis": now, "expiration_time_in_millis": now + 300_000}),
            ),
            Malformed,
        ),
        v2("a zero lifetime", json_200(token(now, now)), Malformed),
        v2(
            "expiration before creation",
            json_200(token(now, now - 300_000)),
            Malformed,
        ),
        v2(
            "a lifetime of ten years",
            json_200(token(now, now + 10 * 366 * 86_400_000)),
            Malformed,
        ),
        v2(
            "times at the ends of i64",
            json_200(token(i64::MIN, i64::MAX)),
            Malformed,
        ),
        v2(
            "times that are not numbers",
            json_200(
                json!({"token": "t", "creation_time_in_millis": "yesterday", "expiration_time_in_millis": "later"}),
            ),
            Malformed,
        ),
        v2(
            "a 100 MiB body with Content-Length",
            Fault::HugeBody(100 * MIB),
            Transport,
        ),
        v2(
            "a 100 MiB chunked body",
            Fault::HugeChunkedBody(100 * MIB),
            Transport,
        ),
        v2(
            "a connection closed mid-body",
            Fault::CloseMidBody,
            Transport,
        ),
        beta(
            "beta: no token",
            json_200(json!({"userName": mock::DEFAULT_USER, "tokenExpiryDuration": "300"})),
            Malformed,
        ),
        beta(
            "beta: a negative lifetime",
            json_200(json!({"token": "t", "tokenExpiryDuration": "-300"})),
            Malformed,
        ),
        beta(
            "beta: a zero lifetime",
            json_200(json!({"token": "t", "tokenExpiryDuration": 0})),
            Malformed,
        ),
        beta(
            "beta: an absurd lifetime",
            json_200(json!({"token": "t", "tokenExpiryDuration": "99999999999"})),
            Malformed,
        ),
        beta(
            "beta: a lifetime that is not a number",
            json_200(json!({"token": "t", "tokenExpiryDuration": "soon"})),
            Malformed,
        ),
        beta(
            "beta: a token that is an array",
            json_200(json!({"token": ["t"], "tokenExpiryDuration": "300"})),
            Malformed,
        ),
        beta(
            "beta: a maintenance page",
            Fault::MaintenancePage,
            Unavailable,
        ),
        beta(
            "beta: a 100 MiB body",
            Fault::HugeBody(100 * MIB),
            Transport,
        ),
    ]
}

impl Case {
    fn login_path(&self) -> &'static str {
        if self.beta { GET_TOKEN } else { TOKEN_FULL }
    }

    fn data_path(&self) -> &'static str {
        if self.beta { BETA_SESSION } else { SEARCH }
    }

    fn call(&self, ts: &MockThoughtSpot) -> Call {
        if self.beta {
            Call::beta(&ts.base_url())
        } else {
            Call::search(&ts.base_url())
        }
    }

    fn builder(&self, ts: &MockThoughtSpot) -> AuthBuilder {
        let builder = ThoughtSpotAuthLayer::builder(ts.base_url())
            .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
            .login_deadline(Duration::from_secs(5));
        if self.beta {
            builder.api(ApiVersion::Beta)
        } else {
            builder
        }
    }

    fn permanent(&self) -> bool {
        self.kind == ErrorKind::MalformedResponse
    }
}

fn failures_of(stats: &AuthStats, kind: ErrorKind) -> u64 {
    match kind {
        ErrorKind::MalformedResponse => stats.failures.malformed_response,
        ErrorKind::Unavailable => stats.failures.unavailable,
        ErrorKind::Transport => stats.failures.transport,
        other => panic!("no case expects {other:?}"),
    }
}

async fn jump(by: Duration) {
    tokio::time::advance(by).await;
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// The first login meets the hostile answer (every attempt does): the request gets the typed
/// error; a permanent one is not tried again in its backoff window; once the window is over and
/// the server is sane again, requests succeed.
async fn first_login_meets(front: Front, case: &Case) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, case.builder(&ts));
    ts.inject(case.login_path(), case.fault.clone(), 1000);

    let mark = common::heap::mark();
    let failure = client.send(case.call(&ts)).await.unwrap_err();
    let peak = common::heap::peak_since(mark);
    assert_eq!(
        failure.kind(),
        Some(case.kind),
        "{front:?}, {}: {failure:?}",
        case.name
    );
    assert!(
        peak < MEMORY_BOUND,
        "{front:?}, {}: the failed login held {peak} bytes at its peak",
        case.name
    );
    assert_eq!(
        ts.count(case.data_path()),
        0,
        "{}: nothing was sent without a credential",
        case.name
    );
    let attempts = ts.logins();
    assert!(attempts >= 1);
    assert_eq!(
        failures_of(&handle.stats(), case.kind),
        attempts as u64,
        "{}",
        case.name
    );

    if case.permanent() {
        assert_eq!(
            attempts, 1,
            "{}: a permanent failure is not retried",
            case.name
        );
        let again = client.send(case.call(&ts)).await.unwrap_err();
        assert_eq!(
            again.kind(),
            Some(case.kind),
            "{}: the same error, from the backoff",
            case.name
        );
        assert_eq!(
            ts.logins(),
            1,
            "{}: nothing sent in the backoff window",
            case.name
        );
        assert!(handle.stats().refused_by_backoff >= 1);
    }

    ts.clear_faults();
    jump(Duration::from_secs(61)).await;
    assert_eq!(
        client.status(case.call(&ts)).await,
        200,
        "{}: recovered",
        case.name
    );
}

/// A background refresh meets the hostile answer: requests keep succeeding with the old token
/// until it nears its hard deadline, and the failure is counted under the right kind.
async fn refresh_meets(front: Front, case: &Case) {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (client, handle) = Client::build(front, case.builder(&ts));
    assert_eq!(client.status(case.call(&ts)).await, 200, "{}", case.name);
    // Into the soft window of the 300 s token (refresh from 255-270 s; hard at 295 s).
    jump(Duration::from_secs(275)).await;
    ts.inject(case.login_path(), case.fault.clone(), 1000);

    let mark = common::heap::mark();
    for second in 0..15 {
        let status = client.status(case.call(&ts)).await;
        assert_eq!(
            status, 200,
            "{front:?}, {}: request at +{second} s",
            case.name
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let peak = common::heap::peak_since(mark);
    assert!(
        peak < MEMORY_BOUND,
        "{front:?}, {}: the failed refresh held {peak} bytes at its peak",
        case.name
    );
    let stats = handle.stats();
    assert!(
        failures_of(&stats, case.kind) >= 1,
        "{front:?}, {}: the refresh met the answer: {stats:?}",
        case.name
    );
    assert_eq!(stats.logins, 1, "{}: no new credential was made", case.name);
    if case.permanent() {
        assert_eq!(
            ts.logins(),
            2,
            "{}: one refresh attempt, then the backoff window",
            case.name
        );
    }
    // Every request presented the first token, valid.
    let seen: Vec<_> = ts
        .requests()
        .into_iter()
        .filter(|r| r.path == case.data_path())
        .map(|r| r.credential)
        .collect();
    assert_eq!(seen.len(), 16);
    assert!(
        seen.iter().all(|c| matches!(
            c,
            PresentedCredential::Token {
                serial: 1,
                valid: true,
                ..
            }
        )),
        "{}: {seen:?}",
        case.name
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_login_meeting_a_hostile_answer_gives_a_typed_error() {
    for front in FRONTS {
        for case in cases() {
            first_login_meets(front, &case).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_refresh_meeting_a_hostile_answer_keeps_the_valid_token_in_service() {
    for front in FRONTS {
        for case in cases() {
            refresh_meets(front, &case).await;
        }
    }
}

/// Leniency, on purpose: a well-formed token answer under a wrong `Content-Type` is used (the
/// API notes say to be lenient; only a body that is not JSON is refused).
#[tokio::test(start_paused = true)]
async fn a_good_token_under_a_wrong_content_type_is_accepted() {
    for front in FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        let session = common::session_for(&ts);
        let login = session
            .v2()
            .token_full(&thoughtspot_auth::session::TokenRequest::password(
                mock::DEFAULT_USER,
                mock::DEFAULT_PASSWORD,
            ))
            .await
            .unwrap();
        let value =
            secrecy::ExposeSecret::expose_secret(login.credential.token().unwrap()).to_owned();
        let now = ts.server_time_millis();
        let mut body = token(now, now + 300_000);
        body["token"] = json!(value);
        ts.inject(TOKEN_FULL, text_200("text/plain", body.to_string()), 1);
        let (client, _) = Client::build(
            front,
            ThoughtSpotAuthLayer::builder(ts.base_url())
                .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD),
        );
        assert_eq!(
            client.status(Call::search(&ts.base_url())).await,
            200,
            "{front:?}"
        );
    }
}

/// The data endpoint itself answers with garbage: the layer hands it back as it is (it judges
/// only 401s and the beta's 500s), reads at most 64 KiB of a beta 500 to judge it, and never
/// panics or buffers a huge body.
#[tokio::test(start_paused = true)]
async fn hostile_data_answers_are_handed_back_untouched() {
    for front in FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        let (client, handle) = Client::build(
            front,
            ThoughtSpotAuthLayer::builder(ts.base_url())
                .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
                .api(ApiVersion::Beta),
        );
        assert_eq!(client.status(Call::beta(&ts.base_url())).await, 200);
        let huge_500 = Fault::Respond {
            status: 500,
            content_type: "application/json".into(),
            body: Bytes::from(format!(
                "{{\"error\":{{\"message\":\"{}\"}}}}",
                "x".repeat(3 * MIB)
            )),
        };
        let garbage_500 = text_200("application/json", "\u{0}\u{1}{{{{[[[");
        let garbage_500 = match garbage_500 {
            Fault::Respond {
                content_type, body, ..
            } => Fault::Respond {
                status: 500,
                content_type,
                body,
            },
            other => other,
        };
        for fault in [
            huge_500,
            garbage_500,
            Fault::MalformedJson,
            Fault::HugeChunkedBody(20 * MIB),
        ] {
            ts.inject(BETA_SESSION, fault.clone(), 1);
            let mark = common::heap::mark();
            let reply = client.send(Call::beta(&ts.base_url())).await;
            let peak = common::heap::peak_since(mark);
            let reply = reply.unwrap_or_else(|f| panic!("{front:?} {fault:?}: {f:?}"));
            assert!(
                reply.status == 500 || reply.status == 200,
                "{front:?} {fault:?}: {}",
                reply.status
            );
            // The caller reads the body it asked for; the layer adds no copy of a big one.
            assert!(
                peak < reply.body.len() as isize * 3 + MEMORY_BOUND,
                "{front:?} {fault:?}: {peak} bytes at the peak for a {}-byte body",
                reply.body.len()
            );
        }
        assert_eq!(handle.stats().invalidations, 0);
        assert_eq!(ts.logins(), 1);
    }
}
