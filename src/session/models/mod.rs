//! Request and response types of ThoughtSpot's session API, named as the API names them.
//!
//! Requests are plain structs with public fields (every parameter the API documents) and a few
//! shorthand constructors. Secrets in them are [`SecretString`](secrecy::SecretString)s; they are
//! exposed only while the request body is written. Responses are read leniently
//! (`lenient.rs`): numbers where strings are documented and the reverse, unknown fields ignored,
//! everything optional that the API leaves optional. One file per API generation (`v2.rs`,
//! `beta.rs`); what a login gives, [`Login`], is common to all.

mod beta;
pub(crate) mod lenient;
mod v2;

use std::fmt;
use std::time::Duration;

pub(crate) use beta::BetaSwitchOrgWire;
pub use beta::{
    AccessLevel, BETA_DEFAULT_LIFETIME, BetaLoginRequest, BetaTokenRequest, SessionInfo,
    SessionLoginResponse,
};
pub use lenient::Unreadable;
pub use v2::{
    OrgRef, RevokeTokenRequest, SessionLoginRequest, SessionUser, Token, TokenRequest, TokenScope,
    TokenValidation,
};
pub(crate) use v2::{RevokeTokenWire, ValidateTokenWire};

use crate::session::SessionCredential;

/// What a successful login gives: the credential, how long it lives, who and where.
///
/// `lifetime` is the server's `expiration - creation` (or `tokenExpiryDuration`); it is counted on
/// the local monotonic clock from [`Login::sent_at`], when the login request left, so a server
/// clock that is hours off changes nothing.
#[derive(Clone)]
pub struct Login {
    /// The bearer token or session cookies.
    pub credential: SessionCredential,
    /// How long the credential lives, when the server says (a v2.0 cookie session does not).
    pub lifetime: Option<Duration>,
    /// The user the credential belongs to, when known.
    pub user: Option<String>,
    /// The org the credential is bound to, when known.
    pub org: Option<i64>,
    /// When the login request was sent, on the local monotonic clock.
    pub sent_at: tokio::time::Instant,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("credential", &self.credential)
            .field("lifetime", &self.lifetime)
            .field("user", &self.user)
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}
/// Lifetimes above this are taken as nonsense rather than trusted.
pub(crate) const MAX_PLAUSIBLE_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);
