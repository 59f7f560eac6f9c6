//! Property tests of the parsers of ThoughtSpot's answers and of the lifetime arithmetic:
//! arbitrary bytes and arbitrary JSON never make one panic, no secret the call sent survives in
//! an error, and every well-formed token answer reads back as what was sent.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Response, StatusCode};
use proptest::prelude::*;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::error_body::{self, ErrorBody};
use super::models::{SessionLoginResponse, SessionUser, Token, TokenValidation};
use super::{
    Answer, ApiVersion, ErrorKind, MAX_PLAUSIBLE_LIFETIME, beta, fuzzing, lifetime_from_millis,
    lifetime_from_secs, v2,
};

fn answer(body: impl Into<Bytes>, headers: HeaderMap) -> Answer {
    let mut response = Response::new(body.into());
    *response.headers_mut() = headers;
    Answer {
        response,
        sent_at: tokio::time::Instant::now(),
    }
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

fn version() -> impl Strategy<Value = ApiVersion> {
    prop_oneof![
        Just(ApiVersion::V2),
        Just(ApiVersion::Beta),
        Just(ApiVersion::V1)
    ]
}

fn status() -> impl Strategy<Value = StatusCode> {
    (100u16..=599).prop_map(|s| StatusCode::from_u16(s).unwrap())
}

/// Arbitrary JSON, biased towards the keys ThoughtSpot's error and token bodies use, so that the
/// field search meets them at every depth and of every type.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("error".to_owned()),
        Just("message".to_owned()),
        Just("debug".to_owned()),
        Just("code".to_owned()),
        Just("errors".to_owned()),
        Just("extensions".to_owned()),
        Just("extension".to_owned()),
        Just("exception".to_owned()),
        Just("upstreamResponse".to_owned()),
        Just("status".to_owned()),
        Just("data".to_owned()),
        Just("incident_id_guid".to_owned()),
        Just("trace_id_guid".to_owned()),
        Just("token".to_owned()),
        Just("creation_time_in_millis".to_owned()),
        Just("expiration_time_in_millis".to_owned()),
        Just("tokenExpiryDuration".to_owned()),
        Just("tokenCreatedTime".to_owned()),
        Just("scope".to_owned()),
        Just("org_id".to_owned()),
        ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        "-?[0-9]{1,25}".prop_map(Value::String),
        "-?[0-9]{1,20}\\.[0-9]{1,6}".prop_map(Value::String),
        prop_oneof![
            Just("NaN"),
            Just("inf"),
            Just("-inf"),
            Just("1e400"),
            Just("2026-12-04T17:21:12Z")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(8, 128, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// A token value as ThoughtSpot sends them: printable, no spaces, non-empty.
fn token_value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/=._-]{1,200}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        fuzzing::parse_answers(&data);
    }

    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json(), version in version(), status in status()) {
        let body = Bytes::from(value.to_string());
        let _ = ErrorBody::parse(&body);
        let error = error_body::classify(version, status, &json_headers(), body.clone(), &[]);
        let _ = (error.to_string(), format!("{error:?}"), error.kind(), error.is_permanent());
        let answer = answer(body, json_headers());
        let _ = answer.json::<Token>(ApiVersion::V2);
        let _ = answer.json::<TokenValidation>(ApiVersion::V2);
        let _ = answer.json::<SessionUser>(ApiVersion::V2);
        let _ = answer.json::<SessionLoginResponse>(ApiVersion::Beta);
        let _ = v2::token_login(&answer, None, None);
        let _ = v2::custom_login(&answer, None);
    }

    /// The same for `token/custom`'s `AccessToken` answer.
    #[test]
    fn a_custom_token_answer_is_usable_or_a_typed_error(value in arbitrary_json()) {
        let answer = answer(Bytes::from(value.to_string()), json_headers());
        match v2::custom_login(&answer, None) {
            Ok(minted) => {
                let lifetime = minted.login.lifetime.expect("a token always has a lifetime");
                prop_assert!(lifetime > Duration::ZERO && lifetime <= MAX_PLAUSIBLE_LIFETIME);
                prop_assert!(!minted.login.credential.token().unwrap().expose_secret().trim().is_empty());
            }
            Err(error) => prop_assert!(matches!(
                error.kind(),
                ErrorKind::MalformedResponse | ErrorKind::Unavailable
            ), "{:?}", error.kind()),
        }
    }

    /// A success answer is never mistaken for success unless it is a token: whatever JSON comes
    /// back, the v2.0 token reader either yields a usable credential with a sane lifetime or a
    /// typed error.
    #[test]
    fn a_token_answer_is_usable_or_a_typed_error(value in arbitrary_json()) {
        let answer = answer(Bytes::from(value.to_string()), json_headers());
        match v2::token_login(&answer, None, None) {
            Ok(login) => {
                let lifetime = login.lifetime.expect("a token always has a lifetime");
                prop_assert!(lifetime > Duration::ZERO && lifetime <= MAX_PLAUSIBLE_LIFETIME);
                prop_assert!(!login.credential.token().unwrap().expose_secret().trim().is_empty());
            }
            Err(error) => prop_assert!(matches!(
                error.kind(),
                ErrorKind::MalformedResponse | ErrorKind::Unavailable
            ), "{:?}", error.kind()),
        }
    }

    /// Whatever a server echoes, and wherever, the secrets the call sent are not in the message,
    /// the raw body, `Display` or `Debug`.
    #[test]
    fn secrets_the_call_sent_never_survive_in_an_error(
        value in arbitrary_json(),
        secret in "[A-Za-z0-9]{8,24}",
        version in version(),
        status in (400u16..=599).prop_map(|s| StatusCode::from_u16(s).unwrap()),
    ) {
        let echoed = json!({"error": {"message": {"debug": format!("bad password {secret}!"),
            "code": 10097, "incident_id_guid": format!("inc-{secret}"),
            "trace_id_guid": secret.clone()}}, "detail": value, "errors": [{"message": secret.clone()}]});
        let error = error_body::classify(version, status, &json_headers(), Bytes::from(echoed.to_string()), &[&secret]);
        let shown = format!("{error} {error:?}");
        prop_assert!(!shown.contains(&secret));
        let failure = error.api_failure().unwrap();
        prop_assert!(!String::from_utf8_lossy(failure.raw_body()).contains(&secret));
        prop_assert!(!failure.message().unwrap_or_default().contains(&secret));
    }

    #[test]
    fn retry_after_never_panics_and_is_bounded(value in "[ -~]{0,64}") {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&value).unwrap());
        if let Some(delay) = error_body::retry_after(&headers) {
            prop_assert!(delay <= Duration::from_secs(24 * 3600));
        }
    }

    /// Any well-formed v2.0 `Token` answer reads back as sent, with lifetime = expiration -
    /// creation, whatever the server's clock says, with times as numbers or as strings, whole or
    /// fractional (the spec types them `number`).
    #[test]
    fn a_well_formed_token_answer_round_trips(
        token in token_value(),
        created in 0i64..(1 << 44),
        lifetime_ms in 1i64..=(MAX_PLAUSIBLE_LIFETIME.as_millis() as i64),
        quarters in (0u8..4, 0u8..4),
        org in any::<i64>(),
        user in "[a-z][a-z0-9._-]{0,30}",
        times_as_strings in any::<bool>(),
    ) {
        // Quarter milliseconds are exact in f64 and in short decimals at these magnitudes (times
        // up to the year 2500), so the expected lifetime is
        // exact too.
        let created = created as f64 + f64::from(quarters.0) / 4.0;
        let expires = created.floor() + lifetime_ms as f64 + f64::from(quarters.1) / 4.0;
        prop_assume!(expires > created);
        let time = |t: f64| if times_as_strings { json!(t.to_string()) } else { json!(t) };
        let body = json!({
            "token": token,
            "creation_time_in_millis": time(created),
            "expiration_time_in_millis": time(expires),
            "scope": {"access_type": "FULL", "org_id": org, "metadata_id": null},
            "valid_for_user_id": "0f0e0d0c-0000-4000-8000-000000000001",
            "valid_for_username": user,
            "a_field_from_a_newer_release": [1, {"x": null}],
        });
        let answer = answer(Bytes::from(body.to_string()), json_headers());
        let parsed: Token = answer.json(ApiVersion::V2).unwrap();
        prop_assert_eq!(parsed.token.expose_secret(), token.as_str());
        prop_assert_eq!(parsed.creation_time_in_millis, Some(created));
        prop_assert_eq!(parsed.expiration_time_in_millis, Some(expires));
        prop_assert_eq!(parsed.scope.and_then(|s| s.org_id), Some(org));
        prop_assert_eq!(parsed.valid_for_username.as_deref(), Some(user.as_str()));

        let expected_nanos = ((expires - created) * 1e6).round() as u64;
        match v2::token_login(&answer, None, None) {
            Ok(login) => {
                prop_assert_eq!(login.lifetime, Some(Duration::from_nanos(expected_nanos)));
                prop_assert_eq!(login.org, Some(org));
                prop_assert_eq!(login.user.as_deref(), Some(user.as_str()));
                prop_assert_eq!(login.credential.token().unwrap().expose_secret(), token.as_str());
            }
            // Only a lifetime pushed past the bound by the fractions may be refused.
            Err(error) => {
                prop_assert_eq!(error.kind(), ErrorKind::MalformedResponse);
                prop_assert!(expires - created > MAX_PLAUSIBLE_LIFETIME.as_millis() as f64);
            }
        }
    }

    /// Any well-formed beta `SessionLoginResponse` reads back as sent (every field an optional
    /// string; numbers accepted where strings are documented). Its lifetime is
    /// `tokenExpiryDuration`, whole or fractional; `tokenCreatedTime` is kept as sent, whatever
    /// it holds (a number, a date), and never fails the answer.
    #[test]
    fn a_well_formed_beta_login_answer_round_trips(
        user in prop::option::of("[a-z][a-z0-9._-]{0,30}"),
        token in prop::option::of(token_value()),
        created in prop::option::of(prop_oneof![
            (0i64..4_000_000_000_000).prop_map(|n| n.to_string()),
            "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z",
            "[ -~]{0,30}",
        ]),
        expiry in prop::option::of((1i64..=(MAX_PLAUSIBLE_LIFETIME.as_secs() as i64), 0u8..4)),
        numbers_as_strings in any::<bool>(),
    ) {
        let expiry = expiry.map(|(s, q)| s as f64 - f64::from(q) / 4.0);
        let mut body = serde_json::Map::new();
        if let Some(user) = &user { body.insert("userName".into(), json!(user)); }
        if let Some(token) = &token { body.insert("token".into(), json!(token)); }
        if let Some(created) = &created {
            let as_number = created.parse::<i64>().ok().filter(|_| !numbers_as_strings);
            body.insert("tokenCreatedTime".into(), as_number.map_or_else(|| json!(created), |n| json!(n)));
        }
        if let Some(expiry) = expiry {
            let value = if numbers_as_strings { json!(expiry.to_string()) } else { json!(expiry) };
            body.insert("tokenExpiryDuration".into(), value);
        }
        body.insert("tokenType".into(), json!("Bearer"));
        let answer = answer(Bytes::from(Value::Object(body).to_string()), json_headers());
        let parsed: SessionLoginResponse = answer.json(ApiVersion::Beta).unwrap();
        prop_assert_eq!(parsed.user_name, user);
        prop_assert_eq!(parsed.token.as_ref().map(|t| t.expose_secret().to_owned()), token);
        prop_assert_eq!(parsed.token_created_time, created);
        prop_assert_eq!(parsed.token_expiry_duration, expiry.map(Ok));
        prop_assert_eq!(parsed.token_type.as_deref(), Some("Bearer"));
        if let Some(expiry) = expiry {
            let lifetime = beta::expiry_duration(StatusCode::OK, Ok(expiry));
            if expiry > 0.0 {
                prop_assert_eq!(lifetime.unwrap(), Duration::from_secs_f64(expiry));
            } else {
                prop_assert!(lifetime.is_err());
            }
        }
    }

    /// `tokenCreatedTime` is not used: whatever JSON it holds, the beta answer reads, and its
    /// lifetime is `tokenExpiryDuration`'s.
    #[test]
    fn any_beta_created_time_leaves_the_answer_usable(created in arbitrary_json(), expiry in 1u32..=86_400) {
        let body = json!({"token": "t", "tokenCreatedTime": created, "tokenExpiryDuration": expiry.to_string()});
        let answer = answer(Bytes::from(body.to_string()), json_headers());
        let parsed: SessionLoginResponse = answer.json(ApiVersion::Beta).unwrap();
        let secs = parsed.token_expiry_duration.unwrap();
        prop_assert_eq!(
            beta::expiry_duration(StatusCode::OK, secs).unwrap(),
            Duration::from_secs(u64::from(expiry))
        );
    }

    /// The lifetime arithmetic: a lifetime is accepted exactly when it is positive and at most
    /// `MAX_PLAUSIBLE_LIFETIME`, and is then what was given; nothing overflows or panics, at any
    /// pair of times, whole, fractional or not finite.
    #[test]
    fn lifetimes_are_checked_without_overflow(
        created in prop_oneof![any::<i64>().prop_map(|n| n as f64), any::<f64>()],
        expires in prop_oneof![any::<i64>().prop_map(|n| n as f64), any::<f64>()],
        secs in prop_oneof![any::<i64>().prop_map(|n| n as f64), any::<f64>()],
    ) {
        let millis = expires - created;
        let plausible = |ms: f64| ms > 0.0 && ms <= MAX_PLAUSIBLE_LIFETIME.as_millis() as f64;
        match lifetime_from_millis(StatusCode::OK, millis) {
            Ok(lifetime) => {
                prop_assert!(plausible(millis));
                let error = (lifetime.as_secs_f64() * 1000.0 - millis).abs();
                prop_assert!(error <= 1e-6 * millis.max(1.0), "{lifetime:?} for {millis}");
            }
            Err(error) => {
                // A positive lifetime below a nanosecond rounds to nothing and is refused too.
                prop_assert!(!plausible(millis) || millis < 1e-6);
                prop_assert_eq!(error.kind(), ErrorKind::MalformedResponse);
            }
        }
        let from_secs = lifetime_from_secs(StatusCode::OK, secs);
        if secs >= 1e-6 {
            prop_assert_eq!(from_secs.is_ok(), plausible(secs * 1000.0));
        }

        // The same through a whole token answer: only times that are times give a lifetime.
        let body = json!({"token": "t", "creation_time_in_millis": created, "expiration_time_in_millis": expires});
        let answer = answer(Bytes::from(body.to_string()), json_headers());
        let login = v2::token_login(&answer, None, None);
        let is_time = |t: f64| t.is_finite() && (0.0..=9_007_199_254_740_992.0).contains(&t);
        let usable = is_time(created) && is_time(expires) && plausible(millis) && millis >= 1e-6;
        // JSON has no NaN or infinity: such a time is written as null, which means "not sent",
        // and the validity asked for (300 s by default) is the lifetime.
        let not_sent = !(created.is_finite() && expires.is_finite());
        prop_assert_eq!(login.is_ok(), usable || not_sent, "{} {}", created, expires);
    }
}

#[test]
fn html_and_text_answers_are_unavailable_not_malformed() {
    for (content_type, body) in [
        ("text/html", "<html>maintenance</html>"),
        ("application/json", "<!DOCTYPE html><p>proxy error</p>"),
        ("text/plain", "Service Unavailable"),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let answer = answer(body, headers);
        let error = answer.json::<Token>(ApiVersion::V2).unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::Unavailable,
            "{content_type}: {body}"
        );
    }
}
