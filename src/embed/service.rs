//! The endpoint itself: one call, from the request's parts to the answer.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use secrecy::ExposeSecret;

use super::mint::{Minter, Refusal};
use super::origin::AllowedOrigins;
use super::refusals::{Class, RefusalLog};
use super::{EmbedIdentity, EmbedStats};
use crate::error::Error;
use crate::telemetry;

pub(super) type Identify = dyn Fn(&http::request::Parts) -> EmbedIdentity + Send + Sync;

/// The token endpoint for ThoughtSpot's Visual Embed SDK: a tower
/// `Service<http::Request<B>>` for any body (the body is never read). See the
/// [module docs](super).
#[derive(Clone)]
pub struct EmbedTokenService {
    pub(super) minter: Arc<Minter>,
    pub(super) identify: Arc<Identify>,
    pub(super) default_validity: Option<Duration>,
    pub(super) origins: Arc<AllowedOrigins>,
    pub(super) refusals: Arc<RefusalLog>,
}

impl fmt::Debug for EmbedTokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbedTokenService")
            .field("base", self.minter.session.base_url())
            .field("per_user", &self.minter.per_user)
            .field("global", &self.minter.global)
            .finish_non_exhaustive()
    }
}

impl EmbedTokenService {
    /// Revokes every token of `user` in ThoughtSpot (for the app's logout) and forgets the
    /// user's backoff. Tokens of the user that had already ended (expired, revoked elsewhere)
    /// are no error; a failed mint of the token the revocation needs (bad key, locked user),
    /// a refused revocation, 5xx and network failures are.
    pub async fn revoke_user(&self, user: &str) -> Result<(), Error> {
        self.minter.revoke_user(user).await
    }

    /// What the endpoint did so far.
    pub fn stats(&self) -> EmbedStats {
        self.minter.stats()
    }

    async fn answer(self, parts: http::request::Parts) -> Response<Full<Bytes>> {
        let counters = &self.minter.counters;
        if parts.method != Method::GET && parts.method != Method::POST {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST");
            response
                .headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("GET, POST"));
            return response;
        }
        if let Some(reason) = self.origins.refusal(&parts) {
            counters.foreign_origin.bump();
            telemetry::count(
                telemetry::names::EMBED_REFUSALS,
                Some(("class", "foreign_origin")),
            );
            self.refusals.note(Class::ForeignOrigin, None, reason);
            return plain(StatusCode::FORBIDDEN, reason);
        }
        let mut who = match (self.identify)(&parts) {
            EmbedIdentity::Anonymous => {
                counters.unauthenticated.bump();
                telemetry::count(
                    telemetry::names::EMBED_REFUSALS,
                    Some(("class", "no_session")),
                );
                self.refusals
                    .note(Class::NoSession, None, "no session of the app");
                return plain(StatusCode::UNAUTHORIZED, "not logged in");
            }
            EmbedIdentity::Refused => {
                counters.refused.bump();
                telemetry::count(
                    telemetry::names::EMBED_REFUSALS,
                    Some(("class", "refused_by_app")),
                );
                self.refusals
                    .note(Class::RefusedByApp, None, "the app refused the identity");
                return plain(StatusCode::FORBIDDEN, "not allowed to embed ThoughtSpot");
            }
            EmbedIdentity::User(who) => who,
        };
        if who.validity.is_none() {
            who.validity = self.default_validity;
        }
        if let Some(Err(error)) = who.act_as.attributes.as_ref().map(|a| a.set.check()) {
            // The app's own mistake, not the user's: say so in the log, not to the page.
            counters.misconfigured.bump();
            telemetry::count(
                telemetry::names::EMBED_REFUSALS,
                Some(("class", "misconfigured")),
            );
            tracing::warn!(%error, "the token endpoint was given access rules ThoughtSpot refuses");
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the app's access rules are invalid",
            );
        }
        let user = who.act_as.user.clone();
        let asked = tokio::time::Instant::now();
        match self.minter.token_for(who).await {
            Ok(minted) => {
                counters.tokens.bump();
                telemetry::count(telemetry::names::EMBED_TOKENS, None);
                telemetry::seconds(telemetry::names::EMBED_TIME_TO_TOKEN, asked.elapsed());
                let json = wants_json(&parts.headers);
                let token = minted.token.expose_secret();
                let (content_type, body) = if json {
                    let body = serde_json::json!({
                        "token": token,
                        "expiration_time_in_millis": minted.expiration_time_in_millis,
                    });
                    ("application/json", body.to_string())
                } else {
                    ("text/plain; charset=utf-8", token.to_owned())
                };
                let mut response = plain(StatusCode::OK, "");
                *response.body_mut() = Full::new(Bytes::from(body));
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                response
            }
            Err(Refusal::ThoughtSpot(reason)) => {
                counters.thoughtspot_refused.bump();
                telemetry::count(
                    telemetry::names::EMBED_REFUSALS,
                    Some(("class", "thoughtspot")),
                );
                self.refusals
                    .note(Class::ThoughtSpotRefused, Some(&user), reason);
                plain(StatusCode::FORBIDDEN, reason)
            }
            Err(Refusal::Unavailable(retry)) => {
                counters.unavailable.bump();
                telemetry::count(
                    telemetry::names::EMBED_REFUSALS,
                    Some(("class", "unavailable")),
                );
                self.refusals.note(
                    Class::Unavailable,
                    Some(&user),
                    "ThoughtSpot is unavailable",
                );
                retry_after(
                    plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ThoughtSpot is unavailable",
                    ),
                    retry,
                )
            }
            Err(Refusal::TooMany(retry)) => {
                counters.rate_limited.bump();
                telemetry::count(telemetry::names::EMBED_RATE_LIMITED, None);
                self.refusals
                    .note(Class::RateLimited, Some(&user), "over the per-user rate");
                retry_after(
                    plain(StatusCode::TOO_MANY_REQUESTS, "too many token requests"),
                    retry,
                )
            }
        }
    }
}

impl<B> tower::Service<Request<B>> for EmbedTokenService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The body is never read: the identity comes from the app's session alone.
        let (parts, _body) = request.into_parts();
        let this = self.clone();
        Box::pin(async move { Ok(this.answer(parts).await) })
    }
}

/// Whether the caller asked for JSON.
fn wants_json(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            let media = media.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json")
        })
}

/// A plain-text answer that no cache keeps.
fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn retry_after(mut response: Response<Full<Bytes>>, wait: Duration) -> Response<Full<Bytes>> {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}
