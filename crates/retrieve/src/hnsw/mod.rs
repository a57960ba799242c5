//! The approximate top-K index: a hierarchical navigable small-world (HNSW) graph (Malkov and
//! Yashunin, 2016). Search cost grows roughly with the logarithm of the corpus instead of
//! linearly; the price is recall below 1, traded against speed by `expansion_search` (measure it
//! with [`crate::recall_at_k`]).
//!
//! Why a graph of our own rather than an engine crate: usearch, the fastest Rust HNSW crate
//! measured here, searched 1M × 64 vectors at half the queries/s of FAISS's HNSW at the same
//! recall (0.51×), and still 0.62× with the whole graph in cache, so the gap was its per-query
//! cost: a dynamically dispatched distance per neighbour, a pointer between each node and its
//! vector, no prefetching. This graph keeps vectors and links in flat arrays in insertion order
//! ([`graph`]), scores with an inlined AVX-512 kernel ([`kernel`]), prefetches a neighbourhood
//! before scoring it ([`search`]), and is built in parallel ([`build`]) in an order that groups
//! neighbours ([`order`]).
//!
//! Exclusions are applied inside the graph search: the traversal still walks through excluded
//! nodes, but only eligible items enter the result, so a query gets K items whenever the graph
//! search reaches K eligible ones.
//!
//! Saved as two files: the graph image (see [`graph`]) and a JSON sidecar (see the sidecar
//! module) that is checked, together with the graph's checksum, before the graph is loaded or
//! memory-mapped.

mod build;
mod graph;
mod kernel;
mod order;
mod search;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::atomic;
use crate::embeddings::ItemEmbeddings;
use crate::error::{Result, RetrieveError};
use crate::filter::Exclusions;
use crate::fingerprint::Fingerprint;
use crate::index::{TopKIndex, plan_search};
use crate::metric::{Metric, normalize_rows};
use crate::sidecar::{Sidecar, checksum, sidecar_path};
use crate::topk::{Hit, TopK};
use build::Builder;
use graph::GraphImage;
use kernel::Choice;
use search::{Request, Scratch, nearest_with};

/// Graph parameters. Larger values raise recall and cost; the defaults suit 64-wide embeddings
/// up to a few million items at recall@10 around 0.97–0.99.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Links kept per node on the upper layers (twice as many on the base layer), HNSW's `M`.
    /// Default 16; memory per item grows linearly with it.
    pub connectivity: usize,
    /// Candidate list size while inserting (`efConstruction`). Default 128: build time grows
    /// with it, and so does graph quality.
    pub expansion_add: usize,
    /// Candidate list size while searching (`efSearch`); effectively at least K. Default 64;
    /// the main recall/speed dial, changeable after the build.
    pub expansion_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
        }
    }
}

impl HnswParams {
    /// Refuses values the graph cannot work with.
    pub(crate) fn check(&self) -> Result<()> {
        if self.connectivity < 2
            || self.connectivity > MAX_CONNECTIVITY
            || self.expansion_add == 0
            || self.expansion_search == 0
        {
            return Err(RetrieveError::shape(
                "HNSW parameters",
                format!(
                    "connectivity must be 2 to {MAX_CONNECTIVITY} and expansions at least 1 (got {self:?})"
                ),
            ));
        }
        Ok(())
    }
}

/// Most links per node on the upper layers; more only costs memory and time.
const MAX_CONNECTIVITY: usize = 1024;

/// How [`HnswIndex::load`] brings the graph into the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadMode {
    /// Copies the graph into memory; the file may be deleted afterwards.
    InMemory,
    /// Maps the file into memory read-only: fast to open, pages shared between processes.
    /// The file must stay in place while the index is used (replacing it by rename is safe).
    MemoryMapped,
}

/// Queries a search task takes at a time: small enough to balance the threads, large enough
/// that each task's scratch buffers are reused many times.
const QUERIES_PER_TASK: usize = 64;

/// An HNSW graph over item embeddings, searched in parallel on the rayon pool.
pub struct HnswIndex {
    image: GraphImage,
    fingerprint: Fingerprint,
    params: HnswParams,
    kernel: Choice,
    source: Option<PathBuf>,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header = self.image.header();
        f.debug_struct("HnswIndex")
            .field("dim", &header.dim)
            .field("count", &header.count)
            .field("metric", &header.metric)
            .field("fingerprint", &self.fingerprint)
            .field("params", &self.params)
            .field("source", &self.source)
            .finish()
    }
}

impl HnswIndex {
    /// Builds the graph over all items of `embeddings` on every thread of the rayon pool. The
    /// threads insert concurrently, so two builds over the same embeddings may give slightly
    /// different graphs (and approximate results).
    pub fn build(embeddings: &ItemEmbeddings, metric: Metric, params: HnswParams) -> Result<Self> {
        params.check()?;
        if embeddings.is_empty() {
            return Err(RetrieveError::EmptyCorpus);
        }
        let dim = embeddings.dim();
        if u32::try_from(embeddings.len()).is_err() {
            return Err(RetrieveError::shape(
                "HNSW corpus",
                format!("{} items, more than 2^32 - 1", embeddings.len()),
            ));
        }
        let order = order::insertion_order(embeddings, metric)?;
        let labels: Vec<u32> = order.iter().map(|&item| item as u32).collect();
        let mut vectors = Vec::with_capacity(embeddings.values().len());
        for &item in &order {
            vectors.extend_from_slice(&embeddings.values()[item * dim..][..dim]);
        }
        if metric == Metric::Cosine {
            normalize_rows(&mut vectors, dim);
        }
        let kernel = Choice::for_width(dim);
        let built = Builder::new(
            &vectors,
            dim,
            &labels,
            params.connectivity,
            params.expansion_add,
        )?
        .build(kernel);
        let image =
            GraphImage::assemble(dim, params.connectivity, metric, &labels, &vectors, &built)?;
        Ok(Self {
            image,
            fingerprint: embeddings.fingerprint(),
            params,
            kernel,
            source: None,
        })
    }

    /// The parameters of the graph (with the current `expansion_search`).
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// The similarity the index ranks by.
    pub fn metric(&self) -> Metric {
        self.image.header().metric
    }

    /// Changes the search candidate list size: the recall/speed dial. Takes `&mut self` because
    /// searches must not run meanwhile.
    pub fn set_expansion_search(&mut self, expansion_search: usize) -> Result<()> {
        let params = HnswParams {
            expansion_search,
            ..self.params
        };
        params.check()?;
        self.params = params;
        Ok(())
    }

    /// Saves the graph to `path` and its sidecar to `path` + `.meta.json`, each atomically
    /// (graph first, so a crash in between leaves a sidecar whose checksum refuses the graph).
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let bytes = self.image.bytes();
        atomic::write_with(path, |out| out.write_all(bytes))?;
        let header = self.image.header();
        let sidecar = Sidecar::new(
            header.dim,
            header.count,
            header.metric,
            self.fingerprint,
            self.params,
            checksum(bytes),
        );
        sidecar.write(&sidecar_path(path))
    }

    /// Opens an index saved by [`save`](Self::save). The sidecar is read and checked first, then
    /// the graph file's length and checksum, then the graph's own header and links against the
    /// sidecar; every refusal names the file at fault.
    pub fn load(path: &Path, mode: LoadMode) -> Result<Self> {
        let meta_path = sidecar_path(path);
        let (sidecar, fingerprint) = Sidecar::read(&meta_path)?;
        let verify = |graph: &[u8]| {
            let (bytes, sum) = checksum(graph);
            if bytes == sidecar.graph_bytes && sum == sidecar.graph_xxh3 {
                return Ok(());
            }
            Err(RetrieveError::bad_file(
                path,
                format!(
                    "graph file is {bytes} bytes with checksum {sum}, but its sidecar {} records {} bytes with checksum {}; the graph is corrupt or belongs to another index",
                    meta_path.display(),
                    sidecar.graph_bytes,
                    sidecar.graph_xxh3
                ),
            ))
        };
        let image = GraphImage::open(path, mode == LoadMode::MemoryMapped, verify)?;
        let header = image.header();
        let params = sidecar.params();
        if header.dim != sidecar.dim
            || header.count != sidecar.count
            || header.metric != sidecar.metric
            || header.width != params.connectivity
        {
            return Err(RetrieveError::bad_file(
                path,
                format!(
                    "graph header ({} dims, {} items, {}, M {}) does not match sidecar {} ({} dims, {} items, {}, M {})",
                    header.dim,
                    header.count,
                    header.metric.name(),
                    header.width,
                    meta_path.display(),
                    sidecar.dim,
                    sidecar.count,
                    sidecar.metric.name(),
                    params.connectivity
                ),
            ));
        }
        Ok(Self {
            kernel: Choice::for_width(header.dim),
            image,
            fingerprint,
            params,
            source: Some(path.to_path_buf()),
        })
    }
}

impl TopKIndex for HnswIndex {
    fn dim(&self) -> usize {
        self.image.header().dim
    }

    fn len(&self) -> usize {
        self.image.header().count
    }

    fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    fn source_name(&self) -> String {
        match &self.source {
            Some(path) => path.display().to_string(),
            None => "in-memory HNSW index".into(),
        }
    }

    /// Searches queries in parallel on the rayon pool, [`QUERIES_PER_TASK`] at a time.
    fn search(&self, queries: &[f32], k: usize, exclusions: Option<&Exclusions>) -> Result<TopK> {
        let header = self.image.header();
        let dim = header.dim;
        let plan = plan_search(dim, header.count, queries, k, exclusions)?;
        let view = self.image.view();
        let cosine = header.metric == Metric::Cosine;
        let ef = self.params.expansion_search;
        let rows: Vec<Vec<Vec<Hit>>> = queries
            .par_chunks(QUERIES_PER_TASK * dim)
            .enumerate()
            .map(|(task, rows)| {
                let mut scratch = Scratch::new(header.count);
                let mut found = Vec::new();
                let mut unit = vec![0.0; dim];
                rows.chunks_exact(dim)
                    .enumerate()
                    .map(|(i, vector)| {
                        let query = task * QUERIES_PER_TASK + i;
                        let vector = if cosine {
                            unit.copy_from_slice(vector);
                            normalize_rows(&mut unit, dim);
                            &unit[..]
                        } else {
                            vector
                        };
                        let accept = |node: u32| {
                            exclusions.is_none_or(|ex| !ex.excludes(query, view.label(node)))
                        };
                        let request = Request {
                            vector,
                            k: plan.k,
                            ef,
                            accept,
                        };
                        nearest_with(
                            self.kernel,
                            &view,
                            view.entry(),
                            request,
                            &mut scratch,
                            &mut found,
                        );
                        found
                            .iter()
                            .map(|s| Hit {
                                item: view.label(s.node),
                                score: -s.distance,
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Ok(TopK::from_rows(
            rows.into_iter().flatten().collect(),
            plan.clamped,
        ))
    }
}
