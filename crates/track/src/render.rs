//! Plain-text rendering of run listings, details and comparisons for the terminal: aligned
//! columns, numbers with enough digits to tell runs apart.

use std::fmt::Write;

use crate::clock::format_utc;
use crate::listing::{RunComparison, RunDetails, RunEntry};

/// Lays out rows as left-aligned columns separated by two spaces.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 < row.len() {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A metric value with six significant digits.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        let digits = (5 - v.abs().log10().floor().max(-4.0) as i32).max(0) as usize;
        let text = format!("{v:.digits$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    } else {
        format!("{v:.5e}")
    }
}

fn duration(entry: &RunEntry) -> String {
    match entry.summary.end_time {
        Some(end) => {
            let secs = (end - entry.summary.start_time).max(0.0).round() as u64;
            format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
        }
        None => "-".to_string(),
    }
}

/// The `runs list` table: one line per run, newest first.
pub fn render_runs_table(runs: &[RunEntry]) -> String {
    if runs.is_empty() {
        return "no runs\n".to_string();
    }
    let mut rows = vec![
        [
            "RUN",
            "STATUS",
            "MODEL",
            "EXPERIMENT",
            "STARTED (UTC)",
            "DURATION",
        ]
        .map(str::to_string)
        .to_vec(),
    ];
    for r in runs {
        rows.push(vec![
            r.id.clone(),
            r.summary.status.to_string(),
            r.summary.model_kind.clone(),
            r.summary.experiment.clone(),
            format_utc(r.summary.start_time),
            duration(r),
        ]);
    }
    table(&rows)
}

/// The `runs show` text: identity, MLflow link, params, metric series.
pub fn render_run_details(d: &RunDetails) -> String {
    let s = &d.summary;
    let mut rows = vec![
        vec!["run".to_string(), d.id.clone()],
        vec!["folder".to_string(), d.path.display().to_string()],
        vec!["name".to_string(), s.name.clone()],
        vec!["experiment".to_string(), s.experiment.clone()],
        vec!["status".to_string(), s.status.to_string()],
        vec!["model".to_string(), s.model_kind.clone()],
        vec!["started".to_string(), format_utc(s.start_time)],
        vec![
            "ended".to_string(),
            s.end_time.map_or("-".to_string(), format_utc),
        ],
        vec!["cascade".to_string(), s.cascade_version.clone()],
        vec![
            "git commit".to_string(),
            s.git_commit.clone().unwrap_or_else(|| "-".to_string()),
        ],
        vec!["host".to_string(), s.host.clone()],
    ];
    match &d.mlflow {
        Some(link) => {
            rows.push(vec![
                "mlflow".to_string(),
                format!("{} run {}", link.tracking_uri, link.run_id),
            ]);
            rows.push(vec!["unsent".to_string(), d.unsent.to_string()]);
        }
        None => rows.push(vec!["mlflow".to_string(), "-".to_string()]),
    }
    let mut out = table(&rows);
    out.push_str("\nparams\n");
    let params: Vec<Vec<String>> = d
        .params
        .iter()
        .map(|(k, v)| vec![format!("  {k}"), v.clone()])
        .collect();
    out.push_str(&if params.is_empty() {
        "  -\n".to_string()
    } else {
        table(&params)
    });
    out.push_str("\nmetrics\n");
    let mut rows = vec![
        ["  NAME", "COUNT", "LAST STEP", "LAST", "MIN", "MAX"]
            .map(str::to_string)
            .to_vec(),
    ];
    for m in &d.metrics {
        rows.push(vec![
            format!("  {}", m.name),
            m.count.to_string(),
            m.last_step.to_string(),
            number(m.last),
            number(m.min),
            number(m.max),
        ]);
    }
    out.push_str(&if d.metrics.is_empty() {
        "  -\n".to_string()
    } else {
        table(&rows)
    });
    out
}

/// The `runs compare` text: params that differ, then every final metric with the change.
pub fn render_compare(c: &RunComparison) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    let num = |v: Option<f64>| v.map_or("-".to_string(), number);
    let mut out = format!(
        "A: {}  ({})\nB: {}  ({})\n\nparams that differ\n",
        c.a.id, c.a.summary.status, c.b.id, c.b.summary.status
    );
    if c.params.is_empty() {
        out.push_str("  none\n");
    } else {
        let mut rows = vec![["  PARAM", "A", "B"].map(str::to_string).to_vec()];
        rows.extend(
            c.params
                .iter()
                .map(|p| vec![format!("  {}", p.key), opt(&p.a), opt(&p.b)]),
        );
        out.push_str(&table(&rows));
    }
    out.push_str("\nfinal metrics\n");
    if c.metrics.is_empty() {
        out.push_str("  none\n");
    } else {
        let mut rows = vec![["  METRIC", "A", "B", "B - A"].map(str::to_string).to_vec()];
        rows.extend(
            c.metrics
                .iter()
                .map(|m| vec![format!("  {}", m.name), num(m.a), num(m.b), num(m.delta)]),
        );
        out.push_str(&table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_six_significant_digits() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.612345), "0.612345");
        assert_eq!(number(1234.5678), "1234.57");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(1.5e-7), "1.50000e-7");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            vec!["a".to_string(), "bb".to_string(), "c".to_string()],
            vec!["ddd".into(), "e".into(), "f".into()],
        ];
        assert_eq!(table(&rows), "a    bb  c\nddd  e   f\n");
    }
}
