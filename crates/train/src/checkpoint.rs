//! Training checkpoints: the model's whole state plus where training stands, so a run can
//! continue with exactly the next batch.
//!
//! ```text
//! RUN_DIR/checkpoints/step-0000000100/model/        the model checkpoint folder
//! RUN_DIR/checkpoints/step-0000000100/trainer.json  step, samples seen, reader resume state
//! RUN_DIR/checkpoints/latest                        name of the newest complete checkpoint
//! ```
//!
//! A checkpoint is assembled in a temporary folder and renamed into place, and `latest` is
//! replaced atomically after that, so an interruption at any moment leaves the previous
//! checkpoint intact and named by `latest`. Only the newest few are kept.

use crate::error::{Result, TrainError, io_at};
use crate::model::TrainModel;
use crate::run_dir::write_atomic;
use cascade_data::ResumeState;
use cascade_dist::ProcessGroup;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const CHECKPOINTS: &str = "checkpoints";
const LATEST: &str = "latest";
const TRAINER: &str = "trainer.json";
const MODEL: &str = "model";

/// Where training stands after a step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerState {
    /// Training steps taken.
    pub step: u64,
    /// Training samples consumed.
    pub samples: u64,
    /// The reader's position: epoch and samples consumed in it.
    pub reader: ResumeState,
}

/// The model folder of checkpoint `dir`.
pub fn model_dir(dir: &Path) -> PathBuf {
    dir.join(MODEL)
}

/// Writes a checkpoint of `model` and `state` into `run`'s checkpoint folder, points `latest`
/// at it and deletes all but the newest `keep`. Returns its folder.
///
/// Across ranks, every rank calls it at the same step: rank 0 prepares the temporary folder,
/// every rank writes its part of the model into it (rank 0 the dense part, each rank its
/// table shards), and once all have, rank 0 adds the trainer state, renames the folder into
/// place and moves `latest` — so `latest` only ever names a checkpoint every rank finished.
pub fn save(
    run: &Path,
    model: &mut TrainModel,
    state: &TrainerState,
    keep: usize,
    group: &dyn ProcessGroup,
) -> Result<PathBuf> {
    let root = run.join(CHECKPOINTS);
    let name = format!("step-{:010}", state.step);
    let dir = root.join(&name);
    let tmp = root.join(format!(".tmp-{name}"));
    let lead = group.rank() == 0;
    if lead {
        std::fs::create_dir_all(&root).map_err(io_at(&root))?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io_at(&tmp))?;
        }
        let model_tmp = model_dir(&tmp);
        std::fs::create_dir_all(&model_tmp).map_err(io_at(&model_tmp))?;
    }
    group.barrier()?;
    model.save(&model_dir(&tmp))?;
    group.barrier()?;
    if lead {
        let text = serde_json::to_vec_pretty(state)
            .map_err(|e| TrainError::Invalid(format!("trainer state: {e}")))?;
        write_atomic(&tmp.join(TRAINER), &text)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_at(&dir))?;
        }
        std::fs::rename(&tmp, &dir).map_err(io_at(&dir))?;
        write_atomic(&root.join(LATEST), name.as_bytes())?;
        prune(&root, keep)?;
    }
    group.barrier()?;
    Ok(dir)
}

/// Deletes all but the newest `keep` checkpoints.
fn prune(root: &Path, keep: usize) -> Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map_err(io_at(root))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("step-"))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep);
    for name in &names[..excess] {
        let dir = root.join(name);
        std::fs::remove_dir_all(&dir).map_err(io_at(&dir))?;
    }
    Ok(())
}

/// The newest complete checkpoint of `run`, if any.
pub fn latest(run: &Path) -> Result<Option<PathBuf>> {
    let pointer = run.join(CHECKPOINTS).join(LATEST);
    match std::fs::read_to_string(&pointer) {
        Ok(name) => {
            let dir = run.join(CHECKPOINTS).join(name.trim());
            if dir.is_dir() {
                Ok(Some(dir))
            } else {
                Err(TrainError::Invalid(format!(
                    "{} names checkpoint {}, which does not exist",
                    pointer.display(),
                    name.trim()
                )))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(&pointer)(e)),
    }
}

/// Reads the trainer state of checkpoint `dir`.
pub fn load_state(dir: &Path) -> Result<TrainerState> {
    let path = dir.join(TRAINER);
    let text = std::fs::read(&path).map_err(io_at(&path))?;
    serde_json::from_slice(&text)
        .map_err(|e| TrainError::Invalid(format!("{}: {e}", path.display())))
}
