//! What the service loads: a retrieval run, an optional ranking run, the dataset they were
//! trained on and the index retrieval searches. A run is a local run folder or a registered
//! MLflow model (`models:/NAME@ALIAS`). Loading again from the same source picks up each run's
//! latest checkpoint, or the version the alias points at now, which is how a retrained model
//! reaches a running service.

use crate::error::ServiceError;
use cascade_pgvector::PgVectorIndex;
use cascade_serve::{Recommender, RegisteredModel};
use cascade_track::mlflow::{Auth, MlflowClient};
use cascade_track::{ModelUri, TrackError, fetch_registered_run};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::sync::Arc;

/// Where one model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunSource {
    /// A run folder written by `cascade train`: its latest checkpoint.
    Local(PathBuf),
    /// A registered MLflow model version (`models:/NAME@ALIAS` or `models:/NAME/VERSION`),
    /// resolved on the tracking server at every load.
    Registry(ModelUri),
}

impl RunSource {
    /// A `models:/` URI names a registered model; anything else is a run folder.
    pub fn parse(text: &str) -> Result<Self, TrackError> {
        if ModelUri::is_model_uri(text) {
            Ok(Self::Registry(text.parse()?))
        } else {
            Ok(Self::Local(PathBuf::from(text)))
        }
    }
}

impl std::fmt::Display for RunSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::Registry(uri) => write!(f, "{uri}"),
        }
    }
}

impl<'de> Deserialize<'de> for RunSource {
    /// A JSON string: a run folder or a `models:/` URI.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The MLflow tracking server that registered models are resolved on, and where their files
/// are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    /// The tracking URI (`--tracking-uri` or `MLFLOW_TRACKING_URI`); credentials come from
    /// MLflow's environment variables at each load.
    pub tracking_uri: Option<String>,
    /// The folder downloaded runs are cached in, one folder per MLflow run.
    pub cache_dir: PathBuf,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            tracking_uri: None,
            cache_dir: cascade_track::default_model_cache(),
        }
    }
}

impl RegistrySettings {
    /// The local run folder of `source`, downloading a registered version when needed, and
    /// the registered model it was resolved from.
    fn resolve(
        &self,
        source: &RunSource,
    ) -> Result<(PathBuf, Option<RegisteredModel>), ServiceError> {
        let uri = match source {
            RunSource::Local(path) => return Ok((path.clone(), None)),
            RunSource::Registry(uri) => uri,
        };
        let tracking_uri = self.tracking_uri.as_deref().ok_or_else(|| {
            TrackError::Invalid(format!(
                "{uri} names a registered model, but no MLflow server is given: pass \
                 --tracking-uri URL or set MLFLOW_TRACKING_URI"
            ))
        })?;
        let client = MlflowClient::new(tracking_uri, Auth::from_env())?;
        let run = fetch_registered_run(&client, uri, &self.cache_dir)?;
        let model = RegisteredModel {
            uri: uri.to_string(),
            version: run.version.version.clone(),
            run_id: run.version.run_id.clone(),
        };
        Ok((run.dir, Some(model)))
    }
}

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
    /// The two-tower run.
    pub retrieval: RunSource,
    /// The ranking run that re-ranks the candidates.
    pub ranking: Option<RunSource>,
    /// The dataset folder (default: the retrieval run's).
    pub data: Option<PathBuf>,
    /// The approximate index, when not the exact one.
    pub index: Option<IndexSource>,
    /// Where registered models are resolved and cached.
    pub registry: RegistrySettings,
}

impl ModelSource {
    /// Opens the runs' latest checkpoints (resolving registered models on the tracking server
    /// again): the ready-to-answer funnel.
    pub fn load(&self) -> Result<Recommender, ServiceError> {
        let (retrieval, retrieval_model) = self.registry.resolve(&self.retrieval)?;
        let ranking = match &self.ranking {
            Some(source) => Some(self.registry.resolve(source)?),
            None => None,
        };
        let mut recommender = Recommender::open(&retrieval, self.data.as_deref())
            .map_err(|e| named(e, &retrieval, retrieval_model.as_ref()))?;
        if let Some(index) = &self.index {
            recommender = index.attach(recommender)?;
        }
        let mut ranking_model = None;
        if let Some((run, model)) = ranking {
            recommender = recommender
                .with_ranker(&run)
                .map_err(|e| named(e, &run, model.as_ref()))?;
            ranking_model = model;
        }
        Ok(recommender.with_registered_models(retrieval_model, ranking_model))
    }
}

/// A run that cannot be opened, named by its model URI when it came from the registry.
fn named(
    error: cascade_serve::ServeError,
    dir: &std::path::Path,
    model: Option<&RegisteredModel>,
) -> ServiceError {
    match model {
        Some(model) => ServiceError::RegisteredRun {
            uri: model.uri.clone(),
            version: model.version.clone(),
            dir: dir.to_path_buf(),
            error: Box::new(error),
        },
        None => ServiceError::Load(error),
    }
}
