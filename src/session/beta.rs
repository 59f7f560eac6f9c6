//! The v2 beta API, `/tspublic/rest/v2/session/...` (the API of the generated SDKs): JSON in
//! camelCase, and every error an HTTP 500 with the real status nested in the body.

use http::Method;
use secrecy::ExposeSecret;

use super::models::{
    BETA_DEFAULT_LIFETIME, BetaLoginRequest, BetaSwitchOrgWire, BetaTokenRequest, SessionInfo,
    SessionLoginResponse, Unreadable,
};
use super::v2::cookie_login;
use super::{ApiVersion, Call, Error, Login, Session, lifetime_from_secs};
use crate::session::SessionCredential;
use crate::transport::Transport;

const SESSION: &str = "/tspublic/rest/v2/session";
const LOGIN: &str = "/tspublic/rest/v2/session/login";
const LOGOUT: &str = "/tspublic/rest/v2/session/logout";
const GET_TOKEN: &str = "/tspublic/rest/v2/session/gettoken";
const REVOKE_TOKEN: &str = "/tspublic/rest/v2/session/revoketoken";
const SWITCH_ORG: &str = "/tspublic/rest/v2/session/org";

/// The v2 beta session operations. Get one from [`Session::beta`].
#[derive(Debug)]
pub struct Beta<'a, T> {
    pub(super) session: &'a Session<T>,
}

impl<T: Transport> Beta<'_, T> {
    /// `GET session` (getSessionInfo): what the server knows of the session or token. An invalid
    /// credential answers 500 with upstream 401 ([`Error::Unauthorized`]).
    pub async fn session_info(&self, credential: &SessionCredential) -> Result<SessionInfo, Error> {
        let call = Call::new(ApiVersion::Beta, Method::GET, SESSION).auth(credential);
        let value = self.session.execute(call).await?.json(ApiVersion::Beta)?;
        Ok(SessionInfo::from_value(value))
    }

    /// `POST session/login` with body credentials: a cookie session. Its lifetime is
    /// `tokenExpiryDuration` when the server sends one.
    pub async fn login(&self, request: &BetaLoginRequest) -> Result<Login, Error> {
        let call = Call::new(ApiVersion::Beta, Method::POST, LOGIN)
            .json(&request.wire())
            .secrets(request.password.as_ref().map(|p| p.expose_secret()));
        self.cookie_session(call, request.user_name.clone()).await
    }

    /// `POST session/login` with no body credentials and `Authorization: Bearer <token from
    /// gettoken>`: turns a token into a cookie session.
    pub async fn login_with_token(&self, token: &SessionCredential) -> Result<Login, Error> {
        let call = Call::new(ApiVersion::Beta, Method::POST, LOGIN)
            .json(&serde_json::json!({}))
            .auth(token);
        self.cookie_session(call, None).await
    }

    async fn cookie_session(&self, call: Call<'_>, user: Option<String>) -> Result<Login, Error> {
        let answer = self.session.execute(call).await?;
        let status = answer.response.status();
        let body: SessionLoginResponse = answer.json(ApiVersion::Beta)?;
        let mut login = cookie_login(&answer, body.user_name.or(user), None)?;
        login.lifetime = body
            .token_expiry_duration
            .map(|secs| expiry_duration(status, secs))
            .transpose()?;
        Ok(login)
    }

    /// `POST session/logout`: ends the session.
    pub async fn logout(&self, credential: &SessionCredential) -> Result<(), Error> {
        let call = Call::new(ApiVersion::Beta, Method::POST, LOGOUT).auth(credential);
        self.session.execute(call).await.map(drop)
    }

    /// `POST session/gettoken`: a bearer token from a password or the trusted-authentication
    /// secret key. Lifetime: `tokenExpiryDuration`, or 300 s when the server does not say.
    pub async fn get_token(&self, request: &BetaTokenRequest) -> Result<Login, Error> {
        if request.user_name.is_empty() {
            return Err(Error::config("gettoken needs a user name"));
        }
        if request.password.is_none() && request.secret_key.is_none() {
            return Err(Error::config("gettoken needs a password or a secret key"));
        }
        let call = Call::new(ApiVersion::Beta, Method::POST, GET_TOKEN)
            .json(&request.wire())
            .secrets(request.secrets());
        let answer = self.session.execute(call).await?;
        let status = answer.response.status();
        let body: SessionLoginResponse = answer.json(ApiVersion::Beta)?;
        let token = body
            .token
            .ok_or_else(|| Error::malformed(status, "the gettoken answer carries no token"))?;
        let credential = SessionCredential::bearer(token.expose_secret())
            .map_err(|_| Error::malformed(status, "the token is not a valid header value"))?;
        let lifetime = match body.token_expiry_duration {
            Some(secs) => expiry_duration(status, secs)?,
            None => BETA_DEFAULT_LIFETIME,
        };
        Ok(Login {
            credential,
            lifetime: Some(lifetime),
            user: body.user_name.or_else(|| Some(request.user_name.clone())),
            org: request
                .org_id
                .as_deref()
                .and_then(|o| o.trim().parse().ok()),
            sent_at: answer.sent_at,
        })
    }

    /// `POST session/revoketoken`: revokes the token presented.
    pub async fn revoke_token(&self, token: &SessionCredential) -> Result<(), Error> {
        let call = Call::new(ApiVersion::Beta, Method::POST, REVOKE_TOKEN).auth(token);
        self.session.execute(call).await.map(drop)
    }

    /// `PUT session/org` with `{"id": "<org id>"}`: moves a cookie session to another org (the
    /// API does not switch tokens; mint a new one for the org instead).
    pub async fn switch_org(&self, session: &SessionCredential, org_id: i64) -> Result<(), Error> {
        let call = Call::new(ApiVersion::Beta, Method::PUT, SWITCH_ORG)
            .json(&BetaSwitchOrgWire {
                id: org_id.to_string(),
            })
            .auth(session);
        self.session.execute(call).await.map(drop)
    }
}

/// `tokenExpiryDuration` as a lifetime: a number of seconds (a string of one, as the spec types
/// it, or a number, fractions allowed), checked for sense; anything else is a
/// [`MalformedResponse`](crate::ErrorKind::MalformedResponse) that names the field.
pub(super) fn expiry_duration(
    status: http::StatusCode,
    secs: Result<f64, Unreadable>,
) -> Result<std::time::Duration, Error> {
    let secs = secs.map_err(|Unreadable| {
        Error::malformed(status, "`tokenExpiryDuration` is not a number of seconds")
    })?;
    lifetime_from_secs(status, secs).map_err(|_| {
        Error::malformed(
            status,
            "`tokenExpiryDuration` is not a usable lifetime (positive seconds, at most 366 days)",
        )
    })
}
