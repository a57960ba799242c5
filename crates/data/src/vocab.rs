//! Vocabularies: raw ids (strings or integers as text) mapped to contiguous indices.
//!
//! Stored as UTF-8 text, one raw id per line, the line number (from 0) being the index. Training,
//! evaluation and serving all load the same file, so an index means the same item everywhere.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a vocabulary could not be read, written or queried.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid vocabulary.
    #[error("{path}: line {line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A bidirectional raw-id ↔ index mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    raw: Vec<String>,
    index: HashMap<String, u64>,
}

impl Vocabulary {
    /// An empty vocabulary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `raw`, adding it at the end if unseen.
    pub fn insert(&mut self, raw: &str) -> u64 {
        if let Some(&i) = self.index.get(raw) {
            return i;
        }
        let i = self.raw.len() as u64;
        self.raw.push(raw.to_string());
        self.index.insert(raw.to_string(), i);
        i
    }

    /// The index of `raw`, if known.
    pub fn get(&self, raw: &str) -> Option<u64> {
        self.index.get(raw).copied()
    }

    /// The raw id at `index`, if in range.
    pub fn raw(&self, index: u64) -> Option<&str> {
        self.raw
            .get(usize::try_from(index).ok()?)
            .map(String::as_str)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when no id has been added.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Reads a vocabulary file; empty, duplicate or newline-bearing ids are errors naming the line.
    pub fn load(path: &Path) -> Result<Vocabulary, VocabError> {
        let text = std::fs::read_to_string(path).map_err(|source| VocabError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut vocab = Vocabulary::new();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() {
                return Err(VocabError::Invalid {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: "empty id".into(),
                });
            }
            if vocab.get(line).is_some() {
                return Err(VocabError::Invalid {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: format!("duplicate id {line:?}"),
                });
            }
            vocab.insert(line);
        }
        Ok(vocab)
    }

    /// Writes the vocabulary atomically (temporary file in the same folder, then rename).
    pub fn save(&self, path: &Path) -> Result<(), VocabError> {
        let io = |source| VocabError::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut text = String::with_capacity(self.raw.iter().map(|r| r.len() + 1).sum());
        for (n, raw) in self.raw.iter().enumerate() {
            if raw.is_empty() || raw.contains(['\n', '\r']) {
                return Err(VocabError::Invalid {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: format!("id {raw:?} cannot be stored one per line"),
                });
            }
            text.push_str(raw);
            text.push('\n');
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_is_idempotent_and_round_trips() {
        let mut v = Vocabulary::new();
        assert_eq!(v.insert("7fdcecb392"), 0);
        assert_eq!(v.insert("42"), 1);
        assert_eq!(v.insert("7fdcecb392"), 0);
        assert_eq!(v.raw(1), Some("42"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.txt");
        v.save(&path).unwrap();
        assert_eq!(Vocabulary::load(&path).unwrap(), v);
    }

    #[test]
    fn duplicate_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.txt");
        std::fs::write(&path, "a\nb\na\n").unwrap();
        let err = Vocabulary::load(&path).unwrap_err().to_string();
        assert!(err.ends_with("line 3: duplicate id \"a\""), "{err}");
    }
}
