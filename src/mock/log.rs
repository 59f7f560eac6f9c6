//! What the mock observed: per-path counters, login attempts and the request log.
//!
//! Nothing in here ever holds a token, cookie, password or secret key value: credentials are
//! identified by the serial number the mock gave them when it minted them.

use std::collections::HashMap;

/// The credential a request presented, as the mock judged it when the request arrived.
///
/// Credentials are identified by serial number (every token and cookie session the mock mints
/// gets the next one), never by value, so a [`RecordedRequest`] can be printed safely.
/// A request that presents both a bearer token and a session cookie is recorded with the token,
/// which is also the credential the mock authenticates it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PresentedCredential {
    /// No `Authorization: Bearer` header and no `JSESSIONID` cookie.
    None,
    /// A bearer token the mock minted.
    Token {
        /// Serial number of the token.
        serial: u64,
        /// The user the token was minted for.
        user: String,
        /// The org the token is bound to.
        org: i64,
        /// Whether the token was valid on arrival: not expired by the server clock, not revoked,
        /// and its user not locked.
        valid: bool,
    },
    /// A bearer token the mock never minted.
    UnknownToken,
    /// A cookie session the mock created.
    Session {
        /// Serial number of the session.
        serial: u64,
        /// The user the session belongs to.
        user: String,
        /// The org the session is bound to at arrival.
        org: i64,
        /// Whether the session was valid on arrival: not expired, not ended, its user not
        /// locked, and the `clientId` cookie sent and matching.
        valid: bool,
        /// Whether a `clientId` cookie was sent at all (its value may still have been wrong).
        client_id_sent: bool,
    },
    /// A `JSESSIONID` cookie the mock never issued.
    UnknownSession,
}

impl PresentedCredential {
    /// Whether the credential was known and valid when the request arrived.
    pub fn is_valid(&self) -> bool {
        matches!(
            self,
            PresentedCredential::Token { valid: true, .. }
                | PresentedCredential::Session { valid: true, .. }
        )
    }

    /// The serial number of the token or session, if the mock knew it.
    pub fn serial(&self) -> Option<u64> {
        match self {
            PresentedCredential::Token { serial, .. }
            | PresentedCredential::Session { serial, .. } => Some(*serial),
            _ => None,
        }
    }

    /// The user the token or session belongs to, if the mock knew it.
    pub fn user(&self) -> Option<&str> {
        match self {
            PresentedCredential::Token { user, .. } | PresentedCredential::Session { user, .. } => {
                Some(user)
            }
            _ => None,
        }
    }
}

/// One request as the mock received it (see [`MockThoughtSpot::requests`](super::MockThoughtSpot::requests)).
///
/// Holds no secret: the credential is recorded by serial number, and request bodies are not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: http::Method,
    /// The path without the mock's path prefix and without the query string. A request outside
    /// the prefix is recorded with its full path.
    pub path: String,
    /// The credential the request presented, as judged on arrival.
    pub credential: PresentedCredential,
    /// The status code the mock answered with; `0` when the connection was dropped without a
    /// response ([`Fault::DropConnection`](super::Fault::DropConnection)), and also while a
    /// delayed request is still being handled.
    pub status: u16,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The `X-Requested-By` header.
    pub x_requested_by: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Accept` header.
    pub accept: Option<String>,
    /// The `Host` header.
    pub host: Option<String>,
    /// Whether an injected [`Fault`](super::Fault) was applied to this request.
    pub fault: bool,
}

/// Where a request's log entry sits, so its status can be filled in once it is known.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    epoch: u64,
    index: usize,
}

/// Counters and the request log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    entries: Vec<RecordedRequest>,
    /// Bumped by `clear`, so that a status arriving for a cleared entry is ignored.
    epoch: u64,
    counts: HashMap<String, usize>,
    logins: usize,
    login_attempts: HashMap<String, usize>,
}

impl Log {
    /// Records an arriving request: counts its path and appends it to the log.
    pub(crate) fn arrival(&mut self, entry: RecordedRequest) -> Ticket {
        *self.counts.entry(entry.path.clone()).or_insert(0) += 1;
        self.entries.push(entry);
        Ticket {
            epoch: self.epoch,
            index: self.entries.len() - 1,
        }
    }

    /// Counts an attempt at a credential-minting endpoint, for `user` when it is known.
    pub(crate) fn login_attempt(&mut self, user: Option<&str>) {
        self.logins += 1;
        if let Some(user) = user {
            *self.login_attempts.entry(user.to_owned()).or_insert(0) += 1;
        }
    }

    /// Fills in the status of a logged request.
    pub(crate) fn set_status(&mut self, ticket: Ticket, status: u16) {
        if ticket.epoch == self.epoch {
            if let Some(entry) = self.entries.get_mut(ticket.index) {
                entry.status = status;
            }
        }
    }

    pub(crate) fn count(&self, path: &str) -> usize {
        self.counts.get(path).copied().unwrap_or(0)
    }

    pub(crate) fn logins(&self) -> usize {
        self.logins
    }

    pub(crate) fn login_attempts_for(&self, user: &str) -> usize {
        self.login_attempts.get(user).copied().unwrap_or(0)
    }

    pub(crate) fn entries(&self) -> Vec<RecordedRequest> {
        self.entries.clone()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.counts.clear();
        self.logins = 0;
        self.login_attempts.clear();
        self.epoch += 1;
    }
}
