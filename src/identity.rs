//! Who a request acts as: request extensions that the application's own middleware sets.

use std::fmt;
use std::sync::Arc;

/// Sends one request in another org than the handle's current one: insert it into the request's
/// extensions. The layer then uses (and if need be makes) a credential for that org.
///
/// ```
/// use thoughtspot_auth::OrgOverride;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(OrgOverride(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrgOverride(pub i64);

/// The ThoughtSpot user (and optionally org) a request acts as, in multi-user trusted
/// authentication ([`AuthBuilder::act_as_users`](crate::AuthBuilder::act_as_users)). The
/// application's own middleware inserts it into each request's extensions; the layer mints and
/// caches one token per (user, org) with the trusted-authentication secret key.
///
/// ```
/// use thoughtspot_auth::{ActAs, Provisioning};
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(
///     ActAs::user("alice@example.com")
///         .org(2)
///         .create_if_missing(Provisioning {
///             email: Some("alice@example.com".into()),
///             display_name: Some("Alice".into()),
///             groups: vec!["analysts".into()],
///         }),
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ActAs {
    pub(crate) user: Arc<str>,
    pub(crate) org: Option<i64>,
    pub(crate) provisioning: Option<Arc<Provisioning>>,
}

impl ActAs {
    /// Acts as `user` (a ThoughtSpot user name), in the handle's current org.
    pub fn user(user: impl Into<Arc<str>>) -> Self {
        Self {
            user: user.into(),
            org: None,
            provisioning: None,
        }
    }

    /// In this org rather than the handle's current one.
    pub fn org(mut self, org_id: i64) -> Self {
        self.org = Some(org_id);
        self
    }

    /// Creates the user in ThoughtSpot on the first token request if it does not exist
    /// (`auto_create`, just-in-time provisioning), with these details.
    pub fn create_if_missing(mut self, provisioning: Provisioning) -> Self {
        self.provisioning = Some(Arc::new(provisioning));
        self
    }

    /// The user name.
    pub fn user_name(&self) -> &str {
        &self.user
    }
}

impl fmt::Debug for ActAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActAs")
            .field("user", &&*self.user)
            .field("org", &self.org)
            .field("create_if_missing", &self.provisioning.is_some())
            .finish()
    }
}

/// Details of a user created just in time (`auto_create` on `token/full`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provisioning {
    /// The user's email.
    pub email: Option<String>,
    /// The user's display name.
    pub display_name: Option<String>,
    /// Groups to put the user in (names or ids).
    pub groups: Vec<String>,
}
