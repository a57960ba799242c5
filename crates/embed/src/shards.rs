//! Checkpoints of a collection split over ranks, and loading them onto any other split.
//!
//! When tables are sharded over the ranks of a distributed run, every rank saves the rows it
//! holds, and no rank ever holds a whole large table. Each rank writes two files into the
//! checkpoint folder:
//!
//! ```text
//! STEM.rank-00003.bin    the rank's collection in the ordinary checkpoint format
//! STEM.rank-00003.json   {"rank": 3, "tables": [{"name", "first_row", "rows", "full_rows"}, ...]}
//! ```
//!
//! The JSON file is written after the binary one, each atomically, so a rank's shard counts
//! only once both are complete. [`EmbeddingCollection::load_shards`] fills a collection —
//! whole tables, or this rank's shards under a new world size — from whichever saved shards
//! overlap its rows, one source table at a time (so memory stays at one source shard beyond
//! the collection itself), copying rows exactly as stored. This is how a run checkpointed on
//! two ranks resumes on four, and how a single process loads a distributed run's model for
//! evaluation and serving.

use crate::checkpoint::{CountingReader, io_error, open};
use crate::collection::EmbeddingCollection;
use crate::error::{EmbedError, Result};
use crate::storage::{RowStore, Storage, read_f32s};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The sidecar of one rank's shard file: which rows of which tables it holds, in file order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardIndex {
    rank: usize,
    tables: Vec<ShardEntry>,
}

/// One table of a shard file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardEntry {
    name: String,
    first_row: u64,
    rows: u64,
    full_rows: u64,
}

impl ShardEntry {
    fn range(&self) -> Range<u64> {
        self.first_row..self.first_row.saturating_add(self.rows)
    }
}

fn shard_path(dir: &Path, stem: &str, rank: usize, ext: &str) -> PathBuf {
    dir.join(format!("{stem}.rank-{rank:05}.{ext}"))
}

/// Whether the folder `dir` holds shard files of the collection saved as `stem`.
pub fn has_shards(dir: &Path, stem: &str) -> bool {
    shard_indexes(dir, stem).is_ok_and(|found| !found.is_empty())
}

/// The shard index files of `stem` in `dir`, sorted by rank.
fn shard_indexes(dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let prefix = format!("{stem}.rank-");
    let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".json"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The overlap of two row ranges, if any.
fn overlap(a: &Range<u64>, b: &Range<u64>) -> Option<Range<u64>> {
    let r = a.start.max(b.start)..a.end.min(b.end);
    (r.start < r.end).then_some(r)
}

impl EmbeddingCollection {
    /// Saves the rows this collection holds as rank `rank`'s shard of the collection `stem`
    /// in the folder `dir` (see the module documentation).
    pub fn save_shard(&self, dir: &Path, stem: &str, rank: usize) -> Result<()> {
        self.save(shard_path(dir, stem, rank, "bin"))?;
        let index = ShardIndex {
            rank,
            tables: self
                .tables
                .iter()
                .map(|t| ShardEntry {
                    name: t.name().to_string(),
                    first_row: t.row_range().start,
                    rows: t.rows(),
                    full_rows: t.full_rows(),
                })
                .collect(),
        };
        let path = shard_path(dir, stem, rank, "json");
        let text = serde_json::to_vec_pretty(&index).map_err(|e| EmbedError::Checkpoint {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io_error(&path))
    }

    /// Fills every table's rows and optimizer state, and the optimizer step, from the shards
    /// of the collection `stem` saved in `dir` by any number of ranks. Every row this
    /// collection holds must be in some shard, with the same dim, storage and optimizer; the
    /// error names the table and the rows missing. On error the collection is partly loaded
    /// and should be discarded.
    pub fn load_shards(&mut self, dir: &Path, stem: &str) -> Result<()> {
        let indexes = shard_indexes(dir, stem)?;
        if indexes.is_empty() {
            return Err(EmbedError::Checkpoint {
                path: dir.to_path_buf(),
                reason: format!("no shard files {stem}.rank-*.json"),
            });
        }
        let mut covered: Vec<Vec<Range<u64>>> = vec![Vec::new(); self.tables.len()];
        let mut step: Option<u64> = None;
        for index_path in indexes {
            let text = std::fs::read(&index_path).map_err(io_error(&index_path))?;
            let index: ShardIndex =
                serde_json::from_slice(&text).map_err(|e| EmbedError::Checkpoint {
                    path: index_path.clone(),
                    reason: e.to_string(),
                })?;
            let needed = index.tables.iter().any(|entry| {
                self.tables.iter().any(|t| {
                    t.name() == entry.name && overlap(&t.row_range(), &entry.range()).is_some()
                })
            });
            if !needed {
                continue;
            }
            let bin = shard_path(dir, stem, index.rank, "bin");
            let file_step = self.copy_from_shard(&bin, &index, &mut covered)?;
            if step.is_some_and(|s| s != file_step) {
                return Err(EmbedError::Checkpoint {
                    path: bin,
                    reason: format!(
                        "optimizer step {file_step}, but another shard is at step {}",
                        step.unwrap_or_default()
                    ),
                });
            }
            step = Some(file_step);
        }
        if let Some((table, missing)) = self.first_uncovered(&mut covered) {
            return Err(EmbedError::Checkpoint {
                path: dir.to_path_buf(),
                reason: format!(
                    "no shard of '{stem}' holds rows {}..{} of table '{table}'",
                    missing.start, missing.end
                ),
            });
        }
        self.step = step.unwrap_or_default();
        Ok(())
    }

    /// Fills this collection's rows (whole tables or shards) from the ordinary, whole-table
    /// checkpoint file `path` of a single process — how a run checkpointed by one process
    /// continues on several ranks. Every table must be in the file.
    pub fn load_rows_from(&mut self, path: &Path) -> Result<()> {
        let (_, file) = open(path)?;
        let index = ShardIndex {
            rank: 0,
            tables: file
                .tables
                .iter()
                .map(|h| ShardEntry {
                    name: h.name.clone(),
                    first_row: 0,
                    rows: h.rows,
                    full_rows: h.rows,
                })
                .collect(),
        };
        let mut covered: Vec<Vec<Range<u64>>> = vec![Vec::new(); self.tables.len()];
        self.step = self.copy_from_shard(path, &index, &mut covered)?;
        if let Some((table, _)) = self.first_uncovered(&mut covered) {
            return Err(EmbedError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("it has no table '{table}'"),
            });
        }
        Ok(())
    }

    /// The first table whose rows `covered` (the ranges copied into each table) leaves a gap
    /// in, with the first missing rows; `None` when every row was copied.
    fn first_uncovered(&self, covered: &mut [Vec<Range<u64>>]) -> Option<(String, Range<u64>)> {
        self.tables.iter().zip(covered).find_map(|(table, ranges)| {
            ranges.sort_by_key(|r| r.start);
            let mut next = table.row_range().start;
            for r in ranges.iter() {
                if r.start > next {
                    break;
                }
                next = next.max(r.end);
            }
            (next < table.row_range().end)
                .then(|| (table.name().to_string(), next..table.row_range().end))
        })
    }

    /// Copies the rows of the shard file `bin` that this collection holds, recording them in
    /// `covered`; returns the file's optimizer step.
    fn copy_from_shard(
        &mut self,
        bin: &Path,
        index: &ShardIndex,
        covered: &mut [Vec<Range<u64>>],
    ) -> Result<u64> {
        let bad = |reason: String| EmbedError::Checkpoint {
            path: bin.to_path_buf(),
            reason,
        };
        let (mut r, file) = open(bin)?;
        self.check_optimizer(bin, file.optimizer_tag)?;
        if file.tables.len() != index.tables.len() {
            return Err(bad(format!(
                "it holds {} tables, its index lists {}",
                file.tables.len(),
                index.tables.len()
            )));
        }
        let mine = self.headers();
        for (header, entry) in file.tables.iter().zip(&index.tables) {
            if header.name != entry.name || header.rows != entry.rows {
                return Err(bad(format!(
                    "table '{}' ({} rows) does not match its index entry '{}' ({} rows)",
                    header.name, header.rows, entry.name, entry.rows
                )));
            }
            let same_table = self.tables.iter().position(|t| t.name() == entry.name);
            if let Some(t) = same_table
                && self.tables[t].full_rows() != entry.full_rows
            {
                return Err(bad(format!(
                    "table '{}' has {} rows in the checkpoint, {} in the collection",
                    entry.name,
                    entry.full_rows,
                    self.tables[t].full_rows()
                )));
            }
            let target = same_table
                .and_then(|t| overlap(&self.tables[t].row_range(), &entry.range()).map(|o| (t, o)));
            let Some((t, rows)) = target else {
                skip(&mut r, header.body_bytes().unwrap_or(0)).map_err(io_error(bin))?;
                continue;
            };
            let want = &mine[t];
            if (header.dim, header.storage, header.state_per_row)
                != (want.dim, want.storage, want.state_per_row)
            {
                return Err(bad(format!(
                    "table '{}': {}",
                    want.name,
                    header.difference(want)
                )));
            }
            let storage = Storage::from_tag(header.storage)
                .ok_or_else(|| bad(format!("table '{}': unknown storage", header.name)))?;
            let dim = header.dim as usize;
            let count = usize::try_from(header.rows)
                .map_err(|_| bad(format!("table '{}' has too many rows", header.name)))?;
            let mut store = RowStore::build(storage, count, dim, |_, _| {});
            let mut state = vec![0.0f32; count * header.state_per_row as usize];
            store.load(&mut r).map_err(io_error(bin))?;
            read_f32s(&mut r, &mut state).map_err(io_error(bin))?;
            let table = &mut self.tables[t];
            let to = (rows.start - table.row_range().start) as usize;
            let from = (rows.start - entry.first_row) as usize;
            table.copy_rows(to, &store, &state, from, (rows.end - rows.start) as usize);
            covered[t].push(rows);
        }
        Ok(file.step)
    }
}

/// Reads past `bytes` bytes of `r`.
fn skip<R: Read>(r: &mut CountingReader<R>, bytes: u64) -> std::io::Result<()> {
    let copied = std::io::copy(&mut r.by_ref().take(bytes), &mut std::io::sink())?;
    if copied == bytes {
        Ok(())
    } else {
        Err(std::io::ErrorKind::UnexpectedEof.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::TableShard;
    use crate::config::TableConfig;
    use crate::optim::Optimizer;
    use cascade_core::KeyedJagged;

    fn configs(storage: Storage) -> Vec<TableConfig> {
        let mut a = TableConfig::new("users", 10, 4, &["user"]);
        a.storage = storage;
        let mut b = TableConfig::new("items", 7, 3, &["item"]);
        b.storage = storage;
        vec![a, b]
    }

    /// The collection holding, of each table, the rows of `ranges` (one per table).
    fn split(storage: Storage, ranges: &[Range<u64>]) -> EmbeddingCollection {
        let shards = configs(storage)
            .into_iter()
            .zip(ranges)
            .map(|(config, rows)| TableShard {
                config,
                rows: rows.clone(),
            })
            .collect();
        EmbeddingCollection::from_shards(shards, Optimizer::rowwise_adagrad(0.1)).unwrap()
    }

    fn rows_of(c: &EmbeddingCollection, table: usize) -> Vec<(Vec<f32>, Vec<f32>)> {
        let t = &c.tables()[table];
        (0..t.rows())
            .map(|r| {
                let mut row = vec![0.0; t.dim()];
                t.read_row(r, &mut row).unwrap();
                (row, t.row_state(r).unwrap().to_vec())
            })
            .collect()
    }

    /// A whole collection after one update, so rows and state differ from a fresh one.
    fn trained(storage: Storage) -> EmbeddingCollection {
        let mut whole =
            EmbeddingCollection::new(configs(storage), Optimizer::rowwise_adagrad(0.1)).unwrap();
        let kj = KeyedJagged::new(
            vec!["user".into(), "item".into()],
            2,
            vec![1, 9, 3, 0, 6, 6],
            vec![0, 2, 3, 4, 6],
            None,
        )
        .unwrap();
        let grad: Vec<f32> = (0..2 * whole.width())
            .map(|i| i as f32 * 0.1 - 0.3)
            .collect();
        whole.backward_update(&kj, &grad).unwrap();
        whole
    }

    #[test]
    fn a_shard_starts_as_the_same_rows_of_the_whole_table() {
        for storage in [Storage::F32, Storage::F16, Storage::Int8] {
            let whole = EmbeddingCollection::new(configs(storage), Optimizer::rowwise_adagrad(0.1))
                .unwrap();
            let part = split(storage, &[4..9, 2..7]);
            assert_eq!(rows_of(&part, 0), rows_of(&whole, 0)[4..9].to_vec());
            assert_eq!(rows_of(&part, 1), rows_of(&whole, 1)[2..7].to_vec());
            assert_eq!(part.tables()[0].row_range(), 4..9);
            assert_eq!(part.tables()[0].full_rows(), 10);
        }
    }

    #[test]
    fn shards_saved_by_two_ranks_load_onto_three_and_onto_one() {
        for storage in [Storage::F32, Storage::Int8] {
            let whole = trained(storage);
            let dir = tempfile::tempdir().unwrap();
            // Two ranks: rank 0 holds users 0..5 and all items, rank 1 users 5..10.
            let mut rank0 = split(storage, &[0..5, 0..7]);
            let mut rank1 = EmbeddingCollection::from_shards(
                vec![TableShard {
                    config: configs(storage).remove(0),
                    rows: 5..10,
                }],
                Optimizer::rowwise_adagrad(0.1),
            )
            .unwrap();
            for (part, rank) in [(&mut rank0, 0), (&mut rank1, 1)] {
                for t in 0..part.tables().len() {
                    let name = part.tables()[t].name().to_string();
                    let range = part.tables()[t].row_range();
                    let src = whole.table(&name).unwrap();
                    let dst = part.table_mut(&name).unwrap();
                    for r in range.clone() {
                        let mut row = vec![0.0; src.dim()];
                        src.read_row(r, &mut row).unwrap();
                        dst.write_row(r - range.start, &row).unwrap();
                        let state = src.row_state(r).unwrap().to_vec();
                        dst.write_row_state(r - range.start, &state).unwrap();
                    }
                }
                part.step = whole.step();
                part.save_shard(dir.path(), "embeddings", rank).unwrap();
            }
            assert!(has_shards(dir.path(), "embeddings"));
            let mut one =
                EmbeddingCollection::new(configs(storage), Optimizer::rowwise_adagrad(0.1))
                    .unwrap();
            one.load_shards(dir.path(), "embeddings").unwrap();
            assert_eq!(rows_of(&one, 0), rows_of(&whole, 0));
            assert_eq!(rows_of(&one, 1), rows_of(&whole, 1));
            assert_eq!(one.step(), whole.step());
            // Rank 1 of 3 holds users 4..7 (crossing the old boundary) and items 3..5.
            let mut middle = split(storage, &[4..7, 3..5]);
            middle.load_shards(dir.path(), "embeddings").unwrap();
            assert_eq!(rows_of(&middle, 0), rows_of(&whole, 0)[4..7].to_vec());
            assert_eq!(rows_of(&middle, 1), rows_of(&whole, 1)[3..5].to_vec());
        }
    }

    #[test]
    fn shards_of_a_table_of_another_size_are_refused() {
        // A 12-row table's shards cover every row of a 10-row one, but are not its rows.
        let dir = tempfile::tempdir().unwrap();
        let mut larger = configs(Storage::F32);
        larger[0].rows = 12;
        EmbeddingCollection::new(larger, Optimizer::rowwise_adagrad(0.1))
            .unwrap()
            .save_shard(dir.path(), "embeddings", 0)
            .unwrap();
        let mut whole =
            EmbeddingCollection::new(configs(Storage::F32), Optimizer::rowwise_adagrad(0.1))
                .unwrap();
        let err = whole.load_shards(dir.path(), "embeddings").unwrap_err();
        assert!(
            err.to_string()
                .contains("table 'users' has 12 rows in the checkpoint, 10 in the collection"),
            "{err}"
        );
    }

    #[test]
    fn missing_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        split(Storage::F32, &[0..5, 0..7])
            .save_shard(dir.path(), "embeddings", 0)
            .unwrap();
        let mut whole =
            EmbeddingCollection::new(configs(Storage::F32), Optimizer::rowwise_adagrad(0.1))
                .unwrap();
        let err = whole.load_shards(dir.path(), "embeddings").unwrap_err();
        assert!(
            err.to_string().contains("rows 5..10 of table 'users'"),
            "{err}"
        );
        let err = whole.load_shards(dir.path(), "first_order").unwrap_err();
        assert!(
            err.to_string()
                .contains("no shard files first_order.rank-*.json"),
            "{err}"
        );
        let mut adam =
            EmbeddingCollection::new(configs(Storage::F32), Optimizer::adam(0.1)).unwrap();
        let err = adam.load_shards(dir.path(), "embeddings").unwrap_err();
        assert!(err.to_string().contains("state"), "{err}");
    }
}
