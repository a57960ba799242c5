//! End-to-end checks of the embedding collection through its public API: pooled lookups against
//! hand-computed values, the backward pass against finite differences, each optimizer against
//! hand-computed updates, determinism, and checkpoints.

use cascade_core::KeyedJagged;
use cascade_embed::{
    EmbedError, EmbeddingCollection, Optimizer, OutOfRange, Pooled, Pooling, Storage, TableConfig,
};

fn kj(keys: &[&str], batch: usize, bags: &[&[u64]], weights: Option<&[&[f32]]>) -> KeyedJagged {
    let mut ids = Vec::new();
    let mut offsets = vec![0];
    for bag in bags {
        ids.extend_from_slice(bag);
        offsets.push(ids.len());
    }
    let weights = weights.map(|w| w.iter().flat_map(|b| b.iter().copied()).collect());
    KeyedJagged::new(
        keys.iter().map(|k| k.to_string()).collect(),
        batch,
        ids,
        offsets,
        weights,
    )
    .unwrap()
}

/// Sets row `r` of `table` to `[r + 1, 10 * (r + 1)]`-style values so sums are easy by hand.
fn set_rows(c: &mut EmbeddingCollection, table: &str) {
    let t = c.table_mut(table).unwrap();
    let dim = t.dim();
    for r in 0..t.rows() {
        let row: Vec<f32> = (0..dim)
            .map(|d| (r as f32 + 1.0) * 10f32.powi(d as i32))
            .collect();
        t.write_row(r, &row).unwrap();
    }
}

fn sgd(lr: f32) -> Optimizer {
    Optimizer::Sgd {
        lr,
        weight_decay: 0.0,
    }
}

fn rows_of(c: &EmbeddingCollection, table: &str) -> Vec<Vec<f32>> {
    let t = c.table(table).unwrap();
    (0..t.rows())
        .map(|r| {
            let mut v = vec![0.0; t.dim()];
            t.read_row(r, &mut v).unwrap();
            v
        })
        .collect()
}

#[test]
fn sum_and_mean_pooling_with_weights_empty_bags_and_shared_tables() {
    let mut mean = TableConfig::new("m", 5, 2, &["c"]);
    mean.pooling = Pooling::Mean;
    let mut c = EmbeddingCollection::new(
        vec![TableConfig::new("shared", 10, 2, &["a", "b"]), mean],
        sgd(0.1),
    )
    .unwrap();
    set_rows(&mut c, "shared");
    set_rows(&mut c, "m");
    assert_eq!(c.width(), 6);
    // Keys in a different order than the collection's layout, plus one it does not serve.
    let batch = kj(
        &["c", "extra", "b", "a"],
        2,
        &[&[0, 4], &[], &[9], &[1, 2, 3], &[], &[2], &[1, 1], &[3]],
        None,
    );
    let mut out = Pooled::new();
    c.forward(&batch, &mut out).unwrap();
    assert_eq!(out.batch_size(), 2);
    #[rustfmt::skip]
    let want = [
        // a: rows 1+1      b: empty    c: mean(rows 0, 4)
        4.0, 40.0,          0.0, 0.0,   3.0, 30.0,
        // a: row 3         b: row 2    c: empty
        4.0, 40.0,          3.0, 30.0,  0.0, 0.0,
    ];
    assert_eq!(out.values(), &want);
    assert_eq!(
        out.feature("b").unwrap().to_dense(),
        vec![0.0, 0.0, 3.0, 30.0]
    );
    assert_eq!(out.feature("c").unwrap().rows().len(), 2);
    assert!(out.feature("extra").is_none());

    // Weighted: weights scale each id; under mean pooling the divisor is the bag length.
    let weights: &[&[f32]] = &[
        &[0.5, 2.0],
        &[],
        &[1.0],
        &[1.0, 1.0, 1.0],
        &[],
        &[3.0],
        &[1.0, -1.0],
        &[0.25],
    ];
    let batch = kj(
        &["c", "extra", "b", "a"],
        2,
        &[&[0, 4], &[], &[9], &[1, 2, 3], &[], &[2], &[1, 1], &[3]],
        Some(weights),
    );
    c.forward(&batch, &mut out).unwrap();
    // c sample 0: (0.5 * 1 + 2 * 5) / 2 = 5.25; a sample 1: 0.25 * 4 = 1; b sample 1: 3 * 3 = 9.
    #[rustfmt::skip]
    let want = [
        0.0, 0.0,   0.0, 0.0,    5.25, 52.5,
        1.0, 10.0,  9.0, 90.0,   0.0, 0.0,
    ];
    assert_eq!(out.values(), &want);
}

#[test]
fn batch_errors_name_the_table_feature_and_id() {
    let c = EmbeddingCollection::new(vec![TableConfig::new("users", 10, 2, &["uid"])], sgd(0.1))
        .unwrap();
    let mut out = Pooled::new();
    let err = c
        .forward(&kj(&["uid"], 2, &[&[3], &[10]], None), &mut out)
        .unwrap_err();
    assert!(matches!(
        err,
        EmbedError::IdOutOfRange {
            id: 10,
            rows: 10,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("'users'") && msg.contains("'uid'") && msg.contains("id 10"),
        "{msg}"
    );
    let err = c
        .forward(&kj(&["age"], 1, &[&[3]], None), &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no feature 'uid'") && err.contains("'users'"),
        "{err}"
    );
    let mut c = c;
    let err = c
        .backward_update(&kj(&["uid"], 1, &[&[3]], None), &[1.0])
        .unwrap_err();
    assert!(
        err.to_string().contains("expected 2 values, found 1"),
        "{err}"
    );
}

#[test]
fn folding_policies_accept_large_ids() {
    let mut cfg = TableConfig::new("items", 10, 1, &["item"]);
    cfg.out_of_range = OutOfRange::Modulo;
    let mut c = EmbeddingCollection::new(vec![cfg], sgd(0.1)).unwrap();
    set_rows(&mut c, "items");
    let mut out = Pooled::new();
    c.forward(&kj(&["item"], 1, &[&[13, 1_000_000_007]], None), &mut out)
        .unwrap();
    assert_eq!(out.values(), &[4.0 + 8.0]);
}

#[test]
fn config_errors_are_reported() {
    let err = EmbeddingCollection::new(
        vec![
            TableConfig::new("a", 10, 2, &["x"]),
            TableConfig::new("b", 10, 2, &["x"]),
        ],
        sgd(0.1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("'b'") && err.contains("already served by table 'a'"),
        "{err}"
    );
    let err = EmbeddingCollection::new(
        vec![
            TableConfig::new("a", 10, 2, &["x"]),
            TableConfig::new("a", 10, 2, &["y"]),
        ],
        sgd(0.1),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("two tables"), "{err}");
    assert!(EmbeddingCollection::new(vec![], sgd(0.1)).is_err());
    assert!(
        EmbeddingCollection::new(vec![TableConfig::new("a", 1, 1, &["x"])], sgd(f32::NAN)).is_err()
    );
}

/// A smooth, nonlinear scalar loss of the pooled output, and its gradient.
fn loss_and_grad(pooled: &[f32]) -> (f64, Vec<f32>) {
    let coef = |i: usize| ((i * 7 + 3) % 11) as f64 / 11.0 - 0.4;
    let loss = pooled
        .iter()
        .enumerate()
        .map(|(i, &p)| coef(i) * f64::from(p) + 0.5 * f64::from(p) * f64::from(p))
        .sum();
    let grad = pooled
        .iter()
        .enumerate()
        .map(|(i, &p)| (coef(i) + f64::from(p)) as f32)
        .collect();
    (loss, grad)
}

#[test]
fn row_gradients_match_finite_differences() {
    let mut mean = TableConfig::new("m", 6, 3, &["c"]);
    mean.pooling = Pooling::Mean;
    let mut c = EmbeddingCollection::new(
        vec![TableConfig::new("s", 8, 3, &["a", "b"]), mean],
        sgd(0.1),
    )
    .unwrap();
    let bags: &[&[u64]] = &[
        &[1, 1, 2],
        &[7],
        &[],
        &[2, 5],
        &[0, 3],
        &[3],
        &[4, 4, 1],
        &[],
    ];
    let weights: &[&[f32]] = &[
        &[0.5, 1.5, -1.0],
        &[2.0],
        &[],
        &[1.0, 0.5],
        &[1.0, 2.0],
        &[0.3],
        &[1.0, 1.0, 0.5],
        &[],
    ];
    let batch = kj(&["a", "b", "c", "unused"], 2, bags, Some(weights));
    let mut out = Pooled::new();
    c.forward(&batch, &mut out).unwrap();
    let (_, grad) = loss_and_grad(out.values());
    let grads = c.row_gradients(&batch, &grad).unwrap();
    assert_eq!(grads[0].table, "s");
    assert_eq!(grads[0].rows, vec![1, 2, 5, 7]);
    assert_eq!(grads[1].rows, vec![0, 3]);

    let h = 1e-2f32;
    for g in &grads {
        let dim = c.table(&g.table).unwrap().dim();
        let rows = c.table(&g.table).unwrap().rows();
        for r in 0..rows {
            for d in 0..dim {
                let analytic = match g.rows.iter().position(|&x| x == r) {
                    Some(i) => g.values[i * dim + d],
                    None => 0.0,
                };
                let mut row = vec![0.0; dim];
                c.table(&g.table).unwrap().read_row(r, &mut row).unwrap();
                let base = row[d];
                let mut eval = |v: f32| {
                    row[d] = v;
                    c.table_mut(&g.table).unwrap().write_row(r, &row).unwrap();
                    c.forward(&batch, &mut out).unwrap();
                    loss_and_grad(out.values()).0
                };
                let numeric = (eval(base + h) - eval(base - h)) / (2.0 * f64::from(h));
                eval(base);
                assert!(
                    (numeric - f64::from(analytic)).abs() < 2e-3,
                    "table {} row {r} dim {d}: numeric {numeric}, analytic {analytic}",
                    g.table
                );
            }
        }
    }
}

/// One feature `f` over table `t` (10 rows x 2), rows set by [`set_rows`], and a batch of two
/// samples whose bags hold id 7 twice (once in each sample) and id 2 once.
fn duplicate_setup(opt: Optimizer) -> (EmbeddingCollection, KeyedJagged, Vec<f32>) {
    let mut c = EmbeddingCollection::new(vec![TableConfig::new("t", 10, 2, &["f"])], opt).unwrap();
    set_rows(&mut c, "t");
    let batch = kj(&["f"], 2, &[&[7, 2], &[7]], None);
    let grad = vec![1.0, 2.0, 3.0, -4.0];
    (c, batch, grad)
}

fn assert_close(a: &[f32], b: &[f32]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

#[test]
fn sgd_combines_duplicates_and_touches_nothing_else() {
    let (mut c, batch, grad) = duplicate_setup(sgd(0.1));
    let before = rows_of(&c, "t");
    c.backward_update(&batch, &grad).unwrap();
    let after = rows_of(&c, "t");
    // Row 7 gets the summed gradient [1 + 3, 2 - 4]; row 2 gets [1, 2].
    assert_close(&after[7], &[8.0 - 0.1 * 4.0, 80.0 + 0.1 * 2.0]);
    assert_close(&after[2], &[3.0 - 0.1, 30.0 - 0.2]);
    for r in (0..10).filter(|r| ![2, 7].contains(r)) {
        assert_eq!(after[r], before[r], "row {r} must not change");
    }
    assert_eq!(c.step(), 1);
}

#[test]
fn rowwise_adagrad_applies_one_update_per_row_with_the_summed_gradient() {
    let (mut c, batch, grad) = duplicate_setup(Optimizer::rowwise_adagrad(0.5));
    let before = rows_of(&c, "t");
    c.backward_update(&batch, &grad).unwrap();
    let after = rows_of(&c, "t");
    // Row 7: g = [4, -2], state = (16 + 4) / 2 = 10.
    let t = c.table("t").unwrap();
    assert_close(t.row_state(7).unwrap(), &[10.0]);
    let m = 0.5 / (10f32.sqrt() + 1e-8);
    assert_close(&after[7], &[8.0 - m * 4.0, 80.0 + m * 2.0]);
    // Row 2: g = [1, 2], state = 2.5.
    assert_close(t.row_state(2).unwrap(), &[2.5]);
    let m = 0.5 / 2.5f32.sqrt();
    assert_close(&after[2], &[3.0 - m, 30.0 - 2.0 * m]);
    for r in (0..10).filter(|r| ![2, 7].contains(r)) {
        assert_eq!(after[r], before[r]);
        assert_eq!(t.row_state(r as u64).unwrap(), &[0.0]);
    }
    // A second step accumulates into the same state.
    c.backward_update(&batch, &grad).unwrap();
    assert_close(c.table("t").unwrap().row_state(7).unwrap(), &[20.0]);
}

#[test]
fn adam_updates_touched_rows_lazily_with_global_step() {
    let opt = Optimizer::Adam {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let (mut c, batch, grad) = duplicate_setup(opt);
    c.backward_update(&batch, &grad).unwrap();
    let after = rows_of(&c, "t");
    // Step 1: m_hat = g, v_hat = g^2, so each element moves by lr * sign(g).
    assert_close(&after[7], &[8.0 - 0.1, 80.0 + 0.1]);
    assert_close(
        c.table("t").unwrap().row_state(7).unwrap(),
        &[0.4, -0.2, 0.16, 0.04],
    );
    // Step 2 touches only row 3; its first update is bias-corrected with t = 2.
    let only3 = kj(&["f"], 1, &[&[3]], None);
    c.backward_update(&only3, &[1.0, 1.0]).unwrap();
    let after2 = rows_of(&c, "t");
    let (m, v) = (0.1f32, 0.01f32);
    let step = (m / (1.0 - 0.81)) / ((v / (1.0 - 0.9801)).sqrt() + 1e-8);
    assert_close(&after2[3], &[4.0 - 0.1 * step, 40.0 - 0.1 * step]);
    assert_eq!(
        after2[7], after[7],
        "untouched rows keep weights and moments"
    );
    assert_close(
        c.table("t").unwrap().row_state(7).unwrap(),
        &[0.4, -0.2, 0.16, 0.04],
    );
}

#[test]
fn quantised_tables_update_in_f32_and_requantise() {
    for (storage, tolerance) in [(Storage::F16, 0.05), (Storage::Int8, 0.2)] {
        let mut cfg = TableConfig::new("t", 10, 2, &["f"]);
        cfg.storage = storage;
        let mut c = EmbeddingCollection::new(vec![cfg], sgd(0.1)).unwrap();
        set_rows(&mut c, "t");
        let before = rows_of(&c, "t");
        c.backward_update(
            &kj(&["f"], 2, &[&[7, 2], &[7]], None),
            &[1.0, 2.0, 3.0, -4.0],
        )
        .unwrap();
        let after = rows_of(&c, "t");
        let want = [before[7][0] - 0.4, before[7][1] + 0.2];
        for (a, w) in after[7].iter().zip(&want) {
            assert!((a - w).abs() <= tolerance, "{storage:?}: {a} vs {w}");
        }
        assert_eq!(after[5], before[5]);
    }
}

#[test]
fn results_are_bit_identical_across_thread_counts() {
    let configs = || {
        let mut q = TableConfig::new("q", 50, 8, &["c"]);
        q.storage = Storage::Int8;
        q.pooling = Pooling::Mean;
        vec![TableConfig::new("a", 40, 8, &["x", "y"]), q]
    };
    let batch = {
        let bags: Vec<Vec<u64>> = (0..3 * 64)
            .map(|i| {
                (0..(i % 5))
                    .map(|j| ((i * 13 + j * 7) % 40) as u64)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u64]> = bags.iter().map(|b| b.as_slice()).collect();
        kj(&["x", "y", "c"], 64, &refs, None)
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut c = EmbeddingCollection::new(configs(), Optimizer::adam(0.01)).unwrap();
            let mut out = Pooled::new();
            for _ in 0..3 {
                c.forward(&batch, &mut out).unwrap();
                let grad: Vec<f32> = out.values().iter().map(|v| v.sin() + 0.1).collect();
                c.backward_update(&batch, &grad).unwrap();
            }
            c.forward(&batch, &mut out).unwrap();
            (rows_of(&c, "a"), rows_of(&c, "q"), out.values().to_vec())
        })
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one, three);
}

#[test]
fn memory_accounting_covers_params_and_state() {
    let mut half = TableConfig::new("h", 100, 8, &["y"]);
    half.storage = Storage::F16;
    let mut q = TableConfig::new("q", 10, 4, &["z"]);
    q.storage = Storage::Int8;
    let c = EmbeddingCollection::new(
        vec![TableConfig::new("f", 100, 8, &["x"]), half, q],
        Optimizer::rowwise_adagrad(0.1),
    )
    .unwrap();
    let mem = c.memory();
    assert_eq!(mem[0].param_bytes, 3200);
    assert_eq!(mem[1].param_bytes, 1600);
    assert_eq!(mem[2].param_bytes, 10 * (4 + 8));
    assert_eq!(mem[0].state_bytes, 400);
    assert_eq!(c.param_bytes(), 3200 + 1600 + 120);
    assert_eq!(c.state_bytes(), 400 + 400 + 40);
}

#[test]
fn checkpoints_round_trip_and_reject_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("emb.ckpt");
    let configs = |rows: u64| {
        let mut h = TableConfig::new("h", 20, 4, &["y"]);
        h.storage = Storage::Int8;
        vec![TableConfig::new("f", rows, 4, &["x"]), h]
    };
    let mut c = EmbeddingCollection::new(configs(30), Optimizer::adam(0.01)).unwrap();
    let batch = kj(&["x", "y"], 2, &[&[1, 2], &[29], &[3], &[19, 0]], None);
    c.backward_update(&batch, &[0.5; 16]).unwrap();
    c.save(&path).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );

    let mut fresh = configs(30);
    fresh[0].seed = 99; // different initial values, same shapes
    let mut d = EmbeddingCollection::new(fresh, Optimizer::adam(0.5)).unwrap();
    d.load(&path).unwrap();
    assert_eq!(d.step(), 1);
    for name in ["f", "h"] {
        assert_eq!(rows_of(&c, name), rows_of(&d, name));
        for r in 0..20 {
            assert_eq!(
                c.table(name).unwrap().row_state(r).unwrap(),
                d.table(name).unwrap().row_state(r).unwrap()
            );
        }
    }

    let err = EmbeddingCollection::new(configs(31), Optimizer::adam(0.01))
        .unwrap()
        .load(&path)
        .unwrap_err();
    assert!(matches!(err, EmbedError::Checkpoint { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("table 'f'") && msg.contains("30 x 4 f32") && msg.contains("31 x 4 f32"),
        "{msg}"
    );

    let mut renamed = configs(30);
    renamed[1].name = "g".into();
    let msg = EmbeddingCollection::new(renamed, Optimizer::adam(0.01))
        .unwrap()
        .load(&path)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("'h' in the checkpoint but 'g'"), "{msg}");

    let mut e = EmbeddingCollection::new(configs(30), sgd(0.1)).unwrap();
    let untouched = rows_of(&e, "f");
    let msg = e.load(&path).unwrap_err().to_string();
    assert!(
        msg.contains("adam state") && msg.contains("uses sgd"),
        "{msg}"
    );
    assert_eq!(rows_of(&e, "f"), untouched);

    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let before = rows_of(&d, "f");
    let msg = d.load(&cut).unwrap_err().to_string();
    assert!(msg.contains("truncated"), "{msg}");
    assert_eq!(rows_of(&d, "f"), before, "a failed load changes nothing");
    std::fs::write(&cut, b"not a checkpoint at all").unwrap();
    assert!(d.load(&cut).unwrap_err().to_string().contains("magic"));
    let missing = d.load(dir.path().join("missing")).unwrap_err();
    assert!(matches!(missing, EmbedError::Io { .. }));
}
