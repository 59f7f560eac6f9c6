//! Who a request acts as: request extensions that the application's own middleware sets.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::sync::lock;

use crate::session::{CustomTokenRequest, FilterRule, NamedValues, PersistOption, TokenRequest};

/// Sends one request in another org than the handle's current one: insert it into the request's
/// extensions. The layer then uses (and if need be makes) a credential for that org. The org is
/// an id or a name ([`OrgIdentifier`]); a name is looked up once, on the first request that
/// names it, and shares its id's credential from then on.
///
/// ```
/// use thoughtspot_auth::OrgOverride;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(OrgOverride::new(3));
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(OrgOverride::new("Sales"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgOverride(OrgIdentifier);

impl OrgOverride {
    /// The request goes to `org`: an id (`3`) or a name (`"Sales"`).
    pub fn new(org: impl Into<OrgIdentifier>) -> Self {
        Self(org.into())
    }

    /// The org named.
    pub fn org(&self) -> &OrgIdentifier {
        &self.0
    }
}

/// An org, by its id or by its name, as ThoughtSpot's `org_identifier` takes it. Converts from
/// an integer (an id) and from a string (a name).
///
/// A name is resolved to its id once, from the orgs ThoughtSpot lists for the layer's user,
/// and cached: a name and its id share one cached credential. An unknown name gives
/// [`Error::UnknownOrg`](crate::Error::UnknownOrg) (remembered for a minute, so that asking
/// again sends nothing). Names work with the v2.0 API everywhere an org is given:
/// [`AuthBuilder::org`](crate::AuthBuilder::org),
/// [`AuthHandle::switch_org`](crate::AuthHandle::switch_org), [`OrgOverride`], [`ActAs::org`]
/// (multi-user mode and the embed endpoint, looked up with the acting user's token) and
/// `THOUGHTSPOT_ORG`. The beta API takes ids only.
///
/// ```
/// use thoughtspot_auth::OrgIdentifier;
///
/// assert_eq!(OrgIdentifier::from(2), OrgIdentifier::Id(2));
/// assert_eq!(OrgIdentifier::from("Sales"), OrgIdentifier::Name("Sales".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OrgIdentifier {
    /// An org id (int32 in ThoughtSpot's API; 0 is the Primary org).
    Id(i64),
    /// An org name, as ThoughtSpot shows it.
    Name(String),
}

impl From<i64> for OrgIdentifier {
    fn from(id: i64) -> Self {
        Self::Id(id)
    }
}

impl From<i32> for OrgIdentifier {
    fn from(id: i32) -> Self {
        Self::Id(i64::from(id))
    }
}

impl From<&str> for OrgIdentifier {
    fn from(name: &str) -> Self {
        Self::Name(name.to_owned())
    }
}

impl From<String> for OrgIdentifier {
    fn from(name: String) -> Self {
        Self::Name(name)
    }
}

impl fmt::Display for OrgIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) => write!(f, "{name:?}"),
        }
    }
}

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
    /// An org named by name, looked up when first needed (then `org` is not set).
    pub(crate) org_name: Option<Arc<str>>,
    pub(crate) provisioning: Option<Arc<Provisioning>>,
    pub(crate) attributes: Option<AttributeKey>,
}

impl ActAs {
    /// Acts as `user` (a ThoughtSpot user name), in the handle's current org.
    pub fn user(user: impl Into<Arc<str>>) -> Self {
        Self {
            user: user.into(),
            org: None,
            org_name: None,
            provisioning: None,
            attributes: None,
        }
    }

    /// In this org rather than the handle's current one: an id (`2`) or a name (`"Sales"`,
    /// looked up once with the user's token in its default org, then cached for every user; see
    /// [`OrgIdentifier`]).
    pub fn org(mut self, org: impl Into<OrgIdentifier>) -> Self {
        match org.into() {
            OrgIdentifier::Id(id) => {
                self.org = Some(id);
                self.org_name = None;
            }
            OrgIdentifier::Name(name) => {
                self.org = None;
                self.org_name = Some(name.into());
            }
        }
        self
    }

    /// Creates the user in ThoughtSpot on the first token request if it does not exist
    /// (`auto_create`, just-in-time provisioning), with these details.
    pub fn create_if_missing(mut self, provisioning: Provisioning) -> Self {
        self.provisioning = Some(Arc::new(provisioning));
        self
    }

    /// Mints the user's tokens with these access rules (`auth/token/custom`, row-level
    /// security). Tokens are cached per (user, org, rules): two requests of one user with
    /// different rules never share a token.
    ///
    /// With [`PersistOption::Append`], [`Replace`](PersistOption::Replace) or
    /// [`Reset`](PersistOption::Reset) ThoughtSpot writes the rules to the user's record **when
    /// the token is minted**, not when it is used: every credential of that user then runs under
    /// them. Refreshes of a persisted set are sent as `REPLACE`, so that a refresh never appends
    /// the same rules again.
    pub fn attributes(mut self, attributes: TokenAttributes) -> Self {
        self.attributes = Some(AttributeKey::new(attributes));
        self
    }

    /// The user name.
    pub fn user_name(&self) -> &str {
        &self.user
    }

    /// The access rules tokens are minted with, if any.
    pub fn token_attributes(&self) -> Option<&TokenAttributes> {
        self.attributes.as_ref().map(|a| &*a.set)
    }
}

impl fmt::Debug for ActAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActAs")
            .field("user", &&*self.user)
            .field("org", &self.org)
            .field("org_name", &self.org_name)
            .field("create_if_missing", &self.provisioning.is_some())
            .field(
                "attributes",
                &self.attributes.as_ref().map(|a| a.fingerprint),
            )
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

impl Provisioning {
    /// Asks `token/full` to create the user if it does not exist.
    pub(crate) fn apply_to_token(&self, request: &mut TokenRequest) {
        request.auto_create = Some(true);
        request.email.clone_from(&self.email);
        request.display_name.clone_from(&self.display_name);
        if !self.groups.is_empty() {
            request.group_identifiers = Some(self.groups.clone());
        }
    }

    /// Asks `token/custom` to create the user if it does not exist.
    pub(crate) fn apply_to_custom(&self, request: &mut CustomTokenRequest) {
        request.auto_create = true;
        request.email.clone_from(&self.email);
        request.display_name.clone_from(&self.display_name);
        if !self.groups.is_empty() {
            request.groups = Some(self.groups.clone());
        }
    }
}

/// Attribute-based access rules a token is minted with (`auth/token/custom`): row filters,
/// worksheet parameters, formula variables, and what ThoughtSpot does with them
/// ([`PersistOption`]).
///
/// ```
/// use thoughtspot_auth::session::{FilterOperator, FilterRule, PersistOption};
/// use thoughtspot_auth::{ActAs, TokenAttributes};
///
/// let rules = TokenAttributes::new(PersistOption::None)
///     .filter(FilterRule::new("Region", FilterOperator::In, ["east", "west"]))
///     .parameter("Currency", ["EUR"]);
/// let act_as = ActAs::user("alice@example.com").attributes(rules);
/// assert!(act_as.token_attributes().is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenAttributes {
    /// `NONE`: the rules live in the token only. `APPEND`, `REPLACE`, `RESET`: written to the
    /// user's record when the token is minted.
    pub persist: PersistOption,
    /// Row-level rules.
    pub filter_rules: Vec<FilterRule>,
    /// Worksheet parameter values.
    pub parameter_values: Vec<NamedValues>,
    /// Formula variable values (newer clusters).
    pub variable_values: Vec<NamedValues>,
}

impl TokenAttributes {
    /// An empty set with this persist option.
    pub fn new(persist: PersistOption) -> Self {
        Self {
            persist,
            ..Self::default()
        }
    }

    /// Adds a row-level rule.
    pub fn filter(mut self, rule: FilterRule) -> Self {
        self.filter_rules.push(rule);
        self
    }

    /// Adds a worksheet parameter value.
    pub fn parameter<V: Into<serde_json::Value>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.parameter_values.push(NamedValues::new(name, values));
        self
    }

    /// Adds a formula variable value.
    pub fn variable<V: Into<serde_json::Value>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.variable_values.push(NamedValues::new(name, values));
        self
    }

    /// Whether ThoughtSpot accepts this set: formula variables (`variable_values`) are kept on
    /// the user's record, so they need `APPEND` or `REPLACE`; ThoughtSpot refuses them with
    /// `NONE` or `RESET`. Layers and the token endpoint check every set before sending it.
    ///
    /// ```
    /// use thoughtspot_auth::TokenAttributes;
    /// use thoughtspot_auth::session::PersistOption;
    ///
    /// let ok = TokenAttributes::new(PersistOption::Replace).variable("region_var", ["east"]);
    /// assert!(ok.check().is_ok());
    /// let refused = TokenAttributes::new(PersistOption::None).variable("region_var", ["east"]);
    /// assert!(refused.check().unwrap_err().to_string().contains("variable_values"));
    /// ```
    pub fn check(&self) -> Result<(), crate::error::Error> {
        if !self.variable_values.is_empty()
            && matches!(self.persist, PersistOption::None | PersistOption::Reset)
        {
            return Err(crate::error::Error::config(format!(
                "access rules with formula variables (variable_values) must be persisted with \
                 APPEND or REPLACE; ThoughtSpot refuses them with persist option {}",
                self.persist.as_str()
            )));
        }
        Ok(())
    }

    /// Writes the rules into a `token/custom` request. `refresh` says a token for this set was
    /// minted before: a persisted set is then sent as `REPLACE` (idempotent), never as a second
    /// `APPEND`.
    pub(crate) fn apply(&self, request: &mut CustomTokenRequest, refresh: bool) {
        request.persist_option = match (&self.persist, refresh) {
            (PersistOption::Append, true) => PersistOption::Replace,
            (persist, _) => persist.clone(),
        };
        request.filter_rules.clone_from(&self.filter_rules);
        request.parameter_values.clone_from(&self.parameter_values);
        request.variable_values.clone_from(&self.variable_values);
    }

    /// A digest that is the same in every process (the fleet's store names keys by it).
    fn fingerprint(&self) -> u64 {
        let wire = serde_json::json!([
            self.persist.as_str(),
            self.filter_rules,
            self.parameter_values,
            self.variable_values,
        ]);
        let digest = Sha256::digest(wire.to_string().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// A [`TokenAttributes`] as part of a cache key: hashed by its digest, compared in full.
#[derive(Clone)]
pub(crate) struct AttributeKey {
    pub(crate) set: Arc<TokenAttributes>,
    pub(crate) fingerprint: u64,
}

impl AttributeKey {
    pub(crate) fn new(set: TokenAttributes) -> Self {
        Self {
            fingerprint: set.fingerprint(),
            set: Arc::new(set),
        }
    }
}

impl AttributeKey {
    fn minted_digest(&self, user: &str, org: Option<i64>) -> u64 {
        let digest = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update([0])
            .chain_update(org.map_or_else(|| "-".to_owned(), |o| o.to_string()))
            .chain_update(self.fingerprint.to_be_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

/// The (user, org, rules) whose persisted rules one minter (a layer's core, an embed endpoint)
/// minted before: their next mint is a refresh and is sent as `REPLACE` rather than appending
/// the same rules to the user's record again. A digest per entry; bounded, and an entry that
/// falls out costs at most one more `APPEND` of a set idle for that long.
#[derive(Debug, Default)]
pub(crate) struct MintHistory(std::sync::Mutex<std::collections::HashSet<u64>>);

/// Entries a [`MintHistory`] keeps at most.
const MINT_HISTORY_MAX: usize = 100_000;

impl MintHistory {
    /// Whether a token with `rules` was minted for (user, org) before.
    pub(crate) fn minted_before(&self, rules: &AttributeKey, user: &str, org: Option<i64>) -> bool {
        if !rules.set.persist.writes_user_record() {
            return false;
        }
        let digest = rules.minted_digest(user, org);
        lock(&self.0).contains(&digest)
    }

    /// Records a successful mint of `rules` for (user, org).
    pub(crate) fn record(&self, rules: &AttributeKey, user: &str, org: Option<i64>) {
        if !rules.set.persist.writes_user_record() {
            return;
        }
        let digest = rules.minted_digest(user, org);
        let mut minted = lock(&self.0);
        if minted.len() >= MINT_HISTORY_MAX {
            if let Some(old) = minted.iter().next().copied() {
                minted.remove(&old);
            }
        }
        minted.insert(digest);
    }
}

impl PartialEq for AttributeKey {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
            && (Arc::ptr_eq(&self.set, &other.set) || self.set == other.set)
    }
}

impl Eq for AttributeKey {}

impl Hash for AttributeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.fingerprint.hash(state);
    }
}

impl fmt::Debug for AttributeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttributeKey({:016x})", self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::FilterOperator;

    fn rules(region: &str, persist: PersistOption) -> TokenAttributes {
        TokenAttributes::new(persist).filter(FilterRule::new(
            "Region",
            FilterOperator::Eq,
            [region],
        ))
    }

    #[test]
    fn equal_rule_sets_are_one_key_and_different_ones_are_not() {
        let a = AttributeKey::new(rules("east", PersistOption::None));
        let b = AttributeKey::new(rules("east", PersistOption::None));
        assert_eq!(a, b);
        assert_eq!(
            a.fingerprint, b.fingerprint,
            "the same digest in every process"
        );
        assert_ne!(a, AttributeKey::new(rules("west", PersistOption::None)));
        assert_ne!(a, AttributeKey::new(rules("east", PersistOption::Replace)));
    }

    #[test]
    fn a_persisted_set_is_sent_as_replace_once_minted() {
        let key = AttributeKey::new(rules("north", PersistOption::Append));
        let history = MintHistory::default();
        let mut request = CustomTokenRequest::default();
        assert!(!history.minted_before(&key, "identity-test-user", Some(4)));
        key.set.apply(&mut request, false);
        assert_eq!(request.persist_option, PersistOption::Append);
        history.record(&key, "identity-test-user", Some(4));
        assert!(history.minted_before(&key, "identity-test-user", Some(4)));
        assert!(!history.minted_before(&key, "identity-test-user", Some(5)));
        assert!(
            !MintHistory::default().minted_before(&key, "identity-test-user", Some(4)),
            "each minter keeps its own history"
        );
        key.set.apply(&mut request, true);
        assert_eq!(request.persist_option, PersistOption::Replace);
        // Rules in the token only write nothing, so there is nothing to remember.
        let none = AttributeKey::new(rules("north", PersistOption::None));
        history.record(&none, "identity-test-user", Some(4));
        assert!(!history.minted_before(&none, "identity-test-user", Some(4)));
    }
}
