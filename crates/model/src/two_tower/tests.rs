//! The two-tower model's gradients against finite differences (BCE with dot products, softmax
//! with the log-Q correction, accidental hits and cosine scores, with and without uniformly
//! sampled extra negatives), its checkpoints, and that it learns a planted preference.

use super::*;
use crate::spec::{DenseOptimizerKind, DenseOptimizerSpec};
use cascade_embed::{Pooling, Storage};
use cascade_nn::{gather_values, scatter_values};

const DIM: usize = 3;

fn feature(name: &str, rows: u64, pooling: Pooling) -> TowerFeature {
    TowerFeature {
        name: name.into(),
        rows,
        dim: DIM,
        pooling,
    }
}

fn spec(loss: TwoTowerLoss, cosine: bool) -> TwoTowerSpec {
    TwoTowerSpec {
        user_features: vec![
            feature("user", 6, Pooling::Sum),
            feature("age", 3, Pooling::Sum),
        ],
        item_features: vec![
            feature("item", 6, Pooling::Sum),
            feature("genres", 4, Pooling::Mean),
        ],
        tower_mlp: vec![5, 4],
        cosine,
        temperature: if cosine { 0.5 } else { 1.0 },
        loss,
        log_q_correction: loss == TwoTowerLoss::Softmax,
        remove_accidental_hits: true,
        storage: Storage::F32,
        // With SGD at rate 1 a parameter moves by exactly minus its gradient.
        embedding_optimizer: cascade_embed::Optimizer::Sgd {
            lr: 1.0,
            weight_decay: 0.0,
        },
        dense_optimizer: DenseOptimizerSpec {
            kind: DenseOptimizerKind::Sgd,
            learning_rate: 1.0,
            momentum: 0.0,
            clip_norm: 0.0,
        },
        seed: 11,
    }
}

/// Five samples: user 1 twice, item 2 twice (an accidental hit), an empty genre bag.
fn batch() -> Batch {
    let keys = ["user", "age", "item", "genres"].map(String::from).to_vec();
    let mut ids = vec![
        1, 2, 1, 3, 4, /* age */ 0, 1, 0, 2, 1, /* item */ 2, 3, 2, 5, 1,
    ];
    let mut offsets: Vec<usize> = (0..=15).collect();
    // genres: [1, 2], [3], [], [1], [2, 3]
    ids.extend([1, 2, 3, 1, 2, 3]);
    offsets.extend([17, 18, 18, 19, 21]);
    let sparse = KeyedJagged::new(keys, 5, ids, offsets, None).unwrap();
    Batch {
        len: 5,
        sparse,
        labels: vec![1.0, 0.0, 1.0, 1.0, 0.0],
        indices: (0..5).collect(),
        ..Batch::default()
    }
}

fn model(loss: TwoTowerLoss, cosine: bool) -> TwoTowerModel {
    let mut m = TwoTowerModel::new(spec(loss, cosine)).unwrap();
    m.set_item_frequencies(&[0.0, 0.3, 0.25, 0.2, 0.15, 0.1])
        .unwrap();
    m
}

/// A training step: plain, or with sampled candidates.
type Step = fn(&mut TwoTowerModel, &Batch) -> f32;

fn plain(m: &mut TwoTowerModel, b: &Batch) -> f32 {
    m.train_step(b).unwrap()
}

/// The batch's five items then three sampled ones (item 2 again: an accidental hit for the
/// rows whose positive it is), from a pool of five items.
fn candidates() -> KeyedJagged {
    let keys = ["item", "genres"].map(String::from).to_vec();
    let mut ids = vec![2, 3, 2, 5, 1, 4, 2, 5];
    let mut offsets: Vec<usize> = (0..=8).collect();
    // genres of the batch's items as in `batch`, then [0], [1, 2], [1, 3]
    ids.extend([1, 2, 3, 1, 2, 3, 0, 1, 2, 1, 3]);
    offsets.extend([10, 11, 11, 12, 14, 15, 17, 19]);
    KeyedJagged::new(keys, 8, ids, offsets, None).unwrap()
}

fn mixed(m: &mut TwoTowerModel, b: &Batch) -> f32 {
    m.train_step_mixed(b, &candidates(), 5).unwrap()
}

/// The loss at the model's current parameters (taken on a copy, which the step then updates).
fn loss_of(m: &TwoTowerModel, b: &Batch, step: Step) -> f64 {
    step(&mut m.clone(), b) as f64
}

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let tol = 2e-3 + 3e-2 * numeric.abs().max(analytic.abs());
    assert!(
        (analytic - numeric).abs() <= tol,
        "{what}: analytic {analytic:.6} vs numeric {numeric:.6}"
    );
}

fn read_row(m: &TwoTowerModel, table: &str, row: u64) -> Vec<f32> {
    let towers = &m.towers;
    let collection = if ["user", "age"].contains(&table) {
        &towers.user.embeddings
    } else {
        &towers.item.embeddings
    };
    let mut out = vec![0.0; DIM];
    collection
        .table(table)
        .unwrap()
        .read_row(row, &mut out)
        .unwrap();
    out
}

fn check(loss: TwoTowerLoss, cosine: bool, step: Step) {
    let b = batch();
    let fresh = model(loss, cosine);
    let mut stepped = fresh.clone();
    step(&mut stepped, &b);
    let eps = 1e-2f32;

    let n = cascade_nn::parameter_count(&mut fresh.clone().towers);
    let (mut before, mut after) = (vec![0.0; n], vec![0.0; n]);
    gather_values(&mut fresh.clone().towers, &mut before).unwrap();
    gather_values(&mut stepped.towers, &mut after).unwrap();
    for i in [0, n / 4, n / 2, 3 * n / 4, n - 1] {
        let at = |delta: f32| {
            let mut m = fresh.clone();
            let mut v = before.clone();
            v[i] += delta;
            scatter_values(&mut m.towers, &v).unwrap();
            loss_of(&m, &b, step)
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
        let analytic = (before[i] - after[i]) as f64;
        assert_close(
            &format!("{loss:?} cosine={cosine} dense {i}"),
            analytic,
            numeric,
        );
    }

    for (table, row) in [("user", 1u64), ("age", 0), ("item", 2), ("genres", 3)] {
        let (start, end) = (read_row(&fresh, table, row), read_row(&stepped, table, row));
        for d in 0..DIM {
            let at = |delta: f32| {
                let mut m = fresh.clone();
                let mut r = start.clone();
                r[d] += delta;
                let collection = if ["user", "age"].contains(&table) {
                    &mut m.towers.user.embeddings
                } else {
                    &mut m.towers.item.embeddings
                };
                collection
                    .table_mut(table)
                    .unwrap()
                    .write_row(row, &r)
                    .unwrap();
                loss_of(&m, &b, step)
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
            let analytic = (start[d] - end[d]) as f64;
            assert_close(
                &format!("{loss:?} cosine={cosine} table {table} row {row}[{d}]"),
                analytic,
                numeric,
            );
        }
    }
}

#[test]
fn bce_gradients_match_finite_differences() {
    check(TwoTowerLoss::Bce, false, plain);
    check(TwoTowerLoss::Bce, true, plain);
}

#[test]
fn softmax_gradients_match_finite_differences() {
    check(TwoTowerLoss::Softmax, false, plain);
    check(TwoTowerLoss::Softmax, true, plain);
}

#[test]
fn mixed_negative_gradients_match_finite_differences() {
    check(TwoTowerLoss::Softmax, false, mixed);
    check(TwoTowerLoss::Softmax, true, mixed);
}

#[test]
fn mixed_sampling_without_extra_items_is_the_in_batch_softmax() {
    let b = batch();
    let m = model(TwoTowerLoss::Softmax, false);
    let own: KeyedJagged = {
        let all = candidates();
        let (ids, offsets) = (all.ids(), all.offsets());
        let item_end = offsets[5];
        let mut kept: Vec<u64> = ids[..item_end].to_vec();
        kept.extend_from_slice(&ids[offsets[8]..offsets[13]]);
        let mut kept_offsets: Vec<usize> = offsets[..=5].to_vec();
        let shift = offsets[8] - item_end;
        kept_offsets.extend(offsets[9..=13].iter().map(|o| o - shift));
        KeyedJagged::new(all.keys().to_vec(), 5, kept, kept_offsets, None).unwrap()
    };
    let in_batch = m.clone().train_step(&b).unwrap();
    let same = m.clone().train_step_mixed(&b, &own, 5).unwrap();
    assert!((in_batch - same).abs() < 1e-5, "{in_batch} vs {same}");
    let more = m.clone().train_step_mixed(&b, &candidates(), 5).unwrap();
    assert!(
        more > in_batch,
        "more negatives, a harder softmax: {more} vs {in_batch}"
    );
    let bce = TwoTowerModel::new(spec(TwoTowerLoss::Bce, false)).unwrap();
    assert!(bce.clone().train_step_mixed(&b, &candidates(), 5).is_err());
    assert!(m.clone().train_step_mixed(&b, &candidates(), 0).is_err());
}

#[test]
fn log_q_and_accidental_hits_change_the_softmax_loss() {
    let b = batch();
    let with = loss_of(&model(TwoTowerLoss::Softmax, false), &b, plain);
    let mut uncorrected = spec(TwoTowerLoss::Softmax, false);
    uncorrected.log_q_correction = false;
    let without_q = loss_of(&TwoTowerModel::new(uncorrected.clone()).unwrap(), &b, plain);
    uncorrected.remove_accidental_hits = false;
    let neither = loss_of(&TwoTowerModel::new(uncorrected).unwrap(), &b, plain);
    assert_ne!(with, without_q);
    assert_ne!(without_q, neither);
    // Without frequencies, the corrected loss cannot be computed.
    let mut bare = TwoTowerModel::new(spec(TwoTowerLoss::Softmax, false)).unwrap();
    let err = bare.train_step(&b).unwrap_err().to_string();
    assert!(err.contains("item frequencies"), "{err}");
}

#[test]
fn checkpoints_round_trip_and_refuse_other_models() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch();
    let mut s = spec(TwoTowerLoss::Softmax, true);
    s.dense_optimizer.kind = DenseOptimizerKind::Adam;
    s.embedding_optimizer = cascade_embed::Optimizer::rowwise_adagrad(0.1);
    let mut a = TwoTowerModel::new(s.clone()).unwrap();
    a.set_item_frequencies(&[0.0, 0.3, 0.25, 0.2, 0.15, 0.1])
        .unwrap();
    a.train_step(&b).unwrap();
    a.save(dir.path()).unwrap();
    let mut loaded = TwoTowerModel::load(dir.path()).unwrap();
    loaded
        .set_item_frequencies(&[0.0, 0.3, 0.25, 0.2, 0.15, 0.1])
        .unwrap();
    assert_eq!(
        a.train_step(&b).unwrap().to_bits(),
        loaded.train_step(&b).unwrap().to_bits()
    );
    assert_eq!(
        a.user_embeddings(&b.sparse).unwrap(),
        loaded.user_embeddings(&b.sparse).unwrap()
    );

    let mut other = s.clone();
    other.tower_mlp = vec![6, 4];
    let err = TwoTowerModel::new(other)
        .unwrap()
        .restore(dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("different two_tower model: tower_mlp"),
        "{err}"
    );
    let err = crate::RankingModel::load(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("it holds a two_tower model"), "{err}");
}

#[test]
fn learns_a_planted_preference() {
    // Users and items in two groups; every interaction is within a group. After training,
    // each user must score the items of its group above the others.
    let mut s = spec(TwoTowerLoss::Softmax, true);
    s.user_features = vec![feature("user", 21, Pooling::Sum)];
    s.item_features = vec![feature("item", 21, Pooling::Sum)];
    s.tower_mlp = vec![8, 8];
    s.temperature = 0.2;
    s.embedding_optimizer = cascade_embed::Optimizer::rowwise_adagrad(0.1);
    s.dense_optimizer = DenseOptimizerSpec {
        kind: DenseOptimizerKind::Adam,
        learning_rate: 0.01,
        momentum: 0.0,
        clip_norm: 0.0,
    };
    let mut m = TwoTowerModel::new(s).unwrap();
    let mut freq = vec![1.0 / 20.0; 21];
    freq[0] = 0.0;
    m.set_item_frequencies(&freq).unwrap();
    let mut state = 7u64;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    for _ in 0..300 {
        let (mut users, mut items) = (Vec::new(), Vec::new());
        for _ in 0..16 {
            let u = 1 + next(20);
            let i = 1 + 2 * next(10) + (u % 2);
            users.push(u);
            items.push(i);
        }
        let ids = [users, items].concat();
        let sparse = KeyedJagged::new(
            vec!["user".into(), "item".into()],
            16,
            ids,
            (0..=32).collect(),
            None,
        )
        .unwrap();
        let b = Batch {
            len: 16,
            sparse,
            ..Batch::default()
        };
        assert!(m.train_step(&b).unwrap().is_finite());
    }
    let one = |key: &str, ids: Vec<u64>| {
        let n = ids.len();
        KeyedJagged::new(vec![key.into()], n, ids, (0..=n).collect(), None).unwrap()
    };
    let users = m.user_embeddings(&one("user", (1..=20).collect())).unwrap();
    let items = m.item_embeddings(&one("item", (1..=20).collect())).unwrap();
    let d = 8;
    for u in 0..20 {
        let (mut same, mut other) = (0.0f32, 0.0f32);
        for i in 0..20 {
            let s: f32 = (0..d).map(|k| users[u * d + k] * items[i * d + k]).sum();
            // User id u + 1 interacts with item ids of parity (u + 2) % 2, i.e. (i + 1) % 2 == u % 2.
            if (i + 1) % 2 == u % 2 {
                same += s;
            } else {
                other += s;
            }
        }
        assert!(
            same > other + 1.0,
            "user {}: same {same} other {other}",
            u + 1
        );
    }
}
