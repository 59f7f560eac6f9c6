//! Every credential's life on one timer: one task per core moves each credential from fresh to
//! soft at its soft deadline and to hard at its hard one, and starts the refresh a request asks
//! for when it finds a credential soft-expired.
//!
//! One task for all of them, rather than one per credential: a task and its timer cost some
//! 500 bytes, which ten thousand users' cached tokens would each carry; here a credential costs
//! one entry in a heap while it waits for its next deadline. Requests never wait for this task,
//! and it holds credentials and the core only weakly, so a credential replaced or forgotten is
//! not kept alive (its entry is dropped when its deadline comes).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::{Arc, OnceLock, Weak};
use std::task::Poll;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::Core;
use super::credential::{Credential, Phase};
use crate::sync::spawn;

/// What the task is told.
enum Event {
    /// A credential was published: follow its life.
    Arm(Weak<Credential>),
    /// A request found this credential soft-expired: refresh it.
    Refresh(Weak<Credential>),
}

/// The core's side of the task: where events go, and how to stop it.
#[derive(Default)]
pub(super) struct Lives {
    started: OnceLock<(mpsc::UnboundedSender<Event>, AbortHandle)>,
}

impl Lives {
    /// Starts the task, on the runtime this is called from, unless it runs already. Called when
    /// the first login starts, so that spawning it overlaps the login's exchange instead of
    /// delaying the answer to the requests that wait for it.
    pub(super) fn start(&self, core: &Weak<Core>) {
        if self.started.get().is_some() {
            return;
        }
        let (events, receiver) = mpsc::unbounded_channel();
        if let Some(task) = spawn(run(core.clone(), receiver)) {
            if self.started.set((events, task.clone())).is_err() {
                // Another login started it first.
                task.abort();
            }
        }
    }

    /// Follows `credential`'s life from now on (it has deadlines).
    pub(super) fn arm(&self, core: &Weak<Core>, credential: &Arc<Credential>) {
        self.start(core);
        if let Some((events, _)) = self.started.get() {
            let _ = events.send(Event::Arm(Arc::downgrade(credential)));
        }
    }

    /// Asks for one refresh of `credential`. No lock and no spawn: one message.
    pub(super) fn ask_refresh(&self, credential: &Arc<Credential>) {
        if let Some((events, _)) = self.started.get() {
            let _ = events.send(Event::Refresh(Arc::downgrade(credential)));
        }
    }

    /// Stops the task (the last owner of the core went away).
    pub(super) fn stop(&self) {
        if let Some((_, task)) = self.started.get() {
            task.abort();
        }
    }
}

/// A credential's next deadline.
struct Due {
    at: Instant,
    /// The phase it enters then.
    phase: Phase,
    credential: Weak<Credential>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

/// The task: sleeps until the earliest deadline or the next event, whichever comes first.
async fn run(core: Weak<Core>, mut events: mpsc::UnboundedReceiver<Event>) {
    let mut heap: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|Reverse(due)| due.at);
        let mut sleep = std::pin::pin!(next.map(tokio::time::sleep_until));
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(event) = events.poll_recv(cx) {
                return Poll::Ready(Some(event));
            }
            match sleep.as_mut().as_pin_mut().map(|sleep| sleep.poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(None),
                _ => Poll::Pending,
            }
        })
        .await;
        let Some(event) = event else {
            // The earliest deadline came.
            advance_due(&mut heap, Instant::now());
            continue;
        };
        match event {
            None => return,
            Some(Event::Arm(weak)) => {
                if let Some(credential) = weak.upgrade() {
                    if let Some(soft_at) = credential.soft_at {
                        heap.push(Reverse(Due {
                            at: soft_at,
                            phase: Phase::Soft,
                            credential: weak,
                        }));
                    }
                }
            }
            Some(Event::Refresh(weak)) => {
                let (Some(core), Some(credential)) = (core.upgrade(), weak.upgrade()) else {
                    continue;
                };
                core.start_refresh(&credential);
            }
        }
        // A burst of events (ten thousand users' first logins) must not starve the clock.
        advance_due(&mut heap, Instant::now());
        tokio::task::consume_budget().await;
    }
}

/// Moves every credential whose deadline has come into its next phase.
fn advance_due(heap: &mut BinaryHeap<Reverse<Due>>, now: Instant) {
    while heap.peek().is_some_and(|Reverse(due)| due.at <= now) {
        let Some(Reverse(due)) = heap.pop() else {
            break;
        };
        let Some(credential) = due.credential.upgrade() else {
            continue;
        };
        credential.advance(due.phase);
        if due.phase == Phase::Soft {
            if let Some(hard_at) = credential.hard_at {
                heap.push(Reverse(Due {
                    at: hard_at,
                    phase: Phase::Hard,
                    credential: due.credential,
                }));
            }
        }
    }
}
