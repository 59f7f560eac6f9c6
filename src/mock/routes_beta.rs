//! REST API v2 beta (`/tspublic/rest/v2/...`): JSON in camelCase; every error is an HTTP 500
//! with the real status nested as the upstream response.

use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::context::Ctx;
use super::state::{Access, Principal, Proof, State};
use super::wire::{self, ApiError, Fields, RespBody};

pub(crate) fn handle(ctx: &Ctx<'_>) -> Response<RespBody> {
    route(ctx).unwrap_or_else(|err| ctx.renderer().beta_error(&err))
}

fn route(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    // The SDKs disagree on case (`gettoken` vs `getToken`): match leniently.
    let path = ctx.path.trim_end_matches('/').to_ascii_lowercase();
    match path.as_str() {
        "/tspublic/rest/v2/session" => {
            ctx.expect(Method::GET)?;
            let st = ctx.state();
            let p = principal(ctx, &st)?;
            let body = session_json(&st, &p);
            Ok(wire::with_identity(
                wire::json_response(StatusCode::OK, &body),
                &p.user,
                p.org,
            ))
        }
        "/tspublic/rest/v2/session/gettoken" => {
            ctx.expect(Method::POST)?;
            get_token(ctx)
        }
        "/tspublic/rest/v2/session/login" => {
            ctx.expect(Method::POST)?;
            login(ctx)
        }
        "/tspublic/rest/v2/session/logout" => {
            ctx.expect(Method::POST)?;
            let mut st = ctx.state();
            if let Some(id) = st.presented(ctx.headers).session_id {
                st.end_session(&id);
            }
            Ok(json_true())
        }
        "/tspublic/rest/v2/session/revoketoken" => {
            ctx.expect(Method::POST)?;
            let mut st = ctx.state();
            let presented = st.presented(ctx.headers);
            match (presented.bearer, presented.bearer_principal) {
                (Some(token), Some(_)) => {
                    st.revoke_token(&token);
                    Ok(json_true())
                }
                _ => Err(ApiError::no_credential()),
            }
        }
        "/tspublic/rest/v2/session/org" => {
            ctx.expect(Method::PUT)?;
            switch_org(ctx)
        }
        _ => {
            let st = ctx.state();
            let p = principal(ctx, &st).map_err(|err| {
                if st.config.bare_beta_rejections {
                    ApiError::new(500, "Operation failed or unauthorized request")
                } else {
                    err
                }
            })?;
            drop(st);
            Ok(wire::with_identity(
                wire::json_response(StatusCode::OK, &json!({})),
                &p.user,
                p.org,
            ))
        }
    }
}

fn json_true() -> Response<RespBody> {
    wire::json_response(StatusCode::OK, &Value::Bool(true))
}

/// The principal of an authenticated request, or (upstream) 401.
fn principal(ctx: &Ctx<'_>, st: &State) -> Result<Principal, ApiError> {
    st.presented(ctx.headers)
        .principal()
        .cloned()
        .ok_or_else(ApiError::no_credential)
}

fn session_json(st: &State, p: &Principal) -> Value {
    let (guid, display_name, orgs) = match st.user(&p.user) {
        Some(rec) => (
            rec.guid.clone(),
            rec.user.display_name.clone(),
            rec.user
                .orgs
                .iter()
                .map(|id| json!({ "orgId": id, "orgName": st.org_name(*id) }))
                .collect::<Vec<_>>(),
        ),
        None => (String::new(), p.user.clone(), Vec::new()),
    };
    json!({
        "userName": p.user,
        "userGUID": guid,
        "userDisplayName": display_name,
        "orgId": p.org,
        "orgName": st.org_name(p.org),
        "orgs": orgs,
    })
}

/// `POST /session/gettoken`.
fn get_token(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let f = Fields(body.as_ref());
    let username = f
        .non_empty("userName")?
        .ok_or_else(|| ApiError::bad_request("userName is required"))?;
    let password = f.string("password")?;
    let secret_key = f.string("secretKey")?;
    let proof = match (&password, &secret_key) {
        (Some(p), _) => Proof::Password(p),
        (None, Some(k)) => Proof::SecretKey(k),
        (None, None) => return Err(ApiError::bad_request("password or secretKey is required")),
    };
    let access = match f.non_empty("accessLevel")?.as_deref() {
        None => Access::Full,
        Some(level) if level.eq_ignore_ascii_case("FULL") => Access::Full,
        Some(level) if level.eq_ignore_ascii_case("REPORT_BOOK_VIEW") => Access::ReportBookView,
        Some(level) => {
            return Err(ApiError::bad_request(format!(
                "Unknown accessLevel {level}"
            )));
        }
    };
    let object_id = f.non_empty("tsObjectId")?;
    if access == Access::ReportBookView && object_id.is_none() {
        return Err(ApiError::bad_request(
            "tsObjectId is required with accessLevel REPORT_BOOK_VIEW",
        ));
    }
    let validity = f.int("tokenExpiryDuration")?;
    let org_id = f.int("orgId")?;

    let mut st = ctx.state();
    let validity = st.token_validity(validity)?;
    let key_org = st.authenticate(&username, proof, org_id, None)?;
    let org = st.resolve_org(&username, org_id.or(key_org))?;
    let metadata = (access == Access::ReportBookView)
        .then_some(object_id)
        .flatten();
    let (token, rec) = st.mint_token(ctx.ids(), &username, org, validity, access, metadata);
    Ok(wire::json_response(
        StatusCode::OK,
        &json!({
            "userName": rec.user,
            "token": token,
            "tokenCreatedTime": rec.created_ms.to_string(),
            "tokenExpiryDuration": validity.to_string(),
            "tokenType": "Bearer",
        }),
    ))
}

/// `POST /session/login`: body credentials, else the bearer token.
fn login(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let f = Fields(body.as_ref());
    let username = f.non_empty("userName")?;
    let password = f.string("password")?;
    f.boolean("rememberMe")?;

    let mut st = ctx.state();
    let (user, org) = match (username, password) {
        (Some(username), Some(password)) => {
            st.authenticate(&username, Proof::Password(&password), None, None)?;
            let org = st.resolve_org(&username, None)?;
            (username, org)
        }
        (Some(_), None) => return Err(ApiError::bad_request("password is required")),
        (None, Some(_)) => return Err(ApiError::bad_request("userName is required")),
        (None, None) => {
            let p = st
                .presented(ctx.headers)
                .bearer_principal
                .ok_or_else(ApiError::no_credential)?;
            (p.user, p.org)
        }
    };
    let session = st.create_session(ctx.ids(), &user, org);
    let resp = wire::json_response(
        StatusCode::OK,
        &json!({
            "userName": user,
            "token": "",
            "tokenCreatedTime": session.created_ms.to_string(),
            "tokenExpiryDuration": st.config.session_validity.as_secs().to_string(),
            "tokenType": "",
        }),
    );
    Ok(wire::with_session_cookies(
        resp,
        &session.session_id,
        &session.client_id,
    ))
}

/// `PUT /session/org`: cookie sessions only.
fn switch_org(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let mut st = ctx.state();
    let presented = st.presented(ctx.headers);
    let (session_id, p) = presented.cookie_session(
        "Switching orgs works only for cookie sessions; mint a token for the other org",
    )?;
    let body = wire::json_body(ctx.headers, ctx.body)?;
    let org = Fields(body.as_ref())
        .int("id")?
        .ok_or_else(|| ApiError::bad_request("id is required"))?;
    if !st.is_member(&p.user, org) {
        return Err(ApiError::forbidden(format!(
            "User {} is not a member of org {org}",
            p.user
        )));
    }
    st.switch_session_org(&session_id, org);
    Ok(json_true())
}
