#![doc = include_str!("../README.md")]
//!
//! # The pieces
//!
//! - [`layer`]: [`ThoughtSpotAuthLayer`] and [`ThoughtSpotAuthService`], the tower front door;
//!   [`AuthBuilder`] configures it (and the reqwest one), [`BaseUrl`] is where ThoughtSpot lives,
//!   [`ApiVersion`] and [`CredentialKind`] which API generation and credential it uses.
//!   What happens on expiry, 401, 403 and 500 is described on [`ThoughtSpotAuthService`].
//! - `ThoughtSpotAuthMiddleware` (feature `reqwest`): the reqwest-middleware front door, with
//!   the same builder and handle.
//! - [`AuthHandle`]: org switching, refresh, invalidate, logout, revoke, [`AuthStats`] and
//!   [`UserStats`].
//! - [`OrgIdentifier`]: an org by id or by name, for the builder and `switch_org`.
//!   [`OrgOverride`]: one request in another org. [`ActAs`] (with [`Provisioning`]): one request
//!   as one of many users, in multi-user mode ([`AuthBuilder::act_as_users`]).
//! - [`MintBudget`] and [`MintRate`]: one limit on the logins and mints a layer sends
//!   ThoughtSpot.
//! - [`secrets`]: where passwords and secret keys come from, read at each login: a fixed
//!   secret, one key per org, a file re-read when it changes, a closure; rotation without a
//!   restart.
//! - [`Error`] and [`ErrorKind`]: every failure, classified; its details are ThoughtSpot's answer
//!   ([`ApiFailure`]), an answer that cannot be used ([`Malformed`]) and a login held back by a
//!   backoff window ([`RefusedByBackoff`]).
//! - [`session`]: ThoughtSpot's session API, typed, for all three API generations, over any
//!   [`transport::Transport`]; [`session::Session`] and [`session::Login`] are its front door.
//! - [`store`]: a fleet of replicas sharing one credential through a [`store::CredentialStore`]
//!   ([`store::MemoryCredentialStore`]; with the `redis` feature, `RedisCredentialStore`).
//! - `embed` (feature `embed`): `EmbedTokenService`, the token endpoint of ThoughtSpot's Visual
//!   Embed SDK for backends that embed ThoughtSpot, with [`TokenAttributes`] for per-user
//!   row-level security (`auth/token/custom`).
//! - `mock` (feature `mock`): `MockThoughtSpot`, an in-process ThoughtSpot over real HTTP for
//!   your own tests.
//! - Feature `metrics`: logins, refreshes, rejections, replays, the cache and the embed endpoint
//!   through the `metrics` facade; the README's "Metrics" lists every name.
//!
//! The features are listed in the README's "Features" table above; items that need one say so
//! in these docs (on docs.rs, a badge).
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api_version;
mod authenticator;
mod base_url;
mod budget;
mod config;
#[cfg(feature = "embed")]
#[cfg_attr(docsrs, doc(cfg(feature = "embed")))]
pub mod embed;
mod error;
mod handle;
mod identity;
pub mod layer;
#[cfg(test)]
mod log_capture;
#[cfg(feature = "reqwest")]
mod middleware;
mod org_names;
mod origin_alias;
mod read_ahead;
mod replay;
pub mod secrets;
pub mod session;
pub mod store;
mod stripes;
mod sync;
mod telemetry;
pub mod transport;

#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;

pub use api_version::ApiVersion;
pub use authenticator::{AuthStats, FailureCounts, UserStats};
pub use base_url::BaseUrl;
pub use budget::{MintBudget, MintRate};
pub use config::{AuthBuilder, CredentialKind};
pub use error::{ApiFailure, Error, ErrorKind, Malformed, RefusedByBackoff};
pub use handle::AuthHandle;
pub use identity::{ActAs, OrgIdentifier, OrgOverride, Provisioning, TokenAttributes};
pub use layer::{ResponseBody, ResponseFuture, ThoughtSpotAuthLayer, ThoughtSpotAuthService};

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use middleware::ThoughtSpotAuthMiddleware;
