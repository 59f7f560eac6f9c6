//! Only the app's own pages make the endpoint mint; what a page of another origin causes, and
//! what the app's own broken rules do.

use bytes::Bytes;
use http_body_util::Full;
use thoughtspot_auth::embed::{EmbedIdentity, EmbedUser};
use thoughtspot_auth::mock::{self, MockThoughtSpot};
use thoughtspot_auth::session::PersistOption;
use thoughtspot_auth::{ActAs, TokenAttributes};

use crate::{AppSession, TOKEN_CUSTOM, TOKEN_FULL, builder, call_as, send};

/// A call as the logged-in analyst with these headers (the app's session cookie would come
/// along in a browser whatever page sent it).
fn call_with(headers: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    let mut request = call_as(Some(mock::ANALYST_USER));
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    request
}

#[tokio::test(start_paused = true)]
async fn a_page_of_another_origin_mints_nothing_and_costs_the_user_nothing() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts).build().unwrap();
    let host = ("host", "app.example.com");
    let foreign = [
        // fetch() from another origin, with or without credentials, and `no-cors`.
        vec![
            host,
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example.net"),
        ],
        // A sibling subdomain: same site, another origin.
        vec![
            host,
            ("sec-fetch-site", "same-site"),
            ("origin", "https://blog.example.com"),
        ],
        // A form POST into an iframe from another origin, on an older browser.
        vec![host, ("origin", "https://evil.example.net")],
        vec![host, ("referer", "https://evil.example.net/page.html")],
        // A sandboxed frame.
        vec![host, ("origin", "null")],
    ];
    for _ in 0..4 {
        for headers in &foreign {
            let answer = send(&service, call_with(headers)).await;
            assert_eq!(answer.status, 403, "{headers:?}");
            assert!(!answer.body.is_empty());
        }
    }
    assert_eq!(ts.count(TOKEN_FULL), 0, "nothing minted");
    assert_eq!(service.stats().foreign_origin, 20);
    // The user's own page still gets its whole burst (10 by default).
    for _ in 0..10 {
        let own = call_with(&[host, ("sec-fetch-site", "same-origin")]);
        assert_eq!(send(&service, own).await.status, 200);
    }
    assert_eq!(service.stats().rate_limited, 0);
}

#[tokio::test(start_paused = true)]
async fn the_apps_own_pages_and_listed_origins_mint() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let own = builder(&ts).build().unwrap();
    for headers in [
        vec![
            ("host", "app.example.com"),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![
            ("host", "app.example.com"),
            ("origin", "https://app.example.com"),
        ],
        vec![
            ("host", "app.example.com"),
            ("referer", "https://app.example.com/x"),
        ],
        // No browser headers at all: a server-side client.
        vec![],
    ] {
        assert_eq!(
            send(&own, call_with(&headers)).await.status,
            200,
            "{headers:?}"
        );
    }
    let split = builder(&ts)
        .allowed_origin("https://app.example.com")
        .build()
        .unwrap();
    let from_front_end = [
        ("host", "api.example.com"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://app.example.com"),
    ];
    assert_eq!(send(&split, call_with(&from_front_end)).await.status, 200);
    let error = builder(&ts)
        .allowed_origin("app.example.com/path")
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), thoughtspot_auth::ErrorKind::Config);
}

/// Formula variables in the token only are the app's own mistake: 500, nothing sent, counted,
/// and logged for the operator (not shown to the page).
#[tokio::test(start_paused = true)]
async fn access_rules_thoughtspot_refuses_are_never_sent() {
    let ts = MockThoughtSpot::start().await.unwrap();
    let service = builder(&ts)
        .identity(
            |parts: &http::request::Parts| match parts.extensions.get::<AppSession>() {
                Some(session) => EmbedIdentity::User(EmbedUser::new(
                    ActAs::user(session.user.as_str()).attributes(
                        TokenAttributes::new(PersistOption::None).variable("region_var", ["east"]),
                    ),
                )),
                None => EmbedIdentity::Anonymous,
            },
        )
        .build()
        .unwrap();
    let answer = send(&service, call_as(Some(mock::ANALYST_USER))).await;
    assert_eq!(answer.status, 500);
    assert!(!answer.body.contains("variable"), "{}", answer.body);
    assert_eq!(ts.count(TOKEN_CUSTOM), 0);
    assert_eq!(service.stats().misconfigured, 1);
}
