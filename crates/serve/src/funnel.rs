//! The funnel: retrieve a user's best candidates among all items, optionally re-rank them.
//!
//! Everything a request needs is computed when a run is opened (every item's and every known
//! user's vector), so answering takes `&self` and one [`Recommender`] serves many threads.

use crate::error::{Result, ServeError};
use crate::export::{EmbeddingTable, ExportSummary, write_export};
use crate::ranker::{Ranker, cascade_data_manifest};
use crate::vocab::{Titles, Vocabulary};
use cascade_retrieve::{
    ExactIndex, Exclusions, HnswIndex, HnswParams, ItemEmbeddings, LoadMode, Metric, TopKIndex,
    recall_at_k,
};
use cascade_train::{Catalog, TrainModel, corpus_embeddings, load_run, user_embeddings};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// One recommended item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// Position in the answer, from 1.
    pub rank: usize,
    /// The item's raw id.
    pub item_id: String,
    /// Its title, when the dataset has titles.
    pub title: Option<String>,
    /// The retrieval model's score (dot product or cosine over the temperature's scale).
    pub retrieval_score: f32,
    /// The ranking model's click probability, when a ranking run re-ranked the candidates.
    pub ranking_score: Option<f32>,
}

/// What [`Recommender::build_hnsw`] built and measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HnswReport {
    /// Items indexed.
    pub items: usize,
    /// Seconds the build took.
    pub build_seconds: f64,
    /// Recall@10 against exact search, over every known user's query.
    pub recall_at_10: f64,
    /// Recall@100 against exact search.
    pub recall_at_100: f64,
    /// Queries measured.
    pub queries: usize,
}

/// What one request asks of the funnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// How many items to return (at least 1).
    pub k: usize,
    /// Candidates retrieved before re-ranking (raised to `k` when smaller).
    pub candidates: usize,
    /// Leave out the items the user interacted with in the training data.
    pub exclude_seen: bool,
    /// Raw item ids never to return (ids the corpus does not hold are ignored: they could not
    /// be returned anyway).
    pub exclude_items: Vec<String>,
}

impl Query {
    /// The `k` best unseen items out of `candidates` retrieved, nothing else excluded.
    pub fn top(k: usize, candidates: usize) -> Self {
        Self {
            k,
            candidates,
            exclude_seen: true,
            exclude_items: Vec::new(),
        }
    }
}

/// The funnel's answer to one user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The user is unknown to the model: the items are the most popular ones.
    pub cold_start: bool,
    /// The recommended items, best first.
    pub items: Vec<Recommendation>,
}

/// Which model answered: the runs and the training step of each checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelVersion {
    /// The retrieval run folder.
    pub retrieval_run: String,
    /// Training steps of the retrieval checkpoint.
    pub retrieval_step: u64,
    /// The ranking run folder, when one re-ranks.
    pub ranking_run: Option<String>,
    /// Training steps of the ranking checkpoint.
    pub ranking_step: Option<u64>,
    /// The registered model the retrieval run was resolved from, when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieval_model: Option<RegisteredModel>,
    /// The registered model the ranking run was resolved from, when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking_model: Option<RegisteredModel>,
}

/// A registered model version a run was resolved from (e.g. an MLflow `models:/NAME@ALIAS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredModel {
    /// The model URI asked for, e.g. `models:/tt@live`.
    pub uri: String,
    /// The version it resolved to.
    pub version: String,
    /// The run that produced that version.
    pub run_id: String,
}

/// An index searched instead of the exact one (HNSW file, vector database).
pub type SharedIndex = Arc<dyn TopKIndex + Send + Sync>;

/// A retrieval run ready to answer, with an optional approximate index and ranking stage.
pub struct Recommender {
    catalog: Catalog,
    corpus: Vec<u64>,
    position: HashMap<u64, u32>,
    index: ExactIndex,
    /// Every known user's vector, `dim` wide, in the order of `user_ids`.
    user_vectors: Vec<f32>,
    user_ids: Vec<u64>,
    user_row: HashMap<u64, usize>,
    dim: usize,
    users: Vocabulary,
    items: Vocabulary,
    titles: Titles,
    /// The names of the user-id and item-id features, which a ranking model must share.
    id_features: (String, String),
    ranker: Option<Ranker>,
    /// The index searched instead of the exact one, when one is attached.
    ann: Option<SharedIndex>,
    data: std::path::PathBuf,
    version: ModelVersion,
}

impl Recommender {
    /// Opens the two-tower run `run` on the dataset `data` (default: the run's own): embeds
    /// every item and every known user once and indexes the item vectors for exact top-K search.
    pub fn open(run: &Path, data: Option<&Path>) -> Result<Self> {
        let loaded = load_run(run)?;
        let config = loaded.config.clone();
        let TrainModel::TwoTower(mut model) = loaded.model else {
            return Err(ServeError::Invalid(format!(
                "{} is not a retrieval run (it trained a {} model); recommendations come from a \
                 two_tower run",
                run.display(),
                config.model.kind.name()
            )));
        };
        let data = data
            .map(Path::to_path_buf)
            .or_else(|| config.data.path.clone())
            .ok_or_else(|| {
                ServeError::Invalid("no dataset: pass --data DIR (the run names none)".into())
            })?;
        let manifest = cascade_data_manifest(&data)?;
        let held_out = cascade_train::eval_split(&config, &manifest);
        let catalog = Catalog::scan(
            &data,
            &config.data.train_split,
            held_out.as_deref(),
            model.spec(),
        )?;
        let (corpus, values) = corpus_embeddings(&mut model, &catalog)?;
        let position = corpus
            .iter()
            .enumerate()
            .map(|(p, &id)| (id, p as u32))
            .collect();
        let dim = model.spec().embedding_dim();
        let index = ExactIndex::new(ItemEmbeddings::new(dim, values)?, Metric::InnerProduct)?;
        let user_ids: Vec<u64> = catalog.users.ids().filter(|&i| i != 0).collect();
        let user_vectors = user_embeddings(&mut model, &catalog, &user_ids)?;
        let user_row = user_ids.iter().enumerate().map(|(r, &u)| (u, r)).collect();
        let vocab = |feature: &str| -> Result<Vocabulary> {
            let entry = manifest.sparse.iter().find(|f| f.name == feature);
            match entry.and_then(|f| f.vocab.as_ref()) {
                Some(path) => Vocabulary::load(&data.join(path)),
                None => Ok(Vocabulary::default()),
            }
        };
        let spec = model.spec();
        let id_features = (
            spec.user_features[0].name.clone(),
            spec.item_id_feature().to_string(),
        );
        Ok(Self {
            users: vocab(&id_features.0)?,
            items: vocab(&id_features.1)?,
            titles: Titles::load(&data)?,
            id_features,
            catalog,
            corpus,
            position,
            index,
            user_vectors,
            user_ids,
            user_row,
            dim,
            ranker: None,
            ann: None,
            data,
            version: ModelVersion {
                retrieval_run: run.display().to_string(),
                retrieval_step: loaded.step,
                ranking_run: None,
                ranking_step: None,
                retrieval_model: None,
                ranking_model: None,
            },
        })
    }

    /// Adds the ranking run `run` as the second stage.
    pub fn with_ranker(mut self, run: &Path) -> Result<Self> {
        let (user_id, item_id) = &self.id_features;
        let ranker = Ranker::open(run, &self.data, user_id, item_id)?;
        self.version.ranking_run = Some(run.display().to_string());
        self.version.ranking_step = Some(ranker.step());
        self.ranker = Some(ranker);
        Ok(self)
    }

    /// Names the registered models the retrieval and ranking runs were resolved from, for
    /// [`Recommender::version`].
    pub fn with_registered_models(
        mut self,
        retrieval: Option<RegisteredModel>,
        ranking: Option<RegisteredModel>,
    ) -> Self {
        self.version.retrieval_model = retrieval;
        self.version.ranking_model = ranking;
        self
    }

    /// Items in the corpus.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    /// Which runs and checkpoints answer.
    pub fn version(&self) -> &ModelVersion {
        &self.version
    }

    /// The item vectors retrieval searches, with their raw ids.
    pub fn item_table(&self) -> EmbeddingTable {
        EmbeddingTable {
            ids: self.corpus.iter().map(|&i| self.items.raw(i)).collect(),
            indices: self.corpus.clone(),
            dim: self.dim,
            values: self.index.values().to_vec(),
        }
    }

    /// Every known user's vector, with its raw id.
    pub fn user_table(&self) -> EmbeddingTable {
        EmbeddingTable {
            ids: self.user_ids.iter().map(|&i| self.users.raw(i)).collect(),
            indices: self.user_ids.clone(),
            dim: self.dim,
            values: self.user_vectors.clone(),
        }
    }

    /// The fingerprint of the item vectors: an index built from other vectors is refused.
    pub fn fingerprint(&self) -> cascade_retrieve::Fingerprint {
        self.index.fingerprint()
    }

    /// Builds an HNSW index over the item vectors with `params`, measures its recall@10 and
    /// @100 against exact search on every known user's vector, and saves it to `path` (with a
    /// sidecar holding the fingerprint of the vectors, checked when it is loaded).
    pub fn build_hnsw(&self, params: HnswParams, path: &Path) -> Result<HnswReport> {
        let embeddings = ItemEmbeddings::new(self.dim, self.index.values().to_vec())?;
        let started = std::time::Instant::now();
        let ann = HnswIndex::build(&embeddings, Metric::InnerProduct, params)?;
        let build_seconds = started.elapsed().as_secs_f64();
        let queries = &self.user_vectors;
        let at_10 = recall_at_k(&ann, &self.index, queries, 10)?;
        let at_100 = recall_at_k(&ann, &self.index, queries, 100)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| ServeError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        ann.save(path)?;
        Ok(HnswReport {
            items: embeddings.len(),
            build_seconds,
            recall_at_10: at_10.recall,
            recall_at_100: at_100.recall,
            queries: at_10.queries,
        })
    }

    /// Searches the HNSW index saved at `path` (memory-mapped) instead of the exact one;
    /// refuses an index built from other vectors than this model's.
    pub fn with_hnsw(self, path: &Path) -> Result<Self> {
        let ann = HnswIndex::load(path, LoadMode::MemoryMapped)?;
        self.with_index(Arc::new(ann))
    }

    /// Searches `index` (an HNSW file, a vector database) instead of the exact index; refuses
    /// an index built from other vectors than this model's.
    pub fn with_index(mut self, index: SharedIndex) -> Result<Self> {
        index.check_fingerprint(self.index.fingerprint())?;
        self.ann = Some(index);
        Ok(self)
    }

    /// Writes every user's and item's vector into the folder `out`; see [`crate::export`].
    pub fn export(&self, out: &Path) -> Result<ExportSummary> {
        let fingerprint = self.index.fingerprint().to_string();
        write_export(
            out,
            &self.user_table(),
            &self.item_table(),
            Metric::InnerProduct.name(),
            &fingerprint,
        )
    }

    /// The `k` best items for the user with raw id `user`, never one the user trained on:
    /// the `candidates` best by the retrieval model (at least `k`), re-ranked by the ranking
    /// model when there is one.
    pub fn recommend(
        &self,
        user: &str,
        k: usize,
        candidates: usize,
    ) -> Result<Vec<Recommendation>> {
        let index = self.user_index(user)?;
        Ok(self.answer(&[index], &Query::top(k, candidates))?.remove(0))
    }

    /// Answers `query` for the user with raw id `user`; a user the model does not know gets
    /// the most popular items (outside `query.exclude_items`), flagged `cold_start`.
    pub fn answer_user(&self, user: &str, query: &Query) -> Result<Answer> {
        match self.user_index(user) {
            Ok(index) => Ok(Answer {
                cold_start: false,
                items: self.answer(&[index], query)?.remove(0),
            }),
            Err(ServeError::UnknownUser(_)) => Ok(Answer {
                cold_start: true,
                items: self.popular_except(query.k, &query.exclude_items),
            }),
            Err(e) => Err(e),
        }
    }

    /// [`recommend`](Self::recommend) for every known user, in one batched search: the raw
    /// user id and its answer, users in index order.
    pub fn recommend_all(
        &self,
        k: usize,
        candidates: usize,
    ) -> Result<Vec<(String, Vec<Recommendation>)>> {
        let answers = self.answer(&self.user_ids, &Query::top(k, candidates))?;
        Ok(self
            .user_ids
            .iter()
            .map(|&u| self.users.raw(u))
            .zip(answers)
            .collect())
    }

    /// The `k` most popular items (training interactions), for users the model does not know.
    pub fn popular(&self, k: usize) -> Vec<Recommendation> {
        self.popular_except(k, &[])
    }

    /// The `k` most popular items other than the raw ids `excluded`.
    fn popular_except(&self, k: usize, excluded: &[String]) -> Vec<Recommendation> {
        let excluded = self.excluded_positions(excluded);
        self.catalog
            .by_popularity(&self.corpus)
            .into_iter()
            .filter(|item| {
                self.position
                    .get(item)
                    .is_none_or(|p| excluded.binary_search(p).is_err())
            })
            .take(k)
            .enumerate()
            .map(|(r, item)| self.recommendation(r, item, 0.0, None))
            .collect()
    }

    /// The `k` items whose vectors score highest against item `item`'s own (the item itself
    /// left out): "more like this".
    pub fn similar_items(&self, item: &str, k: usize) -> Result<Vec<Recommendation>> {
        let position = self
            .items
            .index(item)
            .and_then(|i| self.position.get(&i).copied())
            .ok_or_else(|| ServeError::UnknownItem(item.to_string()))?;
        let query = self
            .index
            .item(position as usize)
            .ok_or_else(|| ServeError::UnknownItem(item.to_string()))?;
        let exclusions = Exclusions::new(self.corpus.len()).exclude_everywhere(&[position])?;
        let top = self.search_index().search(query, k, Some(&exclusions))?;
        Ok(top
            .hits(0)
            .iter()
            .enumerate()
            .map(|(r, h)| self.recommendation(r, self.corpus[h.item as usize], h.score, None))
            .collect())
    }

    /// The model index of raw user id `user`, if the model knows the user.
    fn user_index(&self, user: &str) -> Result<u64> {
        self.users
            .index(user)
            .filter(|i| self.user_row.contains_key(i))
            .ok_or_else(|| ServeError::UnknownUser(user.to_string()))
    }

    /// The corpus positions of the raw item ids `items` the corpus holds, sorted.
    fn excluded_positions(&self, items: &[String]) -> Vec<u32> {
        let mut positions: Vec<u32> = items
            .iter()
            .filter_map(|raw| self.items.index(raw))
            .filter_map(|i| self.position.get(&i).copied())
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions
    }

    fn search_index(&self) -> &dyn TopKIndex {
        match &self.ann {
            Some(ann) => ann.as_ref(),
            None => &self.index,
        }
    }

    fn recommendation(
        &self,
        position: usize,
        item: u64,
        retrieval_score: f32,
        ranking_score: Option<f32>,
    ) -> Recommendation {
        Recommendation {
            rank: position + 1,
            item_id: self.items.raw(item),
            title: self.titles.get(item).map(str::to_string),
            retrieval_score,
            ranking_score,
        }
    }

    /// The answers for the known user indices `users`: one search over the exact or
    /// approximate index with each user's seen items and the query's items excluded, then the
    /// optional re-ranking.
    fn answer(&self, users: &[u64], query: &Query) -> Result<Vec<Vec<Recommendation>>> {
        let mut queries = Vec::with_capacity(users.len() * self.dim);
        for user in users {
            let row = self
                .user_row
                .get(user)
                .ok_or_else(|| ServeError::UnknownUser(self.users.raw(*user)))?;
            queries.extend_from_slice(&self.user_vectors[row * self.dim..(row + 1) * self.dim]);
        }
        let (mut offsets, mut seen) = (vec![0], Vec::new());
        for user in users {
            if let Some(items) = self.catalog.seen.get(user).filter(|_| query.exclude_seen) {
                seen.extend(items.iter().filter_map(|i| self.position.get(i).copied()));
            }
            offsets.push(seen.len());
        }
        let exclusions = Exclusions::new(self.corpus.len())
            .with_seen(offsets, seen)?
            .exclude_everywhere(&self.excluded_positions(&query.exclude_items))?;
        let wanted = query.candidates.max(query.k);
        let top = self
            .search_index()
            .search(&queries, wanted, Some(&exclusions))?;
        let mut answers = Vec::with_capacity(users.len());
        for (q, &user) in users.iter().enumerate() {
            let hits = top.hits(q);
            let items: Vec<u64> = hits.iter().map(|h| self.corpus[h.item as usize]).collect();
            let mut scored: Vec<(u64, f32, Option<f32>)> = match &self.ranker {
                Some(ranker) => {
                    let probabilities = ranker.score(user, &items)?;
                    let mut all: Vec<_> = items
                        .iter()
                        .zip(hits)
                        .zip(probabilities)
                        .map(|((&i, h), p)| (i, h.score, Some(p)))
                        .collect();
                    all.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap_or(std::cmp::Ordering::Equal));
                    all
                }
                None => items
                    .iter()
                    .zip(hits)
                    .map(|(&i, h)| (i, h.score, None))
                    .collect(),
            };
            scored.truncate(query.k);
            answers.push(
                scored
                    .into_iter()
                    .enumerate()
                    .map(|(r, (item, score, ranking))| self.recommendation(r, item, score, ranking))
                    .collect(),
            );
        }
        Ok(answers)
    }
}
