//! Top-K retrieval over item embeddings, the first stage of a recommender funnel: for each user
//! vector, the K items with the highest dot product (or cosine), never showing excluded items.
//!
//! - [`ItemEmbeddings`] holds the validated `n × d` item matrix and its [`Fingerprint`].
//! - [`ExactIndex`] ranks exactly with blocked matrix products; [`HnswIndex`] ranks approximately
//!   with an HNSW graph and saves to a file that can be memory-mapped back.
//! - [`Exclusions`] lists items never to return (per-query seen items, a global list).
//! - [`recall_at_k`] measures how close the approximate index comes to the exact one.

mod atomic;
mod embeddings;
mod error;
mod exact;
mod filter;
mod fingerprint;
mod hnsw;
mod index;
mod metric;
pub mod npy;
mod recall;
mod sidecar;
mod topk;

pub use embeddings::ItemEmbeddings;
pub use error::{Result, RetrieveError};
pub use exact::{ExactIndex, Tiling};
pub use filter::Exclusions;
pub use fingerprint::Fingerprint;
pub use hnsw::{HnswIndex, HnswParams, LoadMode};
pub use index::{SearchPlan, TopKIndex, plan_search};
pub use metric::Metric;
pub use recall::{RecallReport, recall_at_k, sample_rows};
pub use topk::{Hit, KClamped, TopK};
