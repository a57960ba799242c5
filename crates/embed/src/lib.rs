//! Embedding tables and collections over keyed jagged features, with fused sparse optimizers
//! that update only the rows a batch touched — Cascade's counterpart of TorchRec's
//! `EmbeddingBagCollection` with FBGEMM's fused optimizers.
//!
//! Build an [`EmbeddingCollection`] from [`TableConfig`]s and an [`Optimizer`]; call
//! [`forward`](EmbeddingCollection::forward) with a batch's [`KeyedJagged`](cascade_core::KeyedJagged)
//! features to get [`Pooled`] embeddings, and
//! [`backward_update`](EmbeddingCollection::backward_update) with the gradient of those pooled
//! embeddings to train the touched rows.

mod checkpoint;
mod collection;
mod config;
mod error;
mod grads;
mod optim;
mod pages;
mod pooled;
mod random;
mod shards;
mod storage;
mod table;
mod widest;

pub use collection::{EmbeddingCollection, TableMemory, TableShard};
pub use config::{Init, OutOfRange, Pooling, TableConfig};
pub use error::{EmbedError, Result};
pub use grads::RowGradients;
pub use optim::Optimizer;
pub use pooled::{FeatureSlot, FeatureView, Pooled};
pub use shards::has_shards;
pub use storage::Storage;
pub use table::EmbeddingTable;
