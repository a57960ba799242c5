//! The training loop on a small dataset with a planted signal: the three ranking models learn
//! it, runs are reproducible bit for bit, a resumed run ends with the uninterrupted run's model,
//! and bad data, a diverging loss and foreign checkpoints stop with messages that say why.

mod common;

use cascade_train::{load_run, resume, train};
use common::{interrupt_at, model_files, planted, small_config};

fn auc(summary: &serde_json::Value) -> f64 {
    summary["eval"]["auc"]
        .as_f64()
        .unwrap_or_else(|| panic!("no eval.auc in {summary}"))
}

#[test]
fn dlrm_dcn_and_deepfm_learn_the_planted_signal() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"), None);
    for kind in ["dlrm", "dcn", "deepfm"] {
        let summary = train(&small_config(kind, &data, &[]), &dir.path().join(kind)).unwrap();
        assert_eq!(summary["eval"]["split"], "test", "{kind}");
        assert_eq!(summary["eval"]["samples"], 750, "{kind}");
        let auc = auc(&summary);
        // The planted model's own AUC is about 0.85; a model that learnt nothing scores 0.5.
        assert!(auc > 0.75, "{kind}: test AUC {auc}");
    }
}

/// Whether this CPU has AVX-512 BF16, on which bf16 products differ from f32 ones.
fn bf16_cpu() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512bf16");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[test]
fn bf16_mlps_learn_the_planted_signal_as_well_as_f32() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"), None);
    // A 128 x 128 hidden layer: at batch 64 its products are large enough for the blocked
    // kernel, the one with a bf16 form.
    let wide = ["model.bottom_mlp=[128, 8]", "model.top_mlp=[128, 128, 1]"];
    for kind in ["dlrm", "dcn", "deepfm"] {
        let run = |precision: &str| {
            let set = [wide[0], wide[1], precision];
            let out = dir.path().join(format!("{kind}-{precision}"));
            let summary = train(&small_config(kind, &data, &set), &out).unwrap();
            (auc(&summary), model_files(&out))
        };
        let (f32_auc, f32_model) = run("model.mlp_precision=f32");
        let (bf16_auc, bf16_model) = run("model.mlp_precision=bf16");
        assert!(bf16_auc > 0.75, "{kind}: bf16 test AUC {bf16_auc}");
        assert!(
            (bf16_auc - f32_auc).abs() < 0.02,
            "{kind}: bf16 AUC {bf16_auc} against f32 {f32_auc}"
        );
        if bf16_cpu() {
            assert_ne!(
                f32_model["dense.bin"], bf16_model["dense.bin"],
                "{kind}: the bf16 products changed nothing"
            );
        }
    }
}

#[test]
fn same_config_and_seed_give_a_bit_identical_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"), None);
    let config = small_config("dcn", &data, &["train.threads=2"]);
    let run = |name: &str, config| {
        train(config, &dir.path().join(name)).unwrap();
        model_files(&dir.path().join(name))
    };
    let (a, b) = (run("a", &config), run("b", &config));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between two runs of one config"
        );
    }
    let other_seed = small_config("dcn", &data, &["train.threads=2", "train.seed=8"]);
    let c = run("c", &other_seed);
    assert_ne!(a["dense.bin"], c["dense.bin"], "the seed changes nothing");
}

#[test]
fn a_resumed_run_ends_with_the_uninterrupted_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"), None);
    // 47 steps per epoch: step 47 ends the first epoch, step 60 is inside the second.
    let mut finals = Vec::new();
    for (every, cut) in [(47, 47), (20, 60)] {
        let set = [
            format!("train.checkpoint_every={every}"),
            "train.keep_checkpoints=10".into(),
        ];
        let set: Vec<&str> = set.iter().map(String::as_str).collect();
        let run = dir.path().join(format!("run-{cut}"));
        let whole = train(&small_config("deepfm", &data, &set), &run).unwrap();
        assert_eq!(whole["steps"], 94);
        let uninterrupted = model_files(&run);
        interrupt_at(&run, cut);
        let resumed = resume(&run).unwrap();
        assert_eq!(resumed["steps"], 94);
        assert_eq!(resumed["samples"], whole["samples"]);
        let after = model_files(&run);
        for (name, bytes) in &uninterrupted {
            assert!(
                bytes == &after[name],
                "{name}: resuming from step {cut} ends with another model"
            );
        }
        finals.push(after);
    }
    assert!(
        finals[0] == finals[1],
        "the checkpoint cadence changed the model"
    );
}

#[test]
fn a_non_finite_dense_value_names_the_column_unless_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"), Some((100, f32::NAN)));
    let err = train(
        &small_config("dlrm", &data, &[]),
        &dir.path().join("strict"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("dense column 'noise' is NaN in sample 100")
            && err.contains("data.non_finite = \"zero\""),
        "{err}"
    );
    let lenient = small_config("dlrm", &data, &["data.non_finite=\"zero\""]);
    let summary = train(&lenient, &dir.path().join("lenient")).unwrap();
    assert!(auc(&summary) > 0.75, "{summary}");
}

#[test]
fn checkpoints_of_another_model_or_version_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = planted(&dir.path().join("data"), None);
    let one_epoch = ["train.epochs=1"];
    let (dlrm, dcn) = (dir.path().join("dlrm"), dir.path().join("dcn"));
    train(&small_config("dlrm", &data, &one_epoch), &dlrm).unwrap();
    train(&small_config("dcn", &data, &one_epoch), &dcn).unwrap();
    // Put the DCN model where the DLRM run's latest checkpoint is.
    let model = dlrm.join("checkpoints/step-0000000047/model");
    std::fs::remove_dir_all(&model).unwrap();
    std::fs::create_dir(&model).unwrap();
    for entry in std::fs::read_dir(dcn.join("checkpoints/step-0000000047/model")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), model.join(entry.file_name())).unwrap();
    }
    let err = resume(&dlrm).unwrap_err().to_string();
    assert!(
        err.contains("it holds a dcn model, this is a dlrm model"),
        "{err}"
    );
    let err = load_run(&dlrm).unwrap_err().to_string();
    assert!(
        err.contains("holds a dcn model, but the run's config.toml says model.kind = \"dlrm\""),
        "{err}"
    );

    let header = dcn.join("checkpoints/step-0000000047/model/model.json");
    let text = std::fs::read_to_string(&header).unwrap();
    std::fs::write(&header, text.replace("\"version\": 1", "\"version\": 2")).unwrap();
    let err = load_run(&dcn).unwrap_err().to_string();
    assert!(
        err.contains("written in format version 2, this build reads version 1"),
        "{err}"
    );
}

#[test]
fn a_missing_run_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let err = load_run(&missing).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("run folder {} does not exist", missing.display())
    );
    let err = load_run(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("is not a run folder: it has no config.toml"),
        "{err}"
    );
}
