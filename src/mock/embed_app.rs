//! A small embedded app at the paths the Visual Embed SDK's iframe loads (`/` for a
//! `LiveboardEmbed`, `/v2/` for a `SearchEmbed`, with the SDK's query and `#/embed/...` route),
//! so that an app that embeds ThoughtSpot can be tested end to end, in a real browser, without
//! a cluster.
//!
//! It does what ThoughtSpot's app does with a cookieless token: it asks the host page for it
//! over `postMessage` (`appInit`, answered by the SDK through the `MessageChannel` port the
//! message carries), calls the API with it (`POST /api/rest/2.0/searchdata`, which filters the
//! sample rows by the token's access rules), asks again (`RefreshAuthToken`) if the API rejects
//! it, and shows the rows in a table (`#rows`, one `tr` per row, `data-region` on each). The
//! page's `body` carries `data-state`: `waiting`, `loaded`, or `failed: <why>`.

use http::{Response, StatusCode};

use super::context::Ctx;
use super::wire::{self, RespBody};

/// Whether `path` is one of the embedded app's pages.
pub(crate) fn serves(path: &str) -> bool {
    matches!(path, "/" | "/v2" | "/v2/")
}

/// The embedded app's page.
pub(crate) fn page(_ctx: &Ctx<'_>) -> Response<RespBody> {
    let mut response = wire::response(StatusCode::OK, "text/html; charset=utf-8", wire::full(PAGE));
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>MockThoughtSpot</title>
<style>
body { font: 14px sans-serif; margin: 8px; }
table { border-collapse: collapse; margin-top: 6px; }
th, td { border: 1px solid #aab; padding: 2px 8px; }
th { background: #eef; }
</style></head>
<body data-state="waiting">
<b id="title">MockThoughtSpot</b> <span id="state">waiting for the host page</span>
<table id="rows"></table>
<script>
(() => {
  const route = location.hash.replace(/^#\/?/, "");
  document.getElementById("title").textContent = "MockThoughtSpot: " + (route || "home");
  const show = (state) => {
    document.body.dataset.state = state;
    document.getElementById("state").textContent = state;
  };
  // Ask the host page (the SDK) and get its answer on a port of our own.
  const ask = (type) => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => resolve(event.data);
    window.parent.postMessage({ type }, "*", [channel.port2]);
  });
  // The API is this page's own origin: the path before `/v2/` or the page.
  const api = location.pathname.replace(/v2\/?$/, "") + "api/rest/2.0/searchdata";
  const search = (token) => fetch(api, {
    method: "POST",
    headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: "{}",
  });
  const render = (rows) => {
    const table = document.getElementById("rows");
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]);
    const head = table.insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = c;
      head.appendChild(th);
    }
    for (const row of rows) {
      const tr = table.insertRow();
      tr.dataset.region = String(row.Region);
      for (const c of columns) tr.insertCell().textContent = String(row[c]);
    }
  };
  (async () => {
    window.parent.postMessage({ type: "EmbedListenerReady" }, "*");
    const init = await ask("appInit");
    let token = init && init.data && init.data.authToken;
    if (!token) return show("failed: no token from the host page");
    let answer = await search(token);
    if (answer.status === 401) {
      const fresh = await ask("RefreshAuthToken");
      token = fresh && fresh.data && fresh.data.authToken;
      if (token) answer = await search(token);
    }
    if (!answer.ok) {
      window.parent.postMessage({ type: "ThoughtspotAuthFailure" }, "*");
      return show("failed: " + answer.status);
    }
    render((await answer.json()).rows);
    show("loaded");
  })().catch((error) => show("failed: " + error));
})();
</script></body></html>"#;
