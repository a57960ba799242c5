//! The streaming dataset: how training, evaluation and serving read data.
//!
//! A Cascade dataset is a folder with a [`DatasetManifest`] (`cascade.json`) naming its splits
//! (each an MDS dataset in a sub-folder), which columns are dense features, sparse id features
//! and the label, and the [`Vocabulary`] files that map raw ids to contiguous indices so that
//! training, evaluation and serving share one mapping.

pub mod manifest;
pub mod vocab;

pub use manifest::{DatasetManifest, DenseFeature, ManifestError, SparseFeature, SplitInfo};
pub use vocab::{Vocabulary, VocabError};
