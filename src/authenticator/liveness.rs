//! The one liveness check of a credential after the beta API's bare 500, which may or may not
//! mean the credential is dead: asked once per generation, however many requests want to know.

use std::sync::Arc;

use super::Core;
use super::credential::CacheKey;
use super::slot::Check;
use crate::error::ErrorKind;
use crate::sync::{lock, shared_answer, spawn};
use crate::telemetry;

impl Core {
    /// Whether the credential of generation `generation` still works, asked once per generation
    /// however many requests want to know (the beta's bare 500 is ambiguous). Anything but a
    /// clear rejection counts as alive, so genuine server errors cause no logins.
    pub(crate) async fn is_alive(self: &Arc<Self>, key: &CacheKey, generation: u64) -> bool {
        let slot = self.slot(key);
        let mut alive = {
            let mut check = lock(&slot.check);
            match check.as_ref() {
                Some(c) if c.generation == generation => c.alive.clone(),
                _ => {
                    let Some(credential) = slot
                        .credential
                        .load_full()
                        .filter(|c| c.generation == generation)
                    else {
                        // Already replaced: the request should use the newer one.
                        return false;
                    };
                    let Ok(session) = self.session() else {
                        return true;
                    };
                    let session = session.clone();
                    let (verdict, pending) = shared_answer();
                    let counters_core = self.clone();
                    let Some(task) = spawn(async move {
                        counters_core.counters.credential_checks.bump();
                        telemetry::count(telemetry::names::LIVENESS_CHECKS, None);
                        let answer = session.beta().session_info(&credential.session).await;
                        let alive =
                            !matches!(&answer, Err(e) if e.kind() == ErrorKind::Unauthorized);
                        tracing::debug!(
                            generation,
                            alive,
                            "checked a ThoughtSpot credential after an ambiguous 500"
                        );
                        verdict.give(alive);
                    }) else {
                        return true;
                    };
                    if let Some(old) = check.replace(Check {
                        generation,
                        alive: pending.clone(),
                        task,
                    }) {
                        old.task.abort();
                    }
                    pending
                }
            }
        };
        // A check that went away unanswered (the core shut down) condemns nothing.
        alive.wait().await.unwrap_or(true)
    }
}
