//! Attribute-based access control: `POST /api/rest/2.0/auth/token/custom`, the rules a request
//! runs under, and a small data endpoint (`POST /api/rest/2.0/searchdata`) whose rows those rules
//! filter, so that tests can prove each user saw exactly their rows.
//!
//! Where the rules live follows ThoughtSpot: with `persist_option: NONE` in the token only (a
//! cookie session ignores them); `APPEND`, `REPLACE` and `RESET` change the user's record in the
//! token's org when the token is minted, and every credential of that user in that org then runs
//! under the record. Formula variables (`variable_values`) must be persisted: with `NONE` or
//! `RESET` the request is refused (400), as on ThoughtSpot 10.14 and later.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::MockThoughtSpot;
use super::context::Ctx;
use super::routes_v2::{BASE, principal_of, token_asker};
use super::state::{Access, AutoCreate, Principal, State};
use super::wire::{self, ApiError, Fields, RespBody};

/// The header of `metadata/search` and `searchdata` answers that reports the rules the request
/// ran under (compact JSON: `{"filter_rules": [...], "parameter_values": [...],
/// "variable_values": [...]}`).
pub const RULES_HEADER: &str = "x-mock-rules";

/// The formula variable the sample rows' RLS rule reads (`Region = ts_var(region_var)`).
pub const REGION_VARIABLE: &str = "region_var";

/// The kinds of attribute a token or a user's record carries.
const KINDS: [&str; 3] = ["filter_rules", "parameter_values", "variable_values"];

/// The rows `searchdata` filters: every (region, product) with a revenue.
pub fn sample_rows() -> Vec<Value> {
    let mut rows = Vec::new();
    for (i, region) in ["east", "west", "north", "south"].iter().enumerate() {
        for (j, product) in ["widget", "gadget"].iter().enumerate() {
            rows.push(json!({
                "Region": region,
                "Product": product,
                "Revenue": 100 * (i as i64 + 1) + 10 * j as i64,
            }));
        }
    }
    rows
}

/// `POST /auth/token/custom`.
/// Whether `path` is one of the v2.0 calls whose answer depends on access rules.
pub(crate) fn serves(path: &str) -> bool {
    matches!(
        path.strip_prefix(BASE),
        Some("/auth/token/custom" | "/searchdata" | "/metadata/search")
    )
}

/// Answers `token/custom`, `searchdata` and `metadata/search`, with v2.0 errors.
pub(crate) fn handle(ctx: &Ctx<'_>) -> Response<RespBody> {
    let answer = ctx
        .expect(http::Method::POST)
        .and_then(|()| match ctx.path.strip_prefix(BASE) {
            Some("/searchdata") => search_data(ctx),
            Some("/metadata/search") => metadata_search(ctx),
            _ => token_custom(ctx),
        });
    answer.unwrap_or_else(|err| ctx.renderer().v2_error(&err))
}

/// `POST /metadata/search`: two sample liveboards, and the rules the request ran under.
fn metadata_search(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let p = principal_of(ctx, &ctx.state())?;
    wire::json_body(ctx.headers, ctx.body)?;
    let body = json!([
        {"metadata_id": "8c4d5c6a-1f7e-4b55-9d51-6f1a8f0e2b01", "metadata_name": "Sales Overview", "metadata_type": "LIVEBOARD"},
        {"metadata_id": "0f3a9e2d-7b64-4c1a-8e2f-3d5b6c7a8e90", "metadata_name": "Pipeline Health", "metadata_type": "LIVEBOARD"}
    ]);
    let rules = applied(&ctx.state(), ctx.headers, &p);
    Ok(with_rules(
        wire::with_identity(wire::json_response(StatusCode::OK, &body), &p.user, p.org),
        &rules,
    ))
}

fn token_custom(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let f = Fields(body.as_ref());
    let (username, secret) = token_asker(&f)?;
    let proof = secret.proof();
    let persist = f
        .non_empty("persist_option")?
        .ok_or_else(|| ApiError::bad_request("persist_option is required"))?;
    if !["NONE", "APPEND", "REPLACE", "RESET"].contains(&persist.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Unknown persist_option {persist}"
        )));
    }
    let validity = f.int("validity_time_in_sec")?;
    let org_identifier = f.non_empty("org_identifier")?;
    // As on a real cluster: left out, `auto_create` is true on this endpoint.
    let auto_create = f.boolean("auto_create")?.unwrap_or(true);
    let display_name = f.non_empty("display_name")?;
    f.non_empty("email")?;
    let mut attributes = Map::new();
    for kind in KINDS {
        let list = match body.as_ref().and_then(|b| b.get(kind)) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.clone(),
            Some(_) => return Err(ApiError::bad_request(format!("{kind} must be an array"))),
        };
        if list.iter().any(|item| !item.is_object()) {
            return Err(ApiError::bad_request(format!("{kind} must hold objects")));
        }
        attributes.insert(kind.to_owned(), Value::Array(list));
    }

    let has_variables = attributes
        .get("variable_values")
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    if has_variables && (persist == "NONE" || persist == "RESET") {
        // As ThoughtSpot (10.14 and later): formula variables are persisted on the user.
        return Err(ApiError::bad_request(format!(
            "variable_values are not supported with persist_option {persist}: use APPEND or REPLACE"
        )));
    }

    let mut st = ctx.state();
    let validity = st.token_validity(validity)?;
    let requested_org = match &org_identifier {
        None => None,
        Some(ident) => Some(
            st.org_by_identifier(ident)
                .ok_or_else(|| ApiError::forbidden(format!("Org {ident} does not exist")))?,
        ),
    };
    let create = auto_create.then_some(AutoCreate {
        org: requested_org,
        display_name,
    });
    let key_org = st.authenticate(&username, proof, requested_org, create)?;
    let org = st.resolve_org(&username, requested_org.or(key_org))?;
    let (token, mut rec) = st.mint_token(ctx.ids(), &username, org, validity, Access::Full, None);
    let attributes = Value::Object(attributes);
    let record_key = (username.clone(), org);
    match persist.as_str() {
        "NONE" => {
            let attributes = Some(Arc::new(attributes));
            if let Some(stored) = st.tokens.get_mut(&token) {
                stored.attributes.clone_from(&attributes);
            }
            rec.attributes = attributes;
        }
        "APPEND" => {
            let record = st.persisted.entry(record_key).or_insert_with(empty);
            for kind in KINDS {
                if let (Some(Value::Array(to)), Some(Value::Array(from))) =
                    (record.get_mut(kind), attributes.get(kind))
                {
                    to.extend(from.iter().cloned());
                }
            }
        }
        "REPLACE" => {
            st.persisted.insert(record_key, attributes);
        }
        _ => {
            st.persisted.remove(&record_key);
        }
    }
    let guid = st
        .user(&username)
        .map(|u| u.guid.clone())
        .unwrap_or_default();
    Ok(wire::json_response(
        StatusCode::OK,
        &json!({
            "id": ctx.ids().uuid(),
            "token": token,
            "org": { "id": org, "name": st.org_name(org) },
            "user": { "id": guid, "name": username },
            "creation_time_in_millis": rec.created_ms,
            "expiration_time_in_millis": rec.expires_ms,
        }),
    ))
}

fn empty() -> Value {
    json!({"filter_rules": [], "parameter_values": [], "variable_values": []})
}

/// The rules a request runs under: its bearer token's own (`NONE`), else the user's record.
pub(crate) fn applied(st: &State, headers: &HeaderMap, principal: &Principal) -> Value {
    let own = wire::bearer(headers)
        .and_then(|token| st.tokens.get(&token))
        .and_then(|rec| rec.attributes.clone());
    match own {
        Some(attributes) => (*attributes).clone(),
        None => st
            .persisted
            .get(&(principal.user.clone(), principal.org))
            .cloned()
            .unwrap_or_else(empty),
    }
}

/// Adds [`RULES_HEADER`] to an answer.
pub(crate) fn with_rules(mut resp: Response<RespBody>, rules: &Value) -> Response<RespBody> {
    if let Ok(value) = HeaderValue::from_str(&rules.to_string()) {
        resp.headers_mut().insert(RULES_HEADER, value);
    }
    resp
}

/// `POST /searchdata`: [`sample_rows`] filtered by the request's rules.
fn search_data(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let (principal, rules) = {
        let st = ctx.state();
        let p = principal_of(ctx, &st)?;
        let rules = applied(&st, ctx.headers, &p);
        (p, rules)
    };
    let filters = rules
        .get("filter_rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The sample worksheet's RLS rule is `Region = ts_var(region_var)`: a value of that formula
    // variable keeps the rows of its regions.
    let regions: Option<Vec<Value>> = rules
        .get("variable_values")
        .and_then(Value::as_array)
        .and_then(|vars| {
            vars.iter()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(REGION_VARIABLE))
        })
        .and_then(|v| v.get("values").and_then(Value::as_array).cloned());
    let rows: Vec<Value> = sample_rows()
        .into_iter()
        .filter(|row| filters.iter().all(|rule| keeps(rule, row)))
        .filter(|row| {
            regions
                .as_ref()
                .is_none_or(|r| row.get("Region").is_some_and(|region| r.contains(region)))
        })
        .collect();
    let body = json!({ "rows": rows, "rules": rules });
    Ok(with_rules(
        wire::with_identity(
            wire::json_response(StatusCode::OK, &body),
            &principal.user,
            principal.org,
        ),
        &rules,
    ))
}

/// Whether `row` passes `rule`. A rule on a column the rows lack passes; an operator the mock
/// does not know keeps nothing (fail closed).
fn keeps(rule: &Value, row: &Value) -> bool {
    let column = rule
        .get("column_name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(cell) = row
        .as_object()
        .and_then(|r| r.iter().find(|(k, _)| k.eq_ignore_ascii_case(column)))
        .map(|(_, v)| v)
    else {
        return true;
    };
    let values: Vec<&Value> = rule
        .get("values")
        .and_then(Value::as_array)
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let text = |v: &Value| match v {
        Value::String(s) => s.to_ascii_lowercase(),
        other => other.to_string(),
    };
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let cell_text = text(cell);
    let equal = |v: &&Value| text(v) == cell_text;
    let compare =
        |pass: fn(f64, f64) -> bool| match (number(cell), values.first().and_then(|v| number(v))) {
            (Some(c), Some(v)) => pass(c, v),
            _ => false,
        };
    match rule.get("operator").and_then(Value::as_str).unwrap_or("") {
        "EQ" | "IN" => values.iter().any(equal),
        "NE" | "NOT_IN" => !values.iter().any(equal),
        "LT" => compare(|c, v| c < v),
        "LE" => compare(|c, v| c <= v),
        "GT" => compare(|c, v| c > v),
        "GE" => compare(|c, v| c >= v),
        "CONTAINS" => values.iter().any(|v| cell_text.contains(&text(v))),
        "BEGINS_WITH" => values.iter().any(|v| cell_text.starts_with(&text(v))),
        "ENDS_WITH" => values.iter().any(|v| cell_text.ends_with(&text(v))),
        _ => false,
    }
}

/// CORS for what the Visual Embed SDK calls from a page on another origin
/// (`/callosum/v1/session/isactive` with `Authorization: Bearer`): the preflight and the answer.
pub(crate) fn with_cors(mut resp: Response<RespBody>, request: &HeaderMap) -> Response<RespBody> {
    let headers = resp.headers_mut();
    let origin = request
        .get(http::header::ORIGIN)
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    headers.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, x-requested-by, content-type, accept"),
    );
    headers.insert(http::header::VARY, HeaderValue::from_static("Origin"));
    resp
}

impl MockThoughtSpot {
    /// The access rules `token/custom` wrote to `user`'s record in `org` (`APPEND`,
    /// `REPLACE`: ThoughtSpot keeps them per org), as
    /// `{"filter_rules", "parameter_values", "variable_values"}`; `None` if there are none.
    pub fn persisted_attributes(&self, user: &str, org: i64) -> Option<Value> {
        self.state().persisted.get(&(user.to_owned(), org)).cloned()
    }

    /// The access rules a token carries itself (`token/custom` with `NONE`).
    pub fn token_attributes(&self, token: &str) -> Option<Value> {
        self.state()
            .tokens
            .get(token)
            .and_then(|rec| rec.attributes.as_deref().cloned())
    }
}
