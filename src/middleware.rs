//! The reqwest-middleware front door (feature `reqwest`): [`ThoughtSpotAuthMiddleware`].
//!
//! The same core as the tower layer — one credential cache, single-flight logins, soft and hard
//! expiry, generation-guarded invalidation, replay — behind `reqwest_middleware::Middleware`.
//!
//! ```
//! use thoughtspot_auth::mock::{self, MockThoughtSpot};
//! use thoughtspot_auth::ThoughtSpotAuthMiddleware;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let thoughtspot = MockThoughtSpot::start().await?;
//! let client = reqwest::Client::new();
//! let auth = ThoughtSpotAuthMiddleware::builder(thoughtspot.base_url())
//!     .password(mock::DEFAULT_USER, mock::DEFAULT_PASSWORD)
//!     .build_middleware(client.clone())?; // logins go over this plain client
//! let handle = auth.handle();
//! let client = reqwest_middleware::ClientBuilder::new(client).with(auth).build();
//!
//! let url = format!("{}/api/rest/2.0/metadata/search", thoughtspot.base_url());
//! let response = client
//!     .post(&url)
//!     .header("content-type", "application/json")
//!     .body("{}")
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(handle.stats().logins, 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use ::reqwest::{Request, Response, ResponseBuilderExt};
use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::authenticator::{Door, Outgoing, Owner, Verdict};
use crate::base_url::BaseUrl;
use crate::config::AuthBuilder;
use crate::error::Error;
use crate::handle::AuthHandle;
use crate::read_ahead::ResponseBody;
use crate::session::SessionCredential;

/// Authenticates every request of a `reqwest_middleware::ClientWithMiddleware` to one
/// ThoughtSpot cluster. Build it with [`AuthBuilder::build_middleware`].
///
/// Requests to other origins pass through untouched. A rejected credential is replaced and the
/// request replayed once if [`Request::try_clone`] can copy it; a streaming body that cannot be
/// cloned is sent once, and its rejection returned. An org for one request:
/// `client.get(url).with_extension(OrgOverride::new(2))` (see [`OrgOverride`](crate::OrgOverride)).
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
#[derive(Clone)]
pub struct ThoughtSpotAuthMiddleware {
    owner: Arc<Owner>,
}

impl fmt::Debug for ThoughtSpotAuthMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThoughtSpotAuthMiddleware")
            .field("base", &self.owner.core().config.base)
            .finish_non_exhaustive()
    }
}

impl ThoughtSpotAuthMiddleware {
    /// A builder for the cluster at `base_url`; finish with [`AuthBuilder::build_middleware`].
    pub fn builder(base_url: impl Into<String>) -> AuthBuilder {
        AuthBuilder::new(base_url)
    }

    /// A middleware configured from the environment (see [`AuthBuilder::from_env`]), logging in
    /// over `client`.
    pub fn from_env(client: ::reqwest::Client) -> Result<Self, Error> {
        AuthBuilder::from_env()?.build_middleware(client)
    }

    /// A handle on the credentials: switch org, refresh, log out, revoke, stats.
    pub fn handle(&self) -> AuthHandle {
        AuthHandle::new(self.owner.clone())
    }
}

impl AuthBuilder {
    /// Builds the reqwest-middleware adapter. Logins and other session calls go over `client`, a
    /// plain `reqwest::Client` (never back through the middleware chain), unless
    /// [`transport`](AuthBuilder::transport) set another.
    pub fn build_middleware(
        self,
        client: ::reqwest::Client,
    ) -> Result<ThoughtSpotAuthMiddleware, Error> {
        let builder = if self.has_transport() {
            self
        } else {
            self.transport(client)
        };
        Ok(ThoughtSpotAuthMiddleware {
            owner: Owner::new(builder.into_config()?),
        })
    }
}

#[async_trait::async_trait]
impl Middleware for ThoughtSpotAuthMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let core = self.owner.core();
        // `RequestBuilder::with_extension(OrgOverride::new(..))` puts it in `extensions`.
        let mut outgoing = ReqwestOutgoing {
            request: &mut request,
            extensions,
        };
        let Some(mut key) = core
            .admit(&outgoing)
            .map_err(reqwest_middleware::Error::middleware)?
        else {
            return next.run(request, extensions).await;
        };
        let stripe = crate::stripes::this_thread();
        let generation = match core.attach(&key, outgoing.headers_mut(), stripe, None) {
            Some(generation) => generation,
            None => core
                .attach_after_login(&mut key, &mut outgoing)
                .await
                .map_err(reqwest_middleware::Error::middleware)?,
        };
        let replay = if core.config.replay {
            request.try_clone()
        } else {
            None
        };
        let response = next.clone().run(request, extensions).await?;
        let verdict = core.judge(response.status());
        if verdict == Verdict::Fine {
            return Ok(response);
        }
        let mut door = ReqwestDoor {
            next,
            extensions,
            replay,
        };
        core.recover(&mut door, &key, generation, response, verdict)
            .await
    }
}

/// The reqwest door's request, as the core admits it: reqwest-middleware keeps its extensions
/// apart from it.
struct ReqwestOutgoing<'a> {
    request: &'a mut Request,
    extensions: &'a Extensions,
}

impl Outgoing for ReqwestOutgoing<'_> {
    fn is_for(&self, base: &BaseUrl) -> bool {
        let (scheme, host, port) = self.origin();
        base.has_origin(scheme.unwrap_or_default(), host, port)
    }

    fn origin(&self) -> (Option<&str>, &str, Option<u16>) {
        let url = self.request.url();
        (
            Some(url.scheme()),
            url.host_str().unwrap_or_default(),
            url.port(),
        )
    }

    fn extensions(&self) -> &Extensions {
        self.extensions
    }

    fn headers_mut(&mut self) -> &mut http::HeaderMap {
        self.request.headers_mut()
    }
}

/// The reqwest door's side of the rejection policy: the rest of the chain, and the request
/// kept for a replay if its body could be cloned.
struct ReqwestDoor<'a> {
    next: Next<'a>,
    extensions: &'a mut Extensions,
    replay: Option<Request>,
}

impl Door for ReqwestDoor<'_> {
    type Response = Response;
    type Error = reqwest_middleware::Error;
    const NAME: &'static str = "reqwest";

    fn status(response: &Response) -> http::StatusCode {
        response.status()
    }

    async fn read_ahead(response: Response, limit: usize) -> (Response, Vec<u8>) {
        let url = response.url().clone();
        let (parts, body) = http::Response::<::reqwest::Body>::from(response).into_parts();
        let (body, seen) = ResponseBody::new(body).read_ahead(limit).await;
        let mut rebuilt = http::Response::builder()
            .status(parts.status)
            .version(parts.version)
            .url(url);
        if let Some(headers) = rebuilt.headers_mut() {
            *headers = parts.headers;
        }
        let rebuilt = rebuilt
            .body(::reqwest::Body::wrap(body))
            .map(Response::from)
            .unwrap_or_else(|_| {
                Response::from(http::Response::new(::reqwest::Body::from(Vec::new())))
            });
        (rebuilt, seen)
    }

    fn can_replay(&self) -> bool {
        self.replay.is_some()
    }

    fn replay(
        &mut self,
        credential: &SessionCredential,
    ) -> Option<impl Future<Output = Result<Response, Self::Error>> + Send + '_> {
        let mut request = self.replay.as_ref()?.try_clone()?;
        let (name, value) = credential.header();
        request.headers_mut().insert(name, value);
        Some(self.next.clone().run(request, self.extensions))
    }
}
