//! REST API v1 (`/callosum/v1/...`): form-encoded bodies, `X-Requested-By` required.

use http::{Method, Response, StatusCode};

use super::context::Ctx;
use super::routes_abac;
use super::state::Proof;
use super::wire::{self, ApiError, RespBody};

pub(crate) fn handle(ctx: &Ctx<'_>) -> Response<RespBody> {
    if ctx.path == IS_ACTIVE {
        // The Visual Embed SDK checks a token from the embedding page's origin.
        let resp = if *ctx.method == Method::OPTIONS {
            wire::no_content()
        } else {
            route(ctx).unwrap_or_else(|err| ctx.renderer().v1_error(&err))
        };
        return routes_abac::with_cors(resp, ctx.headers);
    }
    route(ctx).unwrap_or_else(|err| ctx.renderer().v1_error(&err))
}

const IS_ACTIVE: &str = "/callosum/v1/session/isactive";

fn requested_by(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    if ctx.has_header("x-requested-by") {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "The X-Requested-By header is required",
        ))
    }
}

/// The form fields of the body; a non-empty body of another content type is a 415.
fn form(ctx: &Ctx<'_>) -> Result<Vec<(String, String)>, ApiError> {
    if ctx.body.is_empty() {
        return Ok(Vec::new());
    }
    if wire::media_type(ctx.headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(ApiError::new(
            415,
            "Unsupported Content-Type: expected application/x-www-form-urlencoded",
        ));
    }
    Ok(wire::form(ctx.body))
}

fn route(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    match ctx.path {
        "/callosum/v1/tspublic/v1/session/login" => {
            ctx.expect(Method::POST)?;
            requested_by(ctx)?;
            let fields = form(ctx)?;
            let username = wire::form_field(&fields, "username")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::bad_request("username is required"))?;
            let password = wire::form_field(&fields, "password")
                .ok_or_else(|| ApiError::bad_request("password is required"))?;
            let mut st = ctx.state();
            st.authenticate(&username, Proof::Password(&password), None, None)?;
            let org = st.resolve_org(&username, None)?;
            let session = st.create_session(ctx.ids(), &username, org);
            Ok(wire::with_session_cookies(
                wire::no_content(),
                &session.session_id,
                &session.client_id,
            ))
        }
        "/callosum/v1/tspublic/v1/session/orgs" => {
            ctx.expect(Method::PUT)?;
            requested_by(ctx)?;
            let mut st = ctx.state();
            let presented = st.presented(ctx.headers);
            let (session_id, p) =
                presented.cookie_session("Switching orgs works only for cookie sessions")?;
            let fields = form(ctx)?;
            let org = wire::form_field(&fields, "orgid")
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("orgid must be an integer"))?;
            if !st.is_member(&p.user, org) {
                return Err(ApiError::forbidden(format!(
                    "User {} is not a member of org {org}",
                    p.user
                )));
            }
            st.switch_session_org(&session_id, org);
            Ok(wire::no_content())
        }
        "/callosum/v1/session/isactive" => {
            ctx.expect(Method::GET)?;
            let st = ctx.state();
            match st.presented(ctx.headers).principal() {
                Some(_) => {
                    let mut resp = wire::no_content();
                    *resp.status_mut() = StatusCode::OK;
                    Ok(resp)
                }
                None => Err(ApiError::no_credential()),
            }
        }
        _ => Err(ApiError::not_found()),
    }
}
