//! DLRM-shaped click data (like Criteo's): dense float features, Zipf-distributed ids in many
//! sparse tables (one id or a bag per table), and a click label drawn from a hidden model, with
//! held-out `val` and `test` splits and the hidden model's own AUC (the ceiling) in the
//! manifest.
//!
//! Columns, named and encoded like the Criteo converter's: `label` (`int`, 0 or 1), `dense`
//! (`ndarray:float32:D`; standard normal values, so no transform is needed), and per table
//! `C1`, `C2`, ... (`int` for one id, `ndarray:int64` for a bag; ids are `0..cardinality`,
//! id 0 the most frequent). `train` holds the first rows, then `val`, then `test`.
//!
//! The parallel scheme, and why: rows are generated in fixed chunks of [`CHUNK_ROWS`], each
//! from random streams keyed by the seed and the chunk index (see [`generate_chunk`]), so the
//! bytes do not depend on the number of threads. Generating threads (as many as the rayon pool
//! has) each take the next chunk index as soon as they are free, with no batch boundary where
//! one waits for another; each chunk is also laid out as whole MDS samples on its generating
//! thread (one id per table), so the single writer, which must append the rows in chunk order,
//! only copies each chunk into the shard buffer in bulk (bags are appended row by row). Written
//! chunks go back to the generators to be refilled, which bounds the chunks in flight and
//! spares each one fresh pages. Full shards go to background threads to compress (when asked),
//! hash and store; with zstd that is most of the work.

mod chunk;
mod config;
mod model;
#[cfg(test)]
mod tests;

pub use chunk::{CHUNK_ROWS, DlrmChunk, TableBytes, generate_chunk};
pub use config::DlrmConfig;
pub use model::HiddenModel;

use crate::auc::{AucEstimate, AucHistogram};
use crate::error::Result;
use crate::output::{SplitWriter, Staging};
use crate::zipf::Zipf;
use cascade_data::manifest::MANIFEST_VERSION;
use cascade_data::{DatasetManifest, DenseFeature, SparseFeature, SplitInfo};
use cascade_mds::{Column, DType, Encoding, WriterOptions};
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

/// Name of table `t`'s column and sparse feature: `C1`, `C2`, ... as the Criteo converter
/// names them, so configurations written for converted Criteo data read synthetic data too.
pub fn table_column(t: usize) -> String {
    format!("C{}", t + 1)
}

/// The dataset's columns, named and encoded as the Criteo converter writes them: `label`
/// (`int`), `dense` (`ndarray:float32:D`, if any), then one per table (`int`, or a
/// variable-length `ndarray:int64` for bags).
fn columns(config: &DlrmConfig) -> Vec<Column> {
    let mut columns = vec![Column {
        name: "label".into(),
        encoding: Encoding::Int,
    }];
    if config.dense > 0 {
        columns.push(Column {
            name: "dense".into(),
            encoding: Encoding::NdArray {
                dtype: Some(DType::F32),
                shape: Some(vec![config.dense]),
            },
        });
    }
    for t in 0..config.tables() {
        let encoding = if config.multi_hot() {
            Encoding::NdArray {
                dtype: Some(DType::I64),
                shape: None,
            }
        } else {
            Encoding::Int
        };
        columns.push(Column {
            name: table_column(t),
            encoding,
        });
    }
    columns
}

/// Each table's id distribution; tables of the same cardinality share one (and its alias
/// table), so 26 tables of 100 000 ids build a single table.
pub fn table_zipfs(config: &DlrmConfig) -> Vec<Zipf> {
    let mut distinct: Vec<Zipf> = Vec::new();
    config
        .cardinalities
        .iter()
        .map(|&n| match distinct.iter().find(|z| z.cardinality() == n) {
            Some(zipf) => zipf.clone(),
            None => {
                let zipf = Zipf::new(n, config.zipf);
                distinct.push(zipf.clone());
                zipf
            }
        })
        .collect()
}

/// One split being written: its rows are `first_row..end_row` of the generated sequence.
struct Split {
    name: &'static str,
    end_row: u64,
    writer: SplitWriter,
    histogram: AucHistogram,
}

/// A finished split: name, sample count and ceiling histogram.
type Finished = (&'static str, u64, AucHistogram);

/// The finished splits.
type Written = Vec<Finished>;

/// Generates the dataset described by `config` into the folder `out` (which must not exist
/// unless `replace` is set) and returns its manifest, whose `extra` holds the ceiling AUC and
/// positive rate. Generates on as many threads as the current rayon pool has; the output does
/// not depend on their number.
pub fn generate(config: &DlrmConfig, out: &Path, replace: bool) -> Result<DatasetManifest> {
    config.validate()?;
    let staging = Staging::new(out, replace)?;
    let model = HiddenModel::new(config);
    let zipfs = table_zipfs(config);
    let options = WriterOptions {
        compression: config.compression,
        hashes: config.hashes.clone(),
        ..WriterOptions::default()
    };
    let mut splits = Vec::new();
    let mut end_row = 0;
    for (name, rows) in [
        ("train", config.train_rows()),
        ("val", config.val_rows()),
        ("test", config.test_rows()),
    ] {
        if rows == 0 {
            continue;
        }
        end_row += rows;
        let mut writer =
            SplitWriter::create(&staging.path().join(name), columns(config), options.clone())?;
        writer.set_background_shards(rayon::current_num_threads());
        splits.push(Split {
            name,
            end_row,
            writer,
            histogram: AucHistogram::default(),
        });
    }

    // Stored position of each column, the same in every split (they have the same columns).
    let positions: Vec<usize> = match splits.first() {
        Some(split) => (0..split.writer.width())
            .map(|c| split.writer.position(c))
            .collect(),
        None => Vec::new(),
    };
    let chunks = config.rows.div_ceil(CHUNK_ROWS);
    let generators = rayon::current_num_threads();
    // Chunks in flight (being generated, or generated and waiting for their turn to be
    // written): each holds a set of buffers that comes back once written, so memory stays
    // bounded and no chunk pays for fresh pages. More than one per generator, so that no
    // generator waits while the writer waits for the next chunk in order.
    let (spare_sender, spare_receiver) = mpsc::channel::<DlrmChunk>();
    for _ in 0..2 * generators + 1 {
        let _ = spare_sender.send(DlrmChunk::default());
    }
    let spare_receiver = Mutex::new(spare_receiver);
    let next_chunk = AtomicU64::new(0);
    let (done_sender, done_receiver) = mpsc::channel::<(u64, Result<DlrmChunk>)>();
    // Generators are threads of their own, as many as the rayon pool has, rather than pool
    // tasks: the writer blocks while it waits for the next chunk, and the caller may be the
    // pool's only thread.
    let written = std::thread::scope(|threads| {
        for _ in 0..generators {
            let done_sender = done_sender.clone();
            let (spares, next_chunk) = (&spare_receiver, &next_chunk);
            let (model, zipfs, positions) = (&model, &zipfs, &positions);
            threads.spawn(move || {
                // Ends when every chunk is taken, or when the writer has stopped (its channels
                // are closed).
                while let Some(mut chunk) = spares.lock().ok().and_then(|r| r.recv().ok()) {
                    let k = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if k >= chunks {
                        break;
                    }
                    let filled = chunk.fill(config, model, zipfs, k).map(|()| {
                        chunk.interleave(positions);
                        chunk
                    });
                    if done_sender.send((k, filled)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_sender);
        write_chunks(threads, done_receiver, spare_sender, chunks, splits)
    })?;

    let manifest = manifest(config, &model, &written);
    manifest.save(staging.path())?;
    staging.commit()?;
    Ok(manifest)
}

/// The writer: takes the generated chunks as they come, appends every row of every chunk, in
/// chunk order, to its split, and hands each written chunk back to the generators through
/// `spares`. A split is finished (its last shard stored, its index written) on a thread of its
/// own as soon as the rows move on to the next split. Returns at the first error, which closes
/// both channels and so stops the generators.
fn write_chunks<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    generated: mpsc::Receiver<(u64, Result<DlrmChunk>)>,
    spares: mpsc::Sender<DlrmChunk>,
    chunks: u64,
    splits: Vec<Split>,
) -> Result<Written> {
    let mut splits: VecDeque<Split> = splits.into();
    let width = splits.front().map_or(0, |s| s.writer.width());
    // Every split has the same columns, so the same stored positions.
    let positions: Vec<usize> = match splits.front() {
        Some(split) => (0..width).map(|c| split.writer.position(c)).collect(),
        None => Vec::new(),
    };
    let mut finishing = Vec::new();
    // Chunks generated ahead of their turn, by index.
    let mut waiting = BTreeMap::new();
    'chunks: for next in 0..chunks {
        let chunk = loop {
            if let Some(chunk) = waiting.remove(&next) {
                break chunk;
            }
            // A closed channel with chunks missing means a generator panicked; the panic is
            // raised again once the generators are joined.
            let Ok((k, chunk)) = generated.recv() else {
                break 'chunks;
            };
            waiting.insert(k, chunk?);
        };
        if !chunk.samples.is_empty() {
            write_samples(scope, &mut splits, &mut finishing, &chunk)?;
            let _ = spares.send(chunk);
            continue;
        }
        let mut slots: Vec<&[u8]> = vec![&[]; width];
        let dense_bytes = chunk.dense.len() / chunk.rows.max(1);
        for r in 0..chunk.rows {
            // Columns in `columns` order: label, dense (when present), tables.
            let mut next = positions.iter();
            let mut slot = || next.next().copied().unwrap_or(0);
            slots[slot()] = chunk.label_bytes(r);
            if dense_bytes > 0 {
                slots[slot()] = &chunk.dense[r * dense_bytes..(r + 1) * dense_bytes];
            }
            for table in &chunk.tables {
                slots[slot()] = table.row(r);
            }
            let row = chunk.first_row + r as u64;
            while splits.len() > 1 && splits.front().is_some_and(|s| row >= s.end_row) {
                if let Some(done) = splits.pop_front() {
                    finishing.push(scope.spawn(move || finish(done)));
                }
            }
            if let Some(split) = splits.front_mut() {
                split.writer.write(&slots)?;
                split.histogram.add(chunk.bins[r], chunk.label(r));
            }
        }
        let _ = spares.send(chunk);
    }
    let mut written = Vec::new();
    for handle in finishing {
        written.push(
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
        );
    }
    for split in splits {
        written.push(finish(split)?);
    }
    Ok(written)
}

/// Appends a chunk laid out as whole samples ([`DlrmChunk::interleave`]): each split's part
/// of it in one bulk write. A split the rows have moved past is finished on a thread of its own.
fn write_samples<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    splits: &mut VecDeque<Split>,
    finishing: &mut Vec<std::thread::ScopedJoinHandle<'scope, Result<Finished>>>,
    chunk: &DlrmChunk,
) -> Result<()> {
    let sample = chunk.samples.len() / chunk.rows.max(1);
    let mut r = 0;
    while r < chunk.rows {
        let row = chunk.first_row + r as u64;
        while splits.len() > 1 && splits.front().is_some_and(|s| row >= s.end_row) {
            if let Some(done) = splits.pop_front() {
                finishing.push(scope.spawn(move || finish(done)));
            }
        }
        let Some(split) = splits.front_mut() else {
            break;
        };
        // The rows of this chunk that belong to the current split (at least one, as the row
        // by row path, which appends to the last split whatever its end).
        let left = split.end_row.saturating_sub(row).max(1);
        let end = r + left.min((chunk.rows - r) as u64) as usize;
        split
            .writer
            .write_samples(&chunk.samples[r * sample..end * sample])?;
        for i in r..end {
            split.histogram.add(chunk.bins[i], chunk.label(i));
        }
        r = end;
    }
    Ok(())
}

/// Finishes a split's dataset: its name, sample count and ceiling histogram.
fn finish(split: Split) -> Result<Finished> {
    Ok((split.name, split.writer.finish()?, split.histogram))
}

/// The manifest of a generated dataset, with the generator's settings and the ceiling in
/// `extra`.
fn manifest(config: &DlrmConfig, model: &HiddenModel, written: &Written) -> DatasetManifest {
    let mut splits = BTreeMap::new();
    let mut by_split = Map::new();
    let mut all = AucHistogram::default();
    for (name, samples, histogram) in written {
        splits.insert(
            name.to_string(),
            SplitInfo {
                path: name.to_string(),
                samples: *samples,
            },
        );
        by_split.insert(
            name.to_string(),
            ceiling_json(&histogram.estimate(), *samples),
        );
        all.merge(histogram);
    }
    let ceiling = all.estimate();
    let mut extra = Map::new();
    extra.insert("generator".into(), json!("dlrm"));
    extra.insert("ceiling_auc".into(), json!(ceiling.auc));
    extra.insert("ceiling_auc_max_error".into(), json!(ceiling.max_error));
    extra.insert("positive_rate".into(), json!(ceiling.positive_rate()));
    extra.insert("by_split".into(), Json::Object(by_split));
    extra.insert(
        "ceiling_note".into(),
        json!("AUC of the hidden model's true click probability against the drawn labels: the best any model can reach on these rows"),
    );
    extra.insert(
        "parameters".into(),
        json!({
            "seed": config.seed,
            "rows": config.rows,
            "dense": config.dense,
            "cardinalities": config.cardinalities,
            "multi_hot": [config.bag.0, config.bag.1],
            "zipf": config.zipf,
            "val_fraction": config.val_fraction,
            "test_fraction": config.test_fraction,
            "positive_rate_target": config.positive_rate,
            "signal": config.signal,
            "chunk_rows": CHUNK_ROWS,
        }),
    );
    extra.insert("hidden_model".into(), model.describe());
    DatasetManifest {
        version: MANIFEST_VERSION,
        source: "synth:dlrm".into(),
        splits,
        label: Some("label".into()),
        dense: if config.dense > 0 {
            vec![DenseFeature {
                column: "dense".into(),
                width: config.dense,
            }]
        } else {
            vec![]
        },
        sparse: config
            .cardinalities
            .iter()
            .enumerate()
            .map(|(t, &cardinality)| SparseFeature {
                name: table_column(t),
                column: table_column(t),
                cardinality,
                vocab: None,
                multi_hot: config.multi_hot(),
            })
            .collect(),
        extra,
    }
}

/// One split's ceiling as JSON.
fn ceiling_json(estimate: &AucEstimate, samples: u64) -> Json {
    json!({
        "samples": samples,
        "ceiling_auc": estimate.auc,
        "ceiling_auc_max_error": estimate.max_error,
        "positive_rate": estimate.positive_rate(),
    })
}
