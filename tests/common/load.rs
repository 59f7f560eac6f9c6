//! Real-clock load for the multi-threaded runtime: callers in tasks of their own, each sending
//! requests one after another through a front door until told to stop, and a tally of what
//! they got. A controller perturbs the layer between *epochs*: it waits until every caller has
//! finished a request started after the previous perturbation, so no request meets two of them
//! (a replay's answer is final, so two revocations in one request's life would rightly reach it).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::front::{Call, Client, Failure, Reply};

/// What the callers got.
#[derive(Default)]
pub struct Tally {
    ok: AtomicUsize,
    completed: AtomicUsize,
    /// Everything but a 200: each one is a recovery that failed.
    violations: Mutex<Vec<String>>,
}

impl Tally {
    pub fn record(&self, what: &str, result: Result<Reply, Failure>) {
        match result {
            Ok(reply) if reply.status == StatusCode::OK => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(reply) => self.violation(format!(
                "{what}: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(200)])
            )),
            Err(failure) => self.violation(format!("{what}: failed: {}", failure.text)),
        }
        self.completed.fetch_add(1, Ordering::Release);
    }

    fn violation(&self, text: String) {
        self.violations.lock().unwrap().push(text);
    }

    pub fn ok(&self) -> usize {
        self.ok.load(Ordering::Relaxed)
    }

    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::Acquire)
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }
}

/// `callers` callers sending `call(caller, n)` in a loop until [`stop`](Load::stop).
pub struct Load {
    pub tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    epoch: Arc<AtomicUsize>,
    /// Per caller: the epoch in which its last finished request started.
    finished: Arc<Vec<AtomicUsize>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(
        client: &Client,
        callers: usize,
        call: impl Fn(usize, usize) -> Call + Send + Sync + 'static,
    ) -> Self {
        let call = Arc::new(call);
        let tally = Arc::new(Tally::default());
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Arc::new(AtomicUsize::new(0));
        let finished: Arc<Vec<AtomicUsize>> =
            Arc::new((0..callers).map(|_| AtomicUsize::new(0)).collect());
        let tasks = (0..callers)
            .map(|caller| {
                let (client, call, tally) = (client.clone(), call.clone(), tally.clone());
                let (stop, epoch, finished) = (stop.clone(), epoch.clone(), finished.clone());
                // In the caller's span, so that what the layer logs is the run's.
                tokio::spawn(
                    async move {
                        let mut n = 0;
                        while !stop.load(Ordering::Relaxed) {
                            let started_in = epoch.load(Ordering::Acquire);
                            let result = client.send(call(caller, n)).await;
                            tally.record(&format!("caller {caller} request {n}"), result);
                            finished[caller].store(started_in, Ordering::Release);
                            n += 1;
                        }
                    }
                    .instrument(tracing::Span::current()),
                )
            })
            .collect();
        Self {
            tally,
            stop,
            epoch,
            finished,
            tasks,
        }
    }

    /// Marks a perturbation: requests started from now on belong to the next epoch.
    pub fn next_epoch(&self) -> usize {
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Returns once every caller has finished a request started in `epoch` or later, and at
    /// least `requests` more requests have been answered.
    pub async fn settled(&self, epoch: usize, requests: usize) {
        let target = self.tally.completed() + requests;
        until(|| {
            self.tally.completed() >= target
                && self
                    .finished
                    .iter()
                    .all(|e| e.load(Ordering::Acquire) >= epoch)
        })
        .await;
    }

    /// Stops the callers after their current request and waits for them.
    pub async fn stop(self) -> Arc<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("a caller panicked");
        }
        self.tally
    }
}

/// `callers` callers each sending `per_caller` requests at once; returns when all are answered.
pub async fn burst(
    client: &Client,
    tally: &Arc<Tally>,
    callers: usize,
    per_caller: usize,
    call: impl Fn(usize, usize) -> Call + Send + Sync + 'static,
) {
    let call = Arc::new(call);
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let (client, call, tally) = (client.clone(), call.clone(), tally.clone());
            tokio::spawn(
                async move {
                    for n in 0..per_caller {
                        let result = client.send(call(caller, n)).await;
                        tally.record(&format!("caller {caller} request {n}"), result);
                    }
                }
                .instrument(tracing::Span::current()),
            )
        })
        .collect();
    for task in tasks {
        task.await.expect("a caller panicked");
    }
}

/// Waits for `condition` by polling it: yielding at first (for events microseconds away, such as
/// a login landing), then every millisecond. Nothing asserted depends on how long it takes.
pub async fn until(mut condition: impl FnMut() -> bool) {
    let mut polls = 0u32;
    while !condition() {
        polls += 1;
        if polls < 2_000 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// The most logins a credential key may cost over `elapsed`: one per refresh period (the
/// soonest a credential is refreshed is at 85 % of its `lifetime`: the margin, 10 %, and up to
/// half the margin again of jitter), one for the first, and two per perturbation that kills or
/// forgets credentials (its own relogin, and one more when it lands on a login in flight whose
/// credential it kills too).
pub fn login_bound(elapsed: Duration, lifetime: Duration, perturbations: usize) -> usize {
    let periods = (elapsed.as_secs_f64() / lifetime.mul_f64(0.85).as_secs_f64()).floor() as usize;
    periods + 1 + 2 * perturbations
}
