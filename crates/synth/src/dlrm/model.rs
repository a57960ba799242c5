//! The hidden model that turns a DLRM row's features into the probability of a click.
//!
//! `logit = bias + w·dense + Σ_t e_t(ids_t) + Σ_(a,b) ⟨v_a(ids_a), v_b(ids_b)⟩ / 2`, where `w` is
//! a random weight vector, `e_t(id)` a random effect of each id of table `t`, and `v_t(id)` a
//! random 4-vector for the tables of a couple of interacting pairs. Per-id quantities are hashes
//! of `(seed, table, id)` times the id's [weight](IdWeights), so the model costs no memory
//! however large the tables. A bag pools its ids' effects and vectors as `sum / sqrt(len)`, which
//! keeps every term's variance the same for any bag length. The three kinds of term share the
//! logit variance `signal²` as 30 % dense, 50 % ids, 20 % interactions (renormalised over the
//! kinds present), and the bias is set so the expected positive rate is close to the requested
//! one.
//!
//! Why ids are weighted: with Zipf ids most of a large table is seen a handful of times in the
//! whole dataset, and no model can learn an effect from five clicks. If every id carried the
//! same effect, much of the planted signal would sit on ids nobody can learn, and the reported
//! ceiling would be far above anything a trained model reaches. So an id's effect is scaled by
//! `c / (c + PRIOR_COUNT)`, where `c` is how often the id is expected to appear in the training
//! rows: frequent ids carry their full effect, rare ids almost none. The weights are normalised
//! so that their mean square over the id distribution is 1, which keeps the variance shares
//! above exact; the ceiling is then what a model that has learnt every frequent id reaches.

use super::DlrmConfig;
use crate::rng::{Rng, hash, hash_normal, hash_unit_vector4, hash2};
use rayon::prelude::*;
use serde_json::json;

/// Domain tags keep the hashes of different quantities independent.
const DENSE_WEIGHTS: u64 = 1;
const ID_EFFECT: u64 = 2;
const ID_VECTOR: u64 = 3;

/// Variance shares of the three kinds of term.
const DENSE_SHARE: f64 = 0.3;
const ID_SHARE: f64 = 0.5;
const INTERACTION_SHARE: f64 = 0.2;

/// Expected training occurrences at which an id carries half of its full effect.
pub const PRIOR_COUNT: f64 = 200.0;

/// Ids whose weights are tabulated; rarer ids (beyond this rank) compute theirs on the fly.
const TABULATED: u64 = 1 << 20;

/// Ids per table whose effects are always tabulated: the most frequent ones, most of the draws.
const EFFECT_HEAD: u64 = 1 << 12;

/// Most ids per table whose effects are tabulated (512 KiB of `f32`).
const EFFECT_TABLE_MAX: u64 = 1 << 17;

/// Most tabulated effects over all tables together (32 MiB of `f32`).
const EFFECT_BUDGET: u64 = 1 << 23;

/// Ids per table whose effects are tabulated: every id of a table of up to
/// [`EFFECT_TABLE_MAX`] ids while all tables together stay within [`EFFECT_BUDGET`], and at
/// least the [`EFFECT_HEAD`] most frequent. A lookup is cheaper than the hash, and the generator
/// draws a table's ids a whole chunk at a time, so only one table's effects need to be in cache.
/// Ids beyond compute their effect from the hash: the same numbers.
fn tabulated_effects(tables: usize) -> u64 {
    (EFFECT_BUDGET / tables.max(1) as u64).clamp(EFFECT_HEAD, EFFECT_TABLE_MAX)
}

/// Per-id signal weights of one table shape (cardinality, Zipf exponent, training rows): see
/// the module documentation for why they exist.
#[derive(Debug, Clone)]
struct IdWeights {
    /// Normalised weights of ids `0..min(n, TABULATED)`.
    head: Vec<f32>,
    /// Zipf exponent.
    exponent: f64,
    /// Expected training occurrences of rank 1 (the most frequent id).
    first_count: f64,
    /// Normalisation: `1 / sqrt(E[w²])`.
    scale: f64,
}

impl IdWeights {
    /// The weights of a table of `n` ids drawn with Zipf `exponent`, `draws` times in training.
    fn new(n: u64, exponent: f64, draws: f64) -> IdWeights {
        let tabulated = n.min(TABULATED);
        let rank_mass = |k: f64| (-exponent * k.ln()).exp();
        // Σ_k k^-s: exact over the tabulated ranks, the midpoint integral beyond them.
        let head_mass: f64 = (1..=tabulated).map(|k| rank_mass(k as f64)).sum();
        let (a, b) = (tabulated as f64 + 0.5, n as f64 + 0.5);
        let tail_mass = if n > tabulated {
            if (exponent - 1.0).abs() < 1e-12 {
                (b / a).ln()
            } else {
                (b.powf(1.0 - exponent) - a.powf(1.0 - exponent)) / (1.0 - exponent)
            }
        } else {
            0.0
        };
        let total = head_mass + tail_mass;
        let first_count = draws / total;
        let mut weights = IdWeights {
            head: Vec::new(),
            exponent,
            first_count,
            scale: 1.0,
        };
        // E[w²] = Σ_k p_k w_k², exact over the tabulated ranks and on a geometric grid beyond.
        let mut mean_square: f64 = (1..=tabulated)
            .map(|k| rank_mass(k as f64) / total * weights.raw(k as f64).powi(2))
            .sum();
        let mut x0 = a;
        while x0 < b {
            let x1 = (x0 * 1.01).min(b);
            let mid = (x0 * x1).sqrt();
            mean_square += (x1 - x0) * rank_mass(mid) / total * weights.raw(mid).powi(2);
            x0 = x1;
        }
        weights.scale = if mean_square > 0.0 {
            1.0 / mean_square.sqrt()
        } else {
            1.0
        };
        weights.head = (1..=tabulated)
            .map(|k| (weights.raw(k as f64) * weights.scale) as f32)
            .collect();
        weights
    }

    /// The unnormalised weight `c / (c + PRIOR_COUNT)` of rank `k` (id `k - 1`).
    fn raw(&self, k: f64) -> f64 {
        let count = self.first_count * (-self.exponent * k.ln()).exp();
        count / (count + PRIOR_COUNT)
    }

    /// The normalised weight of `id`.
    #[inline]
    fn get(&self, id: u64) -> f64 {
        match self.head.get(id as usize) {
            Some(&w) => f64::from(w),
            None => self.raw((id + 1) as f64) * self.scale,
        }
    }
}

/// The planted model of one dataset.
#[derive(Debug, Clone)]
pub struct HiddenModel {
    bias: f64,
    dense_weights: Vec<f64>,
    effect_keys: Vec<u64>,
    /// Per table, the effects of its first [`tabulated_effects`] ids: the hot loop's lookup,
    /// the same numbers as computed ones.
    effect_tables: Vec<Vec<f32>>,
    effect_scale: f64,
    /// Distinct weight tables, and which one each table uses.
    weights: Vec<IdWeights>,
    table_weights: Vec<usize>,
    vector_keys: Vec<u64>,
    pairs: Vec<(usize, usize)>,
    pair_scale: f64,
}

impl HiddenModel {
    /// The model a configuration's seed plants.
    pub fn new(config: &DlrmConfig) -> HiddenModel {
        let tables = config.tables();
        let pairs: Vec<(usize, usize)> = match tables {
            0 | 1 => vec![],
            2 | 3 => vec![(0, 1)],
            _ => vec![(0, 1), (2, 3)],
        };
        let dense_share = if config.dense > 0 { DENSE_SHARE } else { 0.0 };
        let id_share = if tables > 0 { ID_SHARE } else { 0.0 };
        let pair_share = if pairs.is_empty() {
            0.0
        } else {
            INTERACTION_SHARE
        };
        let total_share = dense_share + id_share + pair_share;
        let variance = config.signal * config.signal;

        let mut rng = Rng::for_key(&[config.seed, DENSE_WEIGHTS]);
        let mut dense_weights: Vec<f64> = (0..config.dense).map(|_| rng.normal()).collect();
        let norm = dense_weights.iter().map(|w| w * w).sum::<f64>().sqrt();
        let dense_scale = (variance * dense_share / total_share).sqrt();
        if norm > 0.0 {
            dense_weights
                .iter_mut()
                .for_each(|w| *w *= dense_scale / norm);
        }
        let effect_scale = if tables > 0 {
            (variance * id_share / total_share / tables as f64).sqrt()
        } else {
            0.0
        };
        let pair_scale = if pairs.is_empty() {
            0.0
        } else {
            (variance * pair_share / total_share / pairs.len() as f64).sqrt()
        };
        // E[sigmoid(b + σZ)] ≈ sigmoid(b / sqrt(1 + πσ²/8)) (the probit approximation).
        let target = config.positive_rate;
        let bias =
            (target / (1.0 - target)).ln() * (1.0 + std::f64::consts::PI * variance / 8.0).sqrt();
        // Tables of the same cardinality share their weights (the Zipf exponent and the number
        // of training draws are the same for every table).
        let draws = config.train_rows() as f64 * f64::from(config.bag.0 + config.bag.1) / 2.0;
        let mut weights: Vec<IdWeights> = Vec::new();
        let mut shapes: Vec<u64> = Vec::new();
        let table_weights = config
            .cardinalities
            .iter()
            .map(|&n| match shapes.iter().position(|&m| m == n) {
                Some(i) => i,
                None => {
                    shapes.push(n);
                    weights.push(IdWeights::new(n, config.zipf, draws));
                    weights.len() - 1
                }
            })
            .collect();
        let mut model = HiddenModel {
            bias,
            dense_weights,
            weights,
            table_weights,
            effect_keys: (0..tables as u64)
                .map(|t| hash(&[config.seed, ID_EFFECT, t]))
                .collect(),
            effect_tables: Vec::new(),
            effect_scale,
            vector_keys: (0..tables as u64)
                .map(|t| hash(&[config.seed, ID_VECTOR, t]))
                .collect(),
            pairs,
            pair_scale,
        };
        let tabulated = tabulated_effects(tables);
        model.effect_tables = config
            .cardinalities
            .par_iter()
            .enumerate()
            .map(|(t, &n)| {
                (0..n.min(tabulated))
                    .map(|id| model.compute_effect(t, id))
                    .collect()
            })
            .collect();
        model
    }

    /// The constant term of the logit.
    pub fn bias(&self) -> f64 {
        self.bias
    }

    /// The dense features' contribution to the logit.
    pub fn dense_logit(&self, dense: &[f32]) -> f64 {
        self.dense_weights
            .iter()
            .zip(dense)
            .map(|(w, &x)| w * f64::from(x))
            .sum()
    }

    /// The weight of `id` in `table`: how much of a full effect it carries (mean square 1
    /// over the id distribution).
    #[inline]
    pub fn weight(&self, table: usize, id: u64) -> f64 {
        self.weights[self.table_weights[table]].get(id)
    }

    /// The unscaled (unit mean-square) effect of `id` in `table`; a bag's contribution to the
    /// logit is `effect_scale · Σ effect / sqrt(len)`. Looked up for the most frequent ids.
    #[inline]
    pub fn effect(&self, table: usize, id: u64) -> f64 {
        match self.effect_tables[table].get(id as usize) {
            Some(&effect) => f64::from(effect),
            None => f64::from(self.compute_effect(table, id)),
        }
    }

    /// The effect of `id` in `table` from its hash, rounded to `f32` (the tables' precision,
    /// so tabulated and computed effects are the same numbers).
    #[inline]
    fn compute_effect(&self, table: usize, id: u64) -> f32 {
        (self.weight(table, id) * hash_normal(hash2(self.effect_keys[table], id))) as f32
    }

    /// The scale of the id effects in the logit.
    pub fn effect_scale(&self) -> f64 {
        self.effect_scale
    }

    /// The interaction vector of `id` in `table` (4 components of unit mean square), weighted
    /// like its effect.
    #[inline]
    pub fn vector(&self, table: usize, id: u64) -> [f64; 4] {
        let w = self.weight(table, id);
        hash_unit_vector4(hash2(self.vector_keys[table], id)).map(|x| x * w)
    }

    /// The interacting table pairs.
    pub fn pairs(&self) -> &[(usize, usize)] {
        &self.pairs
    }

    /// The logit contribution of one pair's pooled vectors (a unit-variance dot, scaled).
    #[inline]
    pub fn interaction(&self, a: &[f64; 4], b: &[f64; 4]) -> f64 {
        self.pair_scale * 0.5 * a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>()
    }

    /// A description of the model for the manifest (its structure and scales, not the weights).
    pub fn describe(&self) -> serde_json::Value {
        json!({
            "logit": "bias + w·dense + Σ_t effect_scale·Σ_bag e_t(id)/sqrt(len) + Σ_pairs pair_scale·⟨v_a, v_b⟩/2",
            "id_weight": "e_t(id) and v_t(id) scale with c/(c + prior_count), c = the id's expected training occurrences, normalised to mean square 1",
            "prior_count": PRIOR_COUNT,
            "bias": self.bias,
            "dense_weight_norm": self.dense_weights.iter().map(|w| w * w).sum::<f64>().sqrt(),
            "effect_scale": self.effect_scale,
            "interaction_pairs": self.pairs.iter().map(|&(a, b)| [a, b]).collect::<Vec<_>>(),
            "pair_scale": self.pair_scale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_is_shared_as_documented() {
        let config = DlrmConfig {
            signal: 2.0,
            ..DlrmConfig::default()
        };
        let model = HiddenModel::new(&config);
        let dense_var: f64 = model.dense_weights.iter().map(|w| w * w).sum();
        let id_var = model.effect_scale.powi(2) * 26.0;
        let pair_var = model.pair_scale.powi(2) * 2.0;
        assert!((dense_var - 4.0 * 0.3).abs() < 1e-9, "{dense_var}");
        assert!((id_var - 4.0 * 0.5).abs() < 1e-9, "{id_var}");
        assert!((pair_var - 4.0 * 0.2).abs() < 1e-9, "{pair_var}");
        assert!(model.bias() < 0.0);

        let only_ids = DlrmConfig {
            dense: 0,
            cardinalities: vec![10],
            ..config
        };
        let model = HiddenModel::new(&only_ids);
        assert!((model.effect_scale.powi(2) - 4.0).abs() < 1e-9);
        assert!(model.pairs().is_empty());
    }

    #[test]
    fn per_id_quantities_depend_on_seed_table_and_id_only() {
        let a = HiddenModel::new(&DlrmConfig::default());
        let b = HiddenModel::new(&DlrmConfig::default());
        let c = HiddenModel::new(&DlrmConfig {
            seed: 1,
            ..DlrmConfig::default()
        });
        assert_eq!(a.effect(3, 77), b.effect(3, 77));
        assert_ne!(a.effect(3, 77), a.effect(4, 77));
        assert_ne!(a.effect(3, 77), c.effect(3, 77));
        assert_eq!(a.vector(0, 5), b.vector(0, 5));
        // Tabulated and computed effects are the same numbers.
        for id in [0, 77, EFFECT_HEAD - 1] {
            assert_eq!(a.effect(3, id), f64::from(a.compute_effect(3, id)));
        }
        assert_eq!(
            a.effect(3, EFFECT_HEAD + 5),
            f64::from(a.compute_effect(3, EFFECT_HEAD + 5))
        );
    }

    #[test]
    fn id_weights_have_unit_mean_square_and_favour_frequent_ids() {
        for (n, s, draws) in [(100_000, 1.05, 8e5), (10, 1.2, 1e6), (50, 0.0, 100.0)] {
            let weights = IdWeights::new(n, s, draws);
            let mass: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
            let total: f64 = mass.iter().sum();
            let mean_square: f64 = (0..n)
                .map(|id| mass[id as usize] / total * weights.get(id).powi(2))
                .sum();
            assert!((mean_square - 1.0).abs() < 1e-3, "{n} {s}: {mean_square}");
            assert!(weights.get(0) >= weights.get(n - 1));
        }
        // A table too large to tabulate: the tail weights and the integral normalisation agree
        // with the tabulated ones where they meet.
        let big = IdWeights::new(TABULATED * 4, 1.05, 1e9);
        let (last, next) = (big.get(TABULATED - 1), big.get(TABULATED));
        assert!(
            (last - next).abs() < 1e-6 * last.max(1e-12) + 1e-9,
            "{last} {next}"
        );
        let weights = IdWeights::new(100_000, 1.05, 8e5);
        assert!(weights.get(0) > 1.0 && weights.get(99_999) < 0.01);
    }
}
