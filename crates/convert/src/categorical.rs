//! Categorical ids → embedding-row indices, through a vocabulary or by hashing.
//!
//! Index 0 is reserved in every sparse feature for a missing (empty) or unknown id: a
//! vocabulary's line 0 is [`UNKNOWN_TOKEN`], and hashing maps ids to `1..N`. Real ids in a
//! vocabulary are numbered in order of first appearance. Several features may share one
//! vocabulary (a set's items and the single item of a rating), so vocabularies are kept by name
//! in [`Categoricals`] and saved as `vocab/NAME.txt`.

use crate::error::{ConvertError, Result};
use cascade_data::{SparseFeature, Vocabulary};
use std::collections::BTreeMap;
use std::path::Path;

/// Line 0 of every vocabulary: stands for a missing or unknown id.
pub const UNKNOWN_TOKEN: &str = "<unk>";

/// Folder (relative to the dataset root) that holds the vocabularies.
pub const VOCAB_DIR: &str = "vocab";

/// One vocabulary or hash space.
#[derive(Debug, Clone)]
pub enum Categorical {
    /// Ids numbered in order of first appearance, from 1.
    Vocab(Vocabulary),
    /// Ids hashed (xxh64, seed 0) into `1..buckets`.
    Hash {
        /// Total indices including the reserved 0.
        buckets: u64,
    },
}

impl Categorical {
    /// A new vocabulary, or a hash space when `hash_buckets` is given (at least 2).
    pub fn new(hash_buckets: Option<u64>) -> Result<Categorical> {
        match hash_buckets {
            Some(buckets) if buckets < 2 => Err(ConvertError::Options(format!(
                "--hash-buckets must be at least 2 (index 0 is reserved for missing ids), got {buckets}"
            ))),
            Some(buckets) => Ok(Categorical::Hash { buckets }),
            None => {
                let mut vocab = Vocabulary::new();
                vocab.insert(UNKNOWN_TOKEN);
                Ok(Categorical::Vocab(vocab))
            }
        }
    }

    /// The index of `raw` (0 when empty), adding it to the vocabulary if unseen.
    pub fn index(&mut self, raw: &str) -> i64 {
        if raw.is_empty() {
            return 0;
        }
        match self {
            Categorical::Vocab(vocab) => vocab.insert(raw) as i64,
            Categorical::Hash { buckets } => {
                (1 + xxhash_rust::xxh64::xxh64(raw.as_bytes(), 0) % (*buckets - 1)) as i64
            }
        }
    }

    /// Number of indices, the reserved 0 included.
    pub fn cardinality(&self) -> u64 {
        match self {
            Categorical::Vocab(vocab) => vocab.len() as u64,
            Categorical::Hash { buckets } => *buckets,
        }
    }
}

/// Every vocabulary of a conversion, by name.
#[derive(Debug, Clone)]
pub struct Categoricals {
    empty: Categorical,
    spaces: BTreeMap<String, Categorical>,
}

impl Categoricals {
    /// Vocabularies, or hash spaces of `hash_buckets` indices each when given.
    pub fn new(hash_buckets: Option<u64>) -> Result<Categoricals> {
        Ok(Categoricals {
            empty: Categorical::new(hash_buckets)?,
            spaces: BTreeMap::new(),
        })
    }

    /// The vocabulary `name`, created empty on first use.
    pub fn space(&mut self, name: &str) -> &mut Categorical {
        if !self.spaces.contains_key(name) {
            self.spaces.insert(name.to_string(), self.empty.clone());
        }
        self.spaces
            .get_mut(name)
            .expect("the space was inserted above")
    }

    /// A new, empty vocabulary (or hash space) of this conversion's kind, for a hot loop that
    /// fills it before handing it back with [`put`](Self::put).
    pub fn fresh(&self) -> Categorical {
        self.empty.clone()
    }

    /// Removes vocabulary `name` (a new one if absent) so a hot loop can use it without a
    /// lookup per row; hand it back with [`put`](Self::put).
    pub fn take(&mut self, name: &str) -> Categorical {
        self.spaces
            .remove(name)
            .unwrap_or_else(|| self.empty.clone())
    }

    /// Stores `space` as vocabulary `name`, replacing any of that name.
    pub fn put(&mut self, name: &str, space: Categorical) {
        self.spaces.insert(name.to_string(), space);
    }

    /// The manifest entry of a feature stored in `column`, indexed by vocabulary `space`.
    pub fn feature(
        &mut self,
        name: &str,
        column: &str,
        space: &str,
        multi_hot: bool,
    ) -> SparseFeature {
        let categorical = self.space(space);
        SparseFeature {
            name: name.to_string(),
            column: column.to_string(),
            cardinality: categorical.cardinality(),
            vocab: match categorical {
                Categorical::Vocab(_) => Some(format!("{VOCAB_DIR}/{space}.txt")),
                Categorical::Hash { .. } => None,
            },
            multi_hot,
        }
    }

    /// Writes every vocabulary into `ROOT/vocab/` (nothing when hashing).
    pub fn save(&self, root: &Path) -> Result<()> {
        for (name, space) in &self.spaces {
            if let Categorical::Vocab(vocab) = space {
                let dir = root.join(VOCAB_DIR);
                std::fs::create_dir_all(&dir).map_err(|e| ConvertError::io(&dir, e))?;
                vocab.save(&dir.join(format!("{name}.txt")))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_reserves_zero_and_numbers_in_first_appearance_order() {
        let mut c = Categorical::new(None).unwrap();
        assert_eq!(c.index("b"), 1);
        assert_eq!(c.index("a"), 2);
        assert_eq!(c.index("b"), 1);
        assert_eq!(c.index(""), 0);
        assert_eq!(c.cardinality(), 3);
    }

    #[test]
    fn hashing_stays_in_range_and_is_stable() {
        let mut c = Categorical::new(Some(10)).unwrap();
        let ids: Vec<i64> = (0..1000).map(|i| c.index(&format!("id{i}"))).collect();
        assert!(ids.iter().all(|&i| (1..10).contains(&i)));
        assert_eq!(c.index("id7"), ids[7]);
        assert_eq!(c.index(""), 0);
        assert_eq!(c.cardinality(), 10);
        assert!(Categorical::new(Some(1)).is_err());
    }

    #[test]
    fn saved_vocabulary_lists_the_reserved_token_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut all = Categoricals::new(None).unwrap();
        all.space("item").index("50");
        let feature = all.feature("item_id", "item_id", "item", false);
        assert_eq!(feature.cardinality, 2);
        assert_eq!(feature.vocab.as_deref(), Some("vocab/item.txt"));
        all.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("vocab/item.txt")).unwrap();
        assert_eq!(text, "<unk>\n50\n");
    }
}
