//! `MockThoughtSpot`: an in-process ThoughtSpot over real HTTP, for testing services that talk
//! to ThoughtSpot.
//!
//! The mock listens on `127.0.0.1` on a free port and speaks the authentication and session
//! endpoints of all three ThoughtSpot REST API generations (v2.0, the v2 beta and v1), plus a
//! couple of data endpoints to call with the credentials it hands out. It lets a test change
//! its configuration at run time (lock a user, revoke every token, move the server clock),
//! inject faults (error statuses, maintenance pages, broken JSON, dropped connections), and
//! observe what the client did (request counts, login attempts, the request log).
//!
//! For apps that embed ThoughtSpot, it also serves a small embedded app at the paths the Visual
//! Embed SDK's iframe loads (`/` and `/v2/`): it takes the cookieless token from the SDK over
//! `postMessage` as ThoughtSpot's app does, calls `searchdata` with it, and shows the rows the
//! token's access rules allow, so that a browser test sees each user's embedded view.
//!
//! ```rust
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use thoughtspot_auth::mock::{DEFAULT_PASSWORD, DEFAULT_USER, Fault, MockThoughtSpot};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = MockThoughtSpot::start().await?;
//! let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
//!
//! // Mint a token for org 1 the way a service would.
//! let login = || {
//!     let body = serde_json::json!({
//!         "username": DEFAULT_USER,
//!         "password": DEFAULT_PASSWORD,
//!         "org_id": 1,
//!     });
//!     http::Request::post(format!("{}/api/rest/2.0/auth/token/full", mock.base_url()))
//!         .header("content-type", "application/json")
//!         .header("accept", "application/json")
//!         .body(Full::new(Bytes::from(body.to_string())))
//!         .unwrap()
//! };
//!
//! // The first attempt meets the rate limit, the second one succeeds.
//! let limited = Fault::Status { status: 429, retry_after: Some(1) };
//! mock.inject("/api/rest/2.0/auth/token/full", limited, 1);
//! let first = client.request(login()).await?;
//! assert_eq!(first.status(), 429);
//! assert_eq!(first.headers()["retry-after"], "1");
//!
//! let second = client.request(login()).await?;
//! assert_eq!(second.status(), 200);
//! let bytes = second.into_body().collect().await?.to_bytes();
//! let token: serde_json::Value = serde_json::from_slice(&bytes)?;
//! assert_eq!(token["scope"]["org_id"], 1);
//!
//! // What the client did, as the server saw it.
//! assert_eq!(mock.logins(), 2);
//! assert_eq!(mock.live_tokens(), 1);
//! let value = token["token"].as_str().unwrap();
//! assert_eq!(mock.token_owner(value), Some((DEFAULT_USER.to_string(), 1)));
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Defaults
//!
//! [`MockThoughtSpot::start`] (and [`MockThoughtSpot::builder`]) start with orgs 0 "Primary",
//! 1 "Sales" and 2 "Marketing"; the user [`DEFAULT_USER`] / [`DEFAULT_PASSWORD`] ("TS Admin")
//! in orgs 0, 1 and 2; the user `analyst` / `analyst-password` in orgs 0 and 1; trusted
//! authentication on with [`DEFAULT_SECRET_KEY`]; tokens valid 300 s by default and 86,400 s at
//! most; cookie sessions valid 1,800 s; no clock offset; no path prefix; the beta's
//! `extensions` spelling.
//!
//! # Credentials
//!
//! A request authenticates with `Authorization: Bearer <token>` or with the cookies
//! `JSESSIONID` and `clientId` that a login sets (both must match). When both a bearer token
//! and cookies are sent, the token decides. A credential is valid while it is known, not
//! expired by the server clock, not revoked or ended, and its user is not locked. Sessions
//! expire a fixed [`session_validity`](MockThoughtSpotBuilder::session_validity) after login
//! (use does not extend them). A login without an explicit org lands in the user's last-used
//! org, initially the first org of [`MockUser::orgs`].
//!
//! Orgs can also be looked up: `POST /api/rest/2.0/orgs/search` with an `org_identifier` (an id
//! as text, or a name, ignoring case) answers the matching orgs, `[]` for an unknown one (the
//! mock lets any authenticated user search; ThoughtSpot wants the "Can administer Org"
//! privilege). Per-org trusted-authentication keys: [`MockThoughtSpotBuilder::org_secret_key`].
//!
//! # Clock
//!
//! Server time is the wall clock read once at start, advanced by the *tokio* clock since then,
//! shifted by the configured offset. In a `#[tokio::test(start_paused = true)]` test,
//! `tokio::time::advance` therefore ages every token and session. The server and connection
//! tasks run on the runtime that called `start`, and the mock sets no timers of its own (only
//! [`Fault::Delay`] sleeps), so a paused clock only moves when the test moves it.
//!
//! # Faults
//!
//! [`inject`](MockThoughtSpot::inject) queues a [`Fault`] for the next requests to a path;
//! [`inject_random`](MockThoughtSpot::inject_random) makes each request to a path meet a fault
//! with a probability, drawn from a generator seeded by [`seed`](MockThoughtSpotBuilder::seed)
//! (the same seed and the same order of arrivals give the same faults). Queued faults go first.
//! Every response a fault shapes carries `x-mock-fault: <kind>` ([`FAULT_HEADER`],
//! [`FaultKind`]), so a client under test can tell an injected failure from a real one. A dropped
//! connection has no response to mark: the mock keeps the `x-request-id` ([`REQUEST_ID_HEADER`])
//! of every request it dropped ([`dropped_request_ids`](MockThoughtSpot::dropped_request_ids)),
//! and [`faults_injected`](MockThoughtSpot::faults_injected) counts every fault applied, by kind.
//!
//! ```rust
//! use std::time::Duration;
//! use thoughtspot_auth::mock::{Fault, FaultKind, MockThoughtSpot};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // A soak-test server: 1 s tokens, reproducible chaos, no request log to grow.
//! let mock = MockThoughtSpot::builder()
//!     .default_token_validity(Duration::from_secs(1))
//!     .seed(42)
//!     .record_requests(false)
//!     .start()
//!     .await?;
//! let search = "/api/rest/2.0/metadata/search";
//! mock.inject_random(search, Fault::Status { status: 500, retry_after: None }, 0.10);
//! mock.inject_random(search, Fault::DropConnection, 0.01);
//! let login = "/api/rest/2.0/auth/token/full";
//! mock.inject_random(login, Fault::Status { status: 503, retry_after: None }, 0.05);
//! mock.inject_random(login, Fault::Status { status: 429, retry_after: Some(1) }, 0.03);
//! // … run the load …
//! assert_eq!(mock.faults_injected(FaultKind::Status(503)), 0);
//! assert!(mock.requests().is_empty(), "not recorded; counters still are");
//! # Ok(())
//! # }
//! ```
//!
//! # Errors per generation
//!
//! - v2.0 (`/api/rest/2.0/`): the real status with
//!   `{"error":{"message":{"code","debug","incident_id_guid","trace_id_guid"}}}`; codes 10002
//!   (400, 415), 10097 (401), 10023 (403), 10038 (500), none for other statuses.
//! - v2 beta (`/tspublic/rest/v2/`): HTTP 500, the real status at
//!   `error.errors[0].extensions.exception.upstreamResponse.status` (spelling per
//!   [`ExtensionSpelling`]); a genuine 500 has the bare
//!   `{"error":{"message":"Operation failed or unauthorized request"}}`.
//! - v1 (`/callosum/`): the real status with `{"debug","incident_id_guid"}`.
//!
//! JSON endpoints answer 400 to a body that is not a JSON object and 415 to JSON sent with
//! another (or no) `Content-Type`. Bodies over 1 MiB get a 413.
//!
//! # Secrets
//!
//! The request log records credentials by serial number, and the `Debug` output of every
//! public type leaves out token, cookie, password and secret key values.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

mod builder;
mod context;
mod embed_app;
mod fault_bodies;
mod faults;
mod log;
mod records;
mod routes;
mod routes_abac;
mod routes_beta;
mod routes_v1;
mod routes_v2;
mod server;
mod state;
mod wire;

pub use builder::{ExtensionSpelling, MockThoughtSpotBuilder, MockUser};
pub use faults::{FAULT_HEADER, Fault, FaultKind, REQUEST_ID_HEADER, UnknownFaultKind};
pub use log::{PresentedCredential, RecordedRequest};
pub use routes_abac::{REGION_VARIABLE, RULES_HEADER, sample_rows};

use crate::sync::lock;
use context::Shared;
use state::{State, signed_offset};

/// Name of the administrator user every mock starts with.
pub const DEFAULT_USER: &str = "tsadmin";
/// Password of [`DEFAULT_USER`].
pub const DEFAULT_PASSWORD: &str = "mock-admin-password";
/// The trusted-authentication secret key every mock starts with.
pub const DEFAULT_SECRET_KEY: &str = "mock-trusted-auth-secret-key";
/// Name of the second user every mock starts with (orgs 0 and 1).
pub const ANALYST_USER: &str = "analyst";
/// Password of [`ANALYST_USER`].
pub const ANALYST_PASSWORD: &str = "analyst-password";

/// The server side of a [`MockThoughtSpot`]; dropping it (with the last clone) drops the
/// shutdown sender, which stops the accept loop and every connection.
struct Handle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// An in-process ThoughtSpot serving real HTTP on `127.0.0.1` (see [the module docs](self)).
///
/// Cheap to clone: the clones share one server. The server stops when the last clone is
/// dropped, or at [`shutdown`](Self::shutdown).
#[derive(Clone)]
pub struct MockThoughtSpot {
    inner: Arc<Handle>,
}

impl fmt::Debug for MockThoughtSpot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockThoughtSpot")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl MockThoughtSpot {
    /// Starts a mock with the default configuration (see [the module docs](self#defaults)).
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub async fn start() -> std::io::Result<MockThoughtSpot> {
        MockThoughtSpotBuilder::default().start().await
    }

    /// A builder starting from the default configuration.
    pub fn builder() -> MockThoughtSpotBuilder {
        MockThoughtSpotBuilder::default()
    }

    /// `http://127.0.0.1:PORT` followed by the path prefix, if any; no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.inner.addr, self.inner.shared.prefix)
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.shared.state()
    }

    fn log(&self) -> std::sync::MutexGuard<'_, log::Log> {
        lock(&self.inner.shared.log)
    }

    // ----- runtime configuration -----

    /// Adds a user, or replaces the user of that name (their tokens and sessions stay).
    pub fn add_user(&self, user: MockUser) {
        self.state().add_user(user);
    }

    /// Locks a user: logins get a 403 and their tokens and sessions stop being valid. Unknown
    /// names are ignored.
    pub fn lock_user(&self, name: &str) {
        if let Some(rec) = self.state().users.get_mut(name) {
            rec.user.locked = true;
        }
    }

    /// Unlocks a user; their unexpired, unrevoked tokens and sessions work again.
    pub fn unlock_user(&self, name: &str) {
        if let Some(rec) = self.state().users.get_mut(name) {
            rec.user.locked = false;
        }
    }

    /// Changes a user's password (existing tokens and sessions stay valid).
    pub fn set_password(&self, name: &str, password: &str) {
        if let Some(rec) = self.state().users.get_mut(name) {
            rec.user.password = password.to_owned();
        }
    }

    /// Puts the server clock `offset` ahead of (`ahead == true`) or behind the local clock,
    /// from now on.
    pub fn set_clock_offset(&self, offset: Duration, ahead: bool) {
        self.state()
            .clock
            .set_offset_ms(signed_offset(offset, ahead));
    }

    /// Validity of tokens minted from now on without an explicit validity.
    pub fn set_default_token_validity(&self, validity: Duration) {
        self.state().config.default_validity = validity;
    }

    /// Cap on the validity of tokens minted from now on.
    pub fn set_max_token_validity(&self, validity: Duration) {
        self.state().config.max_validity = validity;
    }

    /// Lifetime of cookie sessions created from now on.
    pub fn set_session_validity(&self, validity: Duration) {
        self.state().config.session_validity = validity;
    }

    /// Turns trusted authentication (secret-key logins) on or off.
    pub fn set_trusted_auth(&self, enabled: bool) {
        self.state().config.trusted_auth = enabled;
    }

    /// Replaces the trusted-authentication secret key (as when an admin regenerates it): the
    /// old key is refused at once, as on ThoughtSpot, which has no overlap window.
    pub fn set_secret_key(&self, key: &str) {
        self.state().config.secret_key = key.to_owned();
    }

    /// Gives `org` a key of its own, or replaces it (a rotation: the old key is refused at
    /// once). See [`MockThoughtSpotBuilder::org_secret_key`].
    pub fn set_org_secret_key(&self, org: i64, key: &str) {
        self.state().config.org_keys.insert(org, key.to_owned());
    }

    /// Makes beta data requests (any beta path but the session endpoints) whose credential is not
    /// valid get the bare, ambiguous 500 ("Operation failed or unauthorized request") instead of
    /// a 500 with upstream 401, as some gateways answer; `GET session` still tells. For testing
    /// the client's liveness check after such a 500.
    pub fn set_bare_beta_rejections(&self, bare: bool) {
        self.state().config.bare_beta_rejections = bare;
    }

    /// Revokes every token; returns how many were not revoked before (expired ones included).
    pub fn revoke_all_tokens(&self) -> usize {
        self.state().revoke_where(|_| true)
    }

    /// Revokes every token of one user; returns how many were not revoked before.
    pub fn revoke_tokens_of(&self, user: &str) -> usize {
        self.state().revoke_where(|t| t.user == user)
    }

    /// Ends every cookie session; returns how many were not ended before.
    pub fn end_all_sessions(&self) -> usize {
        self.state().end_all_sessions()
    }

    /// Makes the next `times` requests to `path` (without the prefix, e.g.
    /// `"/api/rest/2.0/auth/token/full"`; any method) meet `fault`. Faults injected for the
    /// same path apply in injection order.
    pub fn inject(&self, path: &str, fault: Fault, times: usize) {
        lock(&self.inner.shared.faults).inject(path, fault, times);
    }

    /// Makes each request to `path` (without the prefix; any method) meet `fault` with
    /// `probability` (0 to 1), drawn from the generator seeded by
    /// [`seed`](MockThoughtSpotBuilder::seed). Several random faults for one path are exclusive:
    /// one draw per request, their probabilities add up (`0.05` of 503 and `0.03` of 429 make
    /// 8 % of requests fail, never one request twice). Queued faults ([`inject`](Self::inject))
    /// apply first. They last until [`clear_faults`](Self::clear_faults).
    pub fn inject_random(&self, path: &str, fault: Fault, probability: f64) {
        lock(&self.inner.shared.faults).inject_random(path, fault, probability);
    }

    /// Forgets every fault not applied yet, and every random fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.shared.faults).clear();
    }

    /// Keeps (or stops keeping) each request in the request log from now on; see
    /// [`MockThoughtSpotBuilder::record_requests`].
    pub fn set_record_requests(&self, record: bool) {
        self.log().set_recording(record);
    }

    // ----- observations -----

    /// How many requests arrived for `path` (without the prefix; any method, faulted ones
    /// included) since start or [`clear_log`](Self::clear_log).
    pub fn count(&self, path: &str) -> usize {
        self.log().count(path)
    }

    /// How many requests arrived at the credential-minting endpoints: v2.0 `auth/token/full`,
    /// `auth/token/object`, `auth/token/custom` and `auth/session/login`; beta `session/login` and
    /// `session/gettoken`; v1 `session/login`. Successful or not, faulted ones included.
    pub fn logins(&self) -> usize {
        self.log().logins()
    }

    /// The part of [`logins`](Self::logins) for one user: the username in the request body, or
    /// for a bearer-token session login the token's user.
    pub fn login_attempts_for(&self, user: &str) -> usize {
        self.log().login_attempts_for(user)
    }

    /// The request log, in arrival order (empty while
    /// [`record_requests`](MockThoughtSpotBuilder::record_requests) is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log().entries()
    }

    /// How many faults of `kind` were applied, to any path, since start or
    /// [`clear_log`](Self::clear_log) (queued and random ones, dropped connections included).
    pub fn faults_injected(&self, kind: FaultKind) -> usize {
        self.log().faults_injected(None, kind)
    }

    /// How many faults of `kind` were applied to requests for `path` (without the prefix).
    pub fn faults_injected_at(&self, path: &str, kind: FaultKind) -> usize {
        self.log().faults_injected(Some(path), kind)
    }

    /// The `x-request-id` ([`REQUEST_ID_HEADER`]) of every request whose connection was dropped
    /// by [`Fault::DropConnection`], in order; requests without the header are only counted. Kept
    /// whether or not requests are recorded; emptied by [`clear_log`](Self::clear_log).
    pub fn dropped_request_ids(&self) -> Vec<String> {
        self.log().dropped_request_ids()
    }

    /// Empties the request log, the dropped request ids and every counter.
    pub fn clear_log(&self) {
        self.log().clear();
    }

    /// Tokens neither expired (by the server clock) nor revoked.
    pub fn live_tokens(&self) -> usize {
        self.state().live_tokens()
    }

    /// Cookie sessions neither expired (by the server clock) nor ended.
    pub fn live_sessions(&self) -> usize {
        self.state().live_sessions()
    }

    /// The user and org a token was minted for, if the mock minted it (whatever its state now).
    pub fn token_owner(&self, token: &str) -> Option<(String, i64)> {
        self.state()
            .tokens
            .get(token)
            .map(|t| (t.user.clone(), t.org))
    }

    /// The server clock now, in milliseconds since the epoch.
    pub fn server_time_millis(&self) -> i64 {
        self.state().now_ms()
    }

    /// Stops the server, even if clones of this handle remain, and waits until the listener and
    /// every connection are closed.
    pub async fn shutdown(self) {
        self.inner.shutdown.send_replace(true);
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
