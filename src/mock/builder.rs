//! [`MockThoughtSpotBuilder`] and the [`MockUser`]s it starts a mock with.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::context::Shared;
use super::faults::FaultTable;
use super::log::Log;
use super::server;
use super::state::{State, signed_offset};
use super::wire;
use super::{
    ANALYST_PASSWORD, ANALYST_USER, DEFAULT_PASSWORD, DEFAULT_SECRET_KEY, DEFAULT_USER, Handle,
    MockThoughtSpot,
};

/// How the v2 beta spells the key that holds the upstream error: both are seen in the wild.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ExtensionSpelling {
    /// `error.errors[].extension`
    Extension,
    /// `error.errors[].extensions` (the default)
    #[default]
    Extensions,
}

/// A user of the mock ThoughtSpot.
///
/// `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct MockUser {
    /// The login name.
    pub name: String,
    /// The password for password logins.
    pub password: String,
    /// The display name reported by `session/user`.
    pub display_name: String,
    /// The orgs the user belongs to; the first one is where logins without an org land at
    /// first. An empty list means org 0 for logins, and no explicit org is allowed.
    pub orgs: Vec<i64>,
    /// A locked user can't log in (403), and their tokens and sessions stop working.
    pub locked: bool,
}

impl MockUser {
    /// A user in org 0, not locked, whose display name is its name.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        let name = name.into();
        MockUser {
            display_name: name.clone(),
            name,
            password: password.into(),
            orgs: vec![0],
            locked: false,
        }
    }

    /// Sets the orgs the user belongs to (the first is their initial org).
    pub fn orgs(mut self, orgs: impl IntoIterator<Item = i64>) -> Self {
        self.orgs = orgs.into_iter().collect();
        self
    }

    /// Sets the display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.display_name = display_name.into();
        self
    }

    /// Makes the user locked.
    pub fn locked(mut self) -> Self {
        self.locked = true;
        self
    }
}

impl fmt::Debug for MockUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUser")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .field("display_name", &self.display_name)
            .field("orgs", &self.orgs)
            .field("locked", &self.locked)
            .finish()
    }
}

/// Configures a [`MockThoughtSpot`] before it starts. [`Default`] is the configuration of
/// [`MockThoughtSpot::start`] (see [the module docs](crate::mock#defaults)).
#[derive(Clone)]
pub struct MockThoughtSpotBuilder {
    pub(crate) orgs: BTreeMap<i64, String>,
    pub(crate) users: Vec<MockUser>,
    pub(crate) secret_key: String,
    pub(crate) org_keys: BTreeMap<i64, String>,
    pub(crate) trusted_auth: bool,
    pub(crate) default_validity: Duration,
    pub(crate) max_validity: Duration,
    pub(crate) session_validity: Duration,
    pub(crate) clock_offset_ms: i64,
    pub(crate) prefix: String,
    pub(crate) spelling: ExtensionSpelling,
    pub(crate) seed: Option<u64>,
    pub(crate) record_requests: bool,
    pub(crate) refuse_org_identifier: bool,
}

impl Default for MockThoughtSpotBuilder {
    fn default() -> Self {
        MockThoughtSpotBuilder {
            orgs: [(0, "Primary"), (1, "Sales"), (2, "Marketing")]
                .into_iter()
                .map(|(id, name)| (id, name.to_owned()))
                .collect(),
            users: vec![
                MockUser::new(DEFAULT_USER, DEFAULT_PASSWORD)
                    .orgs([0, 1, 2])
                    .display_name("TS Admin"),
                MockUser::new(ANALYST_USER, ANALYST_PASSWORD)
                    .orgs([0, 1])
                    .display_name("Analyst"),
            ],
            secret_key: DEFAULT_SECRET_KEY.to_owned(),
            org_keys: BTreeMap::new(),
            trusted_auth: true,
            default_validity: Duration::from_secs(300),
            max_validity: Duration::from_secs(86_400),
            session_validity: Duration::from_secs(1_800),
            clock_offset_ms: 0,
            prefix: String::new(),
            spelling: ExtensionSpelling::Extensions,
            seed: None,
            record_requests: true,
            refuse_org_identifier: false,
        }
    }
}

impl fmt::Debug for MockThoughtSpotBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockThoughtSpotBuilder")
            .field("orgs", &self.orgs)
            .field("users", &self.users)
            .field("secret_key", &"<redacted>")
            .field("trusted_auth", &self.trusted_auth)
            .field("default_validity", &self.default_validity)
            .field("max_validity", &self.max_validity)
            .field("session_validity", &self.session_validity)
            .field("clock_offset_ms", &self.clock_offset_ms)
            .field("prefix", &self.prefix)
            .field("spelling", &self.spelling)
            .field("seed", &self.seed)
            .field("record_requests", &self.record_requests)
            .field("refuse_org_identifier", &self.refuse_org_identifier)
            .finish()
    }
}

impl MockThoughtSpotBuilder {
    /// Adds a user in org 0 (replacing any user of that name).
    pub fn user(self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.user_with(MockUser::new(name, password))
    }

    /// Adds a user (replacing any user of that name).
    pub fn user_with(mut self, user: MockUser) -> Self {
        self.users.retain(|u| u.name != user.name);
        self.users.push(user);
        self
    }

    /// Removes every user added so far, the two default users included.
    pub fn clear_users(mut self) -> Self {
        self.users.clear();
        self
    }

    /// Sets the trusted-authentication secret key.
    pub fn secret_key(mut self, key: &str) -> Self {
        self.secret_key = key.to_owned();
        self
    }

    /// Gives `org` a trusted-authentication key of its own, as ThoughtSpot does since 9.2: a
    /// mint for that org must use it (the cluster's key is refused for it), and a mint that
    /// names no org with this key gets a token for this org. Change it while running with
    /// [`MockThoughtSpot::set_org_secret_key`](super::MockThoughtSpot::set_org_secret_key).
    pub fn org_secret_key(mut self, org: i64, key: &str) -> Self {
        self.org_keys.insert(org, key.to_owned());
        self
    }

    /// Turns trusted authentication (logins with the secret key) on or off. While it is off,
    /// a secret-key login gets a 403.
    pub fn trusted_auth(mut self, enabled: bool) -> Self {
        self.trusted_auth = enabled;
        self
    }

    /// Adds an org (replacing any org with that id).
    pub fn org(mut self, id: i64, name: impl Into<String>) -> Self {
        self.orgs.insert(id, name.into());
        self
    }

    /// Validity of tokens minted without an explicit validity (default 300 s).
    pub fn default_token_validity(mut self, validity: Duration) -> Self {
        self.default_validity = validity;
        self
    }

    /// Cap on the validity a token request may ask for (default 86,400 s).
    pub fn max_token_validity(mut self, validity: Duration) -> Self {
        self.max_validity = validity;
        self
    }

    /// Lifetime of cookie sessions from their login (default 1,800 s).
    pub fn session_validity(mut self, validity: Duration) -> Self {
        self.session_validity = validity;
        self
    }

    /// Puts the server clock `offset` ahead of (`ahead == true`) or behind the local clock.
    pub fn clock_offset(mut self, offset: Duration, ahead: bool) -> Self {
        self.clock_offset_ms = signed_offset(offset, ahead);
        self
    }

    /// Serves every route under this prefix (e.g. `"/ts"`, as behind a reverse proxy);
    /// [`MockThoughtSpot::base_url`] includes it and requests outside it get a 404.
    pub fn path_prefix(mut self, prefix: &str) -> Self {
        let trimmed = prefix.trim().trim_matches('/');
        self.prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// How beta error bodies spell the key holding the upstream error (default `extensions`).
    pub fn beta_error_spelling(mut self, spelling: ExtensionSpelling) -> Self {
        self.spelling = spelling;
        self
    }

    /// Seeds the generator behind [`MockThoughtSpot::inject_random`]: the same seed and the same
    /// order of arrivals give the same faults. Without a seed, each mock draws a random one.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether each request is kept in the request log ([`MockThoughtSpot::requests`]; default
    /// on). Off, the log stays empty, so a long soak does not grow the mock; every counter
    /// ([`count`](MockThoughtSpot::count), [`logins`](MockThoughtSpot::logins),
    /// [`faults_injected`](MockThoughtSpot::faults_injected), ...) still counts.
    pub fn record_requests(mut self, record: bool) -> Self {
        self.record_requests = record;
        self
    }

    /// Makes `POST /api/rest/2.0/auth/session/login` refuse `org_identifier` with a 400, as
    /// clusters whose v2.0 login predates the field do (default off); the v1 org switch
    /// (`PUT /callosum/v1/tspublic/v1/session/orgs`) still works there.
    pub fn refuse_org_identifier(mut self, refuse: bool) -> Self {
        self.refuse_org_identifier = refuse;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub async fn start(self) -> std::io::Result<MockThoughtSpot> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&self)),
            log: Mutex::new(Log::new(self.record_requests)),
            faults: Mutex::new(FaultTable::new(self.seed.unwrap_or_else(random_seed))),
            ids: wire::Ids::default(),
            prefix: self.prefix.clone(),
            spelling: self.spelling,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::accept_loop(listener, shared.clone(), shutdown_rx));
        tracing::debug!(%addr, prefix = %self.prefix, "mock ThoughtSpot started");
        Ok(MockThoughtSpot {
            inner: Arc::new(Handle {
                shared,
                addr,
                shutdown,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

/// A seed for the fault generator when the builder gives none.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
