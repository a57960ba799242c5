//! `index.json`: the list of shards of a dataset and each shard's columns, files and digests.
//!
//! [`Index::parse`] checks everything a reader relies on (format and version, matching column
//! lists, encodings, compression, safe relative file names) so that later stages can trust it;
//! [`Index::save`] writes the same bytes Python's `json.dumps(obj, sort_keys=True)` would.

use crate::{Column, Compression, Encoding, MdsError, Result};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// File name of the index in a dataset folder.
pub const INDEX_FILE: &str = "index.json";

/// A stored file of a shard: its name relative to the dataset folder, size and digests.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    /// Path relative to the dataset folder (may contain sub-folders, e.g. `0/shard.00000.mds.zstd`).
    pub basename: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Hex digest per algorithm name.
    pub hashes: BTreeMap<String, String>,
}

/// One shard's entry in `index.json` (also embedded in the shard itself).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardMeta {
    /// Encoding string per column, in column order.
    pub column_encodings: Vec<String>,
    /// Column names, sorted (as the Python writer stores them).
    pub column_names: Vec<String>,
    /// Fixed byte size per column, `None` for variable-size columns.
    pub column_sizes: Vec<Option<u64>>,
    /// Compression of the stored file (`zstd:7`, ...), or none.
    pub compression: Option<String>,
    /// Always `mds` for the shards Cascade reads.
    pub format: String,
    /// Digest algorithms recorded for each stored file.
    pub hashes: Vec<String>,
    /// The uncompressed shard.
    pub raw_data: FileInfo,
    /// Number of samples.
    pub samples: u64,
    /// The writer's size limit, or none.
    pub size_limit: Option<u64>,
    /// Shard format version (2).
    pub version: u32,
    /// The compressed shard, when `compression` is set.
    pub zip_data: Option<FileInfo>,
}

impl ShardMeta {
    /// The shard's columns, parsed (errors name the offending encoding).
    pub fn columns(&self) -> Result<Vec<Column>> {
        self.column_names
            .iter()
            .zip(&self.column_encodings)
            .map(|(name, enc)| Column::new(name.clone(), enc))
            .collect()
    }

    /// The shard's compression, parsed.
    pub fn compression(&self) -> Result<Option<Compression>> {
        self.compression
            .as_deref()
            .map(Compression::parse)
            .transpose()
    }

    /// The file that is actually stored: `zip_data` when compressed, else `raw_data`.
    pub fn stored(&self) -> &FileInfo {
        self.zip_data.as_ref().unwrap_or(&self.raw_data)
    }

    /// The checks [`Index::parse`] applies to each shard; the message names the field.
    fn validate(&self) -> std::result::Result<(), String> {
        if self.format != "mds" {
            return Err(format!(
                "format: {:?} is not supported; Cascade reads MDS shards (\"mds\")",
                self.format
            ));
        }
        if self.version != 2 {
            return Err(format!(
                "version: shard format version {} is not 2",
                self.version
            ));
        }
        let n = self.column_names.len();
        if n == 0 {
            return Err("column_names: a shard needs at least one column".into());
        }
        if self.column_encodings.len() != n || self.column_sizes.len() != n {
            return Err(format!(
                "column_names, column_encodings and column_sizes have different lengths ({n}, {}, {})",
                self.column_encodings.len(),
                self.column_sizes.len()
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, name) in self.column_names.iter().enumerate() {
            if !seen.insert(name) {
                return Err(format!("column_names[{i}]: column {name:?} appears twice"));
            }
            let enc = Encoding::parse(&self.column_encodings[i])
                .map_err(|e| format!("column_encodings[{i}] (column {name:?}): {e}"))?;
            let want = enc.fixed_size().map(|s| s as u64);
            if self.column_sizes[i] != want {
                return Err(format!(
                    "column_sizes[{i}] (column {name:?}): {} does not match encoding {enc} ({})",
                    opt(self.column_sizes[i]),
                    opt(want)
                ));
            }
        }
        let compression = self
            .compression()
            .map_err(|e| format!("compression: {e}"))?;
        match (compression, &self.zip_data) {
            (Some(c), None) => return Err(format!("zip_data: missing for compression {c}")),
            (None, Some(_)) => return Err("zip_data: present without a compression".into()),
            _ => {}
        }
        if self.samples > u64::from(u32::MAX) {
            return Err(format!(
                "samples: {} is more than a shard can hold",
                self.samples
            ));
        }
        check_basename(&self.raw_data.basename).map_err(|e| format!("raw_data.basename: {e}"))?;
        if let Some(zip) = &self.zip_data {
            check_basename(&zip.basename).map_err(|e| format!("zip_data.basename: {e}"))?;
        }
        Ok(())
    }
}

/// `Some(n)` as `n`, `None` as `null`, for messages.
fn opt(v: Option<u64>) -> String {
    v.map_or("null".into(), |v| v.to_string())
}

/// A shard file name must stay inside the dataset folder.
fn check_basename(name: &str) -> std::result::Result<(), String> {
    let path = Path::new(name);
    if name.is_empty() {
        return Err("empty file name".into());
    }
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "{name:?} must be a relative path inside the dataset folder"
        ));
    }
    Ok(())
}

/// A dataset's `index.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Index {
    /// Every shard, in sample order.
    pub shards: Vec<ShardMeta>,
    /// Index format version (2).
    pub version: u32,
}

impl Index {
    /// Reads and validates `DIR/index.json`; errors name the file and the field.
    pub fn load(dir: &Path) -> Result<Index> {
        let path = dir.join(INDEX_FILE);
        let text = std::fs::read(&path).map_err(MdsError::io(&path))?;
        Index::parse(&path, &text)
    }

    /// Parses index JSON text (the bytes of an `index.json` fetched from anywhere); `origin` is
    /// named in errors.
    pub fn parse(origin: &Path, text: &[u8]) -> Result<Index> {
        let err = |message: String| MdsError::Index {
            path: origin.to_path_buf(),
            message,
        };
        let index: Index =
            serde_json::from_slice(text).map_err(|e| err(format!("not a valid MDS index: {e}")))?;
        if index.version != 2 {
            return Err(err(format!(
                "version: index version {} is not 2",
                index.version
            )));
        }
        for (i, shard) in index.shards.iter().enumerate() {
            shard
                .validate()
                .map_err(|m| err(format!("shards[{i}].{m}")))?;
        }
        Ok(index)
    }

    /// The exact bytes of this index as the Python writer would write them.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let mut out = Vec::new();
        crate::pyjson::write_value(&value, true, &mut out);
        out
    }

    /// Writes `DIR/index.json` atomically (temporary file, then rename).
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join(INDEX_FILE), &self.to_json_bytes())
    }

    /// Total samples over all shards.
    pub fn num_samples(&self) -> u64 {
        self.shards.iter().map(|s| s.samples).sum()
    }

    /// The columns shared by every shard; an error if shards disagree.
    pub fn columns(&self) -> Result<Vec<Column>> {
        let Some(first) = self.shards.first() else {
            return Ok(Vec::new());
        };
        for (i, s) in self.shards.iter().enumerate().skip(1) {
            if s.column_names != first.column_names || s.column_encodings != first.column_encodings
            {
                return Err(MdsError::Index {
                    path: PathBuf::from(INDEX_FILE),
                    message: format!(
                        "shards[{i}] has columns {:?} ({:?}) but shards[0] has {:?} ({:?})",
                        s.column_names,
                        s.column_encodings,
                        first.column_names,
                        first.column_encodings
                    ),
                });
            }
        }
        first.columns()
    }
}

/// Writes `path` via a temporary file in the same folder and a rename, so readers never see a
/// half-written file.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_parts(path, &[data])
}

/// [`write_atomic`] of the concatenation of `parts`, written one after the other.
pub(crate) fn write_atomic_parts(path: &Path, parts: &[&[u8]]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(MdsError::io(path))?;
    for data in parts {
        std::io::Write::write_all(&mut tmp, data).map_err(MdsError::io(path))?;
    }
    tmp.persist(path).map_err(|e| MdsError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}
