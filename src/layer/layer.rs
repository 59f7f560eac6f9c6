//! [`ThoughtSpotAuthLayer`]: builds the core, and wraps services in
//! [`ThoughtSpotAuthService`]s that share it.

use std::fmt;
use std::sync::Arc;

use tower::Layer;

use super::service::ThoughtSpotAuthService;
use crate::authenticator::Owner;
use crate::config::AuthBuilder;
use crate::error::Error;
use crate::handle::AuthHandle;

/// A tower [`Layer`] that authenticates every request to one ThoughtSpot cluster. See the
/// [module's example](crate::layer#example).
///
/// Build it with [`ThoughtSpotAuthLayer::builder`] or [`ThoughtSpotAuthLayer::from_env`]. Clones
/// share one credential cache; [`handle`](Self::handle) gives an [`AuthHandle`] on it.
#[derive(Clone)]
pub struct ThoughtSpotAuthLayer {
    owner: Arc<Owner>,
}

impl fmt::Debug for ThoughtSpotAuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThoughtSpotAuthLayer")
            .field("base", &self.owner.core().config.base)
            .finish_non_exhaustive()
    }
}

impl ThoughtSpotAuthLayer {
    /// A builder for the cluster at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> AuthBuilder {
        AuthBuilder::new(base_url)
    }

    /// A layer configured from the environment (see [`AuthBuilder::from_env`]).
    pub fn from_env() -> Result<Self, Error> {
        AuthBuilder::from_env()?.build()
    }

    /// A handle on this layer's credentials: switch org, refresh, log out, revoke, stats.
    pub fn handle(&self) -> AuthHandle {
        AuthHandle::new(self.owner.clone())
    }
}

impl AuthBuilder {
    /// Builds the tower layer.
    pub fn build(self) -> Result<ThoughtSpotAuthLayer, Error> {
        Ok(ThoughtSpotAuthLayer {
            owner: Owner::new(self.into_config()?),
        })
    }
}

impl<S: Clone> Layer<S> for ThoughtSpotAuthLayer {
    type Service = ThoughtSpotAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ThoughtSpotAuthService::new(&self.owner, inner)
    }
}
