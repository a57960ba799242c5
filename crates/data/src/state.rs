//! Resume state: where an epoch stands, as one small serializable value.
//!
//! Because the epoch's global order depends only on the dataset and the shuffle settings (never on
//! the world size, worker count or batch size), "the first `consumed` positions of epoch `epoch`
//! are done" says everything: a new reader, with any world size, continues at position
//! `consumed`, and together its ranks read exactly the rest of the epoch.

use crate::error::{DataError, Result};
use crate::order::ShuffleConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where reading stands: the order's settings, the epoch and the samples consumed globally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeState {
    /// Shuffle settings the order was derived from.
    pub shuffle: ShuffleConfig,
    /// Samples in the dataset when the state was taken (a guard against resuming on other data).
    pub total_samples: u64,
    /// Current epoch (from 0).
    pub epoch: u64,
    /// Positions of the epoch's global order already consumed, summed over all ranks.
    pub consumed: u64,
}

impl ResumeState {
    /// The start of `epoch`.
    pub fn start(shuffle: ShuffleConfig, total_samples: u64, epoch: u64) -> ResumeState {
        ResumeState {
            shuffle,
            total_samples,
            epoch,
            consumed: 0,
        }
    }

    /// Checks that this state can continue reading a dataset of `total_samples`.
    pub(crate) fn validate(&self, total_samples: u64) -> Result<()> {
        if self.total_samples != total_samples {
            return Err(DataError::Resume {
                message: format!(
                    "taken on a dataset of {} samples, but this dataset has {total_samples}",
                    self.total_samples
                ),
            });
        }
        if self.consumed > total_samples {
            return Err(DataError::Resume {
                message: format!(
                    "consumed {} samples of an epoch of only {total_samples}",
                    self.consumed
                ),
            });
        }
        if self.shuffle.window == 0 {
            return Err(DataError::Resume {
                message: "shuffle window must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Writes the state as JSON, atomically (temporary file in the same folder, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &text).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Reads a state written by [`save`](Self::save); errors name the file.
    pub fn load(path: &Path) -> Result<ResumeState> {
        let text = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let state = ResumeState {
            shuffle: ShuffleConfig {
                shuffle: true,
                seed: 9,
                window: 100,
            },
            total_samples: 1000,
            epoch: 2,
            consumed: 512,
        };
        state.save(&path).unwrap();
        assert_eq!(ResumeState::load(&path).unwrap(), state);
        std::fs::write(&path, b"{\"epoch\": 1}").unwrap();
        let err = ResumeState::load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }

    #[test]
    fn refuses_other_dataset() {
        let state = ResumeState::start(ShuffleConfig::default(), 10, 0);
        assert!(state.validate(10).is_ok());
        let err = state.validate(11).unwrap_err().to_string();
        assert!(err.contains("10 samples") && err.contains("11"), "{err}");
    }
}
