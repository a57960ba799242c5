//! The HTML report of a run: one self-contained file with the curves, throughput, ROC and
//! calibration plots, retrieval bars against a baseline, params and configuration.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cascade_metrics::RetrievalMetrics;
use cascade_track::mlflow::Auth;
use cascade_track::{
    Predictions, REPORT_FILE, ReportExtras, RetrievalComparison, RunIdentity, RunStatus, Tracker,
    TrackerOptions, write_report,
};

fn metrics(recall: f64, ndcg: f64) -> RetrievalMetrics {
    RetrievalMetrics {
        recall,
        ndcg,
        hit_rate: recall,
        users: 100,
    }
}

#[test]
fn the_report_holds_every_chart_and_the_config() {
    let root = tempfile::tempdir().unwrap();
    let options = TrackerOptions {
        runs_root: root.path().to_path_buf(),
        out: None,
        tracking_uri: None,
        auth: Auth::None,
        tracking_required: false,
        drain_timeout: Duration::from_secs(1),
        notify: Arc::new(|_: &str| {}),
    };
    let identity = RunIdentity {
        name: "report <demo>".to_string(),
        experiment: "local".to_string(),
        model_kind: "two_tower".to_string(),
        git_commit: None,
        source_name: "cascade train".to_string(),
    };
    let params = BTreeMap::from([("lr".to_string(), "0.05".to_string())]);
    let tracker = Tracker::start(
        &options,
        &identity,
        "[model]\nkind = \"two_tower\" # <&>\n",
        &params,
    )
    .unwrap();
    for step in 0..50u64 {
        let loss = 1.0 / (1.0 + step as f64);
        tracker
            .log_metrics(
                step,
                0,
                &[
                    ("train/loss", loss),
                    ("train/throughput", 1000.0 + step as f64),
                ],
            )
            .unwrap();
        if step % 10 == 9 {
            tracker
                .log_metrics(
                    step,
                    0,
                    &[
                        ("val/loss", loss * 1.1),
                        ("val/auc", 0.6 + step as f64 / 200.0),
                    ],
                )
                .unwrap();
        }
    }
    tracker.finish(RunStatus::Finished).unwrap();

    let probs: Vec<f32> = (0..200).map(|i| i as f32 / 200.0).collect();
    let labels: Vec<f32> = (0..200)
        .map(|i| if i % 3 == 0 || i > 150 { 1.0 } else { 0.0 })
        .collect();
    let model = BTreeMap::from([(10, metrics(0.2, 0.15)), (50, metrics(0.45, 0.25))]);
    let baseline = BTreeMap::from([(10, metrics(0.1, 0.07)), (50, metrics(0.3, 0.12))]);
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
    let folder = tracker.run_folder();
    let path = write_report(&folder, &extras).unwrap();
    assert_eq!(path, folder.path().join(REPORT_FILE));
    let html = std::fs::read_to_string(&path).unwrap();

    // loss (train + val), auc, throughput, ROC, calibration, Recall@K, NDCG@K.
    assert_eq!(html.matches("<svg").count(), 7, "{html}");
    for needle in [
        "ROC curve",
        "Calibration",
        "Recall@K",
        "NDCG@K",
        "popularity",
        "throughput",
        "\nval\n",
        "\ntrain\n",
    ] {
        assert!(html.contains(needle), "the report lacks {needle:?}");
    }
    assert!(html.contains("Cascade run report &lt;demo&gt;"));
    assert!(html.contains("kind = &quot;two_tower&quot; # &lt;&amp;&gt;"));
    assert!(
        !html.contains("http://")
            || html
                .matches("http://")
                .all(|_| html.contains("http://www.w3.org/2000/svg"))
    );

    let mismatched = ReportExtras {
        predictions: Some(Predictions {
            probs: &probs,
            labels: &labels[1..],
        }),
        retrieval: None,
    };
    assert!(write_report(&folder, &mismatched).is_err());
}
