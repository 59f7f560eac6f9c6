//! What the mock observed: per-path counters, login attempts, injected faults, dropped request
//! ids and the request log.
//!
//! Nothing in here ever holds a token, cookie, password or secret key value: credentials are
//! identified by the serial number the mock gave them when it minted them.

use std::collections::HashMap;

use super::faults::FaultKind;

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
#[derive(Debug)]
pub(crate) struct Log {
    /// Whether arriving requests are appended to `entries` (counters are kept either way).
    record: bool,
    entries: Vec<RecordedRequest>,
    /// Bumped by `clear`, so that a status arriving for a cleared entry is ignored.
    epoch: u64,
    counts: HashMap<String, usize>,
    logins: usize,
    login_attempts: HashMap<String, usize>,
    faults: HashMap<(String, FaultKind), usize>,
    dropped_ids: Vec<String>,
}

impl Log {
    pub(crate) fn new(record: bool) -> Self {
        Log {
            record,
            entries: Vec::new(),
            epoch: 0,
            counts: HashMap::new(),
            logins: 0,
            login_attempts: HashMap::new(),
            faults: HashMap::new(),
            dropped_ids: Vec::new(),
        }
    }

    /// Records an arriving request: counts its path and, while recording, appends it to the log.
    pub(crate) fn arrival(&mut self, entry: RecordedRequest) -> Option<Ticket> {
        match self.counts.get_mut(entry.path.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(entry.path.clone(), 1);
            }
        }
        if !self.record {
            return None;
        }
        self.entries.push(entry);
        Some(Ticket {
            epoch: self.epoch,
            index: self.entries.len() - 1,
        })
    }

    /// Counts a fault applied to a request to `path`.
    pub(crate) fn fault(&mut self, path: &str, kind: FaultKind) {
        match self.faults.get_mut(&(path.to_owned(), kind)) {
            Some(n) => *n += 1,
            None => {
                self.faults.insert((path.to_owned(), kind), 1);
            }
        }
    }

    /// Remembers the `x-request-id` of a request whose connection was dropped.
    pub(crate) fn dropped(&mut self, request_id: String) {
        self.dropped_ids.push(request_id);
    }

    pub(crate) fn faults_injected(&self, path: Option<&str>, kind: FaultKind) -> usize {
        self.faults
            .iter()
            .filter(|((p, k), _)| *k == kind && path.is_none_or(|path| path == p))
            .map(|(_, n)| n)
            .sum()
    }

    pub(crate) fn dropped_request_ids(&self) -> Vec<String> {
        self.dropped_ids.clone()
    }

    pub(crate) fn set_recording(&mut self, record: bool) {
        self.record = record;
    }

    /// Counts an attempt at a credential-minting endpoint, for `user` when it is known.
    pub(crate) fn login_attempt(&mut self, user: Option<&str>) {
        self.logins += 1;
        if let Some(user) = user {
            *self.login_attempts.entry(user.to_owned()).or_insert(0) += 1;
        }
    }

    /// Fills in the status of a logged request.
    pub(crate) fn set_status(&mut self, ticket: Option<Ticket>, status: u16) {
        let Some(ticket) = ticket else { return };
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
        self.faults.clear();
        self.dropped_ids.clear();
        self.epoch += 1;
    }
}
