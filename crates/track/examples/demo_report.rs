//! Writes a demonstration run with every kind of chart (curves, throughput, ROC, calibration,
//! retrieval bars) under the folder given as the first argument and prints its report's path;
//! the report screenshot check renders it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cascade_metrics::RetrievalMetrics;
use cascade_track::mlflow::Auth;
use cascade_track::{
    Predictions, ReportExtras, RetrievalComparison, RunIdentity, RunStatus, Tracker,
    TrackerOptions, write_report,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: demo_report OUT_DIR")?,
    );
    let options = TrackerOptions {
        runs_root: root,
        out: None,
        tracking_uri: None,
        auth: Auth::None,
        tracking_required: false,
        drain_timeout: Duration::from_secs(1),
        notify: Arc::new(|_: &str| {}),
    };
    let identity = RunIdentity {
        name: "demo".to_string(),
        experiment: "demo".to_string(),
        model_kind: "dlrm".to_string(),
        git_commit: None,
        source_name: "demo_report".to_string(),
    };
    let params = BTreeMap::from([
        ("lr".to_string(), "0.05".to_string()),
        ("batch".to_string(), "4096".to_string()),
    ]);
    let tracker = Tracker::start(&options, &identity, "[model]\nkind = \"dlrm\"\n", &params)?;
    for step in 0..400u64 {
        let x = step as f64;
        let wobble = (x * 0.37).sin() * 0.01;
        tracker.log_metrics(
            step,
            step / 100,
            &[("train/loss", 0.45 + 0.25 * (-x / 80.0).exp() + wobble)],
        )?;
        tracker.log_metric(
            step,
            step / 100,
            "train/throughput",
            250_000.0 + 20_000.0 * (x * 0.05).cos(),
        )?;
        if step % 50 == 49 {
            let val = 0.47 + 0.25 * (-x / 90.0).exp();
            tracker.log_metrics(
                step,
                step / 100,
                &[
                    ("val/loss", val),
                    ("val/auc", 0.80 - 0.1 * (-x / 100.0).exp()),
                ],
            )?;
        }
    }
    tracker.finish(RunStatus::Finished)?;

    // Predictions with a planted signal: the label is 1 with probability equal to the score.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let probs: Vec<f32> = (0..5000).map(|_| uniform()).collect();
    let labels: Vec<f32> = probs
        .iter()
        .map(|&p| if uniform() < p { 1.0 } else { 0.0 })
        .collect();
    let at = |recall, ndcg| RetrievalMetrics {
        recall,
        ndcg,
        hit_rate: recall,
        users: 6040,
    };
    let model = BTreeMap::from([
        (10, at(0.12, 0.14)),
        (50, at(0.31, 0.2)),
        (100, at(0.44, 0.24)),
    ]);
    let baseline = BTreeMap::from([
        (10, at(0.05, 0.06)),
        (50, at(0.16, 0.09)),
        (100, at(0.25, 0.11)),
    ]);
    let extras = ReportExtras {
        predictions: Some(Predictions {
            probs: &probs,
            labels: &labels,
        }),
        retrieval: Some(RetrievalComparison {
            model: &model,
            baseline: &baseline,
            baseline_name: "popularity",
        }),
    };
    println!(
        "{}",
        write_report(&tracker.run_folder(), &extras)?.display()
    );
    Ok(())
}
