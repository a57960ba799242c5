//! Evaluation metrics, exact and dependency-free.
//!
//! Two families, matching the two stages of the funnel:
//! - [`classification`]: how well predicted click probabilities separate and calibrate —
//!   exact ROC AUC (ties counted half), log loss, normalised entropy (log loss over the entropy
//!   of the base rate, as in the DLRM and TorchRec metrics) and calibration (mean prediction over
//!   positive rate).
//! - [`retrieval`]: how many held-out items a top-K list recovers — Recall@K, NDCG@K and
//!   HitRate@K, computed against exact top-K lists.

pub mod classification;
pub mod retrieval;

pub use classification::{BinaryMetrics, auc, binary_metrics, log_loss};
pub use retrieval::{RetrievalAccumulator, RetrievalMetrics};
