//! Raw ids and titles: the dataset's `vocab/*.txt` files (line `i` is the raw id of index `i`,
//! line 0 the `<unk>` placeholder) and `items.tsv` (index, raw id, title, ...), so answers speak
//! the user's ids rather than the model's indices.

use crate::error::{Result, ServeError};
use std::collections::HashMap;
use std::path::Path;

/// The raw ids of one feature, both ways.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    raw: Vec<String>,
    index: HashMap<String, u64>,
}

impl Vocabulary {
    /// Reads a vocabulary file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: Vec<String> = text.lines().map(str::to_string).collect();
        let index = raw
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, r)| (r.clone(), i as u64))
            .collect();
        Ok(Self { raw, index })
    }

    /// The index of raw id `raw`, if it is known.
    pub fn index(&self, raw: &str) -> Option<u64> {
        self.index.get(raw).copied()
    }

    /// The raw id of index `index` (the index itself, as text, past the vocabulary's end).
    pub fn raw(&self, index: u64) -> String {
        self.raw
            .get(index as usize)
            .cloned()
            .unwrap_or_else(|| index.to_string())
    }
}

/// Item titles by item index, from `items.tsv` when the dataset has one.
#[derive(Debug, Clone, Default)]
pub struct Titles(HashMap<u64, String>);

impl Titles {
    /// Reads `items.tsv` in `data`; no titles when the file is absent.
    pub fn load(data: &Path) -> Result<Self> {
        let path = data.join("items.tsv");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(ServeError::Io { path, source }),
        };
        let titles = text
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let index = fields.next()?.parse().ok()?;
                let title = fields.nth(1)?;
                Some((index, title.to_string()))
            })
            .collect();
        Ok(Self(titles))
    }

    /// The title of item `index`.
    pub fn get(&self, index: u64) -> Option<&str> {
        self.0.get(&index).map(String::as_str)
    }
}
