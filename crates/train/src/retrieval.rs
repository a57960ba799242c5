//! Retrieval evaluation of a two-tower model: every held-out user's exact top-K over the whole
//! item corpus (items the user trained on excluded), scored against the user's held-out items
//! as Recall, NDCG and HitRate @K, with the most-popular baseline under the same exclusions
//! beside every figure.

use crate::catalog::Catalog;
use crate::error::{Result, TrainError};
use crate::run_dir::finite_or_null;
use cascade_metrics::{RetrievalAccumulator, RetrievalMetrics};
use cascade_model::TwoTowerModel;
use cascade_retrieve::{ExactIndex, Exclusions, ItemEmbeddings, Metric, TopKIndex};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Entities embedded per tower call.
const EMBED_CHUNK: usize = 4096;

/// Retrieval metrics of a model and of the popularity baseline, by K.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievalEval {
    /// The model's metrics.
    pub model: BTreeMap<usize, RetrievalMetrics>,
    /// The most-popular baseline's metrics.
    pub popularity: BTreeMap<usize, RetrievalMetrics>,
    /// Users evaluated (those with held-out items).
    pub users: u64,
    /// Items in the corpus.
    pub items: usize,
}

impl RetrievalEval {
    /// The figures as flat JSON keys: `recall@100`, `ndcg@10`, `hitrate@50`, and the same
    /// prefixed with `popularity_`.
    pub fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        for (prefix, table) in [("", &self.model), ("popularity_", &self.popularity)] {
            for (k, m) in table {
                out.insert(format!("{prefix}recall@{k}"), finite_or_null(m.recall));
                out.insert(format!("{prefix}ndcg@{k}"), finite_or_null(m.ndcg));
                out.insert(format!("{prefix}hitrate@{k}"), finite_or_null(m.hit_rate));
            }
        }
        out.insert("users".into(), self.users.into());
        out.insert("items".into(), self.items.into());
        out
    }
}

/// The item embeddings of the whole corpus (every item of `catalog`, ascending id), row-major.
pub fn corpus_embeddings(
    model: &mut TwoTowerModel,
    catalog: &Catalog,
) -> Result<(Vec<u64>, Vec<f32>)> {
    let ids: Vec<u64> = catalog.items.ids().filter(|&id| id != 0).collect();
    let mut values = Vec::new();
    for chunk in ids.chunks(EMBED_CHUNK) {
        values.extend(model.item_embeddings(&catalog.items.sparse(chunk)?)?);
    }
    Ok((ids, values))
}

/// The user embeddings of `users`, row-major.
pub fn user_embeddings(
    model: &mut TwoTowerModel,
    catalog: &Catalog,
    users: &[u64],
) -> Result<Vec<f32>> {
    let mut values = Vec::new();
    for chunk in users.chunks(EMBED_CHUNK) {
        values.extend(model.user_embeddings(&catalog.users.sparse(chunk)?)?);
    }
    Ok(values)
}

/// Evaluates `model` on `catalog`'s held-out interactions at the cut-offs `ks`.
pub fn evaluate_retrieval(
    model: &mut TwoTowerModel,
    catalog: &Catalog,
    ks: &[usize],
) -> Result<RetrievalEval> {
    let max_k = ks.iter().copied().max().unwrap_or(0);
    let (corpus, values) = corpus_embeddings(model, catalog)?;
    if corpus.is_empty() {
        return Err(TrainError::Invalid(
            "the dataset has no items to retrieve".into(),
        ));
    }
    let position: HashMap<u64, u32> = corpus
        .iter()
        .enumerate()
        .map(|(p, &id)| (id, p as u32))
        .collect();
    let users: Vec<u64> = catalog.held_out.keys().copied().collect();
    let queries = user_embeddings(model, catalog, &users)?;
    let dim = model.spec().embedding_dim();
    let index = ExactIndex::new(ItemEmbeddings::new(dim, values)?, Metric::InnerProduct)?;
    let (mut offsets, mut seen_items) = (vec![0], Vec::new());
    for user in &users {
        if let Some(seen) = catalog.seen.get(user) {
            seen_items.extend(seen.iter().filter_map(|item| position.get(item)));
        }
        offsets.push(seen_items.len());
    }
    let exclusions = Exclusions::new(corpus.len()).with_seen(offsets, seen_items)?;
    let top = index.search(&queries, max_k, Some(&exclusions))?;

    let popular = catalog.by_popularity(&corpus);
    let mut model_acc = RetrievalAccumulator::new(ks);
    let mut popular_acc = RetrievalAccumulator::new(ks);
    for (q, user) in users.iter().enumerate() {
        let relevant: HashSet<u64> = catalog.held_out[user].iter().copied().collect();
        let ranked: Vec<u64> = top.items(q).iter().map(|&p| corpus[p as usize]).collect();
        model_acc.add(&ranked, &relevant);
        let seen = catalog.seen.get(user);
        let baseline: Vec<u64> = popular
            .iter()
            .copied()
            .filter(|item| seen.is_none_or(|s| !s.contains(item)))
            .take(max_k)
            .collect();
        popular_acc.add(&baseline, &relevant);
    }
    Ok(RetrievalEval {
        model: model_acc.finish(),
        popularity: popular_acc.finish(),
        users: users.len() as u64,
        items: corpus.len(),
    })
}
