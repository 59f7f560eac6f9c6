//! Probabilistic faults, the mark every faulted answer carries, the per-kind counters, and the
//! request ids of dropped connections.

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use thoughtspot_auth::mock::{FAULT_HEADER, Fault, FaultKind, MockThoughtSpot, REQUEST_ID_HEADER};

use crate::harness::{Harness, Req, SEARCH, TOKEN_FULL, admin_login};

/// The fault kinds a seeded mock applies to `n` sequential requests to `path`.
async fn draws(seed: u64, n: usize) -> (Vec<Option<FaultKind>>, MockThoughtSpot) {
    let h = Harness::with(MockThoughtSpot::builder().seed(seed)).await;
    let token = h.admin_token().await;
    h.mock.inject_random(
        SEARCH,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        0.2,
    );
    h.mock.inject_random(SEARCH, Fault::MaintenancePage, 0.1);
    let mut kinds = Vec::new();
    for _ in 0..n {
        let resp = h
            .request(Req::post(SEARCH).bearer(&token).json(json!({})))
            .await;
        let kind = resp
            .headers
            .get(FAULT_HEADER)
            .map(|v| v.to_str().unwrap().parse::<FaultKind>().unwrap());
        match kind {
            None => assert_eq!(resp.status, 200),
            Some(FaultKind::Status(500)) => assert_eq!(resp.status, 500),
            Some(FaultKind::MaintenancePage) => {
                assert_eq!(resp.status, 200);
                assert!(String::from_utf8_lossy(&resp.body).contains("<html>"));
            }
            Some(other) => panic!("unexpected fault {other}"),
        }
        kinds.push(kind);
    }
    (kinds, h.mock)
}

#[tokio::test]
async fn random_faults_are_marked_counted_and_reproducible_from_the_seed() {
    let (first, mock) = draws(7, 400).await;
    let (again, _) = draws(7, 400).await;
    let (other, _) = draws(8, 400).await;
    assert_eq!(first, again, "the same seed gives the same faults");
    assert_ne!(first, other, "another seed gives others");

    let count = |kind| first.iter().filter(|k| **k == Some(kind)).count();
    let errors = count(FaultKind::Status(500));
    let pages = count(FaultKind::MaintenancePage);
    // Exclusive rules: 20 % and 10 % of 400 (binomial; these bounds are > 5 sigma wide).
    assert!((45..=115).contains(&errors), "{errors}");
    assert!((15..=65).contains(&pages), "{pages}");
    assert_eq!(mock.faults_injected(FaultKind::Status(500)), errors);
    assert_eq!(
        mock.faults_injected_at(SEARCH, FaultKind::MaintenancePage),
        pages
    );
    assert_eq!(
        mock.faults_injected_at(TOKEN_FULL, FaultKind::MaintenancePage),
        0
    );
    assert_eq!(
        mock.requests().iter().filter(|r| r.fault).count(),
        errors + pages
    );

    // Queued faults go first; clear_faults ends the random ones too.
    mock.inject(SEARCH, Fault::MalformedJson, 1);
    mock.clear_faults();
    mock.clear_log();
    assert_eq!(mock.faults_injected(FaultKind::Status(500)), 0);
}

#[tokio::test]
async fn queued_faults_come_before_random_ones_and_every_kind_is_marked() {
    let h = Harness::new().await;
    h.mock
        .inject_random(TOKEN_FULL, Fault::MaintenancePage, 1.0);
    let queued = [
        Fault::Status {
            status: 429,
            retry_after: Some(3),
        },
        Fault::Status {
            status: 1000,
            retry_after: None,
        },
        Fault::MalformedJson,
        Fault::HugeBody(10),
        Fault::Delay(Duration::from_millis(1)),
        Fault::CloseMidBody,
        Fault::Respond {
            status: 418,
            content_type: "text/plain".into(),
            body: Bytes::from_static(b"teapot"),
        },
        Fault::Redirect {
            location: "http://127.0.0.1:9/elsewhere".into(),
        },
    ];
    for fault in queued.iter().cloned() {
        h.mock.inject(TOKEN_FULL, fault, 1);
    }
    for fault in &queued {
        // Only the head: some of these bodies never complete.
        let resp = h
            .open(Req::post(TOKEN_FULL).bare().json(admin_login()))
            .await
            .unwrap();
        let mark: FaultKind = resp.headers()[FAULT_HEADER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(mark, fault.kind());
        assert_eq!(
            mark.to_string().parse(),
            Ok(mark),
            "Display and FromStr agree"
        );
    }
    assert_eq!(
        Fault::Status {
            status: 1000,
            retry_after: None
        }
        .kind(),
        FaultKind::Status(500)
    );
    // The random rule (probability 1) applies once the queue is empty.
    let resp = h.post(TOKEN_FULL, admin_login()).await;
    assert_eq!(resp.headers[FAULT_HEADER], "maintenance-page");
    assert_eq!(h.mock.faults_injected(FaultKind::MaintenancePage), 1);
    assert_eq!(h.mock.faults_injected(FaultKind::Delay), 1);
    assert_eq!(h.mock.faults_injected(FaultKind::Respond(418)), 1);
    assert!("bogus".parse::<FaultKind>().is_err());
    assert!("status-x".parse::<FaultKind>().is_err());
}

#[tokio::test]
async fn dropped_connections_are_remembered_by_request_id() {
    let h = Harness::new().await;
    h.mock.inject(SEARCH, Fault::DropConnection, 2);
    for id in ["req-1", ""] {
        let mut req = Req::post(SEARCH).header("content-type", "application/json");
        if !id.is_empty() {
            req = req.header(REQUEST_ID_HEADER, id);
        }
        let err = h.try_request(req).await.err();
        assert!(err.is_some(), "the connection was dropped (id {id:?})");
    }
    assert_eq!(h.mock.dropped_request_ids(), vec!["req-1".to_owned()]);
    assert_eq!(h.mock.faults_injected(FaultKind::DropConnection), 2);
    h.mock.clear_log();
    assert!(h.mock.dropped_request_ids().is_empty());
}
