//! The funnel: retrieve a user's best candidates among all items, optionally re-rank them.

use crate::error::{Result, ServeError};
use crate::export::{EmbeddingTable, ExportSummary, write_export};
use crate::ranker::{Ranker, cascade_data_manifest};
use crate::vocab::{Titles, Vocabulary};
use cascade_model::TwoTowerModel;
use cascade_retrieve::{
    ExactIndex, Exclusions, HnswIndex, HnswParams, ItemEmbeddings, LoadMode, Metric, TopKIndex,
    recall_at_k,
};
use cascade_train::{Catalog, TrainModel, corpus_embeddings, load_run, user_embeddings};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

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

/// A retrieval run ready to answer, with an optional approximate index and ranking stage.
pub struct Recommender {
    model: TwoTowerModel,
    catalog: Catalog,
    corpus: Vec<u64>,
    position: HashMap<u64, u32>,
    index: ExactIndex,
    users: Vocabulary,
    items: Vocabulary,
    titles: Titles,
    ranker: Option<Ranker>,
    /// The approximate index searched instead of the exact one, when loaded.
    ann: Option<HnswIndex>,
    data: std::path::PathBuf,
}

impl Recommender {
    /// Opens the two-tower run `run` on the dataset `data` (default: the run's own): embeds
    /// every item once and indexes the vectors for exact top-K search.
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
        let vocab = |feature: &str| -> Result<Vocabulary> {
            let entry = manifest.sparse.iter().find(|f| f.name == feature);
            match entry.and_then(|f| f.vocab.as_ref()) {
                Some(path) => Vocabulary::load(&data.join(path)),
                None => Ok(Vocabulary::default()),
            }
        };
        let spec = model.spec();
        let users = vocab(&spec.user_features[0].name)?;
        let items = vocab(spec.item_id_feature())?;
        Ok(Self {
            titles: Titles::load(&data)?,
            model: *model,
            catalog,
            corpus,
            position,
            index,
            users,
            items,
            ranker: None,
            ann: None,
            data,
        })
    }

    /// Adds the ranking run `run` as the second stage.
    pub fn with_ranker(mut self, run: &Path) -> Result<Self> {
        let spec = self.model.spec();
        let (user_id, item_id) = (
            spec.user_features[0].name.clone(),
            spec.item_id_feature().to_string(),
        );
        self.ranker = Some(Ranker::open(run, &self.data, &user_id, &item_id)?);
        Ok(self)
    }

    /// Items in the corpus.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    /// The item vectors retrieval searches, with their raw ids.
    pub fn item_table(&mut self) -> Result<EmbeddingTable> {
        let (indices, values) = corpus_embeddings(&mut self.model, &self.catalog)?;
        Ok(EmbeddingTable {
            ids: indices.iter().map(|&i| self.items.raw(i)).collect(),
            indices,
            dim: self.model.spec().embedding_dim(),
            values,
        })
    }

    /// Every known user's vector, with its raw id.
    pub fn user_table(&mut self) -> Result<EmbeddingTable> {
        let indices: Vec<u64> = self.catalog.users.ids().filter(|&i| i != 0).collect();
        let values = user_embeddings(&mut self.model, &self.catalog, &indices)?;
        Ok(EmbeddingTable {
            ids: indices.iter().map(|&i| self.users.raw(i)).collect(),
            indices,
            dim: self.model.spec().embedding_dim(),
            values,
        })
    }

    /// Builds an HNSW index over the item vectors with `params`, measures its recall@10 and
    /// @100 against exact search on every known user's vector, and saves it to `path` (with a
    /// sidecar holding the fingerprint of the vectors, checked when it is loaded).
    pub fn build_hnsw(&mut self, params: HnswParams, path: &Path) -> Result<HnswReport> {
        let items = self.item_table()?;
        let embeddings = ItemEmbeddings::new(items.dim, items.values)?;
        let started = std::time::Instant::now();
        let ann = HnswIndex::build(&embeddings, Metric::InnerProduct, params)?;
        let build_seconds = started.elapsed().as_secs_f64();
        let queries = self.user_table()?.values;
        let at_10 = recall_at_k(&ann, &self.index, &queries, 10)?;
        let at_100 = recall_at_k(&ann, &self.index, &queries, 100)?;
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
    pub fn with_hnsw(mut self, path: &Path) -> Result<Self> {
        let ann = HnswIndex::load(path, LoadMode::MemoryMapped)?;
        ann.check_fingerprint(self.index.fingerprint())?;
        self.ann = Some(ann);
        Ok(self)
    }

    /// Writes every user's and item's vector into the folder `out`; see [`crate::export`].
    pub fn export(&mut self, out: &Path) -> Result<ExportSummary> {
        let (users, items) = (self.user_table()?, self.item_table()?);
        let fingerprint = self.index.fingerprint().to_string();
        write_export(
            out,
            &users,
            &items,
            Metric::InnerProduct.name(),
            &fingerprint,
        )
    }

    /// The `k` best items for the user with raw id `user`, never one the user trained on:
    /// the `candidates` best by the retrieval model (at least `k`), re-ranked by the ranking
    /// model when there is one.
    pub fn recommend(
        &mut self,
        user: &str,
        k: usize,
        candidates: usize,
    ) -> Result<Vec<Recommendation>> {
        let index = self
            .users
            .index(user)
            .filter(|&i| self.catalog.users.contains(i))
            .ok_or_else(|| ServeError::UnknownUser(user.to_string()))?;
        Ok(self.answer(&[index], k, candidates)?.remove(0))
    }

    /// [`recommend`](Self::recommend) for every known user, in one batched search: the raw
    /// user id and its answer, users in index order.
    pub fn recommend_all(
        &mut self,
        k: usize,
        candidates: usize,
    ) -> Result<Vec<(String, Vec<Recommendation>)>> {
        let users: Vec<u64> = self.catalog.users.ids().filter(|&i| i != 0).collect();
        let answers = self.answer(&users, k, candidates)?;
        Ok(users
            .iter()
            .map(|&u| self.users.raw(u))
            .zip(answers)
            .collect())
    }

    /// The `k` most popular items (training interactions), for users the model does not know.
    pub fn popular(&self, k: usize) -> Vec<Recommendation> {
        self.catalog
            .by_popularity(&self.corpus)
            .into_iter()
            .take(k)
            .enumerate()
            .map(|(r, item)| self.recommendation(r, item, 0.0, None))
            .collect()
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

    /// The answers for the user indices `users`: one search over the exact or approximate
    /// index with each user's seen items excluded, then the optional re-ranking.
    fn answer(
        &mut self,
        users: &[u64],
        k: usize,
        candidates: usize,
    ) -> Result<Vec<Vec<Recommendation>>> {
        let queries = user_embeddings(&mut self.model, &self.catalog, users)?;
        let (mut offsets, mut seen) = (vec![0], Vec::new());
        for user in users {
            if let Some(items) = self.catalog.seen.get(user) {
                seen.extend(items.iter().filter_map(|i| self.position.get(i).copied()));
            }
            offsets.push(seen.len());
        }
        let exclusions = Exclusions::new(self.corpus.len()).with_seen(offsets, seen)?;
        let index: &dyn TopKIndex = match &self.ann {
            Some(ann) => ann,
            None => &self.index,
        };
        let top = index.search(&queries, candidates.max(k), Some(&exclusions))?;
        let mut answers = Vec::with_capacity(users.len());
        for (q, &user) in users.iter().enumerate() {
            let hits = top.hits(q);
            let items: Vec<u64> = hits.iter().map(|h| self.corpus[h.item as usize]).collect();
            let mut scored: Vec<(u64, f32, Option<f32>)> = match &mut self.ranker {
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
            scored.truncate(k);
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
