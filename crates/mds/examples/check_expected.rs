//! Reads MDS datasets and compares every decoded sample with the dataset's `expected.jsonl`
//! (the JSON form of `Value::to_json`, as a Python writer's test script records it): the
//! Cascade side of the interoperability check for datasets written by `mosaicml-streaming`.
//!
//! Usage: `check_expected DATASET_DIR...`; prints `N passed, M failed` and exits non-zero on
//! any mismatch or read error.

use cascade_mds::{Index, Shard};
use std::path::Path;

fn main() -> std::process::ExitCode {
    let (mut passed, mut failed) = (0usize, 0usize);
    for dir in std::env::args_os().skip(1) {
        let dir = Path::new(&dir);
        match check(dir) {
            Ok(n) => {
                println!("{}: {n} samples match", dir.display());
                passed += n;
            }
            Err(e) => {
                eprintln!("FAIL {}: {e}", dir.display());
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Checks one dataset; returns how many samples matched.
fn check(dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let index = Index::load(dir)?;
    let columns = index.columns()?;
    let text = std::fs::read_to_string(dir.join("expected.jsonl"))?;
    let mut expected = text.lines().enumerate();
    let mut count = 0;
    for meta in &index.shards {
        let shard = Shard::open(dir, meta)?;
        for i in 0..shard.len() {
            let values = shard.sample(i)?.decode(&columns)?;
            let (line_no, line) = expected
                .next()
                .ok_or("more samples than expected.jsonl lines")?;
            let want: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
                .map_err(|e| format!("expected.jsonl line {}: {e}", line_no + 1))?;
            if want.len() != columns.len() {
                return Err(format!("sample {count}: expected {} columns", want.len()).into());
            }
            for (c, v) in columns.iter().zip(&values) {
                let got = v.to_json();
                if want.get(&c.name) != Some(&got) {
                    return Err(format!(
                        "sample {count} column {:?}: read {got}, expected {}",
                        c.name,
                        want.get(&c.name)
                            .map_or("nothing".into(), |w| w.to_string())
                    )
                    .into());
                }
            }
            count += 1;
        }
    }
    if expected.next().is_some() {
        return Err(format!("expected.jsonl has more lines than the {count} samples").into());
    }
    Ok(count)
}
