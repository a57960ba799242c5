//! Collective timeouts: a rank that waits too long in one collective ends itself.
//!
//! MPI collectives block until every rank arrives. When a rank dies, launchers normally end
//! the others (`mpirun` does); when one hangs — stopped, deadlocked, lost on a partitioned
//! network — the others would wait forever. A [`Watchdog`] thread watches the collective
//! this rank is in; past the timeout it prints which collective, on which rank, for how long,
//! and aborts the process, which makes the launcher end the whole job. Aborting (not
//! returning an error) is deliberate: the blocked call cannot be cancelled, and a clean exit
//! would wait for it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the watchdog thread sees.
#[derive(Debug, Default)]
struct State {
    timeout: Option<Duration>,
    /// The collective in progress and when it started.
    current: Option<(&'static str, Instant)>,
    stopped: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A thread that aborts the process when one collective lasts longer than the timeout.
#[derive(Debug)]
pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Marks a collective as in progress until dropped.
pub(crate) struct InCollective<'a>(&'a Watchdog);

impl Drop for InCollective<'_> {
    fn drop(&mut self) {
        self.0.shared.lock().current = None;
    }
}

impl Watchdog {
    /// Starts the watchdog of rank `rank` of `world`, with no timeout until
    /// [`set_timeout`](Self::set_timeout).
    pub(crate) fn start(rank: usize, world: usize) -> Self {
        let shared = Arc::new(Shared::default());
        let watched = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("collective-watchdog".into())
            .spawn(move || watch(&watched, rank, world))
            .ok();
        Self { shared, thread }
    }

    /// Sets (or, with `None`, clears) the longest time one collective may take.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) {
        self.shared.lock().timeout = timeout;
        self.shared.wake.notify_all();
    }

    /// Marks the collective `op` as in progress until the returned guard is dropped.
    pub(crate) fn enter(&self, op: &'static str) -> InCollective<'_> {
        self.shared.lock().current = Some((op, Instant::now()));
        self.shared.wake.notify_all();
        InCollective(self)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread only waits on the condition variable; it cannot fail to end.
            let _ = thread.join();
        }
    }
}

/// The watchdog thread: sleeps until the current collective's deadline, and aborts the
/// process if the same collective is still in progress then.
fn watch(shared: &Shared, rank: usize, world: usize) {
    let mut state = shared.lock();
    loop {
        if state.stopped {
            return;
        }
        let deadline = match (state.timeout, state.current) {
            (Some(timeout), Some((op, since))) => {
                let deadline = since + timeout;
                if Instant::now() >= deadline {
                    eprintln!(
                        "cascade: rank {rank} of {world} waited {:.0} s in {op} without every rank \
                         arriving: a rank has died or hung. Ending this rank so the launcher ends \
                         the job; relaunch with --resume to continue from the last checkpoint \
                         (the limit is distributed.collective_timeout_s).",
                        timeout.as_secs_f64()
                    );
                    std::process::abort();
                }
                Some(deadline)
            }
            _ => None,
        };
        state = match deadline {
            Some(deadline) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collectives_within_the_timeout_pass_and_the_thread_ends() {
        let dog = Watchdog::start(0, 2);
        dog.set_timeout(Some(Duration::from_millis(200)));
        for _ in 0..3 {
            let _in = dog.enter("barrier");
            std::thread::sleep(Duration::from_millis(20));
        }
        // No collective in progress: waiting past the timeout is fine.
        std::thread::sleep(Duration::from_millis(300));
        drop(dog);
    }
}
