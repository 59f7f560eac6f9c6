//! One login attempt for one cache key, in whichever mode is configured: which session calls
//! make the credential.

use secrecy::ExposeSecret;

use super::credential::CacheKey;
use crate::api_version::ApiVersion;
use crate::config::{AuthConfig, CredentialKind, Secret, Source};
use crate::error::{Error, ErrorKind};
use crate::identity::{MintHistory, Provisioning};
use crate::secrets::{SourceError, TokenProvider};
use crate::session::{
    BetaLoginRequest, BetaTokenRequest, CustomTokenRequest, Login, PersistOption,
    SessionCredential, SessionLoginRequest, SharedSession, TokenRequest,
};

/// Makes a credential for `key` with `secret`, as read from the configured source:
///
/// | API | credential | calls |
/// |---|---|---|
/// | v2.0 | bearer | `token/full` with `org_id` |
/// | v2.0 | cookie, password | `session/login` with `org_identifier` (v1 `session/orgs` as fallback) |
/// | v2.0 | cookie, secret key | `token/full`, then `session/login` with the token |
/// | beta | bearer | `session/gettoken` with `orgId` |
/// | beta | cookie, password | `session/login`, then `PUT session/org` |
/// | beta | cookie, secret key | `session/gettoken`, then `session/login` with the token, then `PUT session/org` |
///
/// Every org gets a session of its own, so switching one never moves requests in flight. In
/// multi-user mode the user is the key's and the secret the trusted-authentication key, and a
/// user asked to be created just in time is minted with `auto_create` (v2.0 only: the beta API
/// has no such parameter). A key with access rules is minted with `token/custom` instead of
/// `token/full` (v2.0 only).
pub(crate) async fn login(
    session: &SharedSession,
    config: &AuthConfig,
    key: &CacheKey,
    secret: Option<&Secret>,
    provisioning: Option<&Provisioning>,
    history: &MintHistory,
) -> Result<Login, Error> {
    let user = match (&config.source, key.user.as_deref()) {
        (Source::Login { user, .. }, _) => user.as_str(),
        (Source::ActAs { .. }, Some(user)) => user,
        (Source::ActAs { .. }, None) => {
            return Err(Error::config(
                "multi-user trusted authentication needs a user to act as",
            ));
        }
        (Source::Static(credential), _) => {
            return Ok(Login {
                credential: credential.clone(),
                lifetime: None,
                user: None,
                org: key.org,
                sent_at: tokio::time::Instant::now(),
            });
        }
        (Source::Provider(provider), _) => return provided(&**provider, config, key).await,
    };
    let Some(secret) = secret else {
        return Err(Error::config("no secret was read for this login"));
    };
    let validity = config.timings.token_validity.map(|d| d.as_secs().max(1));
    match (config.api, config.kind) {
        (ApiVersion::Beta, _) if key.attributes.is_some() => Err(Error::config(
            "access rules (token/custom) need the v2.0 API; nothing was sent",
        )),
        (ApiVersion::Beta, kind) => {
            let token_request = || {
                let mut request = match secret {
                    Secret::Password(p) => BetaTokenRequest::password(user, p.expose_secret()),
                    Secret::SecretKey(k) => BetaTokenRequest::secret_key(user, k.expose_secret()),
                };
                request.token_expiry_duration = validity;
                request.org_id = key.org.map(|o| o.to_string());
                request
            };
            if kind == CredentialKind::BearerToken {
                return session.beta().get_token(&token_request()).await;
            }
            let mut login = match secret {
                Secret::Password(p) => {
                    session
                        .beta()
                        .login(&BetaLoginRequest::password(user, p.expose_secret()))
                        .await?
                }
                Secret::SecretKey(_) => {
                    let token = session.beta().get_token(&token_request()).await?;
                    let login = session.beta().login_with_token(&token.credential).await;
                    // The token was only the way in: nothing holds it any more.
                    retire(session.beta().revoke_token(&token.credential).await);
                    login?
                }
            };
            if let Some(org) = key.org {
                session.beta().switch_org(&login.credential, org).await?;
                login.org = Some(org);
            }
            Ok(login)
        }
        (_, CredentialKind::BearerToken) if key.attributes.is_some() => {
            custom(session, key, user, secret, validity, provisioning, history).await
        }
        (_, CredentialKind::BearerToken) => {
            let mut request = match secret {
                Secret::Password(p) => TokenRequest::password(user, p.expose_secret()),
                Secret::SecretKey(k) => TokenRequest::secret_key(user, k.expose_secret()),
            };
            request.validity_time_in_sec = validity;
            request.org_id = key.org;
            if let Some(p) = provisioning {
                p.apply_to_token(&mut request);
            }
            session.v2().token_full(&request).await
        }
        (_, CredentialKind::CookieSession) => match secret {
            Secret::SecretKey(k) => {
                let token = if key.attributes.is_some() {
                    custom(session, key, user, secret, None, provisioning, history).await?
                } else {
                    let mut request = TokenRequest::secret_key(user, k.expose_secret());
                    request.org_id = key.org;
                    if let Some(p) = provisioning {
                        p.apply_to_token(&mut request);
                    }
                    session.v2().token_full(&request).await?
                };
                let org = key.org.map(|o| o.to_string());
                let login = session
                    .v2()
                    .session_login_with_token(&token.credential, org.as_deref())
                    .await;
                // The token was only the way in: nothing holds it any more.
                retire(
                    session
                        .v2()
                        .token_revoke(&token.credential, &Default::default())
                        .await,
                );
                let mut login = login?;
                login.user = token.user;
                Ok(login)
            }
            Secret::Password(p) => {
                let mut request = SessionLoginRequest::password(user, p.expose_secret());
                request.org_identifier = key.org.map(|o| o.to_string());
                match session.v2().session_login(&request).await {
                    // Clusters whose v2.0 login predates `org_identifier` refuse it as a bad
                    // request: log in without it and move the session with the v1 call.
                    Err(e) if e.kind() == ErrorKind::BadRequest && key.org.is_some() => {
                        request.org_identifier = None;
                        let mut login = session.v2().session_login(&request).await?;
                        let org = key.org.unwrap_or_default();
                        session.v1().switch_org(&login.credential, org).await?;
                        login.org = Some(org);
                        Ok(login)
                    }
                    other => other,
                }
            }
        },
    }
}

/// `token/custom` for a key with access rules. A persisted set minted before is sent as
/// `REPLACE`, so that a refresh never appends the same rules to the user's record again.
async fn custom(
    session: &SharedSession,
    key: &CacheKey,
    user: &str,
    secret: &Secret,
    validity: Option<u64>,
    provisioning: Option<&Provisioning>,
    history: &MintHistory,
) -> Result<Login, Error> {
    let Some(attributes) = &key.attributes else {
        return Err(Error::config("no access rules to mint"));
    };
    let mut request = match secret {
        Secret::Password(p) => {
            CustomTokenRequest::password(user, p.expose_secret(), PersistOption::None)
        }
        Secret::SecretKey(k) => {
            CustomTokenRequest::secret_key(user, k.expose_secret(), PersistOption::None)
        }
    };
    attributes.set.apply(
        &mut request,
        history.minted_before(attributes, user, key.org),
    );
    request.validity_time_in_sec = validity;
    request.org_identifier = key.org.map(|o| o.to_string());
    if let Some(p) = provisioning {
        p.apply_to_custom(&mut request);
    }
    let login = session.v2().token_custom(&request).await?.login;
    history.record(attributes, user, key.org);
    Ok(login)
}

/// A token from the user's provider, living what the provider says or the configured default,
/// from the moment it was asked for.
async fn provided(
    provider: &dyn TokenProvider,
    config: &AuthConfig,
    key: &CacheKey,
) -> Result<Login, Error> {
    let sent_at = tokio::time::Instant::now();
    let provided = provider.token(key.org).await.map_err(Error::Source)?;
    let credential = SessionCredential::bearer(provided.token.expose_secret()).map_err(|_| {
        Error::Source(SourceError::transient(
            "the token provider gave an empty token, or one a header cannot carry",
        ))
    })?;
    Ok(Login {
        credential,
        lifetime: Some(
            provided
                .lifetime
                .unwrap_or(config.timings.provided_lifetime),
        ),
        user: None,
        org: key.org,
        sent_at,
    })
}

/// A failure to revoke an intermediate token is logged, not fatal: the session is what counts,
/// and the token expires by itself.
fn retire(revoked: Result<(), Error>) {
    if let Err(error) = revoked {
        tracing::debug!(%error, "could not revoke the token a cookie session was made from");
    }
}
