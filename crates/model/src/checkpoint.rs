//! Checkpoints of a whole model (ranking or two-tower): a folder with a JSON header and binary
//! state files.
//!
//! `model.json` names the format, its version, the model kind, the full [`RankingSpec`], the
//! length of every dense parameter tensor and the dense optimizer's step count. `dense.bin`
//! holds the dense parameters then the dense optimizer state (little-endian f32, each block
//! preceded by its length); `embeddings.bin` (and, for DeepFM, `first_order.bin`) hold the
//! embedding tables with their optimizer state. Every file is written to a temporary name
//! and renamed, so a crash never leaves a half-written file under the real name. A model
//! refuses a checkpoint of another format version, another kind or another specification,
//! saying which.

use crate::dense_optim::DenseOptimizer;
use crate::error::{ModelError, Result};
use crate::ranking::{Net, RankingModel};
use crate::spec::RankingSpec;
use crate::two_tower::{TwoTowerModel, TwoTowerSpec};
use cascade_embed::EmbeddingCollection;
use cascade_nn::{Parameters, gather_values, parameter_count, scatter_values};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The `format` field of every model header.
pub const CHECKPOINT_FORMAT: &str = "cascade-ranking-model";
/// The header and file layout version this build writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

const HEADER: &str = "model.json";
const DENSE: &str = "dense.bin";
const EMBEDDINGS: &str = "embeddings.bin";
/// The stem of a ranking model's embedding shard files (`embeddings.rank-00000.bin`, ...),
/// written by each rank of a distributed run beside the dense part; see
/// [`EmbeddingCollection::save_shard`].
pub const EMBEDDINGS_STEM: &str = "embeddings";
const FIRST_ORDER: &str = "first_order.bin";
const DENSE_MAGIC: &[u8; 8] = b"CSCDENSE";

/// The JSON header of a checkpoint.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    format: String,
    version: u32,
    kind: String,
    spec: serde_json::Value,
    dense_shapes: Vec<usize>,
    dense_optimizer_steps: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> ModelError {
    ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes `path` through a temporary file in the same folder, synced, then renamed.
fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let mut tmp: PathBuf = path.to_path_buf();
    tmp.as_mut_os_string().push(".tmp");
    let run = || -> std::io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    run().map_err(|e| {
        // The temporary file is garbage after a failure; the error that matters is `e`.
        let _ = std::fs::remove_file(&tmp);
        io_err(path)(e)
    })
}

fn write_block(w: &mut impl Write, values: &[f32]) -> std::io::Result<()> {
    w.write_all(&(values.len() as u64).to_le_bytes())?;
    for v in values {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

fn read_block(r: &mut impl Read, path: &Path, what: &str, want: usize) -> Result<Vec<f32>> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len).map_err(io_err(path))?;
    let len = u64::from_le_bytes(len);
    if len != want as u64 {
        return Err(bad(
            path,
            format!("{what} has {len} values, this model has {want}"),
        ));
    }
    let mut bytes = vec![0u8; want * 4];
    r.read_exact(&mut bytes).map_err(io_err(path))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn dense_shapes(net: &mut dyn Parameters) -> Vec<usize> {
    let mut shapes = Vec::new();
    net.visit_parameters(&mut |p| shapes.push(p.value.len()));
    shapes
}

/// Names the first top-level field in which two specifications differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> String {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => a
            .iter()
            .find(|(k, v)| b.get(*k) != Some(*v))
            .map(|(k, v)| {
                let other = b.get(k).map_or("nothing".into(), |o| o.to_string());
                format!("{k} is {other} in the checkpoint but {v} in this model")
            })
            .unwrap_or_else(|| "the specifications differ".into()),
        _ => "the specifications differ".into(),
    }
}

fn read_header(dir: &Path) -> Result<Header> {
    let path = dir.join(HEADER);
    let text = std::fs::read(&path).map_err(io_err(&path))?;
    let header: Header = serde_json::from_slice(&text)
        .map_err(|e| bad(&path, format!("not a Cascade model header: {e}")))?;
    if header.format != CHECKPOINT_FORMAT {
        return Err(bad(
            &path,
            format!(
                "format is {:?}, expected {CHECKPOINT_FORMAT:?}",
                header.format
            ),
        ));
    }
    if header.version != CHECKPOINT_VERSION {
        return Err(bad(
            &path,
            format!(
                "written in format version {}, this build reads version {CHECKPOINT_VERSION}",
                header.version
            ),
        ));
    }
    Ok(header)
}

/// What a checkpoint needs of a model: its kind and specification for the header, its dense
/// parameters with their optimizer, and its embedding collections with their file names.
pub(crate) trait Checkpointed {
    /// The kind written into and checked against the header.
    fn kind_name(&self) -> &'static str;
    /// The specification, as the header stores it.
    fn spec_json(&self) -> Result<serde_json::Value>;
    /// Every dense parameter, and the optimizer over them.
    fn dense_parts(&mut self) -> (&mut dyn Parameters, &mut DenseOptimizer);
    /// Every embedding collection, with the file it is saved to.
    fn collections(&mut self) -> Vec<(&'static str, &mut EmbeddingCollection)>;
}

/// Writes `model`'s whole training state into the folder `dir` (created if needed); see the
/// module documentation for the layout.
pub(crate) fn save(model: &mut impl Checkpointed, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let kind = model.kind_name();
    let spec = model.spec_json()?;
    let (net, optimizer) = model.dense_parts();
    let n = parameter_count(net);
    let mut values = vec![0.0; n];
    gather_values(net, &mut values)?;
    let shapes = dense_shapes(net);
    let dense_path = dir.join(DENSE);
    let (state, steps) = (optimizer.state(), optimizer.steps());
    write_atomic(&dense_path, |w| {
        w.write_all(DENSE_MAGIC)?;
        write_block(w, &values)?;
        write_block(w, state)
    })?;
    for (file, collection) in model.collections() {
        collection.save(dir.join(file))?;
    }
    let header = Header {
        format: CHECKPOINT_FORMAT.into(),
        version: CHECKPOINT_VERSION,
        kind: kind.into(),
        spec,
        dense_shapes: shapes,
        dense_optimizer_steps: steps,
    };
    let header_path = dir.join(HEADER);
    let text = serde_json::to_vec_pretty(&header).map_err(|e| ModelError::Spec(e.to_string()))?;
    write_atomic(&header_path, |w| w.write_all(&text))
}

/// Reads the header of the checkpoint folder `dir`, refusing other formats and versions, and
/// returns it with the specification it holds, which must be of a model family whose kinds
/// `kinds` lists.
pub(crate) fn read_spec<S: serde::de::DeserializeOwned>(
    dir: &Path,
    kinds: &[&str],
) -> Result<(Header, S)> {
    let header = read_header(dir)?;
    let path = dir.join(HEADER);
    if !kinds.contains(&header.kind.as_str()) {
        return Err(bad(
            &path,
            format!(
                "it holds a {} model, expected one of: {}",
                header.kind,
                kinds.join(", ")
            ),
        ));
    }
    let spec = serde_json::from_value(header.spec.clone())
        .map_err(|e| bad(&path, format!("model specification: {e}")))?;
    Ok((header, spec))
}

/// Replaces `model`'s state with the checkpoint's in `dir`; refuses (changing nothing in the
/// dense part) a checkpoint of another kind or specification.
pub(crate) fn restore(model: &mut impl Checkpointed, dir: &Path) -> Result<()> {
    let header = read_header(dir)?;
    restore_from(model, dir, &header)
}

/// [`restore`] with the header already read.
pub(crate) fn restore_from(
    model: &mut impl Checkpointed,
    dir: &Path,
    header: &Header,
) -> Result<()> {
    let header_path = dir.join(HEADER);
    let kind = model.kind_name();
    if header.kind != kind {
        return Err(bad(
            &header_path,
            format!("it holds a {} model, this is a {kind} model", header.kind),
        ));
    }
    let mine = model.spec_json()?;
    if header.spec != mine {
        return Err(bad(
            &header_path,
            format!(
                "it was written by a different {kind} model: {}",
                first_difference(&mine, &header.spec)
            ),
        ));
    }
    let (net, optimizer) = model.dense_parts();
    if header.dense_shapes != dense_shapes(net) {
        return Err(bad(
            &header_path,
            "dense parameter shapes differ from this model's",
        ));
    }
    let dense_path = dir.join(DENSE);
    let mut r = BufReader::new(File::open(&dense_path).map_err(io_err(&dense_path))?);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(io_err(&dense_path))?;
    if &magic != DENSE_MAGIC {
        return Err(bad(&dense_path, "not a Cascade dense-parameter file"));
    }
    let n = parameter_count(net);
    let values = read_block(&mut r, &dense_path, "dense parameters", n)?;
    let state = read_block(
        &mut r,
        &dense_path,
        "dense optimizer state",
        optimizer.state().len(),
    )?;
    for (file, collection) in model.collections() {
        let path = dir.join(file);
        let stem = file.trim_end_matches(".bin");
        if !path.exists() && cascade_embed::has_shards(dir, stem) {
            collection.load_shards(dir, stem)?;
        } else {
            collection.load(path)?;
        }
    }
    let (net, optimizer) = model.dense_parts();
    scatter_values(net, &values)?;
    optimizer.restore(&state, header.dense_optimizer_steps)?;
    Ok(())
}

impl Checkpointed for RankingModel {
    fn kind_name(&self) -> &'static str {
        self.spec.kind.name()
    }

    fn spec_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(&self.spec).map_err(|e| ModelError::Spec(e.to_string()))
    }

    fn dense_parts(&mut self) -> (&mut dyn Parameters, &mut DenseOptimizer) {
        (&mut self.net, &mut self.optimizer)
    }

    fn collections(&mut self) -> Vec<(&'static str, &mut EmbeddingCollection)> {
        let mut all = vec![(EMBEDDINGS, &mut self.embeddings)];
        if let Net::DeepFm(net) = &mut self.net {
            all.push((FIRST_ORDER, net.first_order_mut()));
        }
        all
    }
}

impl RankingModel {
    /// Writes the whole training state into the folder `dir` (created if needed); see the
    /// module documentation for the layout.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        save(self, dir)
    }

    /// Builds the model a checkpoint folder describes and restores its state.
    pub fn load(dir: &Path) -> Result<Self> {
        let (header, spec) = read_spec::<RankingSpec>(dir, &RANKING_KINDS)?;
        let mut model = RankingModel::new(spec)?;
        restore_from(&mut model, dir, &header)?;
        Ok(model)
    }

    /// Replaces this model's state with a checkpoint's; refuses (changing nothing in the
    /// dense part) a checkpoint of another kind or specification.
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        restore(self, dir)
    }
}

/// The kinds a [`RankingModel`] checkpoint can hold.
const RANKING_KINDS: [&str; 3] = ["dlrm", "dcn", "deepfm"];

const TWO_TOWER: &str = "two_tower";
const USER_EMBEDDINGS: &str = "user_embeddings.bin";
const ITEM_EMBEDDINGS: &str = "item_embeddings.bin";

impl Checkpointed for TwoTowerModel {
    fn kind_name(&self) -> &'static str {
        TWO_TOWER
    }

    fn spec_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(&self.spec).map_err(|e| ModelError::Spec(e.to_string()))
    }

    fn dense_parts(&mut self) -> (&mut dyn Parameters, &mut DenseOptimizer) {
        (&mut self.towers, &mut self.optimizer)
    }

    fn collections(&mut self) -> Vec<(&'static str, &mut EmbeddingCollection)> {
        vec![
            (USER_EMBEDDINGS, &mut self.towers.user.embeddings),
            (ITEM_EMBEDDINGS, &mut self.towers.item.embeddings),
        ]
    }
}

impl TwoTowerModel {
    /// Writes the whole training state into the folder `dir` (created if needed): the header,
    /// `dense.bin` (both tower MLPs, user first) and one embedding file per tower.
    pub fn save(&mut self, dir: &Path) -> Result<()> {
        save(self, dir)
    }

    /// Builds the model a checkpoint folder describes and restores its state.
    pub fn load(dir: &Path) -> Result<Self> {
        let (header, spec) = read_spec::<TwoTowerSpec>(dir, &[TWO_TOWER])?;
        let mut model = TwoTowerModel::new(spec)?;
        restore_from(&mut model, dir, &header)?;
        Ok(model)
    }

    /// Replaces this model's state with a checkpoint's; refuses a checkpoint of another kind
    /// or specification.
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        restore(self, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{batch, spec};
    use crate::spec::{DenseOptimizerKind, ModelKind};

    fn stateful(kind: ModelKind) -> RankingSpec {
        let mut s = spec(kind, 3);
        s.dense_optimizer.kind = DenseOptimizerKind::Adam;
        s.embedding_optimizer = cascade_embed::Optimizer::rowwise_adagrad(0.1);
        s
    }

    fn trained(kind: ModelKind) -> RankingModel {
        let mut m = RankingModel::new(stateful(kind)).unwrap();
        m.train_step(&batch(3)).unwrap();
        m
    }

    #[test]
    fn save_load_round_trips_the_whole_state() {
        for kind in [ModelKind::Dlrm, ModelKind::Dcn, ModelKind::Deepfm] {
            let dir = tempfile::tempdir().unwrap();
            let mut a = trained(kind);
            a.save(dir.path()).unwrap();
            let mut b = RankingModel::load(dir.path()).unwrap();
            // Same state: the next step gives bit-identical losses and parameters.
            let (la, lb) = (
                a.train_step(&batch(3)).unwrap(),
                b.train_step(&batch(3)).unwrap(),
            );
            assert_eq!(la.to_bits(), lb.to_bits(), "{kind:?}");
            let (sa, sb) = (dir.path().join("a"), dir.path().join("b"));
            a.save(&sa).unwrap();
            b.save(&sb).unwrap();
            for f in [DENSE, EMBEDDINGS] {
                assert_eq!(
                    std::fs::read(sa.join(f)).unwrap(),
                    std::fs::read(sb.join(f)).unwrap()
                );
            }
        }
    }

    #[test]
    fn checkpoints_of_other_models_and_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        trained(ModelKind::Dcn).save(dir.path()).unwrap();
        let mut dlrm = trained(ModelKind::Dlrm);
        let err = dlrm.restore(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("it holds a dcn model, this is a dlrm model"),
            "{err}"
        );

        let mut wider = stateful(ModelKind::Dcn);
        wider.top_mlp = vec![7, 1];
        let mut other = RankingModel::new(wider).unwrap();
        let err = other.restore(dir.path()).unwrap_err().to_string();
        assert!(err.contains("different dcn model: top_mlp"), "{err}");

        let header = dir.path().join(HEADER);
        let text = std::fs::read_to_string(&header).unwrap();
        std::fs::write(&header, text.replace("\"version\": 1", "\"version\": 99")).unwrap();
        let err = RankingModel::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("format version 99, this build reads version 1"),
            "{err}"
        );
    }
}
