//! The background reading pipeline of one rank for the rest of one epoch.
//!
//! `workers` loader threads build this rank's batches in parallel: worker `w` builds batches
//! `w, w + workers, ...`, each into its own bounded channel, and the caller takes batch `t` from
//! channel `t % workers`, so batches arrive in order whatever the thread count and at most
//! `prefetch` per worker wait in memory. Shards are loaded (downloaded, verified, decompressed)
//! on first use by whichever worker needs them, and a prefetch thread loads the next shards in
//! first-use order ahead of the workers. Each shard is held until the last batch that touches its
//! shuffle windows is built, so it is decompressed once per epoch. Errors (a corrupt shard, a bad
//! column) reach the caller as the iterator's next item; the reader then stops.

use crate::batch::BatchSpec;
use crate::error::{DataError, Result};
use crate::order::EpochOrder;
use crate::partition::RankPlan;
use crate::source::{LoadedShard, Source};
use crate::state::ResumeState;
use cascade_core::Batch;
use cascade_mds::{Column, Index, SampleRef, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// How one rank reads: batch size, its place among the ranks, threads and buffering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderConfig {
    /// Samples per batch on this rank (the global batch is `batch_size * world_size`).
    pub batch_size: usize,
    /// This process's rank, `0..world_size`.
    pub rank: usize,
    /// Number of ranks reading the dataset together.
    pub world_size: usize,
    /// Loader threads building batches.
    pub workers: usize,
    /// Finished batches each loader thread may hold ahead of the caller.
    pub prefetch: usize,
    /// Shards the prefetch thread may load beyond those the current shuffle window needs.
    pub prefetch_shards: usize,
    /// Skip the samples after the last full global batch instead of yielding short batches.
    pub drop_last: bool,
}

impl Default for ReaderConfig {
    /// One rank, batches of 1024, two loader threads.
    fn default() -> Self {
        Self {
            batch_size: 1024,
            rank: 0,
            world_size: 1,
            workers: 2,
            prefetch: 2,
            prefetch_shards: 1,
            drop_last: false,
        }
    }
}

impl ReaderConfig {
    /// Checks the options; errors name the option.
    fn validate(&self) -> Result<()> {
        let bad = |option, message: &str| {
            Err(DataError::Config {
                option,
                message: message.into(),
            })
        };
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.world_size == 0 {
            return bad("world_size", "must be at least 1");
        }
        if self.rank >= self.world_size {
            return bad(
                "rank",
                &format!("{} is not below world_size {}", self.rank, self.world_size),
            );
        }
        if self.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        if self.prefetch == 0 {
            return bad("prefetch", "must be at least 1");
        }
        Ok(())
    }
}

/// One sample of a batch as the loader picked it: where it came from and its column bytes.
#[derive(Debug)]
pub struct Picked<'a> {
    /// The shard's stored file.
    pub shard: &'a str,
    /// Sample number within the shard.
    pub local: usize,
    /// Global sample index (position in the dataset's index order).
    pub global: u64,
    /// The sample's encoded columns.
    pub sample: SampleRef<'a>,
}

/// Turns one batch of picked samples into what the reader yields; runs on the loader threads.
pub trait Assemble: Send + Sync + 'static {
    /// What one batch becomes.
    type Output: Send + 'static;
    /// Builds the output of one batch (possibly empty, at the end of an uneven epoch).
    fn assemble(&self, picks: &[Picked<'_>]) -> Result<Self::Output>;
}

impl Assemble for BatchSpec {
    type Output = Batch;

    fn assemble(&self, picks: &[Picked<'_>]) -> Result<Batch> {
        self.build(picks)
    }
}

/// One decoded sample, for uses that want values rather than batches.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Global sample index.
    pub index: u64,
    /// Column values, in the dataset's column order.
    pub values: Vec<Value>,
}

/// Decodes picked samples into [`Sample`]s.
#[derive(Debug, Clone)]
pub struct RawSamples {
    /// The dataset's columns, in index order.
    pub columns: Vec<Column>,
}

impl Assemble for RawSamples {
    type Output = Vec<Sample>;

    fn assemble(&self, picks: &[Picked<'_>]) -> Result<Vec<Sample>> {
        picks
            .iter()
            .map(|p| {
                Ok(Sample {
                    index: p.global,
                    values: p.sample.decode(&self.columns)?,
                })
            })
            .collect()
    }
}

/// A shard's slot: loaded or not, and how many of this rank's batches still touch it.
#[derive(Debug, Default)]
struct Slot {
    loaded: Option<Arc<LoadedShard>>,
    remaining: u64,
}

/// What the loader threads share.
struct Shared<A> {
    source: Arc<Source>,
    index: Arc<Index>,
    order: EpochOrder,
    plan: RankPlan,
    assembler: A,
    slots: Vec<Mutex<Slot>>,
    /// Shards loaded and not yet released, with a signal for the prefetch thread.
    resident: Mutex<usize>,
    resident_changed: Condvar,
    stop: AtomicBool,
}

/// Locks a mutex, recovering the data of one poisoned by a panicking thread (whose panic is
/// reported to the caller separately).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<A: Assemble> Shared<A> {
    /// Shards that this rank's batch `t` touches: those of the shuffle windows its positions
    /// fall in.
    fn touched(&self, t: u64) -> BTreeSet<usize> {
        let mut positions = self.plan.positions(t);
        let Some(first) = positions.next() else {
            return BTreeSet::new();
        };
        let last = positions.last().unwrap_or(first);
        (self.order.window_of(first)..=self.order.window_of(last))
            .flat_map(|w| self.order.shards_in(self.order.window_range(w)))
            .collect()
    }

    /// The loaded shard `s`, loading it if needed.
    fn get(&self, s: usize) -> Result<Arc<LoadedShard>> {
        let mut slot = lock(&self.slots[s]);
        if let Some(shard) = &slot.loaded {
            return Ok(shard.clone());
        }
        let shard = Arc::new(self.source.load_shard(&self.index.shards[s])?);
        if slot.remaining > 0 {
            slot.loaded = Some(shard.clone());
            *lock(&self.resident) += 1;
        }
        Ok(shard)
    }

    /// Loads shard `s` ahead of need, unless it is loaded, being loaded by a loader thread, or
    /// no batch needs it any more.
    fn prefetch(&self, s: usize) -> Result<()> {
        let mut slot = match self.slots[s].try_lock() {
            Ok(slot) => slot,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
        };
        if slot.loaded.is_none() && slot.remaining > 0 {
            slot.loaded = Some(Arc::new(self.source.load_shard(&self.index.shards[s])?));
            *lock(&self.resident) += 1;
        }
        Ok(())
    }

    /// Marks one batch touching shard `s` as built; the last one frees the shard.
    fn release(&self, s: usize) {
        let mut slot = lock(&self.slots[s]);
        slot.remaining = slot.remaining.saturating_sub(1);
        if slot.remaining == 0 && slot.loaded.take().is_some() {
            *lock(&self.resident) -= 1;
            self.resident_changed.notify_all();
        }
    }

    /// Builds this rank's batch `t`.
    fn build(&self, t: u64, windows: &mut WindowCache) -> Result<A::Output> {
        // Shards this batch reads, and each shard's place in `held`.
        let mut held: Vec<Arc<LoadedShard>> = Vec::new();
        let mut slot_of: Vec<Option<usize>> = vec![None; self.slots.len()];
        let mut sites = Vec::with_capacity(self.plan.positions(t).count());
        for pos in self.plan.positions(t) {
            let w = self.order.window_of(pos);
            let window = windows.get(&self.order, w);
            let global = window[(pos - self.order.window_range(w).start) as usize];
            let (s, local) = self.order.locate(global);
            let h = match slot_of[s] {
                Some(h) => h,
                None => {
                    held.push(self.get(s)?);
                    slot_of[s] = Some(held.len() - 1);
                    held.len() - 1
                }
            };
            sites.push((h, local, global));
        }
        let mut picks = Vec::with_capacity(sites.len());
        for (h, local, global) in sites {
            let loaded = &held[h];
            picks.push(Picked {
                shard: &loaded.name,
                local,
                global,
                sample: loaded.shard.sample(local)?,
            });
        }
        self.assembler.assemble(&picks)
    }
}

/// The last shuffle windows a loader thread expanded (a window is shared by consecutive batches).
#[derive(Default)]
struct WindowCache {
    recent: Vec<(u64, Arc<Vec<u64>>)>,
}

impl WindowCache {
    fn get(&mut self, order: &EpochOrder, w: u64) -> Arc<Vec<u64>> {
        if let Some((_, samples)) = self.recent.iter().find(|(k, _)| *k == w) {
            return samples.clone();
        }
        let samples = Arc::new(order.window_samples(w));
        if self.recent.len() == 2 {
            self.recent.remove(0);
        }
        self.recent.push((w, samples.clone()));
        samples
    }
}

/// Reads the rest of one epoch on one rank, yielding each batch in order; see the module docs.
pub struct Reader<A: Assemble> {
    shared: Arc<Shared<A>>,
    receivers: Vec<Receiver<Result<A::Output>>>,
    threads: Vec<Option<JoinHandle<()>>>,
    prefetcher: Option<JoinHandle<()>>,
    next: u64,
    state: ResumeState,
    finished: bool,
}

/// Reads [`Batch`]es.
pub type BatchReader = Reader<BatchSpec>;

/// Reads decoded [`Sample`]s, a batch at a time.
pub type SampleReader = Reader<RawSamples>;

impl<A: Assemble> Reader<A> {
    /// Starts the loader threads for the rest of `state`'s epoch.
    pub(crate) fn start(
        source: Arc<Source>,
        index: Arc<Index>,
        assembler: A,
        config: &ReaderConfig,
        state: &ResumeState,
    ) -> Result<Reader<A>> {
        config.validate()?;
        let total = index.num_samples();
        state.validate(total)?;
        let sizes: Vec<u64> = index.shards.iter().map(|s| s.samples).collect();
        let order = EpochOrder::new(&sizes, &state.shuffle, state.epoch);
        let plan = RankPlan::new(
            state.consumed,
            total,
            config.rank as u64,
            config.world_size as u64,
            config.batch_size as u64,
            config.drop_last,
        );
        let mut shared = Shared {
            source,
            index,
            order,
            plan,
            assembler,
            slots: (0..sizes.len())
                .map(|_| Mutex::new(Slot::default()))
                .collect(),
            resident: Mutex::new(0),
            resident_changed: Condvar::new(),
            stop: AtomicBool::new(false),
        };
        // Count each shard's uses and note the order in which shards are first needed.
        let mut first_use = Vec::new();
        let mut widest = 1;
        for t in 0..plan.num_batches() {
            let touched = shared.touched(t);
            widest = widest.max(touched.len());
            for s in touched {
                let slot = shared.slots[s].get_mut().unwrap_or_else(|p| p.into_inner());
                if slot.remaining == 0 {
                    first_use.push(s);
                }
                slot.remaining += 1;
            }
        }
        let shared = Arc::new(shared);
        let mut receivers = Vec::with_capacity(config.workers);
        let mut threads = Vec::with_capacity(config.workers);
        for w in 0..config.workers {
            let (tx, rx) = sync_channel(config.prefetch);
            receivers.push(rx);
            let shared = shared.clone();
            let workers = config.workers as u64;
            let handle = std::thread::Builder::new()
                .name(format!("cascade-loader-{w}"))
                .spawn(move || load_batches(&shared, w as u64, workers, &tx))
                .map_err(|e| DataError::Worker {
                    worker: w,
                    message: e.to_string(),
                })?;
            threads.push(Some(handle));
        }
        let limit = widest + config.prefetch_shards;
        let prefetch_shared = shared.clone();
        let prefetcher = std::thread::Builder::new()
            .name("cascade-prefetch".into())
            .spawn(move || prefetch_shards(&prefetch_shared, &first_use, limit))
            .map_err(|e| DataError::Worker {
                worker: config.workers,
                message: e.to_string(),
            })?;
        Ok(Reader {
            shared,
            receivers,
            threads,
            prefetcher: Some(prefetcher),
            next: 0,
            state: *state,
            finished: false,
        })
    }

    /// Batches this rank yields in the rest of the epoch (every rank yields the same number).
    pub fn num_batches(&self) -> u64 {
        self.shared.plan.num_batches()
    }

    /// Where reading stands after the batches yielded so far, counted over all ranks (every rank
    /// reports the same state after the same number of batches). At the end of the epoch it
    /// points at the start of the next one.
    pub fn state(&self) -> ResumeState {
        self.state
    }

    /// The state at the start of the epoch after this one.
    fn next_epoch(&self) -> ResumeState {
        ResumeState::start(
            self.state.shuffle,
            self.state.total_samples,
            self.state.epoch + 1,
        )
    }

    /// Stops the threads and waits for them.
    fn shut_down(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.receivers.clear();
        self.shared.resident_changed.notify_all();
        for handle in self.threads.iter_mut().filter_map(Option::take) {
            let _ = handle.join();
        }
        if let Some(handle) = self.prefetcher.take() {
            let _ = handle.join();
        }
    }
}

/// Loader thread `w`: builds batches `w, w + workers, ...` into `tx` until done or stopped.
fn load_batches<A: Assemble>(
    shared: &Shared<A>,
    w: u64,
    workers: u64,
    tx: &SyncSender<Result<A::Output>>,
) {
    let mut windows = WindowCache::default();
    let mut t = w;
    while t < shared.plan.num_batches() && !shared.stop.load(Ordering::SeqCst) {
        let result = shared.build(t, &mut windows);
        let failed = result.is_err();
        for s in shared.touched(t) {
            shared.release(s);
        }
        if tx.send(result).is_err() || failed {
            return;
        }
        t += workers;
    }
}

/// The prefetch thread: loads shards in first-use order while fewer than `limit` are resident.
fn prefetch_shards<A: Assemble>(shared: &Shared<A>, first_use: &[usize], limit: usize) {
    for &s in first_use {
        {
            let mut resident = lock(&shared.resident);
            while *resident >= limit && !shared.stop.load(Ordering::SeqCst) {
                resident = shared
                    .resident_changed
                    .wait(resident)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // A failure here is reported by the loader thread that needs the shard.
        if shared.prefetch(s).is_err() {
            return;
        }
    }
}

impl<A: Assemble> Iterator for Reader<A> {
    type Item = Result<A::Output>;

    fn next(&mut self) -> Option<Result<A::Output>> {
        if self.finished {
            return None;
        }
        let t = self.next;
        if t >= self.num_batches() {
            self.finished = true;
            if t == 0 {
                // Nothing was left of the epoch: it is over as soon as reading starts.
                self.state = self.next_epoch();
            }
            self.shut_down();
            return None;
        }
        let w = (t % self.receivers.len() as u64) as usize;
        match self.receivers[w].recv() {
            Ok(Ok(output)) => {
                self.next += 1;
                self.state.consumed = self.shared.plan.consumed_after(t, self.state.total_samples);
                if self.next == self.num_batches() {
                    self.state = self.next_epoch();
                }
                Some(Ok(output))
            }
            Ok(Err(e)) => {
                self.finished = true;
                self.shut_down();
                Some(Err(e))
            }
            Err(_) => {
                // The thread ended without sending: it panicked.
                self.finished = true;
                let message = match self.threads[w].take().map(JoinHandle::join) {
                    Some(Err(panic)) => panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panicked".into()),
                    _ => "ended early".into(),
                };
                self.shut_down();
                Some(Err(DataError::Worker { worker: w, message }))
            }
        }
    }
}

impl<A: Assemble> Drop for Reader<A> {
    fn drop(&mut self) {
        self.shut_down();
    }
}
