//! REST API v2.0 (`/api/rest/2.0/...`): JSON in snake_case, real status codes.

use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::context::Ctx;
use super::state::{Access, AutoCreate, Principal, Proof, State, TokenRecord};
use super::wire::{self, ApiError, Fields, RespBody};

pub(crate) const BASE: &str = "/api/rest/2.0";

/// Validity of tokens from `GET /auth/session/token`.
const SESSION_TOKEN_SECS: u64 = 24 * 60 * 60;

pub(crate) fn handle(ctx: &Ctx<'_>) -> Response<RespBody> {
    route(ctx).unwrap_or_else(|err| ctx.renderer().v2_error(&err))
}

fn route(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let sub = ctx.path.strip_prefix(BASE).unwrap_or_default();
    match sub {
        "/auth/token/full" => {
            ctx.expect(Method::POST)?;
            mint(ctx, Access::Full)
        }
        "/auth/token/object" => {
            ctx.expect(Method::POST)?;
            mint(ctx, Access::ReportBookView)
        }
        "/auth/session/login" => {
            ctx.expect(Method::POST)?;
            session_login(ctx)
        }
        "/auth/session/logout" => {
            ctx.expect(Method::POST)?;
            let mut st = ctx.state();
            if let Some(id) = st.presented(ctx.headers).session_id {
                st.end_session(&id);
            }
            Ok(wire::no_content())
        }
        "/auth/token/revoke" => {
            ctx.expect(Method::POST)?;
            revoke(ctx)
        }
        "/auth/token/validate" => {
            ctx.expect(Method::POST)?;
            validate(ctx)
        }
        "/auth/session/user" => {
            ctx.expect(Method::GET)?;
            let st = ctx.state();
            let p = principal(ctx, &st)?;
            Ok(wire::json_response(StatusCode::OK, &user_json(&st, &p)))
        }
        "/auth/session/token" => {
            ctx.expect(Method::GET)?;
            let mut st = ctx.state();
            let p = principal(ctx, &st)?;
            let (token, rec) = st.mint_token(
                ctx.ids(),
                &p.user,
                p.org,
                SESSION_TOKEN_SECS,
                Access::Full,
                None,
            );
            let mut body = token_json(&st, &token, &rec);
            if let Some(obj) = body.as_object_mut() {
                obj.remove("scope");
            }
            Ok(wire::json_response(StatusCode::OK, &body))
        }
        "/orgs/search" => {
            ctx.expect(Method::POST)?;
            search_orgs(ctx)
        }
        _ => {
            principal(ctx, &ctx.state())?;
            Err(ApiError::not_found())
        }
    }
}

/// `POST /orgs/search`: the orgs matching `org_identifier` (an id as text, or a name, ignoring
/// case), or all of them; an unknown identifier gives `[]`. (ThoughtSpot asks for the "Can
/// administer Org" privilege; the mock answers any authenticated user.)
fn search_orgs(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let st = ctx.state();
    principal(ctx, &st)?;
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let f = Fields(body.as_ref());
    let wanted = f
        .non_empty("org_identifier")?
        .map(|ident| st.org_by_identifier(&ident));
    let orgs: Vec<Value> = st
        .orgs
        .iter()
        .filter(|(id, _)| wanted.is_none_or(|w| w == Some(**id)))
        .map(|(id, name)| {
            json!({
                "id": id,
                "name": name,
                "status": "ACTIVE",
                "description": null,
                "visibility": "SHOW",
            })
        })
        .collect();
    Ok(wire::json_response(StatusCode::OK, &Value::Array(orgs)))
}

/// The principal of an authenticated request, or 401.
fn principal(ctx: &Ctx<'_>, st: &State) -> Result<Principal, ApiError> {
    st.presented(ctx.headers)
        .principal()
        .cloned()
        .ok_or_else(ApiError::no_credential)
}

/// The `Token` body.
fn token_json(st: &State, token: &str, rec: &TokenRecord) -> Value {
    let guid = st
        .user(&rec.user)
        .map(|u| u.guid.clone())
        .unwrap_or_default();
    json!({
        "token": token,
        "creation_time_in_millis": rec.created_ms,
        "expiration_time_in_millis": rec.expires_ms,
        "scope": scope_json(rec),
        "valid_for_user_id": guid,
        "valid_for_username": rec.user,
    })
}

fn scope_json(rec: &TokenRecord) -> Value {
    json!({
        "access_type": rec.access.as_str(),
        "org_id": rec.org,
        "metadata_id": rec.metadata_id,
    })
}

/// The principal of an authenticated request, or 401 (for the ABAC routes).
pub(crate) fn principal_of(ctx: &Ctx<'_>, st: &State) -> Result<Principal, ApiError> {
    principal(ctx, st)
}

/// `POST /auth/token/full` and `/auth/token/object`.
fn mint(ctx: &Ctx<'_>, access: Access) -> Result<Response<RespBody>, ApiError> {
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let f = Fields(body.as_ref());
    let (username, secret) = token_asker(&f)?;
    let proof = secret.proof();
    let org_id = f.int("org_id")?;
    let validity = f.int("validity_time_in_sec")?;
    let auto_create = f.boolean("auto_create")?.unwrap_or(false);
    let display_name = f.non_empty("display_name")?;
    let object_id = match access {
        Access::Full => None,
        Access::ReportBookView => Some(
            f.non_empty("object_id")?
                .ok_or_else(|| ApiError::bad_request("object_id is required"))?,
        ),
    };

    let mut st = ctx.state();
    let validity = st.token_validity(validity)?;
    let create = auto_create.then_some(AutoCreate {
        org: org_id,
        display_name,
    });
    let key_org = st.authenticate(&username, proof, org_id, create)?;
    let org = st.resolve_org(&username, org_id.or(key_org))?;
    let (token, rec) = st.mint_token(ctx.ids(), &username, org, validity, access, object_id);
    Ok(wire::json_response(
        StatusCode::OK,
        &token_json(&st, &token, &rec),
    ))
}

/// `POST /auth/session/login`: password login, or a bearer token turned into a session.
fn session_login(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let f = Fields(body.as_ref());
    let username = f.non_empty("username")?;
    let password = f.string("password")?;
    let org_identifier = f.non_empty("org_identifier")?;
    f.boolean("remember_me")?;

    let mut st = ctx.state();
    if org_identifier.is_some() && st.config.refuse_org_identifier {
        return Err(ApiError::bad_request(
            "Unrecognized field \"org_identifier\"",
        ));
    }
    let requested_org = |st: &State| -> Result<Option<i64>, ApiError> {
        match &org_identifier {
            None => Ok(None),
            Some(ident) => st
                .org_by_identifier(ident)
                .map(Some)
                .ok_or_else(|| ApiError::forbidden(format!("Org {ident} does not exist"))),
        }
    };
    let (user, org) = match username {
        Some(username) => {
            let password = password.ok_or_else(|| ApiError::bad_request("password is required"))?;
            st.authenticate(&username, Proof::Password(&password), None, None)?;
            let org = st.resolve_org(&username, requested_org(&st)?)?;
            (username, org)
        }
        None => {
            let presented = st.presented(ctx.headers);
            if presented.bearer.is_none() {
                return Err(ApiError::bad_request(
                    "username is required (or an Authorization: Bearer token)",
                ));
            }
            let p = presented
                .bearer_principal
                .ok_or_else(ApiError::no_credential)?;
            let org = match requested_org(&st)? {
                Some(org) if st.is_member(&p.user, org) => org,
                Some(org) => {
                    return Err(ApiError::forbidden(format!(
                        "User {} is not a member of org {org}",
                        p.user
                    )));
                }
                None => p.org,
            };
            (p.user, org)
        }
    };
    let session = st.create_session(ctx.ids(), &user, org);
    Ok(wire::with_session_cookies(
        wire::no_content(),
        &session.session_id,
        &session.client_id,
    ))
}

/// `POST /auth/token/revoke`.
fn revoke(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let mut st = ctx.state();
    principal(ctx, &st)?;
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let f = Fields(body.as_ref());
    if let Some(token) = f.non_empty("token")? {
        st.revoke_token(&token);
    } else if let Some(ident) = f.non_empty("user_identifier")? {
        let user = st
            .user_by_identifier(&ident)
            .ok_or_else(|| ApiError::bad_request(format!("User {ident} not found")))?;
        st.revoke_where(|t| t.user == user);
    } else if let Some(token) = st.presented(ctx.headers).bearer {
        st.revoke_token(&token);
    }
    Ok(wire::no_content())
}

/// `POST /auth/token/validate`.
fn validate(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let st = ctx.state();
    principal(ctx, &st)?;
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let token = Fields(body.as_ref())
        .non_empty("token")?
        .ok_or_else(|| ApiError::bad_request("token is required"))?;
    let now = st.now_ms();
    let rec = st
        .tokens
        .get(&token)
        .filter(|rec| {
            !rec.revoked
                && now < rec.expires_ms
                && st.user(&rec.user).is_some_and(|u| !u.user.locked)
        })
        .ok_or_else(|| ApiError::bad_request("The token is expired, revoked or not valid"))?;
    let guid = st
        .user(&rec.user)
        .map(|u| u.guid.clone())
        .unwrap_or_default();
    Ok(wire::json_response(
        StatusCode::OK,
        &json!({
            "creation_time_in_millis": rec.created_ms,
            "expiration_time_in_millis": rec.expires_ms,
            "scope": scope_json(rec),
            "valid_for_user_id": guid,
            "token_type": "BEARER",
        }),
    ))
}

/// The `User` body of `GET /auth/session/user`.
fn user_json(st: &State, p: &Principal) -> Value {
    let Some(rec) = st.user(&p.user) else {
        return json!({ "name": p.user });
    };
    let orgs: Vec<Value> = rec
        .user
        .orgs
        .iter()
        .map(|id| json!({ "id": id, "name": st.org_name(*id) }))
        .collect();
    json!({
        "id": rec.guid,
        "name": rec.user.name,
        "display_name": rec.user.display_name,
        "visibility": "SHARABLE",
        "account_type": "LOCAL_USER",
        "account_status": "ACTIVE",
        "current_org": { "id": p.org, "name": st.org_name(p.org) },
        "orgs": orgs,
    })
}

/// What a token request proves itself with, as its body gives it.
pub(crate) enum TokenSecret {
    Password(String),
    SecretKey(String),
}

impl TokenSecret {
    pub(crate) fn proof(&self) -> Proof<'_> {
        match self {
            Self::Password(p) => Proof::Password(p),
            Self::SecretKey(k) => Proof::SecretKey(k),
        }
    }
}

/// A token request's `username` and its password or secret key (the password wins), as
/// `token/full`, `token/object` and `token/custom` read them.
pub(crate) fn token_asker(f: &Fields<'_>) -> Result<(String, TokenSecret), ApiError> {
    let username = f
        .non_empty("username")?
        .ok_or_else(|| ApiError::bad_request("username is required"))?;
    let secret = match (f.string("password")?, f.string("secret_key")?) {
        (Some(p), _) => TokenSecret::Password(p),
        (None, Some(k)) => TokenSecret::SecretKey(k),
        (None, None) => return Err(ApiError::bad_request("password or secret_key is required")),
    };
    Ok((username, secret))
}
