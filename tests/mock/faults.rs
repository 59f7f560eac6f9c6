//! Faults injected on a path: what each one puts on the wire, and that the mock recovers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use thoughtspot_auth::mock::{FAULT_HEADER, Fault};

use crate::harness::{Expect, Harness, Req, SEARCH, TOKEN_FULL, admin_login};

#[tokio::test]
async fn status_maintenance_malformed_and_respond_faults() {
    let h = Harness::new().await;
    let login = admin_login;

    h.mock.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 503,
            retry_after: Some(7),
        },
        2,
    );
    for _ in 0..2 {
        let resp = h.post(TOKEN_FULL, login()).await;
        Expect::status(503)
            .strings(&["debug"])
            .check("faulted 503", &resp);
        assert_eq!(resp.headers["retry-after"], "7");
    }
    h.mock.inject(
        TOKEN_FULL,
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        1,
    );
    let resp = h.post(TOKEN_FULL, login()).await;
    Expect::status(401).code(10097).check("faulted 401", &resp);
    assert!(resp.headers.get("retry-after").is_none());

    h.mock.inject(TOKEN_FULL, Fault::MaintenancePage, 1);
    let resp = h.post(TOKEN_FULL, login()).await;
    assert_eq!(resp.status, 200);
    assert!(resp.content_type_starts_with("text/html"));
    assert!(String::from_utf8_lossy(&resp.body).contains("<html>"));

    h.mock.inject(TOKEN_FULL, Fault::MalformedJson, 1);
    let resp = h.post(TOKEN_FULL, login()).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers["content-type"], "application/json");
    assert!(serde_json::from_slice::<Value>(&resp.body).is_err());
    assert!(resp.body.starts_with(b"{"));

    h.mock.inject(
        SEARCH,
        Fault::Respond {
            status: 418,
            content_type: "text/plain".into(),
            body: Bytes::from_static(b"teapot"),
        },
        1,
    );
    let resp = h.request(Req::post(SEARCH)).await;
    assert_eq!(resp.status, 418);
    assert_eq!(resp.headers["content-type"], "text/plain");
    assert_eq!(&resp.body[..], b"teapot");

    // Then back to normal, and the faulted requests were logged and counted.
    assert_eq!(h.post(TOKEN_FULL, login()).await.status, 200);
    assert_eq!(h.mock.count(TOKEN_FULL), 6);
    assert_eq!(h.mock.logins(), 6);
    let log = h.mock.requests();
    assert_eq!(log.iter().filter(|r| r.fault).count(), 6);
    assert_eq!(log[0].status, 503);

    // clear_faults drops pending ones.
    h.mock.inject(TOKEN_FULL, Fault::MaintenancePage, 5);
    h.mock.clear_faults();
    assert_eq!(h.post(TOKEN_FULL, login()).await.status, 200);
}

#[tokio::test]
async fn huge_body_is_streamed_with_exact_length() {
    let h = Harness::new().await;
    for len in [5usize, 3 * 1024 * 1024 + 17] {
        h.mock.inject(TOKEN_FULL, Fault::HugeBody(len), 1);
        let resp = h.post(TOKEN_FULL, json!({})).await;
        assert_eq!(resp.status, 200, "{len} bytes");
        assert_eq!(
            resp.headers["content-length"],
            len.to_string().as_str(),
            "{len} bytes"
        );
        assert_eq!(resp.body.len(), len, "{len} bytes");
    }
    let h2 = Harness::new().await;
    h2.mock.inject(TOKEN_FULL, Fault::HugeBody(100_000), 1);
    let body = h2.post(TOKEN_FULL, json!({})).await.json();
    assert!(body["padding"].is_string());
}

#[tokio::test]
async fn a_huge_chunked_body_has_no_content_length() {
    let h = Harness::new().await;
    h.mock
        .inject(TOKEN_FULL, Fault::HugeChunkedBody(300_000), 1);
    let resp = h.post(TOKEN_FULL, json!({})).await;
    assert_eq!(resp.status, 200);
    assert!(resp.headers.get("content-length").is_none());
    assert_eq!(resp.headers["transfer-encoding"], "chunked");
    assert_eq!(resp.headers[FAULT_HEADER], "huge-chunked-body");
    assert_eq!(resp.body.len(), 300_000);
    assert!(resp.json()["padding"].is_string());
}

#[tokio::test(start_paused = true)]
async fn delay_fault_sleeps_on_the_tokio_clock() {
    let h = Harness::new().await;
    h.mock
        .inject(TOKEN_FULL, Fault::Delay(Duration::from_secs(30)), 1);
    let start = tokio::time::Instant::now();
    let resp = h.post(TOKEN_FULL, admin_login()).await;
    assert_eq!(resp.status, 200);
    assert!(start.elapsed() >= Duration::from_secs(30));
    let log = h.mock.requests();
    assert!(log[0].fault);
    assert_eq!(log[0].status, 200);
}

#[tokio::test]
async fn drop_connection_and_close_mid_body() {
    let h = Harness::new().await;
    h.mock.inject(TOKEN_FULL, Fault::DropConnection, 1);
    let err = h
        .try_request(Req::post(TOKEN_FULL).json(admin_login()))
        .await
        .err()
        .expect("dropped connection is an error");
    assert!(err.starts_with("request:"), "{err}");
    assert_eq!(h.mock.requests()[0].status, 0);
    assert!(h.mock.requests()[0].fault);

    h.mock.inject(TOKEN_FULL, Fault::CloseMidBody, 1);
    let resp = h
        .open(Req::post(TOKEN_FULL).bare().json(admin_login()))
        .await
        .expect("headers arrive");
    assert_eq!(resp.status(), 200);
    let announced: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(announced > 0);
    assert!(resp.into_body().collect().await.is_err());

    // The mock is fine afterwards.
    assert_eq!(h.post(TOKEN_FULL, admin_login()).await.status, 200);
    assert_eq!(h.mock.count(TOKEN_FULL), 3);
}
