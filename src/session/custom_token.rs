//! `POST /api/rest/2.0/auth/token/custom`: a token that carries attribute-based access rules
//! (row-level security per user), and its `AccessToken` answer.
//!
//! The answer, `AccessToken`, is read in `access_token.rs`.
//!
//! What `persist_option` does is the one thing to keep in mind: `NONE` keeps the rules in the
//! token only, while `APPEND`, `REPLACE` and `RESET` write to the user's record in ThoughtSpot
//! **when the token is minted**, not when it is used.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// What `token/custom` does with the attributes it is given (`persist_option`, required).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum PersistOption {
    /// The attributes live only in the token. Cookie sessions made from it ignore them.
    #[default]
    None,
    /// Adds the attributes to those stored on the user, when the token is minted.
    Append,
    /// Replaces the attributes stored on the user, when the token is minted. Idempotent: what a
    /// refresh of a persisted set uses.
    Replace,
    /// Clears the attributes stored on the user, when the token is minted.
    Reset,
    /// A value a newer cluster knows, sent as written.
    Other(String),
}

impl PersistOption {
    /// The value on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::None => "NONE",
            Self::Append => "APPEND",
            Self::Replace => "REPLACE",
            Self::Reset => "RESET",
            Self::Other(other) => other,
        }
    }

    /// Reads a wire value; unknown ones become [`PersistOption::Other`].
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_uppercase().as_str() {
            "NONE" => Self::None,
            "APPEND" => Self::Append,
            "REPLACE" => Self::Replace,
            "RESET" => Self::Reset,
            _ => Self::Other(value.to_owned()),
        }
    }

    /// Whether minting with this option writes to the user's record in ThoughtSpot.
    pub fn writes_user_record(&self) -> bool {
        !matches!(self, Self::None)
    }
}

/// The operator of a [`FilterRule`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the names are ThoughtSpot's, spelled out in `as_str`
pub enum FilterOperator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Bw,
    BwInc,
    BwIncMin,
    BwIncMax,
    Contains,
    BeginsWith,
    EndsWith,
    Like,
    /// An operator a newer cluster knows, sent as written.
    Other(String),
}

impl FilterOperator {
    /// The value on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Eq => "EQ",
            Self::Ne => "NE",
            Self::Lt => "LT",
            Self::Le => "LE",
            Self::Gt => "GT",
            Self::Ge => "GE",
            Self::In => "IN",
            Self::NotIn => "NOT_IN",
            Self::Bw => "BW",
            Self::BwInc => "BW_INC",
            Self::BwIncMin => "BW_INC_MIN",
            Self::BwIncMax => "BW_INC_MAX",
            Self::Contains => "CONTAINS",
            Self::BeginsWith => "BEGINS_WITH",
            Self::EndsWith => "ENDS_WITH",
            Self::Like => "LIKE",
            Self::Other(other) => other,
        }
    }

    /// Reads a wire value; unknown ones become [`FilterOperator::Other`].
    pub fn parse(value: &str) -> Self {
        const KNOWN: [FilterOperator; 16] = [
            FilterOperator::Eq,
            FilterOperator::Ne,
            FilterOperator::Lt,
            FilterOperator::Le,
            FilterOperator::Gt,
            FilterOperator::Ge,
            FilterOperator::In,
            FilterOperator::NotIn,
            FilterOperator::Bw,
            FilterOperator::BwInc,
            FilterOperator::BwIncMin,
            FilterOperator::BwIncMax,
            FilterOperator::Contains,
            FilterOperator::BeginsWith,
            FilterOperator::EndsWith,
            FilterOperator::Like,
        ];
        let upper = value.trim().to_ascii_uppercase();
        KNOWN
            .into_iter()
            .find(|op| op.as_str() == upper)
            .unwrap_or_else(|| Self::Other(value.to_owned()))
    }
}

macro_rules! wire_string {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(|s| Self::parse(&s))
            }
        }
    };
}
wire_string!(PersistOption);
wire_string!(FilterOperator);

/// One row-level rule: `column_name operator values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterRule {
    /// The column the rule filters on.
    pub column_name: String,
    /// How the column is compared.
    pub operator: FilterOperator,
    /// The values compared with (strings, numbers or booleans).
    pub values: Vec<Value>,
}

impl FilterRule {
    /// `column_name operator values`.
    pub fn new<V: Into<Value>>(
        column_name: impl Into<String>,
        operator: FilterOperator,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self {
            column_name: column_name.into(),
            operator,
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

/// A value for a worksheet parameter (`parameter_values`) or, on newer clusters, a formula
/// variable (`variable_values`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedValues {
    /// The parameter's or variable's name.
    pub name: String,
    /// Its values.
    pub values: Vec<Value>,
}

impl NamedValues {
    /// `name = values`.
    pub fn new<V: Into<Value>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

/// An object the rules apply to (`objects`: `{type, identifier}`), e.g. a `LOGICAL_TABLE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The object type, as ThoughtSpot names it (`LOGICAL_TABLE`, ...).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its GUID or name.
    pub identifier: String,
}

/// Body of `POST /api/rest/2.0/auth/token/custom`: every field of the current spec.
///
/// `auto_create` is always sent, because it **defaults to true** on this endpoint: a typo in a
/// user name would otherwise create a user.
///
/// ```
/// use thoughtspot_auth::session::{CustomTokenRequest, FilterOperator, FilterRule, PersistOption};
///
/// let mut request = CustomTokenRequest::secret_key("alice", "the-key", PersistOption::None);
/// request.filter_rules.push(FilterRule::new("Region", FilterOperator::In, ["east", "west"]));
/// assert!(!format!("{request:?}").contains("the-key"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CustomTokenRequest {
    /// The user to mint a token for (required).
    pub username: String,
    /// The user's password. Wins over `secret_key` when both are set.
    pub password: Option<SecretString>,
    /// The trusted-authentication secret key.
    pub secret_key: Option<SecretString>,
    /// Requested validity in seconds (server default 300).
    pub validity_time_in_sec: Option<u64>,
    /// The org, by id or name.
    pub org_identifier: Option<String>,
    /// What happens to the attributes (required). See [`PersistOption`].
    pub persist_option: PersistOption,
    /// Row-level rules.
    pub filter_rules: Vec<FilterRule>,
    /// Worksheet parameter values.
    pub parameter_values: Vec<NamedValues>,
    /// Formula variable values (newer clusters; not sent when empty).
    pub variable_values: Vec<NamedValues>,
    /// The objects the rules apply to.
    pub objects: Vec<ObjectRef>,
    /// Groups of the user, by id or name (`None`: not sent).
    pub groups: Option<Vec<String>>,
    /// Email of a user created with `auto_create`.
    pub email: Option<String>,
    /// Display name of a user created with `auto_create`.
    pub display_name: Option<String>,
    /// Create the user if it does not exist. Always sent.
    pub auto_create: bool,
}

impl CustomTokenRequest {
    /// A request authenticated by the trusted-authentication secret key.
    pub fn secret_key(
        username: impl Into<String>,
        secret_key: impl Into<String>,
        persist_option: PersistOption,
    ) -> Self {
        Self {
            username: username.into(),
            secret_key: Some(SecretString::from(secret_key.into())),
            persist_option,
            ..Self::default()
        }
    }

    /// A request authenticated by the user's password.
    pub fn password(
        username: impl Into<String>,
        password: impl Into<String>,
        persist_option: PersistOption,
    ) -> Self {
        Self {
            username: username.into(),
            password: Some(SecretString::from(password.into())),
            persist_option,
            ..Self::default()
        }
    }

    pub(crate) fn wire(&self) -> CustomTokenWire<'_> {
        fn non_empty(v: &[NamedValues]) -> Option<&[NamedValues]> {
            (!v.is_empty()).then_some(v)
        }
        CustomTokenWire {
            username: &self.username,
            password: self.password.as_ref().map(|s| s.expose_secret()),
            secret_key: self.secret_key.as_ref().map(|s| s.expose_secret()),
            validity_time_in_sec: self.validity_time_in_sec,
            org_identifier: self.org_identifier.as_deref(),
            persist_option: &self.persist_option,
            filter_rules: (!self.filter_rules.is_empty()).then_some(&self.filter_rules),
            parameter_values: non_empty(&self.parameter_values),
            variable_values: non_empty(&self.variable_values),
            objects: (!self.objects.is_empty()).then_some(&self.objects),
            groups: self.groups.as_ref().map(|g| {
                g.iter()
                    .map(|identifier| GroupWire { identifier })
                    .collect()
            }),
            email: self.email.as_deref(),
            display_name: self.display_name.as_deref(),
            auto_create: self.auto_create,
        }
    }

    pub(crate) fn secrets(&self) -> Vec<&str> {
        [&self.password, &self.secret_key]
            .into_iter()
            .flatten()
            .map(|s| s.expose_secret())
            .collect()
    }
}

#[derive(Serialize)]
pub(crate) struct CustomTokenWire<'a> {
    username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    validity_time_in_sec: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_identifier: Option<&'a str>,
    persist_option: &'a PersistOption,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter_rules: Option<&'a Vec<FilterRule>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter_values: Option<&'a [NamedValues]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    variable_values: Option<&'a [NamedValues]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    objects: Option<&'a Vec<ObjectRef>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<GroupWire<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    auto_create: bool,
}

#[derive(Serialize)]
struct GroupWire<'a> {
    identifier: &'a String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_sends_every_field_and_always_auto_create() {
        let mut r = CustomTokenRequest::secret_key("alice", "k3y", PersistOption::Replace);
        r.validity_time_in_sec = Some(60);
        r.org_identifier = Some("2".into());
        r.filter_rules.push(FilterRule::new(
            "Region",
            FilterOperator::In,
            ["east", "west"],
        ));
        r.filter_rules.push(FilterRule::new(
            "Tier",
            FilterOperator::Other("NEWER_OP".into()),
            [3],
        ));
        r.parameter_values
            .push(NamedValues::new("Currency", ["EUR"]));
        r.variable_values.push(NamedValues::new("country", ["FR"]));
        r.objects.push(ObjectRef {
            kind: Some("LOGICAL_TABLE".into()),
            identifier: "sales".into(),
        });
        r.groups = Some(vec!["analysts".into()]);
        r.email = Some("a@x".into());
        r.display_name = Some("Alice".into());
        assert_eq!(
            serde_json::to_value(r.wire()).unwrap(),
            json!({"username":"alice","secret_key":"k3y","validity_time_in_sec":60,
                "org_identifier":"2","persist_option":"REPLACE",
                "filter_rules":[{"column_name":"Region","operator":"IN","values":["east","west"]},
                                {"column_name":"Tier","operator":"NEWER_OP","values":[3]}],
                "parameter_values":[{"name":"Currency","values":["EUR"]}],
                "variable_values":[{"name":"country","values":["FR"]}],
                "objects":[{"type":"LOGICAL_TABLE","identifier":"sales"}],
                "groups":[{"identifier":"analysts"}],
                "email":"a@x","display_name":"Alice","auto_create":false})
        );
        let minimal = CustomTokenRequest::password("bob", "pw", PersistOption::None);
        assert_eq!(
            serde_json::to_value(minimal.wire()).unwrap(),
            json!({"username":"bob","password":"pw","persist_option":"NONE","auto_create":false})
        );
    }

    #[test]
    fn enums_round_trip_and_keep_unknown_values() {
        for op in ["EQ", "NOT_IN", "BW_INC_MAX", "LIKE", "ENDS_WITH"] {
            assert_eq!(FilterOperator::parse(op).as_str(), op);
            assert!(!matches!(
                FilterOperator::parse(op),
                FilterOperator::Other(_)
            ));
        }
        assert_eq!(
            FilterOperator::parse("FUZZY"),
            FilterOperator::Other("FUZZY".into())
        );
        assert_eq!(PersistOption::parse("append"), PersistOption::Append);
        assert_eq!(
            PersistOption::parse("MERGE").as_str(),
            "MERGE",
            "unknown options are sent as written"
        );
        assert!(!PersistOption::None.writes_user_record());
        assert!(PersistOption::Reset.writes_user_record());
    }
}
