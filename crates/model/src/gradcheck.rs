//! End-to-end gradient checks: the analytic gradients of the loss with respect to dense
//! parameters and embedding rows, from one backward pass, against central finite differences
//! of the whole model's loss, for every architecture with and without dense features.

use crate::ranking::RankingModel;
use crate::spec::{DenseOptimizerKind, DenseOptimizerSpec, ModelKind, RankingSpec, SparseInput};
use cascade_core::{Batch, KeyedJagged};
use cascade_embed::{Pooling, Storage};
use cascade_nn::{MatRef, Precision, gather_values, scatter_values};

pub(crate) const ROWS: u64 = 6;
const DIM: usize = 4;

pub(crate) fn spec(kind: ModelKind, num_dense: usize) -> RankingSpec {
    RankingSpec {
        kind,
        num_dense,
        sparse: ["a", "b", "c"]
            .iter()
            .map(|n| SparseInput {
                name: n.to_string(),
                rows: ROWS,
            })
            .collect(),
        embedding_dim: DIM,
        bottom_mlp: vec![5, DIM],
        top_mlp: vec![6, 1],
        interaction_self_pairs: false,
        cross_layers: 2,
        cross_rank: 0,
        pooling: Pooling::Sum,
        storage: Storage::F32,
        // With plain SGD at rate 1 an updated row moves by exactly minus its gradient.
        embedding_optimizer: cascade_embed::Optimizer::Sgd {
            lr: 1.0,
            weight_decay: 0.0,
        },
        dense_optimizer: DenseOptimizerSpec {
            kind: DenseOptimizerKind::Sgd,
            learning_rate: 0.1,
            momentum: 0.0,
            clip_norm: 0.0,
        },
        mlp_precision: Precision::F32,
        seed: 7,
    }
}

/// Four samples; feature `b` is multi-hot (including an empty bag), ids repeat across samples.
pub(crate) fn batch(num_dense: usize) -> Batch {
    let keys = ["a", "b", "c"].map(String::from).to_vec();
    let ids = vec![1, 2, 1, 3, 0, 4, 5, 2, 2, 1, 3, 5, 0];
    let offsets = vec![0, 1, 2, 3, 4, 6, 6, 9, 10, 11, 12, 12, 13];
    let sparse = KeyedJagged::new(keys, 4, ids, offsets, None).unwrap();
    let dense = (0..4 * num_dense)
        .map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.4)
        .collect();
    Batch {
        len: 4,
        dense,
        num_dense,
        sparse,
        labels: vec![1.0, 0.0, 0.0, 1.0],
        indices: vec![0, 1, 2, 3],
    }
}

/// The mean binary cross-entropy of the model on `batch`, in f64.
fn loss(model: &mut RankingModel, batch: &Batch) -> f64 {
    let logits = model.forward(batch).unwrap();
    logits
        .iter()
        .zip(&batch.labels)
        .map(|(&z, &y)| {
            let z = z as f64;
            z.max(0.0) - z * y as f64 + (-z.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / batch.len as f64
}

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let tol = 2e-3 + 3e-2 * numeric.abs().max(analytic.abs());
    assert!(
        (analytic - numeric).abs() <= tol,
        "{what}: analytic {analytic:.6} vs numeric {numeric:.6}"
    );
}

fn check(kind: ModelKind, num_dense: usize) {
    let b = batch(num_dense);
    let fresh = RankingModel::new(spec(kind, num_dense)).unwrap();
    let mut model = fresh.clone();
    let logits = model.forward(&b).unwrap().to_vec();
    let mut bce = cascade_nn::BceWithLogits::new();
    bce.forward(MatRef::new(&logits, 4, 1).unwrap(), &b.labels)
        .unwrap();
    model.backward(&b, bce.grad().as_slice()).unwrap();
    let n = model.dense_len();
    let mut grads = vec![0.0; n];
    model.dense_grads(&mut grads).unwrap();
    let eps = 1e-2f32;

    let mut values = vec![0.0; n];
    gather_values(&mut fresh.clone().net, &mut values).unwrap();
    for i in [0, n / 3, n / 2, n - 2, n - 1] {
        let at = |delta: f32| {
            let mut m = fresh.clone();
            let mut v = values.clone();
            v[i] += delta;
            scatter_values(&mut m.net, &v).unwrap();
            loss(&mut m, &b)
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
        assert_close(
            &format!("{kind:?} dense parameter {i}"),
            grads[i] as f64,
            numeric,
        );
    }

    for (table, row) in [("a", 1u64), ("b", 2), ("c", 5)] {
        let mut before = vec![0.0; DIM];
        fresh
            .embeddings
            .table(table)
            .unwrap()
            .read_row(row, &mut before)
            .unwrap();
        let mut after = vec![0.0; DIM];
        model
            .embeddings
            .table(table)
            .unwrap()
            .read_row(row, &mut after)
            .unwrap();
        for d in 0..DIM {
            let at = |delta: f32| {
                let mut m = fresh.clone();
                let mut r = before.clone();
                r[d] += delta;
                m.embeddings
                    .table_mut(table)
                    .unwrap()
                    .write_row(row, &r)
                    .unwrap();
                loss(&mut m, &b)
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
            let analytic = (before[d] - after[d]) as f64;
            assert_close(
                &format!("{kind:?} table {table} row {row}[{d}]"),
                analytic,
                numeric,
            );
        }
    }
}

#[test]
fn dlrm_gradients_match_finite_differences() {
    check(ModelKind::Dlrm, 3);
    check(ModelKind::Dlrm, 0);
}

#[test]
fn dcn_gradients_match_finite_differences() {
    check(ModelKind::Dcn, 3);
    check(ModelKind::Dcn, 0);
}

#[test]
fn deepfm_gradients_match_finite_differences() {
    check(ModelKind::Deepfm, 3);
    check(ModelKind::Deepfm, 0);
}
