//! What is particular to the tower front door: which request bodies can be replayed, the
//! response body the layer gives back, stopping background work when the layer is dropped, and
//! configuration errors. Behaviour shared with the reqwest adapter is in `conformance.rs`.

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Full, StreamBody};
use thoughtspot_auth::mock::{self, Fault, MockThoughtSpot};
use thoughtspot_auth::{ApiVersion, AuthBuilder, ThoughtSpotAuthLayer};

use common::{layered, send};

const SEARCH: &str = "/api/rest/2.0/metadata/search";
const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";

fn builder(ts: &MockThoughtSpot) -> AuthBuilder {
    ThoughtSpotAuthLayer::builder(ts.base_url())
        .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
}

fn beta_request(base: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("{base}/tspublic/rest/v2/session"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_beta_500_read_ahead_is_given_back_whole() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let (service, handle) = layered(builder(&ts).api(ApiVersion::Beta));
    assert_eq!(
        send(&service, beta_request(&ts.base_url())).await.unwrap(),
        200
    );
    ts.inject(
        "/tspublic/rest/v2/session",
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        50,
    );
    let results = join_all((0..50).map(|_| async {
        use tower::ServiceExt;
        let response = service
            .clone()
            .oneshot(beta_request(&ts.base_url()))
            .await
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    }))
    .await;
    for (status, body) in results {
        assert_eq!(status, 500);
        assert!(
            std::str::from_utf8(&body)
                .unwrap()
                .contains("Operation failed"),
            "the body is given back whole"
        );
    }
    assert_eq!(
        ts.count("/tspublic/rest/v2/session/gettoken"),
        1,
        "no login"
    );
    assert_eq!(
        handle.stats().credential_checks,
        1,
        "one check for the generation"
    );
    assert_eq!(handle.stats().invalidations, 0);
}

type FrameStream = StreamBody<
    futures_util::stream::Iter<
        std::vec::IntoIter<Result<http_body::Frame<Bytes>, std::convert::Infallible>>,
    >,
>;

/// A body that is either whole or a stream, as axum's and reqwest's bodies are.
#[derive(Default)]
enum TestBody {
    #[default]
    Empty,
    Whole(Full<Bytes>),
    Stream(FrameStream),
}

impl From<Bytes> for TestBody {
    fn from(bytes: Bytes) -> Self {
        Self::Whole(Full::new(bytes))
    }
}

impl http_body::Body for TestBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Self::Empty => std::task::Poll::Ready(None),
            Self::Whole(b) => std::pin::Pin::new(b).poll_frame(cx),
            Self::Stream(s) => std::pin::Pin::new(s).poll_frame(cx),
        }
    }
    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Self::Empty => http_body::SizeHint::with_exact(0),
            Self::Whole(b) => b.size_hint(),
            Self::Stream(s) => s.size_hint(),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn bodies_are_replayed_when_kept_and_never_refused_when_not() {
    use tower::ServiceExt;
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).max_replay_body_bytes(16).build().unwrap();
    let handle = layer.handle();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<TestBody>();
    let service = tower::Layer::layer(&layer, client);
    let post = |body: TestBody| {
        http::Request::post(format!("{}{SEARCH}", ts.base_url()))
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };
    assert_eq!(
        service
            .clone()
            .oneshot(post(TestBody::Empty))
            .await
            .unwrap()
            .status(),
        200
    );

    // A small whole body is buffered and replayed.
    ts.revoke_all_tokens();
    let small = TestBody::from(Bytes::from_static(b"{\"a\":1}"));
    assert_eq!(
        service.clone().oneshot(post(small)).await.unwrap().status(),
        200
    );
    assert_eq!(handle.stats().replays, 1);

    // A stream cannot be replayed: it is sent once, never refused, and the rejection comes back.
    ts.revoke_all_tokens();
    let frames = vec![Ok(http_body::Frame::data(Bytes::from_static(b"{}")))];
    let stream = TestBody::Stream(StreamBody::new(futures_util::stream::iter(frames)));
    assert_eq!(
        service
            .clone()
            .oneshot(post(stream))
            .await
            .unwrap()
            .status(),
        401
    );

    // So is a whole body larger than the limit.
    let big = TestBody::from(Bytes::from(format!("{{\"pad\":\"{}\"}}", "x".repeat(100))));
    assert_eq!(
        service.clone().oneshot(post(big)).await.unwrap().status(),
        200,
        "a new token after the 401"
    );
    ts.revoke_all_tokens();
    let big = TestBody::from(Bytes::from(format!("{{\"pad\":\"{}\"}}", "x".repeat(100))));
    assert_eq!(service.oneshot(post(big)).await.unwrap().status(), 401);
    assert_eq!(handle.stats().replays, 1);
    // 1 + (1 + replay) + 1 + 1 + 1 requests reached the endpoint.
    assert_eq!(ts.count(SEARCH), 6);
}

/// Dropped mid-login — a login held 5 s at the server, its only caller gone — and with a
/// refresh timer armed: once the layer, its services and handle are dropped, the runtime has
/// exactly the tasks it had before the layer existed (the mock's accept loop), through either
/// front door, and no login is ever made again.
#[tokio::test(start_paused = true)]
async fn dropping_the_layer_stops_all_background_work() {
    use common::front::{Call, Client, FRONTS};
    for front in FRONTS {
        let ts = MockThoughtSpot::start().await.unwrap();
        let metrics = tokio::runtime::Handle::current().metrics();
        let baseline = metrics.num_alive_tasks();
        let (client, handle) = Client::build(front, builder(&ts).org(1));
        assert_eq!(client.status(Call::search(&ts.base_url())).await, 200);
        // A second org's credential, so two refresh timers are armed.
        assert_eq!(
            client.status(Call::search(&ts.base_url()).in_org(2)).await,
            200
        );
        assert!(
            metrics.num_alive_tasks() > baseline,
            "{front:?}: the layer has tasks"
        );

        // Mid-login when dropped.
        ts.inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(5)), 1);
        handle.invalidate();
        let pending = tokio::spawn({
            let client = client.clone();
            let call = Call::search(&ts.base_url());
            async move { client.send(call).await.map(|r| r.status) }
        });
        tokio::task::yield_now().await;
        pending.abort();
        let _ = pending.await;
        drop(client);
        drop(handle);
        // Virtual time: the held login is answered at 5 s, to a connection nobody reads.
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(
            metrics.num_alive_tasks(),
            baseline,
            "{front:?}: no task of the layer or its connections is left"
        );
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(
            ts.logins(),
            3,
            "{front:?}: no refresh after the drop (the aborted login was the 3rd)"
        );
        assert_eq!(metrics.num_alive_tasks(), baseline);
        ts.shutdown().await;
    }
}

#[test]
fn configuration_errors_are_clear() {
    let err = ThoughtSpotAuthLayer::builder("https://ts.example.com")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no credentials"), "{err}");
    let err = ThoughtSpotAuthLayer::builder("http://ts.example.com")
        .password("u", "p")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    ThoughtSpotAuthLayer::builder("http://ts.example.com")
        .password("u", "p")
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = ThoughtSpotAuthLayer::builder("https://ts.example.com")
        .token("bad\ntoken")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("bad\ntoken"));
}

/// What reached hyper-util's client below the layer for `SEARCH`: each send's credential and
/// body bytes, replays included.
type Recorded = std::sync::Arc<std::sync::Mutex<Vec<(Option<http::HeaderValue>, Bytes)>>>;

type RecordingClient = tower::util::BoxCloneSyncService<
    http::Request<Full<Bytes>>,
    http::Response<hyper::body::Incoming>,
    hyper_util::client::legacy::Error,
>;

/// `layer` over hyper-util's client, with a recorder between them.
fn recording_client(
    layer: ThoughtSpotAuthLayer,
) -> (
    thoughtspot_auth::ThoughtSpotAuthService<RecordingClient>,
    Recorded,
) {
    let recorded = Recorded::default();
    let record = recorded.clone();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let recording = tower::ServiceBuilder::new()
        .map_request(move |request: http::Request<Full<Bytes>>| {
            if request.uri().path() == SEARCH {
                let bytes = futures_util::FutureExt::now_or_never(request.body().clone().collect())
                    .expect("a Full body is ready at once")
                    .unwrap()
                    .to_bytes();
                let authorization = request.headers().get(http::header::AUTHORIZATION).cloned();
                record.lock().unwrap().push((authorization, bytes));
            }
            request
        })
        .service(client);
    let service = tower::Layer::layer(&layer, RecordingClient::new(recording));
    (service, recorded)
}

/// Sends `request` through this very instance (no clone) and gives the status.
async fn status_through<S, B>(
    service: &mut S,
    request: http::Request<Full<Bytes>>,
) -> http::StatusCode
where
    S: tower::Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
{
    use tower::ServiceExt;
    service
        .ready()
        .await
        .unwrap()
        .call(request)
        .await
        .unwrap()
        .status()
}

/// A `Full<Bytes>` body — what hyper-util clients send — is kept by a clone of its bytes: after a
/// 401 the replay carries the same bytes and the new token, and nothing was buffered first.
#[tokio::test(start_paused = true)]
async fn a_full_body_is_replayed_byte_for_byte() {
    use tower::ServiceExt;
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).build().unwrap();
    let handle = layer.handle();
    let (service, seen) = recording_client(layer);
    let post = |body: &'static [u8]| {
        http::Request::post(format!("{}{SEARCH}", ts.base_url()))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body)))
            .unwrap()
    };
    let warm = service.clone().oneshot(post(b"{}")).await.unwrap();
    assert_eq!(warm.status(), 200);

    ts.revoke_all_tokens();
    let body: &[u8] = br#"{"metadata":[{"type":"LIVEBOARD"}]}"#;
    let response = service.oneshot(post(body)).await.unwrap();
    assert_eq!(response.status(), 200, "the replay's answer");
    assert_eq!(handle.stats().replays, 1);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        3,
        "the warm-up, the rejected send and its replay"
    );
    let (rejected, replayed) = (&seen[1], &seen[2]);
    assert_eq!(rejected.1, body);
    assert_eq!(replayed.1, body, "the replay carries the same bytes");
    assert_ne!(rejected.0, replayed.0, "and the new token");
    assert_eq!(ts.count(SEARCH), 3);
}

/// A service instance caches the current org's credential between its requests; the cache is
/// only ever a shortcut: after a refresh, an org switch or a rejection, the very next request on
/// the same instance carries the credential that is current, with no 401 on the way.
#[tokio::test(start_paused = true)]
async fn one_service_instance_follows_every_credential_change() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let layer = builder(&ts).org(1).build().unwrap();
    let handle = layer.handle();
    let (mut service, seen) = recording_client(layer);
    let search = || {
        http::Request::post(format!("{}{SEARCH}", ts.base_url()))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let last = |seen: &Recorded| {
        let value = seen
            .lock()
            .unwrap()
            .last()
            .and_then(|(authorization, _)| authorization.clone())
            .expect("a credential");
        let token = value
            .to_str()
            .unwrap()
            .trim_start_matches("Bearer ")
            .to_string();
        ts.token_owner(&token).expect("a live token").1
    };
    let status = status_through(&mut service, search()).await;
    assert_eq!(status, 200);
    assert_eq!(last(&seen), 1);
    let first = seen.lock().unwrap()[0].0.clone();

    // A refresh replaces the credential: the next request carries the new one.
    handle.refresh().await.unwrap();
    let status = status_through(&mut service, search()).await;
    assert_eq!(status, 200);
    assert_ne!(seen.lock().unwrap()[1].0, first, "the refreshed token");

    // An org switch: the next request is in the new org.
    handle.switch_org(2).await.unwrap();
    let status = status_through(&mut service, search()).await;
    assert_eq!(status, 200);
    assert_eq!(last(&seen), 2);

    // A rejection: one 401 and its replay, then the new credential with no 401.
    ts.revoke_all_tokens();
    let status = status_through(&mut service, search()).await;
    assert_eq!(status, 200);
    assert_eq!(handle.stats().replays, 1);
    let status = status_through(&mut service, search()).await;
    assert_eq!(status, 200);
    assert_eq!(handle.stats().replays, 1, "no second rejection");
    assert_eq!(last(&seen), 2);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6, "5 requests, one of them replayed");
    assert_eq!(
        seen[4], seen[5],
        "the replay's credential is the one used next"
    );
}
