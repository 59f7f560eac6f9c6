//! One answer that many wait for: the single flight's channel. Whoever does the work holds the
//! [`Answer`]; everyone who wants the result holds a [`Pending`] (cloned for each newcomer) and
//! waits. Only the first answer counts, and a pending answer whose worker is gone says so.

use tokio::sync::watch;

/// A new answer to wait for: the worker's side and the first waiter's.
pub(crate) fn shared_answer<T>() -> (Answer<T>, Pending<T>) {
    let (sender, receiver) = watch::channel(None);
    (Answer(sender), Pending(receiver))
}

/// The worker's side: gives the answer once.
#[derive(Debug)]
pub(crate) struct Answer<T>(watch::Sender<Option<T>>);

impl<T> Answer<T> {
    /// Gives `value` to every waiter, now and later, unless an answer was given already;
    /// returns whether this one was.
    pub(crate) fn give(&self, value: T) -> bool {
        let mut value = Some(value);
        self.0.send_if_modified(|answer| {
            let first = answer.is_none();
            if first {
                *answer = value.take();
            }
            first
        })
    }
}

/// A waiter's side.
#[derive(Debug)]
pub(crate) struct Pending<T>(watch::Receiver<Option<T>>);

impl<T> Clone for Pending<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Clone> Pending<T> {
    /// The answer, once given; `None` if the worker went away without giving one.
    pub(crate) async fn wait(&mut self) -> Option<T> {
        match self.0.wait_for(Option::is_some).await {
            Ok(answer) => answer.clone(),
            Err(_) => None,
        }
    }
}

impl<T> Pending<T> {
    /// Whether the answer has been given: a flight that has answered is no longer joined.
    pub(crate) fn is_answered(&self) -> bool {
        self.0.borrow().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_gets_the_first_answer() {
        let (answer, pending) = shared_answer::<u32>();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let mut pending = pending.clone();
                tokio::spawn(async move { pending.wait().await })
            })
            .collect();
        assert!(!pending.is_answered());
        assert!(answer.give(1));
        assert!(!answer.give(2));
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), Some(1));
        }
        // A late waiter gets the same answer.
        assert_eq!(pending.clone().wait().await, Some(1));
        assert!(pending.is_answered());
    }

    #[tokio::test]
    async fn a_worker_gone_without_answering_is_no_answer() {
        let (answer, mut pending) = shared_answer::<u32>();
        drop(answer);
        assert_eq!(pending.wait().await, None);
    }
}
