//! What the mock's server tasks and its public handle share, and one request as the routes see
//! it.

use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, Method};

use super::ExtensionSpelling;
use super::faults::FaultTable;
use super::log::Log;
use super::state::State;
use super::wire::{ApiError, Ids, Renderer};
use crate::sync::lock;

/// What the server tasks and the public handle share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) log: Mutex<Log>,
    pub(crate) faults: Mutex<FaultTable>,
    pub(crate) ids: Ids,
    /// Normalised path prefix: empty, or `/x` with no trailing slash.
    pub(crate) prefix: String,
    pub(crate) spelling: ExtensionSpelling,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn renderer(&self) -> Renderer<'_> {
        Renderer {
            ids: &self.ids,
            spelling: self.spelling,
        }
    }

    /// The path inside the prefix, or `None` when the request is outside it.
    pub(crate) fn strip_prefix<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.prefix.is_empty() {
            return Some(path);
        }
        match path.strip_prefix(self.prefix.as_str()) {
            Some("") => Some("/"),
            Some(rest) if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }
}

/// One request as the routes see it.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) method: &'a Method,
    /// Path without prefix and query.
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a Bytes,
}

impl Ctx<'_> {
    /// Refuses a request whose method is not `method`.
    pub(crate) fn expect(&self, method: Method) -> Result<(), ApiError> {
        if *self.method == method {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed())
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state()
    }

    pub(crate) fn renderer(&self) -> Renderer<'_> {
        self.shared.renderer()
    }

    pub(crate) fn ids(&self) -> &Ids {
        &self.shared.ids
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.headers
            .get(name)
            .is_some_and(|v| !v.as_bytes().is_empty())
    }
}
