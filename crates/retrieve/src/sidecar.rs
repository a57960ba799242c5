//! The sidecar of a saved HNSW index: a small JSON file next to the graph file recording the
//! format version, shape, metric, build parameters, the fingerprint of the embeddings the graph
//! was built from, and the graph file's length and checksum. Loading reads the sidecar first and
//! refuses a graph that does not match it, before the graph's own header or links are read.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::atomic;
use crate::error::{Result, RetrieveError};
use crate::fingerprint::Fingerprint;
use crate::hnsw::HnswParams;
use crate::metric::Metric;

/// The `format` value every sidecar carries.
const FORMAT: &str = "cascade-hnsw";

/// The sidecar layout version this code writes and reads. Version 2 accompanies Cascade's own
/// graph image; version 1 accompanied a usearch graph, which this build cannot search.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// Everything recorded about a saved graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sidecar {
    pub(crate) format: String,
    pub(crate) format_version: u32,
    pub(crate) dim: usize,
    pub(crate) count: usize,
    pub(crate) metric: Metric,
    pub(crate) fingerprint: String,
    pub(crate) connectivity: usize,
    pub(crate) expansion_add: usize,
    pub(crate) expansion_search: usize,
    pub(crate) graph_bytes: u64,
    pub(crate) graph_xxh3: String,
}

/// Where the sidecar of the graph file `graph` lives: the same name with `.meta.json` appended.
pub(crate) fn sidecar_path(graph: &Path) -> PathBuf {
    let mut name = graph.file_name().unwrap_or_default().to_os_string();
    name.push(".meta.json");
    graph.with_file_name(name)
}

/// Length and XXH3-64 checksum (16 hex digits) of a graph file's bytes, computed on the bytes
/// already in memory (or mapped) so that neither saving nor loading reads the file twice.
pub(crate) fn checksum(bytes: &[u8]) -> (u64, String) {
    (bytes.len() as u64, format!("{:016x}", xxh3_64(bytes)))
}

impl Sidecar {
    /// A sidecar for the current format version.
    pub(crate) fn new(
        dim: usize,
        count: usize,
        metric: Metric,
        fingerprint: Fingerprint,
        params: HnswParams,
        graph: (u64, String),
    ) -> Self {
        Self {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            dim,
            count,
            metric,
            fingerprint: fingerprint.to_string(),
            connectivity: params.connectivity,
            expansion_add: params.expansion_add,
            expansion_search: params.expansion_search,
            graph_bytes: graph.0,
            graph_xxh3: graph.1,
        }
    }

    /// The build and search parameters recorded.
    pub(crate) fn params(&self) -> HnswParams {
        HnswParams {
            connectivity: self.connectivity,
            expansion_add: self.expansion_add,
            expansion_search: self.expansion_search,
        }
    }

    /// Writes the sidecar to `path` atomically.
    pub(crate) fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|err| RetrieveError::bad_file(path, err.to_string()))?;
        atomic::write_with(path, |out| out.write_all(text.as_bytes()))
    }

    /// Reads and validates the sidecar at `path`; every error names `path`.
    pub(crate) fn read(path: &Path) -> Result<(Self, Fingerprint)> {
        let text = std::fs::read_to_string(path).map_err(|err| RetrieveError::io(path, err))?;
        let sidecar: Sidecar = serde_json::from_str(&text).map_err(|err| {
            RetrieveError::bad_file(path, format!("not a valid index sidecar: {err}"))
        })?;
        if sidecar.format != FORMAT {
            return Err(RetrieveError::bad_file(
                path,
                format!("format is {:?}, expected {FORMAT:?}", sidecar.format),
            ));
        }
        if sidecar.format_version != FORMAT_VERSION {
            return Err(RetrieveError::bad_file(
                path,
                format!(
                    "format version {} is not supported (this build reads version {FORMAT_VERSION})",
                    sidecar.format_version
                ),
            ));
        }
        if sidecar.dim == 0 || sidecar.count == 0 {
            return Err(RetrieveError::bad_file(
                path,
                "dim and count must be at least 1",
            ));
        }
        sidecar
            .params()
            .check()
            .map_err(|err| RetrieveError::bad_file(path, err.to_string()))?;
        let fingerprint = Fingerprint::parse(&sidecar.fingerprint).ok_or_else(|| {
            RetrieveError::bad_file(
                path,
                format!("fingerprint {:?} is not 16 hex digits", sidecar.fingerprint),
            )
        })?;
        Ok((sidecar, fingerprint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sidecar {
        Sidecar::new(
            8,
            100,
            Metric::Cosine,
            Fingerprint::of_matrix(1, 1, &[1.0]),
            HnswParams::default(),
            (10, "00000000000000aa".into()),
        )
    }

    #[test]
    fn round_trip_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let graph = dir.path().join("items.graph");
        let path = sidecar_path(&graph);
        assert!(path.ends_with("items.graph.meta.json"));
        sample().write(&path).unwrap();
        let (back, fp) = Sidecar::read(&path).unwrap();
        assert_eq!(back, sample());
        assert_eq!(fp, Fingerprint::of_matrix(1, 1, &[1.0]));
    }

    #[test]
    fn refuses_wrong_version_format_and_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.meta.json");
        type Spoil = fn(&mut Sidecar);
        let cases: [(Spoil, &str); 3] = [
            (|s| s.format_version = 9, "format version 9"),
            (|s| s.format = "other".into(), "expected \"cascade-hnsw\""),
            (|s| s.fingerprint = "12".into(), "not 16 hex digits"),
        ];
        for (spoil, message) in cases {
            let mut sidecar = sample();
            spoil(&mut sidecar);
            sidecar.write(&path).unwrap();
            let err = Sidecar::read(&path).unwrap_err().to_string();
            assert!(
                err.contains("x.meta.json") && err.contains(message),
                "{err}"
            );
        }
        std::fs::write(&path, "{not json").unwrap();
        let err = Sidecar::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("x.meta.json") && err.contains("not a valid"),
            "{err}"
        );
    }

    #[test]
    fn checksum_changes_with_content() {
        let first = checksum(b"abc");
        assert_eq!(first.0, 3);
        assert_ne!(checksum(b"abd").1, first.1);
    }
}
