//! ThoughtSpot's real Visual Embed SDK in headless Chromium, against `examples/embed_backend.rs`
//! and MockThoughtSpot: the SDK's own auth step succeeds with a token minted for the logged-in
//! user, a second page load gets a different token, a page with no app session gets none; the
//! embedded view (the mock's app in the SDK's iframe) shows alice her east rows and bob his west
//! rows; pages of another origin make nothing mint and cannot read a token; a dashboard with six
//! embeds reloaded ten times in ten seconds never fails, and a page that loops is stopped. It
//! leaves a screenshot of alice's page at `target/browser-test/embedded.png`.
//!
//! Needs Debian's `chromium` and, under `target/browser-test`, the npm packages
//! `@thoughtspot/visual-embed-sdk` and `puppeteer-core` (the README's "Running the tests" says
//! how to install them), so it is `#[ignore]`d: a plain `cargo test` reports it as ignored, and
//! `cargo test --test browser -- --ignored` runs it (CI does), failing if anything is missing.

#[path = "../examples/embed_backend.rs"]
#[allow(unused_imports)]
mod embed_backend;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use thoughtspot_auth::mock::{DEFAULT_SECRET_KEY, MockThoughtSpot};

const SETUP: &str = "install Debian's chromium, and with npm \
    @thoughtspot/visual-embed-sdk and puppeteer-core under target/browser-test (the README's \
    \"Running the tests\"; in the repository, `.ci/browser-setup` does both)";

fn browser_test_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-test")
}

fn chromium() -> Option<PathBuf> {
    std::env::var_os("THOUGHTSPOT_AUTH_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.exists())
}

/// What is missing for the test, if anything.
fn missing() -> Vec<String> {
    let mut missing = Vec::new();
    if chromium().is_none() {
        missing.push("chromium (/usr/bin/chromium)".to_owned());
    }
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        missing.push("node".to_owned());
    }
    let modules = browser_test_dir().join("node_modules");
    for package in ["@thoughtspot/visual-embed-sdk", "puppeteer-core"] {
        if !modules.join(package).join("package.json").exists() {
            missing.push(format!(
                "the npm package {package} under {}",
                modules.display()
            ));
        }
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and the npm packages @thoughtspot/visual-embed-sdk and \
            puppeteer-core (see the README, \"Running the tests\"); then \
            cargo test --test browser -- --ignored"]
async fn the_visual_embed_sdk_authenticates_with_tokens_of_the_logged_in_user() {
    let missing = missing();
    assert!(
        missing.is_empty(),
        "the browser test needs {}: {SETUP}",
        missing.join(", ")
    );

    let ts = MockThoughtSpot::start().await.unwrap();
    let app = embed_backend::start(
        ts.base_url(),
        DEFAULT_SECRET_KEY,
        embed_backend::default_sdk_js(),
    )
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.addr.port());
    let other_site = format!("http://localhost:{}", app.addr.port());
    let same_site_other = serve_other_origin().await;
    let profile = tempdir();
    let screenshot = browser_test_dir().join("embedded.png");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/embed_sdk.cjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&base)
        .arg(&other_site)
        .arg(&same_site_other)
        .arg(ts.base_url())
        .arg(chromium().unwrap())
        .arg(&profile)
        .arg(&screenshot)
        .env("NODE_PATH", browser_test_dir().join("node_modules"))
        .kill_on_drop(true)
        .output();
    // A bound on a hung browser, not a timing assertion.
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser run finishes")
        .expect("node runs");
    let _ = std::fs::remove_dir_all(&profile);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser run failed: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    let context = || format!("{seen:#}");
    println!(
        "{}",
        serde_json::json!({ "six": seen["six"], "loop": seen["loop"] })
    );

    // No app session: the endpoint said 401, no token reached the SDK, its auth failed.
    assert_eq!(seen["anonymous"]["tokenStatus"], 401, "{}", context());
    assert_eq!(seen["anonymous"]["tokens"], serde_json::json!([]));
    assert!(
        seen["anonymous"]["status"]
            .as_str()
            .unwrap()
            .starts_with("failure"),
        "{}",
        context()
    );

    // Logged in: the SDK's own auth step succeeded, with alice's token (her rows only).
    let mut tokens = Vec::new();
    for load in ["first", "second", "afterAttacks"] {
        assert_eq!(seen[load]["status"], "success", "{load}: {}", context());
        let loaded = seen[load]["tokens"].as_array().unwrap();
        assert_eq!(loaded.len(), 1, "{}", context());
        let token = loaded[0].as_str().unwrap().to_owned();
        assert_eq!(
            ts.token_owner(&token).map(|o| o.0).as_deref(),
            Some("alice")
        );
        assert_eq!(
            ts.token_attributes(&token).unwrap()["filter_rules"][0]["values"],
            serde_json::json!(["east"])
        );
        tokens.push(token);
    }
    assert_ne!(tokens[0], tokens[1], "a second page load gets a new token");
    // The SDK checked each token against the cluster itself.
    assert!(ts.count("/callosum/v1/session/isactive") >= 2);

    // The embedded view (the mock's app in the SDK's iframe) shows each user's own rows.
    let regions = |frames: &str| {
        let frames = seen[frames].as_array().unwrap();
        assert_eq!(frames.len(), 1, "{}", context());
        assert_eq!(frames[0]["state"], "loaded", "{}", context());
        frames[0]["regions"].clone()
    };
    assert_eq!(regions("aliceFrames"), serde_json::json!(["east"]));
    assert_eq!(seen["bob"]["status"], "success", "{}", context());
    assert_eq!(regions("bobFrames"), serde_json::json!(["west"]));

    // Pages of another origin minted nothing (every attempt refused before any mint), and
    // cannot read a token.
    let attempts: usize = seen["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|round| round.as_array().unwrap().len())
        .sum();
    assert_eq!(attempts, 15, "{}", context());
    let cross = seen["crossOrigin"].as_str().unwrap();
    assert!(cross.starts_with("blocked"), "{cross}");
    let stats = app.tokens.stats();
    assert_eq!(stats.foreign_origin, 16, "{stats:?}");

    // Six embeds, ten loads in ten seconds: every load authenticated, every embed showed rows.
    let six = seen["six"].as_array().unwrap();
    assert_eq!(six.len(), 10);
    for load in six {
        assert_eq!(load["status"], "success", "{}", context());
        let frames = load["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 6, "{}", context());
        assert!(frames.iter().all(|f| f == "loaded"), "{}", context());
    }
    // A page that loops on the endpoint is stopped.
    let statuses: Vec<u64> = seen["loop"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");

    // Every token minted reached one of the app's own pages.
    let handed: usize = ["first", "second", "afterAttacks", "bob"]
        .iter()
        .map(|load| seen[*load]["tokens"].as_array().unwrap().len())
        .sum::<usize>()
        + six
            .iter()
            .map(|l| l["tokens"].as_u64().unwrap() as usize)
            .sum::<usize>()
        + statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(stats.tokens as usize, handed, "{stats:?}");
    assert_eq!(stats.mints, stats.tokens, "{stats:?}");
}

/// A page of another origin on the same site (this host, another port), serving the example's
/// page that tries to make the app mint.
async fn serve_other_origin() -> String {
    let router = axum::Router::new().route(
        "/other-origin",
        axum::routing::get(|| async { axum::response::Html(embed_backend::OTHER_ORIGIN) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://127.0.0.1:{}", addr.port())
}

/// A fresh Chromium profile directory.
fn tempdir() -> PathBuf {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "thoughtspot-auth-chromium-{}",
        u64::from_le_bytes(bytes)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
