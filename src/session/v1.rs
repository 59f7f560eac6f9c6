//! The few v1 calls that help: the cookie-session org switch (the fallback on clusters whose
//! v2.0 has none), a form login, and a cheap liveness probe.

use http::Method;
use secrecy::{ExposeSecret, SecretString};

use super::v2::cookie_login;
use super::{ApiVersion, Call, Error, ErrorKind, Login, Session, form_encode};
use crate::session::SessionCredential;
use crate::transport::Transport;

const LOGIN: &str = "/callosum/v1/tspublic/v1/session/login";
const SWITCH_ORG: &str = "/callosum/v1/tspublic/v1/session/orgs";
const IS_ACTIVE: &str = "/callosum/v1/session/isactive";

/// The v1 operations. Get one from [`Session::v1`].
#[derive(Debug)]
pub struct V1<'a, T> {
    pub(super) session: &'a Session<T>,
}

impl<T: Transport> V1<'_, T> {
    /// `PUT session/orgs` with the form `orgid=<id>`: moves a cookie session to another org.
    pub async fn switch_org(&self, session: &SessionCredential, org_id: i64) -> Result<(), Error> {
        let call = Call::new(ApiVersion::V1, Method::PUT, SWITCH_ORG)
            .form(form_encode(&[("orgid", &org_id.to_string())]))
            .auth(session);
        self.session.execute(call).await.map(drop)
    }

    /// `POST session/login` with the form `username, password, rememberme`: a cookie session.
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
        remember_me: bool,
    ) -> Result<Login, Error> {
        let form = form_encode(&[
            ("username", username),
            ("password", password.expose_secret()),
            ("rememberme", if remember_me { "true" } else { "false" }),
        ]);
        let call = Call::new(ApiVersion::V1, Method::POST, LOGIN)
            .form(form)
            .secrets([password.expose_secret()]);
        let answer = self.session.execute(call).await?;
        cookie_login(&answer, Some(username.to_owned()), None)
    }

    /// `GET session/isactive`: whether the credential is alive. `Ok(false)` when ThoughtSpot
    /// rejects it; other failures are errors.
    pub async fn is_active(&self, credential: &SessionCredential) -> Result<bool, Error> {
        let call = Call::new(ApiVersion::V1, Method::GET, IS_ACTIVE).auth(credential);
        match self.session.execute(call).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::Unauthorized => Ok(false),
            Err(e) => Err(e),
        }
    }
}
