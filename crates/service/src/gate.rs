//! Bounded work: at most `limit` requests do model work at once, each within a time limit.
//!
//! A request past the bound is refused at once (`503` with `Retry-After`) instead of waiting in
//! a queue that would only grow under overload; the client retries against a service that still
//! answers the others promptly. The work itself runs on a blocking thread (the models compute on
//! the CPU for milliseconds), so the async listener keeps accepting and refusing. The slot is
//! held by the work, not by the waiting request: when a request times out (`504`), its slot is
//! freed only once its computation really ends, so the bound holds.

use crate::error::ApiError;
use axum::http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The concurrency bound and time limit of model work.
#[derive(Debug, Clone)]
pub struct Gate {
    slots: Arc<Semaphore>,
    limit: usize,
    timeout: Duration,
}

impl Gate {
    /// At most `limit` (≥ 1) pieces of work at once, each answered within `timeout`.
    pub fn new(limit: usize, timeout: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            timeout,
        }
    }

    /// Runs `work` on a blocking thread if a slot is free: `503` when none is, `504` when it
    /// takes longer than the timeout, `500` when it panics.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| ApiError::saturated(self.limit))?;
        let task = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        });
        match tokio::time::timeout(self.timeout, task).await {
            Err(_) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the request took longer than the {} ms limit",
                    self.timeout.as_millis()
                ),
            )),
            Ok(Err(join)) => Err(ApiError::internal(format!(
                "the request failed inside the service: {join}"
            ))),
            Ok(Ok(result)) => result,
        }
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_past_the_limit_is_refused_with_retry_after_until_a_slot_frees() {
        let gate = Gate::new(1, Duration::from_secs(10));
        let (release, wait) = mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let busy = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run(move || {
                    let _ = started_tx.send(());
                    wait.recv().map_err(|e| ApiError::internal(e.to_string()))?;
                    Ok(1)
                })
                .await
            })
        };
        started.await.expect("the first work started");
        let refused = gate.run(|| Ok(2)).await.expect_err("no slot is free");
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(1));
        release.send(()).expect("the first work waits");
        assert_eq!(busy.await.expect("joined"), Ok(1));
        assert_eq!(gate.run(|| Ok(3)).await, Ok(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_work_times_out_but_keeps_its_slot_until_it_ends() {
        let gate = Gate::new(1, Duration::from_millis(50));
        let (release, wait) = mpsc::channel::<()>();
        let slow = gate
            .run(move || {
                wait.recv().map_err(|e| ApiError::internal(e.to_string()))?;
                Ok(())
            })
            .await
            .expect_err("the work outlives the timeout");
        assert_eq!(slow.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(gate.available(), 0, "the timed-out work still computes");
        release.send(()).expect("the slow work waits");
        for _ in 0..200 {
            if gate.available() == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the slot was not freed when the work ended");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_the_work_is_a_500_not_a_crash() {
        let gate = Gate::new(2, Duration::from_secs(10));
        let failed = gate
            .run(|| -> Result<(), ApiError> { panic!("boom") })
            .await
            .expect_err("the work panicked");
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(gate.run(|| Ok(7)).await, Ok(7));
    }
}
