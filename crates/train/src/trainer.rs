//! The training loop: batches from the streaming reader, one model step each, with periodic
//! logging, evaluation and checkpoints, and exact resume from the latest checkpoint.
//!
//! Everything that decides the model's bits — initialisation, the order of batches, the
//! updates — depends only on the configuration, its seed and the thread count, so a run
//! repeated with the same settings, or interrupted and resumed, ends with an identical model.

use crate::catalog::Catalog;
use crate::checkpoint::{self, TrainerState};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::evaluate::{EvalInput, location, predict};
use crate::features::DensePrep;
use crate::model::TrainModel;
use crate::negatives::UniformNegatives;
use crate::progress::Progress;
use crate::retrieval::{RetrievalEval, evaluate_retrieval};
use crate::run_dir::{CONFIG_FILE, RunDir, finite_or_null};
use crate::tracking::{CHECKPOINT_ARTIFACT, RunOptions, TrainedRun};
use cascade_data::{OpenOptions, ReaderConfig, ShuffleConfig, StreamingDataset};
use cascade_dist::ProcessGroup;
use cascade_metrics::BinaryMetrics;
use cascade_model::TwoTowerModel;
use cascade_track::{FinishReport, ReportExtras, RetrievalComparison, RunStatus, Tracker};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Starts a new run of `config` in the folder `run_dir` and trains it to the end, tracked
/// locally only; returns the summary also written to `summary.json` (as its `result`).
pub fn train(config: &TrainConfig, run_dir: &Path) -> Result<serde_json::Value> {
    Ok(train_with(config, run_dir, &RunOptions::local())?.summary)
}

/// Starts a new run of `config` in the folder `run_dir`, tracked as `options` say, and trains
/// it to the end (or until `options.stop` is set).
///
/// Started by an MPI launcher (`mpirun -n 4 cascade train ...`), every rank calls this with
/// the same arguments and the run trains across them (see the `sharded` module); rank 0
/// keeps the run folder and its tracking, every rank writes its checkpoint shards there.
pub fn train_with(
    config: &TrainConfig,
    run_dir: &Path,
    options: &RunOptions,
) -> Result<TrainedRun> {
    run_in_pool(config, run_dir, None, options)
}

/// Continues the run in `run_dir` from its latest checkpoint, with the configuration saved
/// in the folder, exactly where it stopped (tracked locally only).
pub fn resume(run_dir: &Path) -> Result<serde_json::Value> {
    Ok(resume_with(run_dir, &[], &RunOptions::local())?.summary)
}

/// Continues the run in `run_dir` from its latest checkpoint, with the configuration saved in
/// the folder and `overrides` applied to it, tracked as `options` say. An override that
/// changes a param of the run is an error naming it, before training starts. Across ranks,
/// the world size may differ from the run's before: the tables are resharded.
pub fn resume_with(
    run_dir: &Path,
    overrides: &[String],
    options: &RunOptions,
) -> Result<TrainedRun> {
    let config = TrainConfig::load(&run_dir.join(CONFIG_FILE), overrides)?;
    let from = checkpoint::latest(run_dir)?.ok_or_else(|| {
        TrainError::Invalid(format!(
            "{} has no checkpoint to resume from",
            run_dir.display()
        ))
    })?;
    run_in_pool(&config, run_dir, Some(from), options)
}

/// The split a run evaluates on: the configured one, else `val`, else `test`, when the
/// dataset has them; none when it has neither.
pub fn eval_split(
    config: &TrainConfig,
    manifest: &cascade_data::DatasetManifest,
) -> Option<String> {
    config.data.eval_split.clone().or_else(|| {
        ["val", "test"]
            .into_iter()
            .find(|s| manifest.splits.contains_key(*s))
            .map(String::from)
    })
}

/// A rayon pool with the configured number of threads.
pub(crate) fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| TrainError::Invalid(format!("cannot start {threads} threads: {e}")))
}

fn run_in_pool(
    config: &TrainConfig,
    run_dir: &Path,
    from: Option<PathBuf>,
    options: &RunOptions,
) -> Result<TrainedRun> {
    pool(config.train.threads)?.install(|| {
        // Collectives are made from this thread, so MPI starts (and ends) here.
        let group = cascade_dist::from_environment()?;
        group.set_collective_timeout(config.distributed.collective_timeout());
        let result = run_rank(config, run_dir, from, options, group.as_ref());
        if let Err(e) = &result
            && group.world_size() > 1
        {
            // The other ranks would wait for this one in their next collective.
            eprintln!(
                "error: rank {} of {}: {e}",
                group.rank(),
                group.world_size()
            );
            group.abort(1);
        }
        result
    })
}

/// Trains this rank's part of the run: rank 0 (or a single process) with the run folder's
/// tracking, the others as followers.
fn run_rank(
    config: &TrainConfig,
    run_dir: &Path,
    from: Option<PathBuf>,
    options: &RunOptions,
    group: &dyn ProcessGroup,
) -> Result<TrainedRun> {
    if group.rank() != 0 {
        let run = RunDir::follower(run_dir);
        let outcome = Session::start(config, run, from, &options.stop, group)?.run()?;
        return Ok(TrainedRun {
            summary: outcome.summary,
            tracking: FinishReport {
                status: if outcome.stopped {
                    RunStatus::Killed
                } else {
                    RunStatus::Finished
                },
                run_folder: run_dir.to_path_buf(),
                mlflow_run_id: None,
                unsent: 0,
                sender_error: None,
                registered: Vec::new(),
            },
            rank: group.rank(),
        });
    }
    let run = match from {
        Some(_) => RunDir::open(run_dir, config, options)?,
        None => RunDir::create(run_dir, config, options)?,
    };
    let Some(tracker) = run.tracker().cloned() else {
        return Err(TrainError::Invalid("rank 0 has no run tracker".into()));
    };
    let outcome = Session::start(config, run, from, &options.stop, group).and_then(Session::run);
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            mark_failed(&tracker, options);
            return Err(e);
        }
    };
    end_run(&tracker, outcome, run_dir, options)
}

/// Ends the run as FAILED. The error that failed it is what the user needs; not being able to
/// record it is only a warning.
fn mark_failed(tracker: &Tracker, options: &RunOptions) {
    if let Err(e) = tracker.finish_with_report(RunStatus::Failed, &Default::default()) {
        (options.tracker.notify)(&format!("cannot mark the run FAILED: {e}"));
    }
}

/// Ends a run that trained without error: uploads its final checkpoint, registers it when
/// asked (finished runs only), writes the report and records FINISHED — or KILLED when it was
/// stopped, which is then returned as [`TrainError::Interrupted`].
fn end_run(
    tracker: &Tracker,
    outcome: Outcome,
    run_path: &Path,
    options: &RunOptions,
) -> Result<TrainedRun> {
    let queued = outcome.checkpoint.as_ref().map_or(Ok(()), |checkpoint| {
        tracker.log_artifact(checkpoint, CHECKPOINT_ARTIFACT)?;
        match &options.register_model {
            Some(name) if !outcome.stopped => {
                tracker.register_model(name, CHECKPOINT_ARTIFACT, options.model_alias.as_deref())
            }
            _ => Ok(()),
        }
    });
    if let Err(e) = queued {
        mark_failed(tracker, options);
        return Err(e.into());
    }
    let predictions = outcome
        .predictions
        .as_ref()
        .map(|(probs, labels)| cascade_track::Predictions { probs, labels });
    let status = if outcome.stopped {
        RunStatus::Killed
    } else {
        RunStatus::Finished
    };
    let retrieval = outcome.retrieval.as_ref().map(|r| RetrievalComparison {
        model: &r.model,
        baseline: &r.popularity,
        baseline_name: "popularity",
    });
    let tracking = tracker.finish_with_report(
        status,
        &ReportExtras {
            predictions,
            retrieval,
        },
    )?;
    if outcome.stopped {
        return Err(TrainError::Interrupted {
            step: outcome.step,
            checkpoint: outcome
                .checkpoint
                .map_or("none".into(), |p| p.display().to_string()),
            run: run_path.display().to_string(),
        });
    }
    Ok(TrainedRun {
        summary: outcome.summary,
        tracking,
        rank: 0,
    })
}

/// How a training session ended.
struct Outcome {
    /// The training summary.
    summary: serde_json::Value,
    /// The last step taken.
    step: u64,
    /// The last checkpoint written.
    checkpoint: Option<PathBuf>,
    /// The probabilities and labels of the last evaluation.
    predictions: Option<(Vec<f32>, Vec<f32>)>,
    /// The retrieval metrics of the last evaluation (two-tower runs).
    retrieval: Option<RetrievalEval>,
    /// Whether it was stopped before the end.
    stopped: bool,
}

/// A training run in progress (this rank's part of it, across ranks).
struct Session<'a> {
    config: &'a TrainConfig,
    group: &'a dyn ProcessGroup,
    run: RunDir,
    data: PathBuf,
    dataset: StreamingDataset,
    batch_spec: cascade_data::BatchSpec,
    prep: DensePrep,
    eval_split: Option<String>,
    model: TrainModel,
    /// The users and items of a two-tower run's data.
    catalog: Option<Catalog>,
    /// The uniform sampler of extra softmax negatives, when the run asks for them.
    negatives: Option<UniformNegatives>,
    state: TrainerState,
    last_checkpoint: Option<PathBuf>,
    last_predictions: Option<(Vec<f32>, Vec<f32>)>,
    last_retrieval: Option<RetrievalEval>,
    stop: Arc<AtomicBool>,
}

/// The metrics of one evaluation: binary ones when the model predicts probabilities,
/// retrieval ones for a two-tower model.
#[derive(Debug, Clone, Default)]
struct Evaluation {
    binary: Option<BinaryMetrics>,
    retrieval: Option<RetrievalEval>,
}

impl Evaluation {
    /// The metrics as one JSON object.
    fn json(&self, split: Option<&str>) -> serde_json::Value {
        let mut out = match &self.binary {
            Some(m) => eval_json(split, m),
            None => serde_json::json!({ "split": split }),
        };
        if let (Some(r), Some(map)) = (&self.retrieval, out.as_object_mut()) {
            map.extend(r.json());
        }
        out
    }
}

impl<'a> Session<'a> {
    fn start(
        config: &'a TrainConfig,
        run: RunDir,
        from: Option<PathBuf>,
        stop: &Arc<AtomicBool>,
        group: &'a dyn ProcessGroup,
    ) -> Result<Self> {
        let world = group.world_size();
        if !config.data.batch_size.is_multiple_of(world) {
            return Err(TrainError::Invalid(format!(
                "data.batch_size {} is the global batch and must divide evenly over the {world} \
                 ranks",
                config.data.batch_size
            )));
        }
        let data = config.data.path.clone().ok_or_else(|| {
            TrainError::Invalid(
                "no dataset: set data.path in the configuration or pass --data".into(),
            )
        })?;
        let (manifest, dataset) = StreamingDataset::open_split(
            location(&data)?,
            &config.data.train_split,
            &OpenOptions::default(),
        )?;
        let eval_split = eval_split(config, &manifest);
        let mut model = TrainModel::build(config, &manifest, group)?;
        let catalog = match &mut model {
            TrainModel::TwoTower(m) => {
                Some(two_tower_catalog(m, &data, config, eval_split.as_deref())?)
            }
            TrainModel::Ranking(_) | TrainModel::Sharded(_) => None,
        };
        let negatives = match (&catalog, &config.two_tower) {
            (Some(catalog), Some(t)) => {
                UniformNegatives::new(catalog, t.uniform_negatives, config.train.seed)?
            }
            _ => None,
        };
        let state = match &from {
            Some(dir) => {
                model.restore(&checkpoint::model_dir(dir))?;
                checkpoint::load_state(dir)?
            }
            None => TrainerState {
                step: 0,
                samples: 0,
                reader: dataset.start_state(
                    ShuffleConfig {
                        shuffle: config.data.shuffle,
                        seed: config.train.seed,
                        window: config.data.shuffle_window,
                    },
                    0,
                ),
            },
        };
        Ok(Self {
            config,
            group,
            run,
            batch_spec: dataset.batch_spec(&manifest)?,
            prep: DensePrep::new(
                &manifest,
                config.data.dense_transform,
                config.data.non_finite,
            ),
            eval_split,
            data,
            dataset,
            model,
            catalog,
            negatives,
            state,
            last_checkpoint: from,
            last_predictions: None,
            last_retrieval: None,
            stop: stop.clone(),
        })
    }

    fn run(mut self) -> Result<Outcome> {
        let c = &self.config.train;
        let batch_size = self.config.data.batch_size as u64;
        let epochs = u64::from(c.epochs);
        let max_steps = if c.max_steps == 0 {
            u64::MAX
        } else {
            c.max_steps
        };
        let steps_per_epoch = self.dataset.len().div_ceil(batch_size);
        let total = epochs.saturating_mul(steps_per_epoch).min(max_steps);
        let world = self.group.world_size();
        let progress = Progress::new(total, self.state.step, self.group.rank() != 0);
        let reader_config = ReaderConfig {
            batch_size: self.config.data.batch_size / world,
            rank: self.group.rank(),
            world_size: world,
            workers: self.config.data.loader_threads,
            ..ReaderConfig::default()
        };
        let started = Instant::now();
        let first_samples = self.state.samples;
        let first_step = self.state.step;
        let (mut window_loss, mut window_steps) = (0.0f64, 0u64);
        let mut last_loss = f64::NAN;
        let mut last_eval: Option<(u64, Evaluation)> = None;
        let mut last_saved = None;
        let mut stopped = false;
        'epochs: while self.state.reader.epoch < epochs && self.state.step < max_steps {
            let mut reader =
                self.dataset
                    .batches(&self.batch_spec, &reader_config, &self.state.reader)?;
            while let Some(batch) = reader.next() {
                let mut batch = batch?;
                self.prep.apply(&mut batch)?;
                let loss = self.train_step(&batch)?;
                if !loss.is_finite() {
                    progress.finish();
                    return Err(TrainError::NonFiniteLoss {
                        step: self.state.step + 1,
                        loss,
                        kept: self
                            .last_checkpoint
                            .as_ref()
                            .map_or("none".into(), |p| p.display().to_string()),
                    });
                }
                let epoch = self.state.reader.epoch;
                self.state.step += 1;
                self.state.samples += self.model.step_samples(batch.len) as u64;
                self.state.reader = reader.state();
                let step = self.state.step;
                window_loss += f64::from(loss);
                window_steps += 1;
                let rate = (self.state.samples - first_samples) as f64
                    / started.elapsed().as_secs_f64().max(1e-9);
                progress.step(rate, loss);
                if c.log_every > 0 && step.is_multiple_of(c.log_every) {
                    last_loss = window_loss / window_steps as f64;
                    self.run.log(step, epoch, "train/logloss", last_loss)?;
                    self.run.log(step, epoch, "train/samples_per_sec", rate)?;
                    (window_loss, window_steps) = (0.0, 0);
                }
                if c.eval_every > 0 && step.is_multiple_of(c.eval_every) {
                    last_eval = self.evaluate(epoch, &progress)?.map(|m| (step, m));
                }
                if c.checkpoint_every > 0 && step.is_multiple_of(c.checkpoint_every) {
                    self.checkpoint()?;
                    last_saved = Some(step);
                }
                if step >= max_steps {
                    break 'epochs;
                }
                if self.stop_requested()? {
                    stopped = true;
                    break 'epochs;
                }
            }
            self.state.reader = reader.state();
            if c.eval_every == 0 {
                let epoch = self.state.reader.epoch.saturating_sub(1);
                last_eval = self
                    .evaluate(epoch, &progress)?
                    .map(|m| (self.state.step, m));
            }
        }
        progress.finish();
        if window_steps > 0 {
            last_loss = window_loss / window_steps as f64;
            let epoch = self.state.reader.epoch;
            self.run
                .log(self.state.step, epoch, "train/logloss", last_loss)?;
        }
        let wall_s = started.elapsed().as_secs_f64();
        // A stopped run skips the final evaluation: the user asked it to end now.
        if !stopped
            && last_eval
                .as_ref()
                .is_none_or(|(s, _)| *s != self.state.step)
        {
            last_eval = self
                .evaluate(self.state.reader.epoch, &progress)?
                .map(|m| (self.state.step, m));
        }
        if last_saved != Some(self.state.step) {
            self.checkpoint()?;
        }
        let steps_here = (self.state.step - first_step).max(1) as f64;
        let comm = self.model.comm_stats().map(|(c, dense)| {
            serde_json::json!({
                "bytes_sent_per_step": c.bytes_sent as f64 / steps_here,
                "seconds_per_step": c.seconds / steps_here,
                "collectives_per_step": c.calls as f64 / steps_here,
                "dense_all_reduce_seconds_per_step": dense.seconds / steps_here,
            })
        });
        let summary = serde_json::json!({
            "model": self.model.kind_name(),
            "ranks": self.group.world_size(),
            "communication": comm,
            "steps": self.state.step,
            "samples": self.state.samples,
            "epoch": self.state.reader.epoch,
            "train_loss": finite_or_null(last_loss),
            "samples_per_s": (self.state.samples - first_samples) as f64 / wall_s.max(1e-9),
            "train_wall_s": wall_s,
            "eval": last_eval.map(|(_, m)| m.json(self.eval_split.as_deref())),
            "checkpoint": self.last_checkpoint.as_ref().map(|p| p.display().to_string()),
        });
        self.run.write_summary(&summary)?;
        Ok(Outcome {
            summary,
            step: self.state.step,
            checkpoint: self.last_checkpoint.clone(),
            predictions: self.last_predictions.take(),
            retrieval: self.last_retrieval.take(),
            stopped,
        })
    }

    /// Whether the run was asked to stop (Ctrl-C) — on any rank, so that all stop after the
    /// same step.
    fn stop_requested(&self) -> Result<bool> {
        let mine = self.stop.load(Ordering::SeqCst);
        if self.group.world_size() == 1 {
            return Ok(mine);
        }
        let mut flag = [f64::from(u8::from(mine))];
        self.group.all_reduce_sum_f64(&mut flag)?;
        Ok(flag[0] > 0.0)
    }

    /// One training step on `batch`, with this step's uniformly sampled negatives when the
    /// run draws them.
    fn train_step(&mut self, batch: &cascade_core::Batch) -> Result<f32> {
        match (&mut self.model, &self.negatives, &self.catalog) {
            (TrainModel::TwoTower(model), Some(negatives), Some(catalog)) => {
                let item_id = model.spec().item_id_feature().to_string();
                let candidates = negatives.candidates(catalog, batch, &item_id, self.state.step)?;
                Ok(model.train_step_mixed(batch, &candidates, negatives.pool())?)
            }
            _ => self.model.train_step(batch, self.group),
        }
    }

    /// Evaluates on the eval split, logs the metrics and returns them (none without a split).
    fn evaluate(&mut self, epoch: u64, progress: &Progress) -> Result<Option<Evaluation>> {
        let Some(split) = self.eval_split.clone() else {
            return Ok(None);
        };
        let step = self.state.step;
        let mut evaluation = Evaluation::default();
        if self.model.logits_available() {
            let input = EvalInput {
                data: &self.data,
                split: &split,
                batch_size: self.config.data.batch_size,
                workers: self.config.data.loader_threads,
            };
            let d = &self.config.data;
            let predictions = predict(
                &mut self.model,
                &input,
                d.dense_transform,
                d.non_finite,
                self.group,
            )?;
            let m = predictions.metrics();
            self.last_predictions = Some((predictions.probabilities, predictions.labels));
            for (name, value) in [
                ("eval/auc", m.auc),
                ("eval/logloss", m.logloss),
                ("eval/ne", m.ne),
                ("eval/calibration", m.calibration),
            ] {
                self.run.log(step, epoch, name, value)?;
            }
            progress.println(&format!(
                "step {step}: {split} auc {:.4} logloss {:.4} ne {:.4} calibration {:.3}",
                m.auc, m.logloss, m.ne, m.calibration
            ));
            evaluation.binary = Some(m);
        }
        if let (TrainModel::TwoTower(model), Some(catalog)) = (&mut self.model, &self.catalog) {
            let ks = self.config.two_tower.clone().unwrap_or_default().eval_k;
            let r = evaluate_retrieval(model, catalog, &ks)?;
            let mut line = format!("step {step}: {split} ({} users)", r.users);
            for (k, m) in &r.model {
                self.run
                    .log(step, epoch, &format!("eval/recall@{k}"), m.recall)?;
                self.run
                    .log(step, epoch, &format!("eval/ndcg@{k}"), m.ndcg)?;
                let baseline = r.popularity.get(k).map_or(f64::NAN, |p| p.recall);
                line += &format!(" recall@{k} {:.4} (popularity {baseline:.4})", m.recall);
            }
            progress.println(&line);
            self.last_retrieval = Some(r.clone());
            evaluation.retrieval = Some(r);
        }
        Ok(Some(evaluation))
    }

    fn checkpoint(&mut self) -> Result<()> {
        let dir = checkpoint::save(
            self.run.root(),
            &mut self.model,
            &self.state,
            self.config.train.keep_checkpoints,
            self.group,
        )?;
        self.last_checkpoint = Some(dir);
        Ok(())
    }
}

/// The users and items of a two-tower run's data (training split and `eval_split`), after
/// giving `model` the item frequencies its log-Q correction needs.
fn two_tower_catalog(
    model: &mut TwoTowerModel,
    data: &Path,
    config: &TrainConfig,
    eval_split: Option<&str>,
) -> Result<Catalog> {
    let catalog = Catalog::scan(data, &config.data.train_split, eval_split, model.spec())?;
    let rows = model.spec().item_features[0].rows;
    model.set_item_frequencies(&catalog.item_frequencies(rows))?;
    Ok(catalog)
}

/// The metrics of one split as JSON (`null` for a metric that is not defined).
pub fn eval_json(split: Option<&str>, m: &BinaryMetrics) -> serde_json::Value {
    serde_json::json!({
        "split": split,
        "auc": finite_or_null(m.auc),
        "logloss": finite_or_null(m.logloss),
        "ne": finite_or_null(m.ne),
        "calibration": finite_or_null(m.calibration),
        "positive_rate": finite_or_null(m.positive_rate),
        "samples": m.samples,
    })
}
