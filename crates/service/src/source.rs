//! What the service loads: a retrieval run, an optional ranking run, the dataset they were
//! trained on and the index retrieval searches. Loading again from the same source picks up each
//! run's latest checkpoint, which is how a retrained model reaches a running service.

use crate::error::ServiceError;
use cascade_pgvector::PgVectorIndex;
use cascade_serve::Recommender;
use std::path::PathBuf;
use std::sync::Arc;

/// The index retrieval searches instead of the exact one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexSource {
    /// An HNSW index file written by `cascade index build` (memory-mapped).
    Hnsw(PathBuf),
    /// A table of item vectors in PostgreSQL with pgvector, written by `cascade index export`.
    Postgres {
        /// The `postgres://` URL of the database.
        url: String,
        /// The table holding the vectors.
        table: String,
    },
}

impl IndexSource {
    /// A `postgres://` or `postgresql://` URL names a pgvector table (`table`); anything else
    /// is the path of an HNSW index file.
    pub fn parse(text: &str, table: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Self::Postgres {
                url: text.to_string(),
                table: table.to_string(),
            }
        } else {
            Self::Hnsw(PathBuf::from(text))
        }
    }

    /// Opens the index and attaches it to `recommender`, which refuses it unless it holds the
    /// vectors of the recommender's model.
    pub fn attach(&self, recommender: Recommender) -> Result<Recommender, ServiceError> {
        Ok(match self {
            Self::Hnsw(path) => recommender.with_hnsw(path)?,
            Self::Postgres { url, table } => {
                recommender.with_index(Arc::new(PgVectorIndex::open(url, table)?))?
            }
        })
    }
}

/// The runs and data one model version is loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSource {
    /// The two-tower run folder.
    pub retrieval: PathBuf,
    /// The ranking run folder that re-ranks the candidates.
    pub ranking: Option<PathBuf>,
    /// The dataset folder (default: the retrieval run's).
    pub data: Option<PathBuf>,
    /// The approximate index, when not the exact one.
    pub index: Option<IndexSource>,
}

impl ModelSource {
    /// Opens the runs' latest checkpoints: the ready-to-answer funnel.
    pub fn load(&self) -> Result<Recommender, ServiceError> {
        let mut recommender = Recommender::open(&self.retrieval, self.data.as_deref())?;
        if let Some(index) = &self.index {
            recommender = index.attach(recommender)?;
        }
        if let Some(ranking) = &self.ranking {
            recommender = recommender.with_ranker(ranking)?;
        }
        Ok(recommender)
    }
}
