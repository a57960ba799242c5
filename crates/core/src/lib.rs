//! The vocabulary shared by every layer of Cascade.
//!
//! Data flows one way through the workspace: the data layer produces [`Batch`]es, the embedding
//! layer consumes their [`KeyedJagged`] sparse features, models consume both, and training drives
//! models. These types sit below all of them so that no crate has to reach back up to another
//! to name what it receives.

mod batch;
mod jagged;

pub use batch::Batch;
pub use jagged::{JaggedError, KeyedJagged};
