//! One embedding table: its rows, its optimizer state, and access to single rows.
//!
//! Rows are addressed two ways. A *row index* is a position in the table (what sharding and
//! checkpoints move around). A feature *id* is what the data carries; the table's out-of-range
//! policy maps it to a row index (identity, modulo, or hash).

use crate::collection::PREFETCH_AHEAD;
use crate::config::{Init, TableConfig};
use crate::error::{EmbedError, Result};
use crate::optim::{Optimizer, RowUpdate};
use crate::pages;
use crate::random::{SplitMix, hash_name};
use crate::storage::{RowStore, prefetch_span};
use std::ops::Range;

/// The rows of one table and their optimizer state.
#[derive(Debug, Clone)]
pub struct EmbeddingTable {
    config: TableConfig,
    pub(crate) store: RowStore,
    /// `rows * state_per_row` f32 values; row `r`'s state is one contiguous run.
    pub(crate) state: Vec<f32>,
    state_per_row: usize,
    /// The whole table's first row this one holds: 0, unless it is a shard of a table split
    /// by rows over ranks.
    first_row: u64,
    /// Rows of the whole table this one is (a shard of).
    full_rows: u64,
}

impl EmbeddingTable {
    /// Builds and initialises a table for `optimizer`, after validating its configuration.
    #[cfg(test)]
    pub(crate) fn new(config: TableConfig, optimizer: &Optimizer) -> Result<Self> {
        let rows = 0..config.rows;
        Self::shard(config, rows, optimizer)
    }

    /// Builds rows `rows` of the table `config` describes (all of it when the range covers
    /// every row): the table holds `rows.end - rows.start` rows, row `i` of it being row
    /// `rows.start + i` of the whole table, initialised exactly as the whole table would
    /// initialise it. The shard's own configuration is `config` with that row count.
    pub(crate) fn shard(
        mut config: TableConfig,
        rows: Range<u64>,
        optimizer: &Optimizer,
    ) -> Result<Self> {
        config.validate()?;
        if rows.start >= rows.end || rows.end > config.rows {
            return Err(EmbedError::Config {
                table: config.name.clone(),
                reason: format!(
                    "shard rows {}..{} are empty or outside the table's {} rows",
                    rows.start, rows.end, config.rows
                ),
            });
        }
        let full_rows = config.rows;
        let seed = config.seed ^ hash_name(&config.name);
        let init = config.init;
        let bound = (1.0 / full_rows as f64).sqrt() as f32;
        let first_row = rows.start;
        config.rows = rows.end - rows.start;
        // `validate` checked that the whole table fits in memory, so the shard's rows fit in usize.
        let count = config.rows as usize;
        let store = RowStore::build(config.storage, count, config.dim, |row, out| {
            let mut rng = SplitMix::for_row(seed, first_row + row as u64);
            match init {
                Init::Uniform => out.iter_mut().for_each(|v| *v = rng.uniform(bound)),
                Init::Normal { std } => out.iter_mut().for_each(|v| *v = std * rng.normal()),
            }
        });
        let state_per_row = optimizer.state_per_row(config.dim);
        Ok(Self {
            store,
            state: pages::filled(count * state_per_row, 0.0),
            state_per_row,
            config,
            first_row,
            full_rows,
        })
    }

    /// The rows of the whole table this table holds: `0..rows()` unless it is a shard.
    pub fn row_range(&self) -> Range<u64> {
        self.first_row..self.first_row + self.config.rows
    }

    /// Rows of the whole table this one is a shard of (its own row count when it is whole).
    pub fn full_rows(&self) -> u64 {
        self.full_rows
    }

    /// Copies `count` rows starting at row `from` of `source` (same dim, storage and
    /// optimizer) into this table starting at row `to`, exactly as stored (no requantising),
    /// with their optimizer state: how rows move between shards when a checkpoint is loaded
    /// onto another world size.
    pub(crate) fn copy_rows(
        &mut self,
        to: usize,
        source: &RowStore,
        source_state: &[f32],
        from: usize,
        count: usize,
    ) {
        let spr = self.state_per_row;
        self.store
            .copy_rows(to, source, from, count, self.config.dim);
        self.state[to * spr..(to + count) * spr]
            .copy_from_slice(&source_state[from * spr..(from + count) * spr]);
    }

    /// The configuration the table was built from.
    pub fn config(&self) -> &TableConfig {
        &self.config
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Number of rows.
    pub fn rows(&self) -> u64 {
        self.config.rows
    }

    /// Length of each row.
    pub fn dim(&self) -> usize {
        self.config.dim
    }

    /// Bytes the rows occupy.
    pub fn param_bytes(&self) -> u64 {
        self.config.param_bytes()
    }

    /// Bytes the optimizer state occupies.
    pub fn state_bytes(&self) -> u64 {
        self.state.len() as u64 * 4
    }

    /// Number of optimizer state values per row (0 for SGD, 1 for row-wise Adagrad, `2 * dim`
    /// for Adam: the first moments, then the second moments).
    pub fn state_per_row(&self) -> usize {
        self.state_per_row
    }

    /// The row that feature id `id` maps to under the table's out-of-range policy, or `None`
    /// when the policy refuses it.
    #[inline]
    pub fn row_of(&self, id: u64) -> Option<u64> {
        self.config.row_of(id)
    }

    /// [`row_of`](Self::row_of) for an id already checked by [`TableConfig::bind`].
    #[inline]
    pub(crate) fn row_of_checked(&self, id: u64) -> usize {
        // Checked ids are below `rows`, which fits in usize.
        self.row_of(id).unwrap_or(0) as usize
    }

    fn row_index(&self, row: u64) -> Result<usize> {
        if row < self.config.rows {
            Ok(row as usize)
        } else {
            Err(EmbedError::RowOutOfRange {
                table: self.config.name.clone(),
                row,
                rows: self.config.rows,
            })
        }
    }

    fn check_len(&self, what: &str, expected: usize, found: usize) -> Result<()> {
        if expected == found {
            Ok(())
        } else {
            Err(EmbedError::Length {
                what: format!("{what} of embedding table '{}'", self.config.name),
                expected,
                found,
            })
        }
    }

    /// Copies row `row` (dequantised to f32) into `out`, which must hold `dim` values.
    pub fn read_row(&self, row: u64, out: &mut [f32]) -> Result<()> {
        let r = self.row_index(row)?;
        self.check_len("a row", self.dim(), out.len())?;
        self.store.read(r, out);
        Ok(())
    }

    /// Overwrites row `row` with `values` (`dim` of them), quantising as the storage requires.
    pub fn write_row(&mut self, row: u64, values: &[f32]) -> Result<()> {
        let r = self.row_index(row)?;
        self.check_len("a row", self.dim(), values.len())?;
        self.store.write(r, values);
        Ok(())
    }

    /// The optimizer state of row `row` ([`state_per_row`](Self::state_per_row) values).
    pub fn row_state(&self, row: u64) -> Result<&[f32]> {
        let r = self.row_index(row)?;
        Ok(&self.state[r * self.state_per_row..(r + 1) * self.state_per_row])
    }

    /// Overwrites the optimizer state of row `row`, e.g. when a row moves between shards.
    pub fn write_row_state(&mut self, row: u64, values: &[f32]) -> Result<()> {
        let r = self.row_index(row)?;
        self.check_len("a row's optimizer state", self.state_per_row, values.len())?;
        self.state[r * self.state_per_row..(r + 1) * self.state_per_row].copy_from_slice(values);
        Ok(())
    }

    /// Applies `update` to each row in `rows` (ascending, distinct, in range) with its gradient
    /// from `grads` (`rows.len() * dim` values); `scratch` holds `dim` values.
    #[inline]
    pub(crate) fn apply(
        &mut self,
        update: &RowUpdate,
        rows: &[usize],
        grads: &[f32],
        scratch: &mut [f32],
    ) {
        let (dim, spr) = (self.dim(), self.state_per_row);
        for (i, (&row, g)) in rows.iter().zip(grads.chunks_exact(dim)).enumerate() {
            if let Some(&ahead) = rows.get(i + PREFETCH_AHEAD) {
                self.store.prefetch(ahead, dim);
                prefetch_span(&self.state[ahead * spr..(ahead + 1) * spr]);
            }
            let state = &mut self.state[row * spr..(row + 1) * spr];
            self.store
                .update(row, scratch, |w| update.apply(w, g, state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutOfRange;
    use crate::storage::Storage;

    fn table(cfg: TableConfig) -> EmbeddingTable {
        EmbeddingTable::new(cfg, &Optimizer::adam(0.1)).unwrap()
    }

    #[test]
    fn uniform_init_respects_torchrec_bound_and_is_seeded() {
        let t = table(TableConfig::new("t", 400, 8, &["f"]));
        let bound = (1.0f32 / 400.0).sqrt();
        let mut row = vec![0.0; 8];
        let mut max = 0.0f32;
        for r in 0..400 {
            t.read_row(r, &mut row).unwrap();
            max = row.iter().fold(max, |m, v| m.max(v.abs()));
        }
        assert!(max <= bound && max > 0.9 * bound);
        let again = table(TableConfig::new("t", 400, 8, &["f"]));
        let other_name = table(TableConfig::new("u", 400, 8, &["f"]));
        let mut cfg = TableConfig::new("t", 400, 8, &["f"]);
        cfg.seed = 1;
        let other_seed = table(cfg);
        let (mut a, mut b) = (vec![0.0; 8], vec![0.0; 8]);
        t.read_row(5, &mut a).unwrap();
        again.read_row(5, &mut b).unwrap();
        assert_eq!(a, b);
        other_name.read_row(5, &mut b).unwrap();
        assert_ne!(a, b);
        other_seed.read_row(5, &mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn normal_init_has_the_requested_spread() {
        let mut cfg = TableConfig::new("n", 2000, 16, &["f"]);
        cfg.init = Init::Normal { std: 0.05 };
        let t = table(cfg);
        let mut row = vec![0.0; 16];
        let mut s2 = 0.0f64;
        for r in 0..2000 {
            t.read_row(r, &mut row).unwrap();
            s2 += row
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>();
        }
        let std = (s2 / 32_000.0).sqrt();
        assert!((std - 0.05).abs() < 0.002, "{std}");
    }

    #[test]
    fn policies_map_ids_to_rows() {
        let mut cfg = TableConfig::new("t", 10, 2, &["f"]);
        let strict = table(cfg.clone());
        assert_eq!(strict.row_of(9), Some(9));
        assert_eq!(strict.row_of(10), None);
        let err = strict
            .config()
            .check_ids("f", &[1, 12, 13])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'t'") && err.contains("'f'") && err.contains("id 12"),
            "{err}"
        );
        cfg.out_of_range = OutOfRange::Modulo;
        let modulo = table(cfg.clone());
        assert_eq!(modulo.row_of(23), Some(3));
        assert!(modulo.config().check_ids("f", &[u64::MAX]).is_ok());
        cfg.out_of_range = OutOfRange::Hash;
        let hashed = table(cfg);
        let rows: std::collections::HashSet<u64> =
            (0..1000).map(|id| hashed.row_of(id).unwrap()).collect();
        assert_eq!(rows.len(), 10, "1000 sequential ids should reach every row");
    }

    #[test]
    fn row_accessors_check_bounds_and_lengths() {
        let mut cfg = TableConfig::new("q", 3, 4, &["f"]);
        cfg.storage = Storage::F16;
        let mut t = table(cfg);
        t.write_row(2, &[0.5, -0.25, 1.0, 2.0]).unwrap();
        let mut out = vec![0.0; 4];
        t.read_row(2, &mut out).unwrap();
        assert_eq!(out, vec![0.5, -0.25, 1.0, 2.0]);
        let err = t.read_row(3, &mut out).unwrap_err().to_string();
        assert!(err.contains("'q'") && err.contains("row 3"), "{err}");
        assert!(
            t.write_row(0, &[1.0])
                .unwrap_err()
                .to_string()
                .contains("expected 4")
        );
        assert_eq!(t.state_per_row(), 8);
        t.write_row_state(1, &[1.0; 8]).unwrap();
        assert_eq!(t.row_state(1).unwrap(), &[1.0; 8]);
        assert_eq!(t.row_state(0).unwrap(), &[0.0; 8]);
        assert!(t.write_row_state(1, &[1.0; 4]).is_err());
        assert_eq!(t.param_bytes(), 3 * 4 * 2);
        assert_eq!(t.state_bytes(), 3 * 8 * 4);
    }
}
