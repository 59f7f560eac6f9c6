//! The one rejection policy both doors follow after a response, as tower's `retry::Policy` is
//! for retries: the core decides, the doors only adapt their request and response types
//! ([`Door`]).
//!
//! A 401 (or the beta API's 500 that says upstream 401) rejects the credential the request
//! carried: that generation is invalidated (only that one, so a late 401 never evicts a newer
//! credential), one login is shared, and the kept request is sent again. A beta 500 with no
//! upstream detail is ambiguous: the credential is checked once per generation, and only a dead
//! one counts as rejected. Anything else is the answer.
//!
//! A request is replayed once, and a second time only if its first replay carried a credential
//! whose login was *sent* before the first rejection was seen: one revocation kills every token
//! minted before it, and such a credential (a refresh under way, published after the rejection)
//! may well be one of them. A replay with a credential whose login was sent after the rejection
//! was seen is final, whatever it answers. When a rejection reaches the caller, the log has the
//! request's record: each credential it carried, and why the last answer was final.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::StatusCode;
use tokio::time::Instant;

use super::Core;
use super::credential::{CacheKey, Credential};
use super::recovery_record::{Recovery, Replayed};
use crate::session::SessionCredential;
use crate::telemetry;

/// A key rejected again within this of its last rejection (and no replay served between) is
/// on a streak: ThoughtSpot rejects its fresh credentials too.
const REJECTED_AGAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// How much of a beta 500 is read to learn whether it rejects the credential.
const BETA_500_READ_LIMIT: usize = 64 * 1024;

/// Replays of one request at most (see the module docs for when the second is allowed).
const MAX_REPLAYS: u8 = 2;

/// What a front door does for the policy: its own request and response types.
pub(crate) trait Door {
    /// A response, as the door gives it out.
    type Response: Send;
    /// What sending a replay can fail with.
    type Error;
    /// The door's name, for metrics: `tower` or `reqwest`.
    const NAME: &'static str;

    /// The response's status.
    fn status(response: &Self::Response) -> StatusCode;

    /// Reads up to `limit` bytes of the response's body, and gives back the response with
    /// every byte still in it.
    fn read_ahead(
        response: Self::Response,
        limit: usize,
    ) -> impl Future<Output = (Self::Response, Vec<u8>)> + Send;

    /// Whether the request was kept for a replay.
    fn can_replay(&self) -> bool;

    /// Sends the kept request again, now carrying `credential`; `None` if it cannot be rebuilt.
    fn replay(
        &mut self,
        credential: &SessionCredential,
    ) -> Option<impl Future<Output = Result<Self::Response, Self::Error>> + Send + '_>;
}

impl Core {
    /// Follows the policy for a response that was not plainly fine (`verdict`), sent with the
    /// credential of `key` and `generation`: the answer the caller gets.
    pub(crate) async fn recover<D: Door>(
        self: &Arc<Self>,
        door: &mut D,
        key: &CacheKey,
        generation: u64,
        mut response: D::Response,
        mut verdict: Verdict,
    ) -> Result<D::Response, D::Error> {
        let mut recovery = Recovery::new(generation);
        loop {
            let beta_500 = match verdict {
                Verdict::Fine => {
                    if recovery.replays > 0 {
                        // A new credential of this key served the request: any streak ends.
                        self.slots.with(key, |slot| {
                            slot.rejected_in_a_row.store(0, Ordering::Relaxed)
                        });
                    }
                    return Ok(response);
                }
                Verdict::Rejected => None,
                Verdict::ReadBody => {
                    let (read, seen) = D::read_ahead(response, BETA_500_READ_LIMIT).await;
                    response = read;
                    Some(Beta500::judge(&seen))
                }
            };
            let replayable = door.can_replay();
            let Some(credential) = self
                .replacement(key, &mut recovery, beta_500, replayable, D::NAME)
                .await
            else {
                return Ok(response);
            };
            let Some(replay) = door.replay(&credential.session) else {
                tracing::warn!(
                    record = %recovery,
                    "the kept request could not be rebuilt; returning the rejection"
                );
                return Ok(response);
            };
            drop(response);
            response = replay.await?;
            verdict = self.judge(D::status(&response));
        }
    }

    /// Whether the response rejected the credential the request carried, and if so the
    /// credential to send it again with; `None` means the response is the answer.
    async fn replacement(
        self: &Arc<Self>,
        key: &CacheKey,
        recovery: &mut Recovery,
        beta_500: Option<Beta500>,
        replayable: bool,
        door: &'static str,
    ) -> Option<Arc<Credential>> {
        // Read before anything else: a login counted after this was sent after the rejection.
        let at_rejection = (
            Instant::now(),
            self.login_sends.load(Ordering::SeqCst),
            self.generation.load(Ordering::Acquire),
        );
        let reason = self.rejection(key, recovery.generation, beta_500).await?;
        self.reject(key, recovery.generation, reason, door);
        let (_, sends_at_rejection, _) = *recovery.at_rejection.get_or_insert(at_rejection);
        let since = recovery.since_rejection();
        if let Some(last) = recovery.replayed.last_mut() {
            last.rejected = Some(since);
        }
        if !replayable {
            tracing::debug!(
                record = %recovery,
                "the rejected request was not kept for a replay; returning the rejection"
            );
            return None;
        }
        if let Some(login_sent) = recovery.login_sent {
            if login_sent > sends_at_rejection {
                tracing::warn!(
                    user = key.user.as_deref(),
                    org = ?key.org,
                    record = %recovery,
                    "ThoughtSpot rejected a credential logged in after the request's first \
                     rejection; returning the rejection"
                );
                return None;
            }
            if recovery.replays >= MAX_REPLAYS {
                tracing::warn!(
                    user = key.user.as_deref(),
                    org = ?key.org,
                    record = %recovery,
                    "ThoughtSpot rejected every replay; returning the rejection"
                );
                return None;
            }
        }
        match self.credential(key).await {
            Ok(credential) => {
                self.replaying(key, recovery.generation, credential.generation, door);
                recovery.generation = credential.generation;
                recovery.login_sent = Some(credential.login_sent);
                let now = Instant::now();
                recovery.replayed.push(Replayed {
                    generation: credential.generation,
                    login_sent: credential.login_sent,
                    sent: recovery.since_rejection(),
                    rejected: None,
                    left: credential
                        .hard_at
                        .map(|hard| hard.saturating_duration_since(now)),
                });
                recovery.replays += 1;
                Some(credential)
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    record = %recovery,
                    "no new ThoughtSpot credential for the replay; returning the rejection"
                );
                None
            }
        }
    }

    /// Whether a response that was not plainly fine rejected the credential of `generation`, and
    /// why: a 401 does; a beta 500 does if its body says upstream 401, or if it says nothing and
    /// the one check for that generation finds the credential dead.
    async fn rejection(
        self: &Arc<Self>,
        key: &CacheKey,
        generation: u64,
        beta_500: Option<Beta500>,
    ) -> Option<&'static str> {
        match beta_500 {
            None => Some("rejected (401)"),
            Some(Beta500::Rejected) => Some("rejected (beta 500, upstream 401)"),
            Some(Beta500::Other) => None,
            Some(Beta500::Ambiguous) => (!self.is_alive(key, generation).await)
                .then_some("rejected (beta 500, credential found dead)"),
        }
    }

    /// Records that a response rejected the credential of `generation`, and forgets it.
    ///
    /// The key's rejection streak counts rejected *credentials*, not responses: the many
    /// requests in flight with one revoked credential are one rejection, and must not delay the
    /// relogin. It is the key's own: a revocation of every user's token at once (a restart, a
    /// rotation) is one rejection for each key, and delays none of their relogins. It ends when
    /// a replay with the key's new credential is served, or when the key has not been rejected
    /// for [`REJECTED_AGAIN_WITHIN`] (or twice the longest pause, if that is longer).
    fn reject(&self, key: &CacheKey, generation: u64, reason: &'static str, door: &'static str) {
        self.counters.rejected_responses.bump();
        telemetry::count(telemetry::names::REJECTIONS, Some(("door", door)));
        if self.invalidate(key, generation, reason) {
            let now = self.millis_since_born();
            let within = self.streak_lasts();
            self.slots.with(key, |slot| {
                let before = slot.last_rejected.swap(now, Ordering::Relaxed);
                if before == 0 || now.saturating_sub(before) >= within {
                    slot.rejected_in_a_row.store(1, Ordering::Relaxed);
                } else {
                    slot.rejected_in_a_row.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }

    /// The key's rejections in a row, as its next login sees them: none once the key has not
    /// been rejected for as long as a streak lasts (a key paused that long, whose pause kept it
    /// from being rejected again, is off its streak).
    pub(super) fn rejected_in_a_row(&self, slot: &super::slot::Slot) -> u32 {
        let last = slot.last_rejected.load(Ordering::Relaxed);
        if last == 0 || self.millis_since_born().saturating_sub(last) >= self.streak_lasts() {
            return 0;
        }
        slot.rejected_in_a_row.load(Ordering::Relaxed)
    }

    /// Milliseconds since this core was made, plus one (0 means never).
    fn millis_since_born(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1)
    }

    /// How long after its last rejection a key is still on its streak: longer than the
    /// longest pause, so that a key paused that long is still on it when rejected again.
    fn streak_lasts(&self) -> u64 {
        REJECTED_AGAIN_WITHIN
            .max(self.config.timings.transient_backoff_max * 2)
            .as_millis() as u64
    }

    /// Counts a replay of a request whose credential of generation `rejected` was rejected, now
    /// with the credential of `generation`.
    fn replaying(&self, key: &CacheKey, rejected: u64, generation: u64, door: &'static str) {
        debug_assert!(
            generation > rejected,
            "a replay must never carry the credential it replaces"
        );
        self.counters.replays.bump();
        telemetry::count(telemetry::names::REPLAYS, Some(("door", door)));
        tracing::info!(
            user = key.user.as_deref(),
            org = ?key.org,
            generation,
            "replaying a request with a new ThoughtSpot credential"
        );
    }
}

/// What a response says about the credential it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not about the credential.
    Fine,
    /// Rejected (v2.0 401, beta 500 with upstream 401).
    Rejected,
    /// A beta 500: its body must be read to know.
    ReadBody,
}

/// What the body of a beta 500 says about the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beta500 {
    /// Upstream 401 (or code 10097): rejected.
    Rejected,
    /// No upstream detail: may or may not be the credential.
    Ambiguous,
    /// Another upstream status: not about the credential.
    Other,
}

impl Beta500 {
    /// Reads the first bytes of a beta 500's body.
    pub(crate) fn judge(body: &[u8]) -> Self {
        let parsed = crate::session::error_body::ErrorBody::parse(body);
        match (parsed.upstream_status, parsed.code) {
            (Some(401), _) | (None, Some(crate::session::error_body::CODE_UNAUTHORIZED)) => {
                Self::Rejected
            }
            (None, _) => Self::Ambiguous,
            (Some(_), _) => Self::Other,
        }
    }
}
