//! The streaming dataset: how training, evaluation and serving read data.
//!
//! A Cascade dataset is a folder with a [`DatasetManifest`] (`cascade.json`) naming its splits
//! (each an MDS dataset in a sub-folder), which columns are dense features, sparse id features
//! and the label, and the [`Vocabulary`] files that map raw ids to contiguous indices so that
//! training, evaluation and serving share one mapping.
//!
//! A split is read through a [`StreamingDataset`] (local folder or remote object storage with a
//! [`ShardCache`]): each epoch has one global sample order, a seeded shard-block shuffle
//! ([`ShuffleConfig`]) that depends on nothing but the seed and the epoch; ranks read interleaved
//! slices of it ([`ReaderConfig`]) with background loader threads, and a [`ResumeState`]
//! restarts exactly where reading stopped, with any world size.

mod batch;
pub mod cache;
mod columns;
mod dataset;
pub mod error;
pub mod manifest;
mod order;
mod partition;
mod reader;
mod source;
mod state;
pub mod vocab;

pub use batch::BatchSpec;
pub use cache::{CacheConfig, CachePin, ShardCache};
pub use dataset::StreamingDataset;
pub use error::{DataError, Result};
pub use manifest::{DatasetManifest, DenseFeature, ManifestError, SparseFeature, SplitInfo};
pub use order::ShuffleConfig;
pub use reader::{
    Assemble, BatchReader, Picked, RawSamples, Reader, ReaderConfig, Sample, SampleReader,
};
pub use source::{OpenOptions, join_location};
pub use state::ResumeState;
pub use vocab::{VocabError, Vocabulary};
