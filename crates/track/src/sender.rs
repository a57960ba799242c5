//! The background sender: a thread that drains the run's on-disk queue to MLflow in order, so
//! that training never waits on the server. While the server is slow or down it retries with
//! exponential backoff (capped); a request the server rejects outright stops it, leaving the
//! rest of the queue on disk for `runs sync`. Stopping waits for the queue to drain, but no
//! longer than the deadline the caller gives.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Result, TrackError};
use crate::mlflow::{MlflowClient, ModelVersion};
use crate::notice::Notifier;
use crate::queue::QueueReader;
use crate::remote::MlflowLink;
use crate::replay::{Sent, send_batch};

/// The first retry delay.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The delay before retry number `failures` (1-based): doubling from [`FIRST_BACKOFF`], capped
/// at [`MAX_BACKOFF`].
pub(crate) fn backoff(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

#[derive(Default)]
struct State {
    /// New operations were queued since the thread last looked.
    notified: bool,
    /// Stop once the queue is drained, or at this instant at the latest.
    stop_by: Option<Instant>,
    /// Why the sender stopped early, when it did.
    stalled: Option<String>,
    /// Model versions registered so far.
    registered: Vec<ModelVersion>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the sender left behind when it stopped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SenderOutcome {
    /// Why it stopped before draining the queue, when it did.
    pub stalled: Option<String>,
    /// Model versions it registered.
    pub registered: Vec<ModelVersion>,
}

/// A running sender thread.
pub struct Sender {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Sender {
    /// Starts draining the queue of the run at `run_dir` to the run `link` names.
    pub fn start(
        client: MlflowClient,
        link: MlflowLink,
        run_dir: PathBuf,
        reader: QueueReader,
        notify: Notifier,
    ) -> Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let worker = Worker {
            shared: shared.clone(),
            client,
            link,
            run_dir,
            reader,
            notify,
        };
        let thread = std::thread::Builder::new()
            .name("mlflow-sender".to_string())
            .spawn(move || worker.run())
            .map_err(TrackError::io("starting the MLflow sender thread"))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Tells the thread that new operations are queued.
    pub fn notify(&self) {
        self.shared.lock().notified = true;
        self.shared.wake.notify_all();
    }

    /// Asks the thread to drain the queue and stop, waiting at most until `deadline`.
    pub fn stop(mut self, deadline: Instant) -> SenderOutcome {
        self.shared.lock().stop_by = Some(deadline);
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            self.shared.lock().stalled = Some("the MLflow sender thread crashed".to_string());
        }
        let mut state = self.shared.lock();
        SenderOutcome {
            stalled: state.stalled.take(),
            registered: std::mem::take(&mut state.registered),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        // A tracker dropped without finishing: let the thread end promptly; the queue stays on
        // disk for `runs sync`.
        if self.thread.is_some() {
            self.shared.lock().stop_by = Some(Instant::now());
            self.shared.wake.notify_all();
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    client: MlflowClient,
    link: MlflowLink,
    run_dir: PathBuf,
    reader: QueueReader,
    notify: Notifier,
}

impl Worker {
    fn run(mut self) {
        let mut failures = 0u32;
        loop {
            if self
                .shared
                .lock()
                .stop_by
                .is_some_and(|d| Instant::now() >= d)
            {
                return;
            }
            let next = match self.reader.next_batch() {
                Ok(next) => next,
                Err(e) => return self.stall(format!("cannot read the MLflow queue: {e}")),
            };
            let Some((batch, offset, ops)) = next else {
                let mut state = self.shared.lock();
                if state.stop_by.is_some() {
                    return;
                }
                if !state.notified {
                    state = self
                        .shared
                        .wake
                        .wait(state)
                        .unwrap_or_else(|p| p.into_inner());
                }
                state.notified = false;
                continue;
            };
            match send_batch(&self.client, &self.link, &self.run_dir, &batch) {
                Ok(sent) => {
                    if failures > 0 {
                        (self.notify)(&format!(
                            "MLflow server {} answers again; sending the queued metrics",
                            self.client.uri()
                        ));
                        failures = 0;
                    }
                    match sent {
                        Sent::Done => {}
                        Sent::Registered(version) => self.shared.lock().registered.push(version),
                        Sent::MissingArtifact(message) => (self.notify)(&message),
                    }
                    if let Err(e) = self.reader.advance(offset, ops) {
                        return self.stall(format!("cannot record MLflow progress: {e}"));
                    }
                }
                Err(e) if e.is_transient() => {
                    failures += 1;
                    if failures == 1 {
                        (self.notify)(&format!(
                            "{e}; retrying in the background (everything stays queued in {})",
                            self.run_dir.display()
                        ));
                    }
                    if !self.sleep(backoff(failures)) {
                        return;
                    }
                }
                Err(e) => return self.stall(e.to_string()),
            }
        }
    }

    /// Waits `delay`, cut short only by the stop deadline; false when the deadline has passed.
    fn sleep(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        let mut state = self.shared.lock();
        loop {
            let now = Instant::now();
            if state.stop_by.is_some_and(|d| now >= d) {
                return false;
            }
            if now >= until {
                return true;
            }
            let wake_at = state.stop_by.map_or(until, |d| d.min(until));
            state = self
                .shared
                .wake
                .wait_timeout(state, wake_at - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn stall(&self, message: String) {
        (self.notify)(&format!(
            "MLflow logging stopped: {message}; the rest stays queued in {} for `cascade runs sync`",
            self.run_dir.display()
        ));
        self.shared.lock().stalled = Some(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(5), Duration::from_secs(4));
        assert_eq!(backoff(9), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
