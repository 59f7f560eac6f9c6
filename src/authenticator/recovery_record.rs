//! The record of one request's recovery: each credential it carried and what became of it,
//! written to the log when a rejection reaches the caller.

use std::time::Duration;

use tokio::time::Instant;

/// Where one request is in its recovery, and what happened to it so far (written to the log
/// when a rejection reaches the caller).
pub(super) struct Recovery {
    /// The generation its first send carried.
    pub(super) first: u64,
    /// The generation its last send carried.
    pub(super) generation: u64,
    /// When the credential of its last send was logged in (`Credential::login_sent`); `None`
    /// for the first send, which carried whatever the hot path had.
    pub(super) login_sent: Option<u64>,
    pub(super) replays: u8,
    /// When its first rejection was seen, with the logins sent and the newest generation made
    /// (for any key) then.
    pub(super) at_rejection: Option<(Instant, u64, u64)>,
    /// What its replays carried, and what became of them.
    pub(super) replayed: Vec<Replayed>,
}

/// One replay, for the record.
pub(super) struct Replayed {
    pub(super) generation: u64,
    pub(super) login_sent: u64,
    /// Since the first rejection was seen: when it was sent, and when it was rejected too.
    pub(super) sent: Duration,
    pub(super) rejected: Option<Duration>,
    /// How long its credential had left then, before its hard deadline.
    pub(super) left: Option<Duration>,
}

impl Recovery {
    pub(super) fn new(generation: u64) -> Self {
        Self {
            first: generation,
            generation,
            login_sent: None,
            replays: 0,
            at_rejection: None,
            replayed: Vec::new(),
        }
    }

    pub(super) fn since_rejection(&self) -> Duration {
        self.at_rejection
            .map_or(Duration::ZERO, |(seen, ..)| seen.elapsed())
    }
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, sends, newest) = self.at_rejection.unwrap_or((Instant::now(), 0, 0));
        write!(
            f,
            "sent with generation {}; rejected when {sends} logins had been sent and generation \
             {newest} was the newest",
            self.first
        )?;
        for replay in &self.replayed {
            let when = if replay.login_sent > sends {
                "sent after the rejection"
            } else {
                "sent before the rejection, or adopted"
            };
            write!(
                f,
                "; replayed at +{:?} with generation {} (login {}, {when}; {:?} before its hard \
                 deadline)",
                replay.sent, replay.generation, replay.login_sent, replay.left,
            )?;
            if let Some(rejected) = replay.rejected {
                write!(f, ", rejected at +{rejected:?}")?;
            }
        }
        Ok(())
    }
}
