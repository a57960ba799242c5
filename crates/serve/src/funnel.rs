//! The funnel: retrieve a user's best candidates among all items, optionally re-rank them.

use crate::error::{Result, ServeError};
use crate::ranker::{Ranker, cascade_data_manifest};
use crate::vocab::{Titles, Vocabulary};
use cascade_model::TwoTowerModel;
use cascade_retrieve::{ExactIndex, Exclusions, ItemEmbeddings, Metric, TopKIndex};
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

/// A retrieval run ready to answer, with an optional ranking stage.
#[derive(Debug)]
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
        let query = user_embeddings(&mut self.model, &self.catalog, &[index])?;
        let seen: Vec<u32> = self
            .catalog
            .seen
            .get(&index)
            .map(|s| {
                s.iter()
                    .filter_map(|i| self.position.get(i).copied())
                    .collect()
            })
            .unwrap_or_default();
        let exclusions = Exclusions::new(self.corpus.len()).with_seen(vec![0, seen.len()], seen)?;
        let top = self
            .index
            .search(&query, candidates.max(k), Some(&exclusions))?;
        let hits = top.hits(0);
        let items: Vec<u64> = hits.iter().map(|h| self.corpus[h.item as usize]).collect();
        let mut scored: Vec<(u64, f32, Option<f32>)> = match &mut self.ranker {
            Some(ranker) => {
                let probabilities = ranker.score(index, &items)?;
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
        Ok(scored
            .into_iter()
            .enumerate()
            .map(
                |(r, (item, retrieval_score, ranking_score))| Recommendation {
                    rank: r + 1,
                    item_id: self.items.raw(item),
                    title: self.titles.get(item).map(str::to_string),
                    retrieval_score,
                    ranking_score,
                },
            )
            .collect())
    }
}
