//! Synthetic recommendation datasets with a planted signal, so that a trained model has a known
//! quality ceiling to be judged against.
//!
//! Two kinds: [`dlrm`] (Criteo-like click rows: dense features, Zipf ids in many tables, a label
//! from a hidden logistic model; the manifest reports the hidden model's AUC) and
//! [`two_tower`] (MovieLens-like user–item interactions with side features and a per-user
//! temporal test split; the manifest reports the hidden model's and the popularity baseline's
//! recall). Generation is deterministic: a seed always produces the same bytes, whatever the
//! number of threads. The building blocks ([`rng`], [`zipf`], [`auc`]) are public so other
//! parts of the program can reuse them.

pub mod auc;
pub mod dlrm;
pub mod error;
pub mod output;
pub mod rng;
pub mod two_tower;
pub mod zipf;

pub use dlrm::DlrmConfig;
pub use error::{Result, SynthError};
pub use two_tower::TwoTowerConfig;

#[cfg(test)]
mod testutil {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    /// Every file under `root` (relative path → bytes).
    fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap();
                    files.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
                }
            }
        }
        files
    }

    /// Runs `generate(out)` on a pool of one thread and on a pool of three, and returns both
    /// outputs' files.
    pub fn with_thread_counts(generate: impl Fn(&Path) + Sync) -> Vec<BTreeMap<PathBuf, Vec<u8>>> {
        [1, 3]
            .into_iter()
            .map(|threads| {
                let dir = tempfile::tempdir().unwrap();
                let out = dir.path().join("ds");
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| generate(&out));
                tree(&out)
            })
            .collect()
    }
}
