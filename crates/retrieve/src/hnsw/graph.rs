//! The finished graph as one byte image, identical in memory and on disk, so that saving writes
//! it as is and loading either reads it into memory or maps the file without any decoding.
//!
//! Layout (little-endian): a 64-byte header, then six arrays, each starting on a 64-byte
//! boundary: the item of each node (`u32`), each node's top layer (`u8`), where each node's
//! upper-layer lists start (`u32`, `u32::MAX` for none), the vectors in node order (`f32`, unit
//! length for cosine), the base-layer lists (`1 + 2M` `u32` per node: count, then links) and the
//! upper-layer lists (`1 + M` `u32` per node and layer). Nodes are numbered in insertion order,
//! so graph neighbours mostly sit close together in memory.
//!
//! [`GraphImage::parse`] checks every count and link of a file before a search may follow them,
//! so a damaged file is refused with a message instead of crashing a search.

use std::ops::Range;
use std::path::Path;

use super::build::Built;
use super::search::{Layers, link_list};
use crate::error::{Result, RetrieveError};
use crate::metric::Metric;

/// The first bytes of every graph file.
const MAGIC: [u8; 8] = *b"CSCDHNSW";

/// The graph layout this code writes and reads.
const VERSION: u32 = 1;

/// Header size; also the alignment of every array.
const ALIGN: usize = 64;

/// The fixed-size facts at the start of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    /// Vector width.
    pub(super) dim: usize,
    /// Nodes (items).
    pub(super) count: usize,
    /// M: links per node on upper layers (2M on the base layer).
    pub(super) width: usize,
    /// The similarity the vectors are scored by.
    pub(super) metric: Metric,
    /// The entry node and its top layer.
    pub(super) entry: (u32, usize),
    /// Length of the upper-layer array, in `u32`.
    pub(super) upper_len: usize,
}

/// Byte ranges of the arrays.
#[derive(Clone, Debug)]
struct Sections {
    labels: Range<usize>,
    levels: Range<usize>,
    upper_start: Range<usize>,
    vectors: Range<usize>,
    base: Range<usize>,
    upper: Range<usize>,
    total: usize,
}

impl Header {
    /// Where each array lies; `None` when the sizes overflow.
    fn sections(&self) -> Option<Sections> {
        let mut at = ALIGN;
        let mut next = |bytes: usize| -> Option<Range<usize>> {
            let start = at;
            let end = start.checked_add(bytes)?;
            at = end.checked_next_multiple_of(ALIGN)?;
            Some(start..end)
        };
        let n = self.count;
        let labels = next(n.checked_mul(4)?)?;
        let levels = next(n)?;
        let upper_start = next(n.checked_mul(4)?)?;
        let vectors = next(n.checked_mul(self.dim)?.checked_mul(4)?)?;
        let base = next(
            n.checked_mul(self.width.checked_mul(2)?.checked_add(1)?)?
                .checked_mul(4)?,
        )?;
        let upper = next(self.upper_len.checked_mul(4)?)?;
        Some(Sections {
            labels,
            levels,
            upper_start,
            vectors,
            base,
            upper,
            total: at,
        })
    }

    /// The 64 header bytes.
    fn encode(&self) -> [u8; ALIGN] {
        let mut out = [0u8; ALIGN];
        out[..8].copy_from_slice(&MAGIC);
        let fields = [
            VERSION,
            self.dim as u32,
            self.count as u32,
            self.width as u32,
            metric_code(self.metric),
            self.entry.0,
            self.entry.1 as u32,
        ];
        for (i, field) in fields.iter().enumerate() {
            out[8 + 4 * i..12 + 4 * i].copy_from_slice(&field.to_le_bytes());
        }
        out[40..48].copy_from_slice(&(self.upper_len as u64).to_le_bytes());
        out
    }

    /// Reads a header, or says why the bytes are not one.
    fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        if bytes.len() < ALIGN || bytes[..8] != MAGIC {
            return Err("not a Cascade HNSW graph file (no graph header)".into());
        }
        let field = |i: usize| {
            let at = 8 + 4 * i;
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        if field(0) != VERSION {
            return Err(format!(
                "graph layout version {} is not supported (this build reads version {VERSION})",
                field(0)
            ));
        }
        let metric = match field(4) {
            0 => Metric::InnerProduct,
            1 => Metric::Cosine,
            other => return Err(format!("unknown metric code {other} in the graph header")),
        };
        let mut upper_len = [0u8; 8];
        upper_len.copy_from_slice(&bytes[40..48]);
        Ok(Self {
            dim: field(1) as usize,
            count: field(2) as usize,
            width: field(3) as usize,
            metric,
            entry: (field(5), field(6) as usize),
            upper_len: usize::try_from(u64::from_le_bytes(upper_len))
                .map_err(|_| "upper-layer length overflows".to_string())?,
        })
    }
}

/// The metric's number in the header.
fn metric_code(metric: Metric) -> u32 {
    match metric {
        Metric::InnerProduct => 0,
        Metric::Cosine => 1,
    }
}

/// Where the image's bytes live.
enum Backing {
    /// In memory, 8-byte aligned; the image is the first `len` bytes.
    Heap { words: Vec<u64>, len: usize },
    /// A read-only mapping of the graph file.
    Mapped(memmap2::Mmap),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Heap { words, len } => &bytemuck::cast_slice(words)[..*len],
            Backing::Mapped(map) => map,
        }
    }
}

/// A graph image and its parsed header.
pub(super) struct GraphImage {
    backing: Backing,
    header: Header,
    sections: Sections,
}

/// Typed access to an image's arrays, for searching.
pub(super) struct GraphView<'a> {
    dim: usize,
    width: usize,
    entry: (u32, usize),
    labels: &'a [u32],
    upper_start: &'a [u32],
    vectors: &'a [f32],
    base: &'a [u32],
    upper: &'a [u32],
}

impl GraphImage {
    /// The image of a freshly built graph over `vectors` (node order) whose node `n` holds item
    /// `labels[n]`.
    pub(super) fn assemble(
        dim: usize,
        width: usize,
        metric: Metric,
        labels: &[u32],
        vectors: &[f32],
        built: &Built,
    ) -> Result<Self> {
        let header = Header {
            dim,
            count: labels.len(),
            width,
            metric,
            entry: built.entry,
            upper_len: built.upper.len(),
        };
        let sections = header
            .sections()
            .ok_or_else(|| RetrieveError::shape("HNSW graph", "too large to address"))?;
        let mut words = vec![0u64; sections.total / 8];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        bytes[..ALIGN].copy_from_slice(&header.encode());
        bytes[sections.labels.clone()].copy_from_slice(bytemuck::cast_slice(labels));
        bytes[sections.levels.clone()].copy_from_slice(&built.levels);
        bytes[sections.upper_start.clone()]
            .copy_from_slice(bytemuck::cast_slice(&built.upper_start));
        bytes[sections.vectors.clone()].copy_from_slice(bytemuck::cast_slice(vectors));
        bytes[sections.base.clone()].copy_from_slice(bytemuck::cast_slice(&built.base));
        bytes[sections.upper.clone()].copy_from_slice(bytemuck::cast_slice(&built.upper));
        let len = sections.total;
        Ok(Self {
            backing: Backing::Heap { words, len },
            header,
            sections,
        })
    }

    /// Reads the graph file at `path` into memory, or maps it, hands its bytes to `verify` (the
    /// caller's checksum comparison), then checks the image itself.
    pub(super) fn open(
        path: &Path,
        mapped: bool,
        verify: impl FnOnce(&[u8]) -> Result<()>,
    ) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|err| RetrieveError::io(path, err))?;
        let backing = if mapped {
            // SAFETY: the mapping is read-only; the index documents that the file must not be
            // modified in place while mapped (replacing it by rename is safe).
            let map =
                unsafe { memmap2::Mmap::map(&file) }.map_err(|err| RetrieveError::io(path, err))?;
            Backing::Mapped(map)
        } else {
            use std::io::Read;
            let len = file
                .metadata()
                .map_err(|err| RetrieveError::io(path, err))?
                .len();
            let len = usize::try_from(len)
                .map_err(|_| RetrieveError::bad_file(path, "graph file too large"))?;
            let mut words = vec![0u64; len.div_ceil(8)];
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
            std::io::BufReader::new(file)
                .read_exact(&mut bytes[..len])
                .map_err(|err| RetrieveError::io(path, err))?;
            Backing::Heap { words, len }
        };
        verify(backing.bytes())?;
        Self::parse(backing).map_err(|reason| RetrieveError::bad_file(path, reason))
    }

    /// Checks the header, the file length and every array of an image.
    fn parse(backing: Backing) -> std::result::Result<Self, String> {
        let header = Header::decode(backing.bytes())?;
        let sections = header
            .sections()
            .ok_or("the graph header declares sizes that overflow")?;
        let len = backing.bytes().len();
        if len != sections.total {
            return Err(format!(
                "graph file is {len} bytes, its header declares {} (truncated or padded)",
                sections.total
            ));
        }
        let image = Self {
            backing,
            header,
            sections,
        };
        image.check_links()?;
        Ok(image)
    }

    /// Refuses an image whose labels, layers or links would send a search out of bounds.
    fn check_links(&self) -> std::result::Result<(), String> {
        let h = self.header;
        let view = self.view();
        let levels = &self.backing.bytes()[self.sections.levels.clone()];
        if h.count == 0 || h.dim == 0 || h.width < 2 {
            return Err(
                "the graph header declares no nodes, no width or fewer than 2 links".into(),
            );
        }
        let mut seen = vec![false; h.count];
        for &label in view.labels {
            match seen.get_mut(label as usize) {
                Some(slot) if !*slot => *slot = true,
                _ => return Err(format!("node item {label} is out of range or repeated")),
            }
        }
        let (entry, top) = h.entry;
        if levels.get(entry as usize).map(|&l| usize::from(l)) != Some(top) {
            return Err(format!("entry node {entry} does not have top layer {top}"));
        }
        let check_list = |list: &[u32], layer: usize| -> std::result::Result<(), String> {
            let count = list[0] as usize;
            if count > list.len() - 1 {
                return Err(format!(
                    "a layer-{layer} link list holds {count} links, more than it can"
                ));
            }
            for &node in &list[1..=count] {
                if levels
                    .get(node as usize)
                    .is_none_or(|&l| usize::from(l) < layer)
                {
                    return Err(format!(
                        "a layer-{layer} link points to node {node}, which is not on that layer"
                    ));
                }
            }
            Ok(())
        };
        for list in view.base.chunks_exact(1 + 2 * h.width) {
            check_list(list, 0)?;
        }
        let stride = 1 + h.width;
        for (node, (&level, &start)) in levels.iter().zip(view.upper_start).enumerate() {
            let level = usize::from(level);
            if level > top {
                return Err(format!("node {node} is above the entry's top layer"));
            }
            if level == 0 {
                continue;
            }
            let lists = (start as usize)
                .checked_add(level * stride)
                .and_then(|end| view.upper.get(start as usize..end))
                .ok_or_else(|| format!("node {node}'s upper-layer lists lie outside the file"))?;
            for (layer, list) in lists.chunks_exact(stride).enumerate() {
                check_list(list, layer + 1)?;
            }
        }
        Ok(())
    }

    /// The parsed header.
    pub(super) fn header(&self) -> Header {
        self.header
    }

    /// The image's bytes: what [`GraphImage::open`] reads back.
    pub(super) fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// Typed access to the arrays.
    pub(super) fn view(&self) -> GraphView<'_> {
        let bytes = self.backing.bytes();
        let s = &self.sections;
        GraphView {
            dim: self.header.dim,
            width: self.header.width,
            entry: self.header.entry,
            labels: bytemuck::cast_slice(&bytes[s.labels.clone()]),
            upper_start: bytemuck::cast_slice(&bytes[s.upper_start.clone()]),
            vectors: bytemuck::cast_slice(&bytes[s.vectors.clone()]),
            base: bytemuck::cast_slice(&bytes[s.base.clone()]),
            upper: bytemuck::cast_slice(&bytes[s.upper.clone()]),
        }
    }
}

impl GraphView<'_> {
    /// The entry node and its top layer.
    pub(super) fn entry(&self) -> (u32, usize) {
        self.entry
    }

    /// The item of `node`.
    pub(super) fn label(&self, node: u32) -> u32 {
        self.labels[node as usize]
    }

    /// The list (count, then links) of `node` on `level`.
    #[inline(always)]
    fn list(&self, node: u32, level: usize) -> &[u32] {
        link_list(
            (self.base, self.upper, self.upper_start),
            self.width,
            node,
            level,
        )
    }
}

impl Layers for GraphView<'_> {
    fn count(&self) -> usize {
        self.labels.len()
    }

    #[inline(always)]
    fn vector(&self, node: u32) -> &[f32] {
        &self.vectors[node as usize * self.dim..][..self.dim]
    }

    #[inline(always)]
    fn links(&self, node: u32, level: usize, out: &mut Vec<u32>) {
        let list = self.list(node, level);
        out.clear();
        out.extend_from_slice(&list[1..=list[0] as usize]);
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32, level: usize) {
        super::kernel::prefetch(self.list(node, level));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hnsw::build::Builder;
    use crate::hnsw::kernel::Choice;

    const DIM: usize = 16;
    const NODES: usize = 300;

    fn image() -> GraphImage {
        let vectors: Vec<f32> = (0..NODES * DIM)
            .map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.5)
            .collect();
        let labels: Vec<u32> = (0..NODES as u32).rev().collect();
        let built = Builder::new(&vectors, DIM, &labels, 4, 32)
            .unwrap()
            .build(Choice::Portable);
        GraphImage::assemble(DIM, 4, Metric::Cosine, &labels, &vectors, &built).unwrap()
    }

    fn parse(bytes: &[u8]) -> std::result::Result<GraphImage, String> {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        GraphImage::parse(Backing::Heap {
            words,
            len: bytes.len(),
        })
    }

    /// `bytes` with the `u32` at byte `at` replaced by `value`.
    fn with_u32(bytes: &[u8], at: usize, value: u32) -> Vec<u8> {
        let mut out = bytes.to_vec();
        out[at..at + 4].copy_from_slice(&value.to_le_bytes());
        out
    }

    #[test]
    fn an_image_parses_back_and_damage_is_refused_by_name() {
        let image = image();
        let bytes = image.bytes().to_vec();
        let back = parse(&bytes).unwrap();
        assert_eq!(back.header(), image.header());
        assert_eq!(back.view().label(0), NODES as u32 - 1);

        let base = image.sections.base.start;
        let labels = image.sections.labels.start;
        let cases: [(Vec<u8>, &str); 6] = [
            (
                with_u32(&bytes, base + 4, NODES as u32),
                "not on that layer",
            ),
            (with_u32(&bytes, base, 1000), "more than it can"),
            (
                with_u32(&bytes, labels, NODES as u32 - 2),
                "out of range or repeated",
            ),
            (bytes[..bytes.len() - 64].to_vec(), "truncated"),
            (with_u32(&bytes, 8, 9), "layout version 9"),
            (with_u32(&bytes, 0, 0), "not a Cascade HNSW graph"),
        ];
        for (damaged, message) in cases {
            match parse(&damaged) {
                Ok(_) => panic!("accepted damage meant to give {message:?}"),
                Err(err) => assert!(err.contains(message), "{err} (expected {message:?})"),
            }
        }
    }
}
