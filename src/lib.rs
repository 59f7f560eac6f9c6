//! Authentication to ThoughtSpot's REST API for Rust HTTP stacks.
//!
//! This first cut holds the foundation: [`session`], ThoughtSpot's session API typed over any
//! [`transport::Transport`], and (feature `mock`) [`mock::MockThoughtSpot`], an in-process
//! ThoughtSpot to run it against.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
pub mod credential;
pub mod session;
pub mod transport;

#[cfg(feature = "mock")]
pub mod mock;

pub use config::BaseUrl;
pub use credential::{SessionCookies, SessionCredential};
pub use session::{ApiVersion, Error, ErrorKind, Login, Session};
