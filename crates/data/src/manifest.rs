//! `cascade.json`: what a converted or generated dataset holds and how its columns become batches.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name of the manifest at the root of a dataset folder.
pub const MANIFEST_FILE: &str = "cascade.json";

/// Current manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// Why a manifest could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid manifest.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One split (e.g. `train`, `val`, `test`): an MDS dataset in a sub-folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitInfo {
    /// Folder of the split's MDS dataset, relative to the dataset root.
    pub path: String,
    /// Samples in the split.
    pub samples: u64,
}

/// A dense feature: a float column (scalar or fixed-length array) that fills `width` columns of
/// the batch's dense matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseFeature {
    /// MDS column name.
    pub column: String,
    /// Number of dense values it contributes per sample.
    pub width: usize,
}

/// A sparse feature: an integer column (scalar, or variable-length array for multi-hot bags)
/// of indices in `0..cardinality`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparseFeature {
    /// Feature name (the key in the batch's keyed jagged features).
    pub name: String,
    /// MDS column name.
    pub column: String,
    /// Number of distinct indices (the embedding table's row count).
    pub cardinality: u64,
    /// Vocabulary file (relative to the dataset root) mapping raw ids to indices, when the ids
    /// came from a vocabulary rather than from hashing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab: Option<String>,
    /// True when each sample may hold several ids (a bag).
    #[serde(default)]
    pub multi_hot: bool,
}

/// The manifest of a dataset folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetManifest {
    /// Manifest format version ([`MANIFEST_VERSION`]).
    pub version: u32,
    /// Where the data came from (`movielens-100k`, `criteo`, `synth:dlrm`, ...).
    pub source: String,
    /// Splits by name.
    pub splits: BTreeMap<String, SplitInfo>,
    /// Label column, when the data has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Dense features, in the order they fill the dense matrix.
    #[serde(default)]
    pub dense: Vec<DenseFeature>,
    /// Sparse features, in batch key order.
    #[serde(default)]
    pub sparse: Vec<SparseFeature>,
    /// Source-specific facts (label rule, mean rating, planted AUC ceiling, row counts, ...).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl DatasetManifest {
    /// Reads `DIR/cascade.json`.
    pub fn load(dir: &Path) -> Result<DatasetManifest, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read(&path).map_err(|source| ManifestError::Io {
            path: path.clone(),
            source,
        })?;
        DatasetManifest::parse(&path, &text)
    }

    /// Parses manifest JSON read from `path` (a file or URL, named in errors), checking the
    /// format version.
    pub fn parse(path: &Path, text: &[u8]) -> Result<DatasetManifest, ManifestError> {
        let path = path.to_path_buf();
        let manifest: DatasetManifest =
            serde_json::from_slice(text).map_err(|e| ManifestError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?;
        if manifest.version != MANIFEST_VERSION {
            return Err(ManifestError::Invalid {
                path,
                message: format!(
                    "manifest version {} is not supported (this build reads version {MANIFEST_VERSION})",
                    manifest.version
                ),
            });
        }
        Ok(manifest)
    }

    /// Writes `DIR/cascade.json` atomically (temporary file, then rename).
    pub fn save(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let io = |source| ManifestError::Io {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|e| ManifestError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, &text).map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// The folder of split `name`, or an error listing the splits that exist.
    pub fn split_dir(&self, root: &Path, name: &str) -> Result<PathBuf, ManifestError> {
        match self.splits.get(name) {
            Some(split) => Ok(root.join(&split.path)),
            None => Err(ManifestError::Invalid {
                path: root.join(MANIFEST_FILE),
                message: format!(
                    "no split named {name:?}; the dataset has: {}",
                    self.splits.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_missing_split() {
        let dir = tempfile::tempdir().unwrap();
        let mut splits = BTreeMap::new();
        splits.insert(
            "train".to_string(),
            SplitInfo {
                path: "train".into(),
                samples: 10,
            },
        );
        let m = DatasetManifest {
            version: MANIFEST_VERSION,
            source: "test".into(),
            splits,
            label: Some("label".into()),
            dense: vec![DenseFeature {
                column: "dense".into(),
                width: 13,
            }],
            sparse: vec![SparseFeature {
                name: "user".into(),
                column: "user".into(),
                cardinality: 5,
                vocab: Some("vocab/user.txt".into()),
                multi_hot: false,
            }],
            extra: Default::default(),
        };
        m.save(dir.path()).unwrap();
        assert_eq!(DatasetManifest::load(dir.path()).unwrap(), m);
        let err = m.split_dir(dir.path(), "test").unwrap_err().to_string();
        assert!(
            err.contains("no split named \"test\"; the dataset has: train"),
            "{err}"
        );
    }
}
