//! The self-contained HTML report of a run (`report.html` in its folder): summary and params,
//! every metric's curve over steps (train and validation of the same metric on one chart),
//! throughput over time, the resolved configuration, and — when the caller provides them — a
//! ROC curve and calibration plot from predictions, and Recall/NDCG@K bars against a
//! popularity baseline for retrieval runs. Charts are inline SVG; the file needs nothing else.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use cascade_metrics::RetrievalMetrics;

use crate::charts::{Line, bar_chart, line_chart};
use crate::clock::format_utc;
use crate::error::{Result, TrackError};
use crate::fsutil::write_atomic;
use crate::metrics_log::{MetricRecord, read_metrics};
use crate::run_folder::RunFolder;

/// The report's file name in the run folder.
pub const REPORT_FILE: &str = "report.html";
/// Calibration bins (equal width over predicted probability).
const CALIBRATION_BINS: usize = 10;

/// Held-out predictions of a ranking model, for the ROC and calibration plots.
#[derive(Debug, Clone, Copy)]
pub struct Predictions<'a> {
    /// Predicted probabilities of the positive class.
    pub probs: &'a [f32],
    /// Labels, 1 for positive and 0 for negative.
    pub labels: &'a [f32],
}

/// Retrieval metrics of the model and of a baseline at the same cut-offs.
#[derive(Debug, Clone, Copy)]
pub struct RetrievalComparison<'a> {
    /// The model's metrics by K.
    pub model: &'a BTreeMap<usize, RetrievalMetrics>,
    /// The baseline's metrics by K.
    pub baseline: &'a BTreeMap<usize, RetrievalMetrics>,
    /// What the baseline is, e.g. `popularity`.
    pub baseline_name: &'a str,
}

/// What the report shows beyond the run folder's own files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportExtras<'a> {
    /// Predictions for ROC and calibration (ranking runs).
    pub predictions: Option<Predictions<'a>>,
    /// Retrieval metrics against a baseline (retrieval runs).
    pub retrieval: Option<RetrievalComparison<'a>>,
}

/// Writes `report.html` into the run folder (atomically) and returns its path.
pub fn write_report(folder: &RunFolder, extras: &ReportExtras<'_>) -> Result<PathBuf> {
    let html = render_report(folder, extras)?;
    let path = folder.path().join(REPORT_FILE);
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// Builds the report's HTML.
pub fn render_report(folder: &RunFolder, extras: &ReportExtras<'_>) -> Result<String> {
    let summary = folder.read_summary()?;
    let params = folder.read_params()?;
    let config = folder.read_config()?;
    let metrics = read_metrics(&folder.metrics_path())?;

    let mut body = String::new();
    let rows = [
        ("run", folder.id()),
        ("status", summary.status.to_string()),
        ("model", summary.model_kind.clone()),
        ("experiment", summary.experiment.clone()),
        ("started (UTC)", format_utc(summary.start_time)),
        (
            "ended (UTC)",
            summary.end_time.map_or("-".to_string(), format_utc),
        ),
        ("cascade", summary.cascade_version.clone()),
        (
            "git commit",
            summary
                .git_commit
                .clone()
                .unwrap_or_else(|| "-".to_string()),
        ),
    ];
    body.push_str("<h2>Run</h2>\n");
    body.push_str(&kv_table(
        rows.iter().map(|(k, v)| (k.to_string(), v.clone())),
    ));
    if !summary.final_metrics.is_empty() {
        body.push_str("<h2>Final metrics</h2>\n");
        body.push_str(&kv_table(
            summary
                .final_metrics
                .iter()
                .map(|(k, m)| (k.clone(), format!("{} (step {})", m.value, m.step))),
        ));
    }

    body.push_str("<h2>Curves</h2>\n");
    let curves = curve_charts(&metrics)?;
    if curves.is_empty() {
        body.push_str("<p>No metrics were logged.</p>\n");
    }
    for svg in curves {
        push_figure(&mut body, &svg);
    }
    if let Some(svg) = throughput_chart(&metrics, summary.start_time)? {
        body.push_str("<h2>Throughput</h2>\n");
        push_figure(&mut body, &svg);
    }
    if let Some(p) = extras.predictions {
        if p.probs.len() != p.labels.len() {
            return Err(TrackError::Invalid(format!(
                "{} predictions but {} labels",
                p.probs.len(),
                p.labels.len()
            )));
        }
        body.push_str("<h2>Ranking quality</h2>\n");
        push_figure(&mut body, &roc_chart(p)?);
        push_figure(&mut body, &calibration_chart(p)?);
    }
    if let Some(r) = extras.retrieval {
        body.push_str("<h2>Retrieval quality</h2>\n");
        for (name, pick) in [
            (
                "Recall",
                (|m: &RetrievalMetrics| m.recall) as fn(&RetrievalMetrics) -> f64,
            ),
            ("NDCG", |m| m.ndcg),
        ] {
            push_figure(&mut body, &retrieval_chart(name, pick, &r)?);
        }
    }
    body.push_str("<h2>Params</h2>\n");
    body.push_str(&kv_table(params.into_iter()));
    body.push_str("<h2>Configuration</h2>\n<pre>");
    body.push_str(&escape(&config));
    body.push_str("</pre>\n");

    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em auto; max-width: 820px; color: #222; }}\n\
         table {{ border-collapse: collapse; margin-bottom: 1em; }}\n\
         td {{ border-bottom: 1px solid #ddd; padding: 3px 12px 3px 0; vertical-align: top; }}\n\
         pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}\n\
         figure {{ margin: 1em 0; }}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n",
        title = escape(&format!("Cascade run {}", summary.name)),
    ))
}

fn push_figure(body: &mut String, svg: &str) {
    let _ = writeln!(body, "<figure>{svg}</figure>");
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn kv_table(rows: impl Iterator<Item = (String, String)>) -> String {
    let mut out = String::from("<table>\n");
    for (k, v) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&k),
            escape(&v)
        );
    }
    out.push_str("</table>\n");
    out
}

/// Whether a metric is a throughput, plotted over time rather than steps.
fn is_throughput(name: &str) -> bool {
    name.contains("throughput") || name.contains("per_sec")
}

/// (x, y) points of one line.
type Points = Vec<(f64, f64)>;

/// One chart per metric (the part after the `train/`/`val/` prefix), one line per prefix.
fn curve_charts(metrics: &[MetricRecord]) -> Result<Vec<String>> {
    let mut charts: BTreeMap<&str, BTreeMap<&str, Points>> = BTreeMap::new();
    for m in metrics.iter().filter(|m| !is_throughput(&m.name)) {
        let (split, metric) = m.name.split_once('/').unwrap_or(("", m.name.as_str()));
        charts
            .entry(metric)
            .or_default()
            .entry(split)
            .or_default()
            .push((m.step as f64, m.value));
    }
    charts
        .into_iter()
        .map(|(metric, splits)| {
            let lines: Vec<Line> = splits
                .into_iter()
                .map(|(split, points)| Line {
                    name: if split.is_empty() {
                        metric.to_string()
                    } else {
                        split.to_string()
                    },
                    points,
                    reference: false,
                })
                .collect();
            line_chart(metric, "step", metric, &lines, false)
        })
        .collect()
}

fn throughput_chart(metrics: &[MetricRecord], start: f64) -> Result<Option<String>> {
    let mut lines: BTreeMap<&str, Points> = BTreeMap::new();
    for m in metrics.iter().filter(|m| is_throughput(&m.name)) {
        lines
            .entry(m.name.as_str())
            .or_default()
            .push((m.wall_time - start, m.value));
    }
    if lines.is_empty() {
        return Ok(None);
    }
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|(name, points)| Line {
            name: name.to_string(),
            points,
            reference: false,
        })
        .collect();
    line_chart(
        "throughput",
        "seconds since start",
        "per second",
        &lines,
        false,
    )
    .map(Some)
}

/// ROC curve points (false positive rate, true positive rate), ties in score taken together.
pub(crate) fn roc_points(p: Predictions<'_>) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..p.probs.len())
        .filter(|&i| p.probs[i].is_finite())
        .collect();
    order.sort_by(|&a, &b| p.probs[b].total_cmp(&p.probs[a]));
    let positives = order.iter().filter(|&&i| p.labels[i] > 0.5).count() as f64;
    let negatives = order.len() as f64 - positives;
    let mut points = vec![(0.0, 0.0)];
    if positives == 0.0 || negatives == 0.0 {
        return points;
    }
    let (mut tp, mut fp) = (0.0, 0.0);
    for (n, &i) in order.iter().enumerate() {
        if p.labels[i] > 0.5 {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let last_of_tie = order.get(n + 1).is_none_or(|&j| p.probs[j] != p.probs[i]);
        if last_of_tie {
            points.push((fp / negatives, tp / positives));
        }
    }
    points
}

fn roc_chart(p: Predictions<'_>) -> Result<String> {
    let auc =
        cascade_metrics::auc(p.probs, p.labels).map_or("n/a".to_string(), |a| format!("{a:.4}"));
    let lines = [
        Line {
            name: format!("model (AUC {auc})"),
            points: roc_points(p),
            reference: false,
        },
        Line {
            name: "chance".to_string(),
            points: vec![(0.0, 0.0), (1.0, 1.0)],
            reference: true,
        },
    ];
    line_chart(
        "ROC curve",
        "false positive rate",
        "true positive rate",
        &lines,
        true,
    )
}

/// Calibration: for each non-empty probability bin, (mean predicted, observed positive rate).
pub(crate) fn calibration_points(p: Predictions<'_>) -> Vec<(f64, f64)> {
    let mut bins = [(0.0f64, 0.0f64, 0u64); CALIBRATION_BINS];
    for (&prob, &label) in p.probs.iter().zip(p.labels) {
        if !prob.is_finite() {
            continue;
        }
        let prob = f64::from(prob).clamp(0.0, 1.0);
        let bin = ((prob * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        bins[bin].0 += prob;
        bins[bin].1 += f64::from(label);
        bins[bin].2 += 1;
    }
    bins.iter()
        .filter(|b| b.2 > 0)
        .map(|&(p, l, n)| (p / n as f64, l / n as f64))
        .collect()
}

fn calibration_chart(p: Predictions<'_>) -> Result<String> {
    let lines = [
        Line {
            name: "model".to_string(),
            points: calibration_points(p),
            reference: false,
        },
        Line {
            name: "perfectly calibrated".to_string(),
            points: vec![(0.0, 0.0), (1.0, 1.0)],
            reference: true,
        },
    ];
    line_chart(
        "Calibration",
        "mean predicted probability",
        "observed positive rate",
        &lines,
        true,
    )
}

fn retrieval_chart(
    name: &str,
    pick: fn(&RetrievalMetrics) -> f64,
    r: &RetrievalComparison<'_>,
) -> Result<String> {
    let ks: Vec<usize> = r.model.keys().copied().collect();
    let categories: Vec<String> = ks.iter().map(|k| format!("@{k}")).collect();
    let series = [
        (
            "model".to_string(),
            ks.iter()
                .map(|k| r.model.get(k).map_or(f64::NAN, pick))
                .collect(),
        ),
        (
            r.baseline_name.to_string(),
            ks.iter()
                .map(|k| r.baseline.get(k).map_or(f64::NAN, pick))
                .collect(),
        ),
    ];
    bar_chart(&format!("{name}@K"), name, &categories, &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_of_a_perfect_ranker_hugs_the_corner() {
        let probs = [0.9, 0.8, 0.3, 0.1];
        let labels = [1.0, 1.0, 0.0, 0.0];
        let points = roc_points(Predictions {
            probs: &probs,
            labels: &labels,
        });
        assert_eq!(
            points,
            vec![(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        );
        // Tied scores form one point.
        let tied = roc_points(Predictions {
            probs: &[0.5, 0.5],
            labels: &[1.0, 0.0],
        });
        assert_eq!(tied, vec![(0.0, 0.0), (1.0, 1.0)]);
    }

    #[test]
    fn calibration_bins_average_predictions_and_labels() {
        let probs = [0.05, 0.15, 0.95, 0.91];
        let labels = [0.0, 1.0, 1.0, 0.0];
        let points = calibration_points(Predictions {
            probs: &probs,
            labels: &labels,
        });
        assert_eq!(points.len(), 3);
        assert!((points[0].0 - 0.05).abs() < 1e-6 && points[0].1 == 0.0);
        assert!((points[2].0 - 0.93).abs() < 1e-6 && points[2].1 == 0.5);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
