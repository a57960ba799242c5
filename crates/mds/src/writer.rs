//! Writing an MDS dataset: samples are appended to the current shard until `size_limit` would be
//! exceeded, then the shard is (optionally) compressed, hashed and written; `finish` writes
//! `index.json`. Shards and index are written to temporary names and renamed when complete.
//!
//! The bytes match the Python `MDSWriter`'s for the same samples and options: the embedded
//! config is `json.dumps(config, sort_keys=True)`, a shard is flushed when its size plus the
//! next sample (and that sample's 4-byte offset) would exceed the limit. One deliberate
//! difference: a sample larger than the whole limit goes into its own shard instead of first
//! emitting an empty shard as the Python writer does.

use crate::index::{INDEX_FILE, write_atomic, write_atomic_parts};
use crate::{
    Column, Compression, Encoding, FileInfo, HashAlgo, Index, MdsError, Result, ShardMeta, Value,
};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// How a dataset is written; the defaults match `MDSWriter`'s (no compression, no hashes,
/// 64 MiB shards).
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Shard compression, or none.
    pub compression: Option<Compression>,
    /// Digests to record for every stored file.
    pub hashes: Vec<HashAlgo>,
    /// Maximum uncompressed shard size in bytes; 0 means no limit (one shard, as long as it
    /// stays under the format's 4 GiB).
    pub size_limit: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            compression: None,
            hashes: Vec::new(),
            size_limit: 1 << 26,
        }
    }
}

/// Writes samples into MDS shards in a folder.
#[derive(Debug)]
pub struct MdsWriter {
    /// Dataset folder.
    dir: PathBuf,
    /// Columns in stored (name-sorted) order.
    columns: Vec<Column>,
    /// Fixed size per column, `None` for variable-size columns.
    sizes: Vec<Option<usize>>,
    /// Compression, digests and size limit.
    options: WriterOptions,
    /// The digest names in the order the Python writer requires (sorted).
    hash_names: Vec<String>,
    /// The shard config JSON embedded in every shard.
    config: Vec<u8>,
    /// The current shard's sample bytes, concatenated.
    body: Vec<u8>,
    /// The current shard's sample sizes.
    sample_sizes: Vec<u32>,
    /// Scratch buffer for encoding one sample.
    scratch: Vec<u8>,
    /// Shards written so far.
    shards: Vec<ShardMeta>,
    /// Most shards stored on background threads at once (0: stored by the writing call).
    background: usize,
    /// Shards being stored on background threads, oldest first, with their sample counts; each
    /// thread hands its shard's buffer back.
    pending: VecDeque<(u64, JoinHandle<Result<StoredShard>>)>,
    /// Buffers of stored shards, reused for the next ones: a fresh buffer of a shard's size
    /// costs a page fault per page as it fills.
    spare_bodies: Vec<Vec<u8>>,
}

/// The raw and (when compressed) stored file of a shard.
type StoredFiles = (FileInfo, Option<FileInfo>);

/// A shard stored on a background thread: its files, and its buffer back for the next shard.
type StoredShard = (StoredFiles, Vec<u8>);

impl MdsWriter {
    /// Starts a dataset in `dir` (created if missing; an existing `index.json` there is an
    /// error). Columns are stored sorted by name, as the Python writer stores them.
    pub fn create(dir: &Path, columns: Vec<Column>, options: WriterOptions) -> Result<MdsWriter> {
        let bad = |message: String| MdsError::Index {
            path: dir.to_path_buf(),
            message,
        };
        let mut columns = columns;
        columns.sort_by(|a, b| a.name.cmp(&b.name));
        if columns.is_empty() {
            return Err(bad("a dataset needs at least one column".into()));
        }
        for pair in columns.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(bad(format!("column {:?} is given twice", pair[0].name)));
            }
        }
        for c in &columns {
            if Encoding::parse(&c.encoding.to_string()).ok().as_ref() != Some(&c.encoding) {
                return Err(bad(format!(
                    "column {:?}: an ndarray with a fixed shape needs a fixed dtype",
                    c.name
                )));
            }
        }
        let index = dir.join(INDEX_FILE);
        if index.exists() {
            return Err(MdsError::Index {
                path: index,
                message: "a dataset already exists here; remove it or write to a new folder".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(MdsError::io(dir))?;
        let mut hash_names: Vec<String> = options
            .hashes
            .iter()
            .map(|h| h.name().to_string())
            .collect();
        hash_names.sort();
        hash_names.dedup();
        let sizes: Vec<Option<usize>> = columns.iter().map(|c| c.encoding.fixed_size()).collect();
        let size_limit = (options.size_limit > 0).then_some(options.size_limit);
        let config = serde_json::json!({
            "column_encodings": columns.iter().map(|c| c.encoding.to_string()).collect::<Vec<_>>(),
            "column_names": columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "column_sizes": sizes,
            "compression": options.compression.map(|c| c.to_string()),
            "format": "mds",
            "hashes": hash_names,
            "size_limit": size_limit,
            "version": 2,
        });
        let mut config_bytes = Vec::new();
        crate::pyjson::write_value(&config, true, &mut config_bytes);
        Ok(MdsWriter {
            dir: dir.to_path_buf(),
            columns,
            sizes,
            options,
            hash_names,
            config: config_bytes,
            body: Vec::new(),
            sample_sizes: Vec::new(),
            scratch: Vec::new(),
            shards: Vec::new(),
            background: 0,
            pending: VecDeque::new(),
            spare_bodies: Vec::new(),
        })
    }

    /// Compresses, hashes and writes up to `shards` full shards at once on background threads
    /// while samples keep coming, instead of in the `write` call that fills a shard: compression
    /// is most of a writer's work, and this spreads it over cores. The files and index are the
    /// same either way; 0 (the default) stores shards in the calling thread.
    pub fn set_background_shards(&mut self, shards: usize) {
        self.background = shards;
    }

    /// The columns in stored (name-sorted) order: the order `write` and `write_encoded` take.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Appends one sample, its values in [`columns`](Self::columns) order.
    pub fn write(&mut self, sample: &[Value]) -> Result<()> {
        if sample.len() != self.columns.len() {
            return Err(self.count_error(sample.len()));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut bounds = Vec::with_capacity(sample.len());
        for (column, value) in self.columns.iter().zip(sample) {
            let start = scratch.len();
            column.encoding.encode(&column.name, value, &mut scratch)?;
            bounds.push(start..scratch.len());
        }
        let parts: Vec<&[u8]> = bounds.into_iter().map(|r| &scratch[r]).collect();
        let result = self.write_encoded(&parts);
        self.scratch = scratch;
        result
    }

    /// Appends one sample from already-encoded column bytes, in [`columns`](Self::columns)
    /// order (the fast path for generators and converters).
    pub fn write_encoded(&mut self, columns: &[&[u8]]) -> Result<()> {
        if columns.len() != self.columns.len() {
            return Err(self.count_error(columns.len()));
        }
        let mut size = 0usize;
        for ((column, fixed), bytes) in self.columns.iter().zip(&self.sizes).zip(columns) {
            match fixed {
                Some(n) if *n != bytes.len() => {
                    return Err(MdsError::Value {
                        column: column.name.clone(),
                        message: format!(
                            "{} value has {} bytes; the encoding stores exactly {n}",
                            column.encoding,
                            bytes.len()
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    if u32::try_from(bytes.len()).is_err() {
                        return Err(MdsError::Value {
                            column: column.name.clone(),
                            message: format!("a value of {} bytes exceeds 4 GiB", bytes.len()),
                        });
                    }
                    size += 4;
                }
            }
            size += bytes.len();
        }
        // As the Python writer: the shard's header and config, its samples, 4 bytes of offset
        // per sample, and this one.
        let limit = self.options.size_limit;
        if limit > 0 && !self.sample_sizes.is_empty() && self.shard_size() + size as u64 + 4 > limit
        {
            self.flush()?;
        }
        if self.shard_size() + size as u64 + 4 > u64::from(u32::MAX) {
            if self.sample_sizes.is_empty() {
                return Err(MdsError::Value {
                    column: String::new(),
                    message: format!("a sample of {size} bytes does not fit in a 4 GiB shard"),
                });
            }
            self.flush()?;
        }
        for ((bytes, fixed), _) in columns.iter().zip(&self.sizes).zip(&self.columns) {
            if fixed.is_none() {
                self.body
                    .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            }
        }
        for bytes in columns {
            self.body.extend_from_slice(bytes);
        }
        self.sample_sizes.push(size as u32);
        Ok(())
    }

    /// The size of every sample when all columns have a fixed size (the sum of their sizes), or
    /// `None` when some column is variable-size: the sample size
    /// [`write_fixed_samples`](Self::write_fixed_samples) takes.
    pub fn fixed_sample_size(&self) -> Option<usize> {
        self.sizes.iter().copied().sum()
    }

    /// Appends many samples at once from their encoded bytes, for datasets whose columns all
    /// have a fixed size: `samples` holds the samples back to back, each one its columns' bytes
    /// in [`columns`](Self::columns) order, [`fixed_sample_size`](Self::fixed_sample_size)
    /// bytes per sample. The shards are exactly those one `write_encoded` per sample makes;
    /// this path only skips the per-sample bookkeeping (a bulk copy per shard instead of one
    /// small copy per column and sample), which matters to generators writing millions of rows
    /// a second. Returns the number of samples written.
    pub fn write_fixed_samples(&mut self, samples: &[u8]) -> Result<usize> {
        let Some(size) = self.fixed_sample_size() else {
            return Err(MdsError::Value {
                column: self.column_list(),
                message: "write_fixed_samples needs columns that all have a fixed size".into(),
            });
        };
        if size == 0 || !samples.len().is_multiple_of(size) {
            return Err(MdsError::Value {
                column: self.column_list(),
                message: format!(
                    "{} bytes are not a whole number of {size}-byte samples",
                    samples.len()
                ),
            });
        }
        let count = samples.len() / size;
        let mut rest = samples;
        while !rest.is_empty() {
            // As `write_encoded`: a sample fits while the shard stays within the limit (and
            // 4 GiB); a sample is always accepted into an empty shard.
            let per_sample = size as u64 + 4;
            let limit = match self.options.size_limit {
                0 => u64::from(u32::MAX),
                l => l.min(u64::from(u32::MAX)),
            };
            let room = limit.saturating_sub(self.shard_size()) / per_sample;
            let room = if self.sample_sizes.is_empty() {
                room.max(1)
            } else {
                room
            };
            if room == 0 {
                self.flush()?;
                continue;
            }
            if self.sample_sizes.is_empty() && self.shard_size() + per_sample > u64::from(u32::MAX)
            {
                return Err(MdsError::Value {
                    column: String::new(),
                    message: format!("a sample of {size} bytes does not fit in a 4 GiB shard"),
                });
            }
            let take = (room as usize).min(rest.len() / size);
            let (now, later) = rest.split_at(take * size);
            if self.body.capacity() == 0 && self.options.size_limit > 0 {
                self.body.reserve(limit.min(1 << 30) as usize);
            }
            self.body.extend_from_slice(now);
            self.sample_sizes
                .extend(std::iter::repeat_n(size as u32, take));
            rest = later;
        }
        Ok(count)
    }

    /// The column names, comma-separated, for errors about whole samples.
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Flushes the last shard and writes `index.json`.
    pub fn finish(mut self) -> Result<Index> {
        if !self.sample_sizes.is_empty() {
            self.flush()?;
        }
        while !self.pending.is_empty() {
            self.join_oldest()?;
        }
        let index = Index {
            shards: std::mem::take(&mut self.shards),
            version: 2,
        };
        index.save(&self.dir)?;
        Ok(index)
    }

    /// Bytes the current shard would take, counted the way the Python writer counts them
    /// (8 header bytes, the config, and 4 offset bytes plus the data of each sample).
    fn shard_size(&self) -> u64 {
        8 + self.config.len() as u64 + self.body.len() as u64 + 4 * self.sample_sizes.len() as u64
    }

    /// The error for a sample with the wrong number of columns.
    fn count_error(&self, got: usize) -> MdsError {
        MdsError::Value {
            column: self
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            message: format!(
                "a sample has {got} values; the dataset has {} columns",
                self.columns.len()
            ),
        }
    }

    /// Writes the current shard (compressed and hashed) and records it, or hands it to a
    /// background thread that does (see [`set_background_shards`](Self::set_background_shards)).
    fn flush(&mut self) -> Result<()> {
        let n = self.sample_sizes.len();
        // The header (sample count, offsets, config) and the samples are stored as two parts:
        // the body is handed over as it is instead of being copied behind the header.
        let header_len = 4 * (n + 2) + self.config.len();
        let mut header = Vec::with_capacity(header_len);
        header.extend_from_slice(&(n as u32).to_le_bytes());
        let mut offset = header_len as u32;
        header.extend_from_slice(&offset.to_le_bytes());
        for size in &self.sample_sizes {
            offset += size;
            header.extend_from_slice(&offset.to_le_bytes());
        }
        header.extend_from_slice(&self.config);
        self.sample_sizes.clear();
        let shard = self.shards.len() + self.pending.len();
        let (compression, hashes) = (self.options.compression, self.options.hashes.clone());
        if self.background == 0 {
            let files = store_shard(
                &self.dir,
                shard,
                &[&header, &self.body],
                compression,
                &hashes,
            )?;
            self.body.clear();
            self.record(n as u64, files);
            return Ok(());
        }
        let next = match self.spare_bodies.pop() {
            Some(mut spare) => {
                spare.clear();
                spare
            }
            None => Vec::with_capacity(self.body.capacity()),
        };
        let body = std::mem::replace(&mut self.body, next);
        let dir = self.dir.clone();
        let store = move || {
            store_shard(&dir, shard, &[&header, &body], compression, &hashes)
                .map(|files| (files, body))
        };
        while self.pending.len() >= self.background {
            self.join_oldest()?;
        }
        self.pending
            .push_back((n as u64, std::thread::spawn(store)));
        Ok(())
    }

    /// Waits for the oldest background shard and records it.
    fn join_oldest(&mut self) -> Result<()> {
        if let Some((samples, handle)) = self.pending.pop_front() {
            let (files, body) = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            self.record(samples, files);
            self.spare_bodies.push(body);
        }
        Ok(())
    }

    /// Appends the metadata of the next shard, stored as `files`, to the index.
    fn record(&mut self, samples: u64, (raw_data, zip_data): StoredFiles) {
        self.shards.push(ShardMeta {
            column_encodings: self
                .columns
                .iter()
                .map(|c| c.encoding.to_string())
                .collect(),
            column_names: self.columns.iter().map(|c| c.name.clone()).collect(),
            column_sizes: self.sizes.iter().map(|s| s.map(|s| s as u64)).collect(),
            compression: self.options.compression.map(|c| c.to_string()),
            format: "mds".into(),
            hashes: self.hash_names.clone(),
            raw_data,
            samples,
            size_limit: (self.options.size_limit > 0).then_some(self.options.size_limit),
            version: 2,
            zip_data,
        });
    }
}

impl Drop for MdsWriter {
    /// Waits for background shards, so none is still writing after an abandoned writer.
    fn drop(&mut self) {
        for (_, handle) in self.pending.drain(..) {
            // Their results no longer matter: the dataset was not finished.
            let _ = handle.join();
        }
    }
}

/// Compresses (if asked), hashes and writes shard number `shard` of `dir` from its raw bytes,
/// the concatenation of `raw` (joined only when compressing).
fn store_shard(
    dir: &Path,
    shard: usize,
    raw: &[&[u8]],
    compression: Option<Compression>,
    hashes: &[HashAlgo],
) -> Result<StoredFiles> {
    let raw_basename = format!("shard.{shard:05}.mds");
    let raw_data = file_info(hashes, &raw_basename, raw);
    match compression {
        Some(c) => {
            let zipped = c.compress(&raw.concat())?;
            let name = format!("{raw_basename}.{}", c.extension());
            let zip_data = file_info(hashes, &name, &[&zipped]);
            write_atomic(&dir.join(&name), &zipped)?;
            Ok((raw_data, Some(zip_data)))
        }
        None => {
            write_atomic_parts(&dir.join(&raw_basename), raw)?;
            Ok((raw_data, None))
        }
    }
}

/// Size and digests of a stored file, the concatenation of `parts`.
fn file_info(hashes: &[HashAlgo], basename: &str, parts: &[&[u8]]) -> FileInfo {
    FileInfo {
        basename: basename.to_string(),
        bytes: parts.iter().map(|p| p.len() as u64).sum(),
        hashes: hashes
            .iter()
            .map(|algo| (algo.name().to_string(), algo.hex_digest_parts(parts)))
            .collect(),
    }
}
