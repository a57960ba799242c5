//! The recommendation funnel of the seed: a two-tower model's user embedding retrieves the
//! best candidates among every item's embedding (exact top-K, the user's seen items excluded),
//! and a ranking model trained on the same data re-scores those candidates.
//!
//! - [`Recommender`] opens a retrieval run (its latest model, the data's users and items, the
//!   raw ids and titles) and answers [`Recommender::recommend`] for one user, or a [`Query`]
//!   with exclusions and a cold-start fallback through [`Recommender::answer_user`], from many
//!   threads at once.
//! - [`Ranker`] opens a ranking run and scores (user, item) pairs with the same features.
//! - [`export`] writes every user's and item's vector with its raw id (Parquet and MDS).
//! - [`Vocabulary`] maps the dataset's raw ids to the indices models use, and back.

mod error;
pub mod export;
mod funnel;
mod ranker;
mod vocab;

pub use error::{Result, ServeError};
pub use funnel::{
    Answer, HnswReport, ModelVersion, Query, Recommendation, Recommender, RegisteredModel,
    SharedIndex,
};
pub use ranker::Ranker;
pub use vocab::{Titles, Vocabulary};
