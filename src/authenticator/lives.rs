//! Every credential's life on one timer: one task per core moves each credential from fresh to
//! soft at its soft deadline and to hard at its hard one, and starts the refresh a request asks
//! for when it finds a credential soft-expired.
//!
//! One task for all of them, rather than one per credential: a task and its timer cost some
//! 500 bytes, which ten thousand users' cached tokens would each carry; here a credential costs
//! one entry in a heap while it waits for its next deadline. Requests never wait for this task,
//! and it holds credentials and the core only weakly, so a credential replaced or forgotten is
//! not kept alive (its entry is dropped when its deadline comes; until then the entry keeps the
//! credential's allocation, some 200 bytes, though not its token, which is dropped with it).
//!
//! The task runs on the runtime of the login that started it. Should that runtime shut down
//! while the layer lives on (a layer shared by several `#[tokio::test]`s), the next login or
//! refresh request starts another on its own runtime and hands it every cached credential.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Weak};
use std::task::Poll;

use arc_swap::ArcSwapOption;
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
    keeper: ArcSwapOption<Keeper>,
    /// The core shut down: no task is started again.
    stopped: AtomicBool,
}

/// The task that runs now, and its inbox.
struct Keeper {
    events: mpsc::UnboundedSender<Event>,
    task: AbortHandle,
}

impl Lives {
    /// Starts the task on the runtime this is called from, unless one runs: none yet, or the
    /// runtime it ran on has shut down (a layer kept across runtimes, as tests sharing one do).
    /// Returns whether it started one, whose heap is empty: the caller then hands it every
    /// credential it should follow.
    pub(super) fn start(&self, core: &Weak<Core>) -> bool {
        let running =
            |keeper: &Option<Arc<Keeper>>| keeper.as_ref().is_some_and(|k| !k.events.is_closed());
        if self.stopped.load(AtomicOrdering::Acquire) || running(&self.keeper.load()) {
            return false;
        }
        let (events, receiver) = mpsc::unbounded_channel();
        let Some(task) = spawn(run(core.clone(), receiver)) else {
            return false;
        };
        let ours = Arc::new(Keeper { events, task });
        let previous = self.keeper.rcu(|current| {
            if running(current) {
                current.clone()
            } else {
                Some(ours.clone())
            }
        });
        if running(&previous) {
            // Another login started one first.
            ours.task.abort();
            return false;
        }
        if self.stopped.load(AtomicOrdering::Acquire) {
            ours.task.abort();
            return false;
        }
        true
    }

    /// Follows `credential`'s life from now on (it has deadlines); `false` if no task runs.
    pub(super) fn arm(&self, credential: &Arc<Credential>) -> bool {
        self.send(Event::Arm(Arc::downgrade(credential)))
    }

    /// Asks for one refresh of `credential`; `false` if no task runs. No lock and no spawn:
    /// one message.
    pub(super) fn ask_refresh(&self, credential: &Arc<Credential>) -> bool {
        self.send(Event::Refresh(Arc::downgrade(credential)))
    }

    fn send(&self, event: Event) -> bool {
        self.keeper
            .load()
            .as_ref()
            .is_some_and(|keeper| keeper.events.send(event).is_ok())
    }

    /// Stops the task for good (the last owner of the core went away).
    pub(super) fn stop(&self) {
        self.stopped.store(true, AtomicOrdering::Release);
        if let Some(keeper) = self.keeper.swap(None) {
            keeper.task.abort();
        }
    }
}

impl Core {
    /// Makes sure the task runs; one started now is handed every cached credential.
    pub(super) fn keep_lives(&self) {
        let Some(core) = self.myself.get() else {
            return;
        };
        if self.lives.start(core) {
            for slot in self.slots.all() {
                if let Some(credential) = slot.current().filter(|c| c.soft_at.is_some()) {
                    self.lives.arm(&credential);
                }
            }
        }
    }

    /// Hands a credential with deadlines to the task.
    pub(super) fn follow_life(&self, credential: &Arc<Credential>) {
        if !self.lives.arm(credential) {
            self.keep_lives();
            self.lives.arm(credential);
        }
    }

    /// Asks the task for one refresh of `credential`.
    pub(super) fn ask_refresh(&self, credential: &Arc<Credential>) {
        if !self.lives.ask_refresh(credential) {
            self.keep_lives();
            self.lives.ask_refresh(credential);
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
    let mut remaining = RemainingLife::default();
    loop {
        let next = match (
            heap.peek().map(|Reverse(due)| due.at),
            remaining.next_report(),
        ) {
            (Some(due), Some(report)) => Some(due.min(report)),
            (due, report) => due.or(report),
        };
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
            let now = Instant::now();
            advance_due(&mut heap, now);
            remaining.report_if_due(&core, now);
            continue;
        };
        match event {
            None => return,
            Some(Event::Arm(weak)) => {
                if let Some(credential) = weak.upgrade() {
                    remaining.track(&core, &credential, Instant::now());
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

/// How long each org's current credential has left, as a gauge (feature `metrics`; single-user
/// modes, whose orgs are few): reported when a credential is handed over and every 15 s after,
/// from the slot's current credential (0 while it has none: forgotten, or its relogin failing).
/// An org whose cache entry is gone reads 0 once and is no longer reported. Multi-user
/// credentials are not: one gauge per user is no bounded label.
#[derive(Default)]
struct RemainingLife {
    #[cfg(feature = "metrics")]
    orgs: std::collections::HashSet<Option<i64>>,
    #[cfg(feature = "metrics")]
    next: Option<Instant>,
}

#[cfg(feature = "metrics")]
impl RemainingLife {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(15);

    fn track(&mut self, core: &Weak<Core>, credential: &Arc<Credential>, now: Instant) {
        if credential.key.user.is_none() && credential.hard_at.is_some() {
            self.orgs.insert(credential.key.org);
            self.report(core, now);
        }
    }

    fn next_report(&self) -> Option<Instant> {
        self.next
    }

    fn report_if_due(&mut self, core: &Weak<Core>, now: Instant) {
        if self.next.is_some_and(|next| next <= now) {
            self.report(core, now);
        }
    }

    fn report(&mut self, core: &Weak<Core>, now: Instant) {
        let Some(core) = core.upgrade() else {
            return;
        };
        self.orgs.retain(|org| {
            // Looked at without marking the entry used: reports must not keep it cached.
            let hard_at = core
                .slots
                .peek(&super::credential::CacheKey::org(*org), |slot| {
                    slot.current().and_then(|c| c.hard_at)
                });
            let left = hard_at.flatten().map_or(std::time::Duration::ZERO, |hard| {
                hard.saturating_duration_since(now)
            });
            crate::telemetry::remaining(*org, left);
            hard_at.is_some()
        });
        self.next = (!self.orgs.is_empty()).then(|| now + Self::EVERY);
    }
}

#[cfg(not(feature = "metrics"))]
impl RemainingLife {
    fn track(&mut self, _: &Weak<Core>, _: &Arc<Credential>, _: Instant) {}

    fn next_report(&self) -> Option<Instant> {
        None
    }

    fn report_if_due(&mut self, _: &Weak<Core>, _: Instant) {}
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::authenticator::credential::CacheKey;
    use crate::session::SessionCredential;

    fn credential(soft_in: Duration, hard_in: Duration) -> Arc<Credential> {
        let now = Instant::now();
        let session = SessionCredential::bearer("tok-lives").unwrap();
        Arc::new(Credential::new(
            session,
            CacheKey::org(None),
            1,
            0,
            Some(hard_in * 2),
            Some(now + soft_in),
            Some(now + hard_in),
        ))
    }

    fn paused_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    #[test]
    fn the_task_moves_credentials_through_their_lives() {
        let lives = Lives::default();
        paused_runtime().block_on(async {
            assert!(lives.start(&Weak::new()));
            assert!(!lives.start(&Weak::new()), "one task at a time");
            let late = credential(Duration::from_secs(30), Duration::from_secs(40));
            let early = credential(Duration::from_secs(10), Duration::from_secs(20));
            assert!(lives.arm(&late) && lives.arm(&early));
            tokio::time::sleep(Duration::from_secs(11)).await;
            assert_eq!((early.phase(), late.phase()), (Phase::Soft, Phase::Fresh));
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!((early.phase(), late.phase()), (Phase::Hard, Phase::Fresh));
            tokio::time::sleep(Duration::from_secs(20)).await;
            assert_eq!((early.phase(), late.phase()), (Phase::Hard, Phase::Hard));
            // A credential gone before its deadline is not kept alive, and costs nothing.
            let gone = credential(Duration::from_secs(5), Duration::from_secs(6));
            let weak = Arc::downgrade(&gone);
            assert!(lives.arm(&gone));
            drop(gone);
            tokio::time::sleep(Duration::from_secs(7)).await;
            assert!(weak.upgrade().is_none());
        });
    }

    #[test]
    fn a_task_whose_runtime_shut_down_is_started_again_on_the_next() {
        let lives = Lives::default();
        let first = paused_runtime();
        first.block_on(async { assert!(lives.start(&Weak::new())) });
        drop(first);
        paused_runtime().block_on(async {
            let c = credential(Duration::from_secs(10), Duration::from_secs(20));
            assert!(!lives.arm(&c), "the first task went with its runtime");
            assert!(lives.start(&Weak::new()), "another one starts here");
            assert!(lives.arm(&c));
            tokio::time::sleep(Duration::from_secs(11)).await;
            assert_eq!(c.phase(), Phase::Soft);
            lives.stop();
            assert!(!lives.start(&Weak::new()), "never again once stopped");
        });
    }
}
