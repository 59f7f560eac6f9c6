//! Embedding ThoughtSpot in your own web app: an axum app with its own login cookie, the token
//! endpoint of ThoughtSpot's Visual Embed SDK at `/api/thoughtspot/token`, and a page that loads
//! the SDK and calls `init({ thoughtSpotHost, authType: AuthType.TrustedAuthTokenCookieless,
//! getAuthToken })`.
//!
//! Each user of the app gets tokens for their own ThoughtSpot user, minted with the
//! trusted-authentication secret key and carrying their row-level rules (`auth/token/custom`):
//! alice sees the east region, bob the west. The user comes from the app's session cookie, never
//! from anything the browser sends.
//!
//! ```text
//! npm install --prefix target/browser-test @thoughtspot/visual-embed-sdk   # the SDK's bundle
//! cargo run --example embed_backend                                        # then open the URL
//! ```
//!
//! It runs against an in-process `MockThoughtSpot`; set `THOUGHTSPOT_URL` and
//! `THOUGHTSPOT_SECRET_KEY` for a real cluster. `EMBED_SDK_JS` points at another copy of the
//! SDK's `dist/tsembed.js`. The browser test (`tests/browser.rs`) drives this page in headless
//! Chromium.
#![allow(dead_code)] // the browser test includes this file as a module

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use thoughtspot_auth::embed::{EmbedIdentity, EmbedTokenService, EmbedUser};
use thoughtspot_auth::session::{FilterOperator, FilterRule, PersistOption};
use thoughtspot_auth::transport::ServiceTransport;
use thoughtspot_auth::{ActAs, Provisioning, TokenAttributes};

/// The app's own users: name → (password, the region their rows are in).
const USERS: &[(&str, &str, &str)] = &[("alice", "alice-pw", "east"), ("bob", "bob-pw", "west")];
const COOKIE: &str = "app_session";

/// Who is logged in to the app: what its auth middleware puts into each request.
#[derive(Clone, Debug)]
pub struct AppUser {
    pub name: String,
    pub region: String,
}

#[derive(Clone, Default)]
struct Sessions(Arc<Mutex<HashMap<String, AppUser>>>);

/// The running app.
pub struct App {
    pub addr: SocketAddr,
    pub tokens: EmbedTokenService,
}

/// The default location of the SDK's bundle (see the top of this file).
pub fn default_sdk_js() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/browser-test/node_modules/@thoughtspot/visual-embed-sdk/dist/tsembed.js")
}

/// Starts the app on a free loopback port.
pub async fn start(
    thoughtspot_url: String,
    secret_key: &str,
    sdk_js: PathBuf,
) -> Result<App, Box<dyn std::error::Error + Send + Sync>> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, http_body_util::Full<bytes::Bytes>>(https);
    let tokens =
        EmbedTokenService::builder(thoughtspot_url.clone(), secret_key)
            .transport(ServiceTransport::new(client))
            .identity(|request: &http::request::Parts| {
                let Some(user) = request.extensions.get::<AppUser>() else {
                    return EmbedIdentity::Anonymous;
                };
                // The ThoughtSpot user, created on first use, who sees only their region's rows.
                let act_as =
                    ActAs::user(user.name.as_str())
                        .create_if_missing(Provisioning {
                            display_name: Some(user.name.clone()),
                            ..Provisioning::default()
                        })
                        .attributes(TokenAttributes::new(PersistOption::None).filter(
                            FilterRule::new("Region", FilterOperator::Eq, [user.region.as_str()]),
                        ));
                EmbedIdentity::User(EmbedUser::new(act_as))
            })
            .build()?;

    let sessions = Sessions::default();
    let one = Arc::new(page(&thoughtspot_url, 1));
    let six = Arc::new(page(&thoughtspot_url, 6));
    let app = Router::new()
        .route(
            "/",
            get(move || async move { Html(one.as_str().to_owned()) }),
        )
        // A dashboard page with six embeds, each of which asks the SDK for the token.
        .route(
            "/six",
            get(move || async move { Html(six.as_str().to_owned()) }),
        )
        .route("/login", get(login_form).post(login))
        .route("/sdk/tsembed.js", get(move || sdk(sdk_js.clone())))
        .route("/other-origin", get(|| async { Html(OTHER_ORIGIN) }))
        .route_service("/api/thoughtspot/token", tokens.clone())
        .layer(middleware::from_fn_with_state(
            sessions.clone(),
            authenticate,
        ))
        .with_state(sessions);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(App { addr, tokens })
}

/// The app's auth middleware: the session cookie → [`AppUser`] in the request's extensions.
async fn authenticate(
    State(sessions): State<Sessions>,
    mut request: Request,
    next: Next,
) -> Response {
    let session = cookie(request.headers(), COOKIE);
    let user = session.and_then(|id| sessions.0.lock().unwrap().get(&id).cloned());
    if let Some(user) = user {
        request.extensions_mut().insert(user);
    }
    next.run(request).await
}

async fn login_form() -> Html<&'static str> {
    Html(
        r#"<!doctype html><form method="post" action="/login">
        <input id="user" name="user"> <input id="password" name="password" type="password">
        <button id="submit" type="submit">Log in</button></form>"#,
    )
}

async fn login(State(sessions): State<Sessions>, body: String) -> Response {
    let field = |name: &str| {
        body.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    };
    let (user, password) = (field("user"), field("password"));
    let Some(&(name, _, region)) = USERS
        .iter()
        .find(|(n, p, _)| Some(*n) == user.as_deref() && Some(*p) == password.as_deref())
    else {
        return (StatusCode::UNAUTHORIZED, "wrong user or password").into_response();
    };
    let id = format!("{:032x}", rand_u128());
    sessions.0.lock().unwrap().insert(
        id.clone(),
        AppUser {
            name: name.to_owned(),
            region: region.to_owned(),
        },
    );
    let mut response = Redirect::to("/").into_response();
    // Behind HTTPS add `Secure`; this demo serves plain HTTP on loopback.
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie.parse().unwrap());
    response
}

async fn sdk(path: PathBuf) -> Response {
    match tokio::fs::read(&path).await {
        Ok(js) => ([(header::CONTENT_TYPE, "text/javascript")], js).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "the Visual Embed SDK is not installed: npm install --prefix target/browser-test \
             @thoughtspot/visual-embed-sdk",
        )
            .into_response(),
    }
}

/// The embedding page with `embeds` Liveboards (each an iframe of ThoughtSpot's app; the
/// mock serves a small one that shows the rows the user's token may see). `window.embed`
/// records what happened, for the browser test.
fn page(thoughtspot_url: &str, embeds: usize) -> String {
    let containers: String = (0..embeds)
        .map(|i| format!(r#"<div class="embed" id="ts-embed-{i}"></div>"#))
        .collect();
    format!(
        r##"<!doctype html>
<html><head><title>Embedded ThoughtSpot</title><script src="/sdk/tsembed.js"></script>
<style>body {{ font: 14px sans-serif; }} .embed {{ border: 1px solid #ccd; margin: 6px 0; }}</style>
</head>
<body><div>Signed-in page of the app: <span id="status">pending</span></div>{containers}
<script>
window.embed = {{ status: "pending", tokens: [], tokenStatus: null }};
const {{ init, AuthType, AuthStatus, LiveboardEmbed }} = tsembed;
const events = init({{
  thoughtSpotHost: {host},
  authType: AuthType.TrustedAuthTokenCookieless,
  disableSDKTracking: true,
  getAuthToken: async () => {{
    const answer = await fetch("/api/thoughtspot/token", {{ credentials: "same-origin" }});
    window.embed.tokenStatus = answer.status;
    if (!answer.ok) throw new Error("no token: " + answer.status);
    const token = await answer.text();
    window.embed.tokens.push(token);
    return token;
  }},
}});
const done = (status) => {{
  window.embed.status = status;
  document.getElementById("status").textContent = status;
}};
events.on(AuthStatus.SDK_SUCCESS, () => done("success"));
events.on(AuthStatus.FAILURE, (why) => done("failure: " + why));
for (let i = 0; i < {embeds}; i++) {{
  new LiveboardEmbed("#ts-embed-" + i, {{
    liveboardId: "sales-" + i,
    frameParams: {{ width: "100%", height: "260px" }},
  }}).render();
}}
</script></body></html>"##,
        host = serde_json::to_string(thoughtspot_url).unwrap(),
    )
}

/// A page of another origin that tries to read a token from the app (`attempt`), and to make
/// it mint one in every way a page can send a request with the user's cookie (`attack`).
pub const OTHER_ORIGIN: &str = r#"<!doctype html><body><script>
window.attempt = (url) => fetch(url, { credentials: "include" })
  .then((r) => r.text().then((t) => "read " + r.status + ": " + t))
  .catch((e) => "blocked: " + e.name);
window.attack = async (url) => {
  const seen = [];
  const tryIt = async (label, send) => {
    try { seen.push(label + ": " + (await send())); } catch (e) { seen.push(label + ": blocked " + e.name); }
  };
  await tryIt("fetch", () => fetch(url).then((r) => r.status));
  await tryIt("fetch with credentials", () => fetch(url, { credentials: "include" }).then((r) => r.status));
  await tryIt("no-cors GET", () => fetch(url, { mode: "no-cors", credentials: "include" }).then((r) => r.type));
  await tryIt("no-cors POST", () =>
    fetch(url, { mode: "no-cors", method: "POST", credentials: "include" }).then((r) => r.type));
  await tryIt("form POST", () => new Promise((resolve) => {
    const sink = document.createElement("iframe");
    sink.name = "sink-" + Math.random();
    sink.onload = () => resolve("posted");
    document.body.appendChild(sink);
    const form = document.createElement("form");
    form.method = "POST";
    form.action = url;
    form.target = sink.name;
    document.body.appendChild(form);
    form.submit();
  }));
  return seen;
};
</script></body>"#;

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A session id nobody can guess.
fn rand_u128() -> u128 {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    u128::from_le_bytes(bytes)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let sdk_js = std::env::var_os("EMBED_SDK_JS").map_or_else(default_sdk_js, PathBuf::from);
    let (url, key, _mock) = match (
        std::env::var("THOUGHTSPOT_URL"),
        std::env::var("THOUGHTSPOT_SECRET_KEY"),
    ) {
        (Ok(url), Ok(key)) => (url, key, None),
        _ => {
            let mock = thoughtspot_auth::mock::MockThoughtSpot::start().await?;
            let key = thoughtspot_auth::mock::DEFAULT_SECRET_KEY.to_owned();
            (mock.base_url(), key, Some(mock))
        }
    };
    let app = start(url.clone(), &key, sdk_js).await?;
    println!("ThoughtSpot at {url}");
    println!(
        "open http://{}/login (alice / alice-pw, bob / bob-pw)",
        app.addr
    );
    tokio::signal::ctrl_c().await?;
    println!("{:?}", app.tokens.stats());
    Ok(())
}
