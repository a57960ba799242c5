//! Training configuration: the TOML file behind `cascade train CONFIG [--set key=value]...`.
//!
//! Every section and key is optional except `model.kind`; the defaults below are those of the
//! reference DLRM configuration (TorchRec's DLRM example: 64-d embeddings, bottom MLP 512-256-64,
//! top MLP 512-256-1, batch 2048). Unknown keys are errors naming the key, so a typo never
//! silently falls back to a default. `--set a.b=v` overrides are applied to the parsed TOML tree
//! before it is checked, with `v` read as a TOML value (`--set train.epochs=3`,
//! `--set model.kind=dcn`, `--set data.path=/tmp/ds`), or as a string when it is not one.

use cascade_dist::plan::parse_bytes;
pub use cascade_model::{DenseOptimizerKind, ModelKind};
use cascade_nn::Precision;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown key, or a value of the wrong type.
    #[error("{origin}: {message}")]
    Invalid {
        /// Where the setting came from (file or flag).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A `--set` override is not of the form `key.path=value`, or its path crosses a non-table.
    #[error("--set {text:?}: {message}")]
    Override {
        /// The override as given.
        text: String,
        /// What is wrong.
        message: String,
    },
    /// The values are individually valid but inconsistent with each other.
    #[error("{origin}: {key}: {message}")]
    Inconsistent {
        /// Where the setting came from (file or flag).
        origin: String,
        /// The configuration key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Where the training data comes from and how it is batched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Dataset root (with `cascade.json`); `--data` overrides it. Default: none (then `--data`
    /// is required).
    pub path: Option<PathBuf>,
    /// Split to train on. Default `train`.
    pub train_split: String,
    /// Split to evaluate on during and after training; none disables evaluation. Default `val`
    /// when the dataset has it, else `test` when it has that, else none.
    pub eval_split: Option<String>,
    /// Samples per training step. Default 2048.
    pub batch_size: usize,
    /// Shuffle the training split (seeded, different each epoch). Default true.
    pub shuffle: bool,
    /// Samples per shuffle window (larger mixes more, keeps more shards in memory). Default
    /// 262144.
    pub shuffle_window: u64,
    /// Background loader threads. Default 1.
    pub loader_threads: usize,
    /// Transform applied to dense features: `none`, or `log1p` (log(1 + max(x, 0)), as the
    /// reference DLRM does for Criteo counts). Default `none`.
    pub dense_transform: DenseTransform,
    /// What a NaN or infinite dense value does: `error` (stop, naming the column) or `zero`
    /// (replace with 0). Default `error`.
    pub non_finite: NonFinitePolicy,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            path: None,
            train_split: "train".into(),
            eval_split: None,
            batch_size: 2048,
            shuffle: true,
            shuffle_window: 1 << 18,
            loader_threads: 1,
            dense_transform: DenseTransform::None,
            non_finite: NonFinitePolicy::Error,
        }
    }
}

/// Dense feature transform; see [`DataConfig::dense_transform`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenseTransform {
    /// Values are used as stored.
    None,
    /// `log(1 + max(x, 0))`.
    Log1p,
}

/// Handling of NaN/Inf in dense features; see [`DataConfig::non_finite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NonFinitePolicy {
    /// Stop with an error naming the column.
    Error,
    /// Replace with 0.
    Zero,
}

/// The model architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `dlrm`, `dcn` (DCN-v2, the MLPerf DLRMv2 shape), `deepfm`, or `two_tower` (the
    /// retrieval model, configured in the `[two_tower]` section; the other keys here are the
    /// ranking models').
    pub kind: ModelKind,
    /// Embedding dimension of every sparse feature (and the bottom MLP's output). Default 64.
    pub embedding_dim: usize,
    /// Bottom MLP hidden and output sizes over the dense features; the last must equal
    /// `embedding_dim`. Default [512, 256, 64].
    pub bottom_mlp: Vec<usize>,
    /// Top (or deep) MLP sizes; must end with 1 (the logit). Default [512, 256, 1].
    pub top_mlp: Vec<usize>,
    /// DLRM dot interaction includes each embedding's dot with itself. Default false.
    pub interaction_self_pairs: bool,
    /// DCN-v2: number of cross layers. Default 3.
    pub cross_layers: usize,
    /// DCN-v2: rank of the low-rank cross weights; 0 for full-rank. Default 0.
    pub cross_rank: usize,
    /// Precision the ranking MLPs' matrix products multiply in: `f32`, or `bf16` (operands
    /// rounded to bf16, sums and weights kept in f32, about twice as fast on CPUs with
    /// AVX-512 BF16; elsewhere those products run in f32). Default `f32`.
    pub mlp_precision: Precision,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Dlrm,
            embedding_dim: 64,
            bottom_mlp: vec![512, 256, 64],
            top_mlp: vec![512, 256, 1],
            interaction_self_pairs: false,
            cross_layers: 3,
            cross_rank: 0,
            mlp_precision: Precision::F32,
        }
    }
}

/// A sparse (embedding) optimizer; see [`EmbeddingConfig::optimizer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SparseOptimizerKind {
    /// Plain SGD on touched rows.
    Sgd,
    /// Row-wise Adagrad (TorchRec's default): one accumulator per row.
    RowwiseAdagrad,
    /// Adam with per-element state for touched rows only.
    Adam,
}

/// Storage of embedding rows; see [`EmbeddingConfig::storage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
    /// 8-bit integers with a per-row scale and bias.
    Int8,
}

/// Embedding tables and their fused optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingConfig {
    /// Fused sparse optimizer. Default `rowwise_adagrad`.
    pub optimizer: SparseOptimizerKind,
    /// Its learning rate. Default 0.01.
    pub learning_rate: f32,
    /// Row storage. Default `f32`.
    pub storage: StorageKind,
    /// Rows per table when the dataset does not say (hashed features); tables otherwise take
    /// the feature's cardinality from `cascade.json`. Default none.
    pub hash_rows: Option<u64>,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            optimizer: SparseOptimizerKind::RowwiseAdagrad,
            learning_rate: 0.01,
            storage: StorageKind::F32,
            hash_rows: None,
        }
    }
}

/// Optimizer of the dense (MLP, cross, interaction) parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    /// Algorithm. Default `sgd`.
    pub kind: DenseOptimizerKind,
    /// Learning rate. Default 0.01.
    pub learning_rate: f32,
    /// SGD momentum; 0 for none (ignored by Adagrad and Adam). Default 0.
    pub momentum: f32,
    /// Clip gradients to this global L2 norm; 0 disables clipping. Default 0.
    pub clip_norm: f32,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: DenseOptimizerKind::Sgd,
            learning_rate: 0.01,
            momentum: 0.0,
            clip_norm: 0.0,
        }
    }
}

/// How a two-tower model scores a user against an item; see [`TwoTowerConfig::scoring`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scoring {
    /// Dot product of the two embeddings.
    Dot,
    /// Cosine: the dot product of the L2-normalised embeddings.
    Cosine,
}

/// The two-tower model (`model.kind = "two_tower"`): which features each tower embeds, the
/// towers' MLP, the score and the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwoTowerConfig {
    /// Features of the user tower, from the dataset's sparse features; the first is the user
    /// id (it identifies the user in evaluation and recommendations). Default ["user_id"].
    pub user_features: Vec<String>,
    /// Features of the item tower; the first is the item id. Default ["item_id"].
    pub item_features: Vec<String>,
    /// Embedding width of the two id features (the first of each tower). Default 64.
    pub id_dim: usize,
    /// Embedding width of every other feature. Default 16.
    pub feature_dim: usize,
    /// Layer widths of each tower's MLP (ReLU between layers, none after the last); the last
    /// is the width of the user and item embeddings. Default [128, 64].
    pub tower_mlp: Vec<usize>,
    /// `dot` or `cosine`. Default `dot`.
    pub scoring: Scoring,
    /// Scores are divided by this (a small value sharpens the softmax). Default 1.0.
    pub temperature: f32,
    /// `bce` (pointwise, on the dataset's label: the reference notebook's objective) or
    /// `softmax` (in-batch sampled softmax over every interaction). Default `softmax`.
    pub loss: cascade_model::TwoTowerLoss,
    /// Softmax: subtract each item's log training frequency from its logit as a negative (the
    /// log-Q correction). Default true.
    pub log_q_correction: bool,
    /// Softmax: leave out of a row's softmax the other in-batch copies of its own item.
    /// Default true.
    pub remove_accidental_hits: bool,
    /// Softmax: items sampled uniformly from the catalogue per step as extra negatives beside
    /// the in-batch ones (mixed negative sampling), so rare items are pushed down too. Default 0.
    pub uniform_negatives: usize,
    /// Cut-offs K of the retrieval metrics (Recall, NDCG, HitRate @K). Default [10, 50, 100].
    pub eval_k: Vec<usize>,
}

impl Default for TwoTowerConfig {
    fn default() -> Self {
        Self {
            user_features: vec!["user_id".into()],
            item_features: vec!["item_id".into()],
            id_dim: 64,
            feature_dim: 16,
            tower_mlp: vec![128, 64],
            scoring: Scoring::Dot,
            temperature: 1.0,
            loss: cascade_model::TwoTowerLoss::Softmax,
            log_q_correction: true,
            remove_accidental_hits: true,
            uniform_negatives: 0,
            eval_k: vec![10, 50, 100],
        }
    }
}

/// The training loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Passes over the training split. Default 1.
    pub epochs: u32,
    /// Stop after this many steps (0: no limit). Default 0.
    pub max_steps: u64,
    /// Seed of initialisation and shuffling. Default 0.
    pub seed: u64,
    /// Compute threads. Default 2.
    pub threads: usize,
    /// Evaluate every N steps (0: at the end of each epoch only). Default 0.
    pub eval_every: u64,
    /// Checkpoint every N steps (0: at the end only). Default 0.
    pub checkpoint_every: u64,
    /// Log training loss and throughput every N steps. Default 50.
    pub log_every: u64,
    /// Checkpoints kept in the run folder; older ones are deleted. Default 2.
    pub keep_checkpoints: usize,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            max_steps: 0,
            seed: 0,
            threads: 2,
            eval_every: 0,
            checkpoint_every: 0,
            log_every: 50,
            keep_checkpoints: 2,
        }
    }
}

/// Training across ranks (processes started by an MPI launcher); ignored by a single process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistributedConfig {
    /// Memory each rank may spend on embedding rows and their optimizer state, for the
    /// sharding plan (`cascade plan` shows it): bytes, or a size such as `"4GiB"`, `"512MiB"`.
    /// Default `"4GiB"`.
    pub memory_per_rank: String,
    /// Tables of at most this size are replicated on every rank. Default `"1MiB"`.
    pub replicate_max: String,
    /// Tables larger than this fraction of `memory_per_rank` are split row-wise over all
    /// ranks; those in between live whole on one rank. Default 0.25.
    pub table_wise_max_fraction: f64,
    /// Longest time, in seconds, one collective may wait for the other ranks before this
    /// rank ends the job, naming the collective (0: no limit). Default 600.
    pub collective_timeout_s: u64,
}

impl DistributedConfig {
    /// The per-rank memory budget in bytes (checked when the configuration was loaded).
    pub fn memory_budget(&self) -> u64 {
        parse_bytes(&self.memory_per_rank).unwrap_or(u64::MAX)
    }

    /// The planner's placement thresholds.
    pub fn thresholds(&self) -> cascade_dist::Thresholds {
        cascade_dist::Thresholds {
            replicate_max_bytes: parse_bytes(&self.replicate_max).unwrap_or(0),
            table_wise_max_budget_fraction: self.table_wise_max_fraction,
        }
    }

    /// The collective timeout, `None` when unlimited.
    pub fn collective_timeout(&self) -> Option<std::time::Duration> {
        (self.collective_timeout_s > 0)
            .then(|| std::time::Duration::from_secs(self.collective_timeout_s))
    }
}

impl Default for DistributedConfig {
    fn default() -> Self {
        Self {
            memory_per_rank: "4GiB".into(),
            replicate_max: "1MiB".into(),
            table_wise_max_fraction: 0.25,
            collective_timeout_s: 600,
        }
    }
}

/// A whole training configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The data section.
    #[serde(default)]
    pub data: DataConfig,
    /// The model section.
    pub model: ModelConfig,
    /// The embeddings section.
    #[serde(default)]
    pub embeddings: EmbeddingConfig,
    /// The dense optimizer section.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// The training-loop section.
    #[serde(default)]
    pub train: LoopConfig,
    /// Training across ranks.
    #[serde(default)]
    pub distributed: DistributedConfig,
    /// The two-tower section: present exactly when `model.kind = "two_tower"` (filled with its
    /// defaults when the file leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_tower: Option<TwoTowerConfig>,
}

impl TrainConfig {
    /// Reads `path`, applies `overrides` (each `key.path=value`), and checks the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<TrainConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text, overrides)
    }

    /// Parses TOML `text` (named `origin` in errors), applies `overrides`, and checks the result.
    pub fn parse(
        origin: &str,
        text: &str,
        overrides: &[String],
    ) -> Result<TrainConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.into(),
            message,
        };
        let mut tree: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        for text in overrides {
            apply_override(&mut tree, text)?;
        }
        let mut config: TrainConfig = serde_path_to_error::deserialize(toml::Value::Table(tree))
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().message().to_string();
                invalid(if path == "." {
                    message
                } else {
                    format!("{path}: {message}")
                })
            })?;
        if config.model.kind == ModelKind::TwoTower && config.two_tower.is_none() {
            config.two_tower = Some(TwoTowerConfig::default());
        }
        config.check(origin)?;
        Ok(config)
    }

    /// The configuration as TOML, every default written out (saved beside a run).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Inconsistent {
            origin: origin.into(),
            key: key.into(),
            message,
        };
        self.check_common(origin)?;
        match &self.two_tower {
            Some(t) if self.model.kind == ModelKind::TwoTower => {
                return self.check_two_tower(t, origin);
            }
            Some(_) => {
                return Err(bad(
                    "two_tower",
                    format!(
                        "this section configures model.kind = \"two_tower\", not \"{}\"",
                        self.model.kind.name()
                    ),
                ));
            }
            None => {}
        }
        let m = &self.model;
        if m.embedding_dim == 0 {
            return Err(bad("model.embedding_dim", "must be at least 1".into()));
        }
        if m.bottom_mlp.last() != Some(&m.embedding_dim) {
            return Err(bad(
                "model.bottom_mlp",
                format!(
                    "must end with model.embedding_dim ({}), found {:?}",
                    m.embedding_dim, m.bottom_mlp
                ),
            ));
        }
        if m.top_mlp.last() != Some(&1) {
            return Err(bad(
                "model.top_mlp",
                format!("must end with 1 (the logit), found {:?}", m.top_mlp),
            ));
        }
        if m.bottom_mlp.contains(&0) || m.top_mlp.contains(&0) {
            return Err(bad("model", "MLP layer sizes must be at least 1".into()));
        }
        if self.model.kind == ModelKind::Dcn && self.model.cross_layers == 0 {
            return Err(bad(
                "model.cross_layers",
                "DCN-v2 needs at least one".into(),
            ));
        }
        Ok(())
    }

    /// The checks every model kind shares: data, loop and optimizer settings.
    fn check_common(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Inconsistent {
            origin: origin.into(),
            key: key.into(),
            message,
        };
        if self.data.batch_size == 0 {
            return Err(bad("data.batch_size", "must be at least 1".into()));
        }
        if self.data.loader_threads == 0 {
            return Err(bad("data.loader_threads", "must be at least 1".into()));
        }
        if self.data.shuffle_window == 0 {
            return Err(bad("data.shuffle_window", "must be at least 1".into()));
        }
        if self.train.keep_checkpoints == 0 {
            return Err(bad("train.keep_checkpoints", "must be at least 1".into()));
        }
        if !(self.optimizer.momentum.is_finite() && (0.0..1.0).contains(&self.optimizer.momentum)) {
            return Err(bad(
                "optimizer.momentum",
                format!("must be in [0, 1), found {}", self.optimizer.momentum),
            ));
        }
        if self.train.threads == 0 {
            return Err(bad("train.threads", "must be at least 1".into()));
        }
        for (key, lr) in [
            ("embeddings.learning_rate", self.embeddings.learning_rate),
            ("optimizer.learning_rate", self.optimizer.learning_rate),
        ] {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(bad(key, format!("must be a positive number, found {lr}")));
            }
        }
        if !(self.optimizer.clip_norm.is_finite() && self.optimizer.clip_norm >= 0.0) {
            return Err(bad(
                "optimizer.clip_norm",
                "must be 0 (off) or positive".into(),
            ));
        }
        let d = &self.distributed;
        for (key, text) in [
            ("distributed.memory_per_rank", &d.memory_per_rank),
            ("distributed.replicate_max", &d.replicate_max),
        ] {
            parse_bytes(text).map_err(|e| bad(key, e))?;
        }
        if !(d.table_wise_max_fraction > 0.0 && d.table_wise_max_fraction <= 1.0) {
            return Err(bad(
                "distributed.table_wise_max_fraction",
                format!("must be in (0, 1], found {}", d.table_wise_max_fraction),
            ));
        }
        Ok(())
    }

    /// The checks of a two-tower configuration (the ranking sections' MLP keys do not apply).
    fn check_two_tower(&self, t: &TwoTowerConfig, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Inconsistent {
            origin: origin.into(),
            key: format!("two_tower.{key}"),
            message,
        };
        if t.user_features.is_empty() {
            return Err(bad("user_features", "needs at least the user id".into()));
        }
        if t.item_features.is_empty() {
            return Err(bad("item_features", "needs at least the item id".into()));
        }
        if t.id_dim == 0 || t.feature_dim == 0 {
            return Err(bad("id_dim", "embedding widths must be at least 1".into()));
        }
        if t.tower_mlp.is_empty() || t.tower_mlp.contains(&0) {
            return Err(bad(
                "tower_mlp",
                format!(
                    "needs at least one layer, each at least 1 wide, found {:?}",
                    t.tower_mlp
                ),
            ));
        }
        if !(t.temperature.is_finite() && t.temperature > 0.0) {
            return Err(bad(
                "temperature",
                format!("must be positive, found {}", t.temperature),
            ));
        }
        if t.eval_k.is_empty() || t.eval_k.contains(&0) {
            return Err(bad(
                "eval_k",
                format!("needs cut-offs of at least 1, found {:?}", t.eval_k),
            ));
        }
        if t.uniform_negatives > 0 && t.loss != cascade_model::TwoTowerLoss::Softmax {
            return Err(bad(
                "uniform_negatives",
                "extra sampled negatives need loss = \"softmax\"".into(),
            ));
        }
        if t.loss == cascade_model::TwoTowerLoss::Softmax && self.data.batch_size < 2 {
            return Err(bad(
                "loss",
                "an in-batch softmax needs data.batch_size of at least 2".into(),
            ));
        }
        Ok(())
    }
}

/// Applies one `a.b.c=value` override to a TOML tree, creating missing tables.
fn apply_override(tree: &mut toml::Table, text: &str) -> Result<(), ConfigError> {
    let err = |message: &str| ConfigError::Override {
        text: text.into(),
        message: message.into(),
    };
    let (key, raw) = text
        .split_once('=')
        .ok_or_else(|| err("expected key.path=value"))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(err("empty key segment"));
    }
    let value = parse_override_value(raw.trim());
    let (last, parents) = path.split_last().ok_or_else(|| err("empty key"))?;
    let mut table = tree;
    for segment in parents {
        let entry = table
            .entry(segment.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("{segment:?} is not a table")))?;
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// Reads an override value as TOML (`3`, `0.1`, `true`, `[1, 2]`, `"x"`), else as a bare string.
fn parse_override_value(raw: &str) -> toml::Value {
    let wrapped = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&wrapped) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[model]\nkind = \"dlrm\"\n";

    #[test]
    fn defaults_are_the_reference_dlrm() {
        let c = TrainConfig::parse("t.toml", MINIMAL, &[]).unwrap();
        assert_eq!(c.model.bottom_mlp, vec![512, 256, 64]);
        assert_eq!(c.model.top_mlp, vec![512, 256, 1]);
        assert_eq!(c.data.batch_size, 2048);
        assert_eq!(c.embeddings.optimizer, SparseOptimizerKind::RowwiseAdagrad);
        // The written-out form parses back to the same configuration.
        assert_eq!(TrainConfig::parse("again", &c.to_toml(), &[]).unwrap(), c);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = TrainConfig::parse("t.toml", "[model]\nkind = \"dlrm\"\nbotom_mlp = [1]\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml: ") && err.contains("botom_mlp"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let err = TrainConfig::parse(
            "t.toml",
            "[model]\nkind = \"dlrm\"\n[data]\nbatch_size = \"big\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "t.toml: data.batch_size: invalid type: string \"big\", expected usize"
        );
    }

    #[test]
    fn overrides_apply_and_are_checked() {
        let c = TrainConfig::parse(
            "t.toml",
            MINIMAL,
            &[
                "train.epochs=3".into(),
                "model.kind=dcn".into(),
                "data.path=/tmp/ds".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.train.epochs, 3);
        assert_eq!(c.model.kind, ModelKind::Dcn);
        assert_eq!(c.data.path, Some(PathBuf::from("/tmp/ds")));
        let err = TrainConfig::parse("t.toml", MINIMAL, &["model.embedding_dim=32".into()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "t.toml: model.bottom_mlp: must end with model.embedding_dim (32), found [512, 256, 64]"
        );
        let err = TrainConfig::parse("t.toml", MINIMAL, &["epochs".into()])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "--set \"epochs\": expected key.path=value");
    }
}
