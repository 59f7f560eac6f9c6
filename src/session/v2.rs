//! The current API, `/api/rest/2.0/auth/...`: JSON in snake_case, real status codes.

use http::Method;
use secrecy::{ExposeSecret, SecretString};

use super::access_token::{AccessToken, CustomLogin};
use super::custom_token::CustomTokenRequest;
use super::models::{
    RevokeTokenRequest, RevokeTokenWire, SessionLoginRequest, SessionUser, Token, TokenRequest,
    TokenValidation, ValidateTokenWire,
};
use super::{
    Answer, ApiVersion, Call, Error, Login, Session, lifetime_from_millis, lifetime_from_secs,
    server_millis,
};
use crate::session::{SessionCookies, SessionCredential};
use crate::transport::Transport;

const TOKEN_FULL: &str = "/api/rest/2.0/auth/token/full";
const TOKEN_CUSTOM: &str = "/api/rest/2.0/auth/token/custom";
const TOKEN_OBJECT: &str = "/api/rest/2.0/auth/token/object";
const TOKEN_REVOKE: &str = "/api/rest/2.0/auth/token/revoke";
const TOKEN_VALIDATE: &str = "/api/rest/2.0/auth/token/validate";
const SESSION_LOGIN: &str = "/api/rest/2.0/auth/session/login";
const SESSION_LOGOUT: &str = "/api/rest/2.0/auth/session/logout";
const SESSION_USER: &str = "/api/rest/2.0/auth/session/user";
const SESSION_TOKEN: &str = "/api/rest/2.0/auth/session/token";

/// The v2.0 session and token operations. Get one from [`Session::v2`].
#[derive(Debug)]
pub struct V2<'a, T> {
    pub(super) session: &'a Session<T>,
}

impl<T: Transport> V2<'_, T> {
    /// `POST auth/token/full`: a bearer token with full access, from a password or the
    /// trusted-authentication secret key.
    pub async fn token_full(&self, request: &TokenRequest) -> Result<Login, Error> {
        if request.object_id.is_some() {
            return Err(Error::config(
                "`object_id` belongs to token/object; use `token_object`",
            ));
        }
        self.mint(TOKEN_FULL, request).await
    }

    /// `POST auth/token/object`: a bearer token with view access to one object
    /// (`request.object_id`, required).
    pub async fn token_object(&self, request: &TokenRequest) -> Result<Login, Error> {
        if request.object_id.is_none() {
            return Err(Error::config("token/object needs an `object_id`"));
        }
        self.mint(TOKEN_OBJECT, request).await
    }

    /// `POST auth/token/custom`: a token carrying attribute-based access rules for one user
    /// (row-level security). `auto_create` is always sent (it defaults to true on this endpoint).
    ///
    /// With [`PersistOption::None`](super::PersistOption::None) the rules live in the token only;
    /// `APPEND`, `REPLACE` and `RESET` write to the user's record in ThoughtSpot **when the token
    /// is minted**, not when it is used.
    pub async fn token_custom(&self, request: &CustomTokenRequest) -> Result<CustomLogin, Error> {
        if request.username.is_empty() {
            return Err(Error::config("a token request needs a user name"));
        }
        if request.password.is_none() && request.secret_key.is_none() {
            return Err(Error::config(
                "a token request needs a password or a secret key",
            ));
        }
        let call = Call::new(ApiVersion::V2, Method::POST, TOKEN_CUSTOM)
            .json(&request.wire())
            .secrets(request.secrets());
        let answer = self.session.execute(call).await?;
        custom_login(&answer, request.validity_time_in_sec)
    }

    async fn mint(&self, path: &'static str, request: &TokenRequest) -> Result<Login, Error> {
        if request.username.is_empty() {
            return Err(Error::config("a token request needs a user name"));
        }
        if request.password.is_none() && request.secret_key.is_none() {
            return Err(Error::config(
                "a token request needs a password or a secret key",
            ));
        }
        let call = Call::new(ApiVersion::V2, Method::POST, path)
            .json(&request.wire())
            .secrets(request.secrets());
        let answer = self.session.execute(call).await?;
        token_login(&answer, request.validity_time_in_sec, request.org_id)
    }

    /// `POST auth/session/login` with user name and password: a cookie session (`JSESSIONID` and
    /// `clientId`) bound to `org_identifier`. The API gives no lifetime for it.
    pub async fn session_login(&self, request: &SessionLoginRequest) -> Result<Login, Error> {
        let call = Call::new(ApiVersion::V2, Method::POST, SESSION_LOGIN)
            .json(&request.wire())
            .secrets(request.password.as_ref().map(|p| p.expose_secret()));
        let answer = self.session.execute(call).await?;
        cookie_login(
            &answer,
            request.username.clone(),
            request.org_identifier.as_deref(),
        )
    }

    /// `POST auth/session/login` with `Authorization: Bearer`: turns a token into a cookie
    /// session, optionally in another org.
    pub async fn session_login_with_token(
        &self,
        token: &SessionCredential,
        org_identifier: Option<&str>,
    ) -> Result<Login, Error> {
        let request = SessionLoginRequest {
            org_identifier: org_identifier.map(str::to_owned),
            ..SessionLoginRequest::default()
        };
        let call = Call::new(ApiVersion::V2, Method::POST, SESSION_LOGIN)
            .json(&request.wire())
            .auth(token);
        let answer = self.session.execute(call).await?;
        cookie_login(&answer, None, org_identifier)
    }

    /// `POST auth/session/logout`: ends the session the credential presents.
    pub async fn session_logout(&self, credential: &SessionCredential) -> Result<(), Error> {
        let call = Call::new(ApiVersion::V2, Method::POST, SESSION_LOGOUT).auth(credential);
        self.session.execute(call).await.map(drop)
    }

    /// `POST auth/token/revoke`, authenticated by `credential`. With an empty request the
    /// presented token itself is revoked.
    pub async fn token_revoke(
        &self,
        credential: &SessionCredential,
        request: &RevokeTokenRequest,
    ) -> Result<(), Error> {
        let wire = RevokeTokenWire {
            user_identifier: request.user_identifier.as_deref(),
            token: request.token.as_ref().map(|t| t.expose_secret()),
        };
        let call = Call::new(ApiVersion::V2, Method::POST, TOKEN_REVOKE)
            .json(&wire)
            .auth(credential)
            .secrets(request.token.as_ref().map(|t| t.expose_secret()));
        self.session.execute(call).await.map(drop)
    }

    /// `POST auth/token/validate`: what the server knows of `token`. An expired or unknown token
    /// answers 400 ([`Error::BadRequest`], code 10002).
    pub async fn token_validate(
        &self,
        credential: &SessionCredential,
        token: &SecretString,
    ) -> Result<TokenValidation, Error> {
        let wire = ValidateTokenWire {
            token: token.expose_secret(),
        };
        let call = Call::new(ApiVersion::V2, Method::POST, TOKEN_VALIDATE)
            .json(&wire)
            .auth(credential)
            .secrets([token.expose_secret()]);
        self.session.execute(call).await?.json(ApiVersion::V2)
    }

    /// `GET auth/session/user`: who the credential belongs to, its current org and the user's
    /// orgs.
    pub async fn session_user(&self, credential: &SessionCredential) -> Result<SessionUser, Error> {
        let call = Call::new(ApiVersion::V2, Method::GET, SESSION_USER).auth(credential);
        self.session.execute(call).await?.json(ApiVersion::V2)
    }

    /// `GET auth/session/token`: a new token for the current session (valid 24 h).
    pub async fn session_token(&self, credential: &SessionCredential) -> Result<Login, Error> {
        let call = Call::new(ApiVersion::V2, Method::GET, SESSION_TOKEN).auth(credential);
        let answer = self.session.execute(call).await?;
        token_login(&answer, None, None)
    }
}

/// A `Token` answer as a [`Login`]. Lifetime: `expiration - creation` on the server's clock; if
/// the server left the times out, the validity asked for (or the API's default of 300 s).
pub(super) fn token_login(
    answer: &Answer,
    requested_validity: Option<u64>,
    requested_org: Option<i64>,
) -> Result<Login, Error> {
    let status = answer.response.status();
    let token: Token = answer.json(ApiVersion::V2)?;
    let lifetime = match (
        token.creation_time_in_millis,
        token.expiration_time_in_millis,
    ) {
        (Some(created), Some(expires)) => {
            let created = server_millis(status, "creation_time_in_millis", created)?;
            let expires = server_millis(status, "expiration_time_in_millis", expires)?;
            lifetime_from_millis(status, expires - created)?
        }
        _ => lifetime_from_secs(status, requested_validity.unwrap_or(300) as f64)?,
    };
    let credential = SessionCredential::bearer(token.token.expose_secret())
        .map_err(|_| Error::malformed(status, "the token is empty or not a valid header value"))?;
    Ok(Login {
        credential,
        lifetime: Some(lifetime),
        user: token.valid_for_username,
        org: token.scope.and_then(|s| s.org_id).or(requested_org),
        sent_at: answer.sent_at,
    })
}

/// An `AccessToken` answer as a [`CustomLogin`]: the same lifetime rules as [`token_login`].
pub(super) fn custom_login(
    answer: &Answer,
    requested_validity: Option<u64>,
) -> Result<CustomLogin, Error> {
    let status = answer.response.status();
    let access_token: AccessToken = answer.json(ApiVersion::V2)?;
    let lifetime = match (
        access_token.creation_time_in_millis,
        access_token.expiration_time_in_millis,
    ) {
        (Some(created), Some(expires)) => {
            let created = server_millis(status, "creation_time_in_millis", created as f64)?;
            let expires = server_millis(status, "expiration_time_in_millis", expires as f64)?;
            lifetime_from_millis(status, expires - created)?
        }
        _ => lifetime_from_secs(status, requested_validity.unwrap_or(300) as f64)?,
    };
    let credential = SessionCredential::bearer(access_token.token.expose_secret())
        .map_err(|_| Error::malformed(status, "the token is empty or not a valid header value"))?;
    let login = Login {
        credential,
        lifetime: Some(lifetime),
        user: access_token.user.as_ref().and_then(|u| u.name.clone()),
        org: access_token.org.as_ref().and_then(|o| o.id),
        sent_at: answer.sent_at,
    };
    Ok(CustomLogin {
        access_token,
        login,
    })
}

/// A session-login answer (cookies in `Set-Cookie`) as a [`Login`].
pub(super) fn cookie_login(
    answer: &Answer,
    user: Option<String>,
    org_identifier: Option<&str>,
) -> Result<Login, Error> {
    let status = answer.response.status();
    let cookies = SessionCookies::from_set_cookie(answer.response.headers()).ok_or_else(|| {
        Error::malformed(status, "the login succeeded but set no JSESSIONID cookie")
    })?;
    let credential = SessionCredential::cookies(cookies)
        .map_err(|_| Error::malformed(status, "a session cookie is not a valid header value"))?;
    Ok(Login {
        credential,
        lifetime: None,
        user,
        org: org_identifier.and_then(|o| o.trim().parse().ok()),
        sent_at: answer.sent_at,
    })
}
