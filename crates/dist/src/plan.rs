//! The sharding planner: where each embedding table lives across the ranks of a job, within a
//! per-rank memory budget. Pure logic, deterministic: the same tables, world size, budget and
//! thresholds always give the same plan, so every rank can compute it independently.

use cascade_embed::{Optimizer, Storage};
use serde::Serialize;
use std::ops::Range;

/// One embedding table to place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableSpec {
    /// The table's name (its sparse feature).
    pub name: String,
    /// Rows (ids) of the table.
    pub rows: u64,
    /// Elements per row (the embedding dimension).
    pub dim: usize,
    /// Row storage: 4 bytes per element for `f32`, 2 for `f16`, 1 plus an `f32` scale and an
    /// `f32` bias per row for `int8`.
    pub storage: Storage,
    /// Sparse optimizer, whose per-row state lives with the row: none for SGD, one `f32` per
    /// row for row-wise Adagrad, two `f32` per element for Adam.
    pub optimizer: Optimizer,
}

impl TableSpec {
    /// Bytes one row takes with its optimizer state.
    pub fn bytes_per_row(&self) -> u64 {
        self.storage.bytes(1, self.dim) + self.optimizer.state_bytes(1, self.dim)
    }

    /// Bytes the whole table takes with its optimizer state.
    pub fn bytes(&self) -> u64 {
        self.rows.saturating_mul(self.bytes_per_row())
    }
}

/// Size thresholds that choose a table's placement (before the budget forces row-wise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Tables of at most this many bytes (rows and optimizer state) are replicated on every
    /// rank: copying them costs little memory and saves their all-to-all. Default 1 MiB.
    pub replicate_max_bytes: u64,
    /// Tables larger than this fraction of the per-rank memory budget are split row-wise over
    /// all ranks; smaller ones (above the replication threshold) are placed whole on one rank.
    /// Default 0.25.
    pub table_wise_max_budget_fraction: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            replicate_max_bytes: 1 << 20,
            table_wise_max_budget_fraction: 0.25,
        }
    }
}

/// Where one table lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// Every rank holds a full copy and trains it data-parallel: each copy applies the same
    /// update for the whole global batch.
    Replicated,
    /// The whole table lives on `rank`; other ranks send it their ids and receive pooled
    /// embeddings by all-to-all.
    TableWise {
        /// The rank holding the table.
        rank: usize,
    },
    /// The rows are split in contiguous ranges over all ranks: rank `r` holds the rows
    /// `ranges[r]` (the first `rows % world_size` ranks hold one row more).
    RowWise {
        /// The rows of each rank, in rank order; together they cover `0..rows` exactly.
        ranges: Vec<Range<u64>>,
    },
}

impl Placement {
    /// The rank holding row `row` of a table with this placement: `None` for a replicated
    /// table (every rank does) and for a row beyond a row-wise table's ranges.
    pub fn owner_of_row(&self, row: u64) -> Option<usize> {
        match self {
            Placement::Replicated => None,
            Placement::TableWise { rank } => Some(*rank),
            Placement::RowWise { ranges } => {
                // Ranges are sorted and contiguous: binary search on their ends.
                let r = ranges.partition_point(|range| range.end <= row);
                (r < ranges.len() && ranges[r].contains(&row)).then_some(r)
            }
        }
    }

    /// A short description of the ranks holding the table: `all`, `3`, or `0-7`.
    pub fn ranks_label(&self, world_size: usize) -> String {
        match self {
            Placement::Replicated => "all".into(),
            Placement::TableWise { rank } => rank.to_string(),
            Placement::RowWise { .. } if world_size == 1 => "0".into(),
            Placement::RowWise { .. } => format!("0-{}", world_size - 1),
        }
    }

    /// The placement's name: `replicated`, `table_wise` or `row_wise`.
    pub fn name(&self) -> &'static str {
        match self {
            Placement::Replicated => "replicated",
            Placement::TableWise { .. } => "table_wise",
            Placement::RowWise { .. } => "row_wise",
        }
    }
}

/// The placement of one table in a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TablePlan {
    /// The table's name.
    pub name: String,
    /// Its rows.
    pub rows: u64,
    /// Its dimension.
    pub dim: usize,
    /// Its bytes, rows and optimizer state, summed over the ranks that hold parts of it
    /// (once: a replicated table's copies are not counted here).
    pub bytes: u64,
    /// Where it lives.
    pub placement: Placement,
}

/// The sharding of a set of tables over a job's ranks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Ranks in the job.
    pub world_size: usize,
    /// The per-rank memory budget planned for, in bytes.
    pub memory_budget: u64,
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// One entry per input table, in input order.
    pub tables: Vec<TablePlan>,
    /// Bytes of embedding rows and optimizer state each rank holds, in rank order.
    pub memory_per_rank: Vec<u64>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A world size of zero.
    #[error("the world size must be at least 1")]
    ZeroWorldSize,
    /// A table with no rows or no columns.
    #[error("table '{table}' is empty ({rows} rows of dimension {dim})")]
    EmptyTable {
        /// The table.
        table: String,
        /// Its rows.
        rows: u64,
        /// Its dimension.
        dim: usize,
    },
    /// A threshold out of range.
    #[error("table_wise_max_budget_fraction must be a number above 0, got {0}")]
    BadThreshold(f64),
    /// The tables do not fit in the budget even with every table split row-wise.
    #[error(
        "the tables do not fit: rank {rank} needs {needed} bytes ({}) with every table split row-wise, {shortfall} bytes ({}) more than its budget of {budget} bytes ({}); add ranks, memory, or use f16/int8 storage or a lighter optimizer",
        human_bytes(*needed),
        human_bytes(*shortfall),
        human_bytes(*budget)
    )]
    DoesNotFit {
        /// The rank most over budget.
        rank: usize,
        /// Bytes it would need.
        needed: u64,
        /// The per-rank budget.
        budget: u64,
        /// `needed - budget`.
        shortfall: u64,
    },
}

/// Splits `rows` into `world_size` contiguous ranges, the first `rows % world_size` one row
/// longer than the others.
pub fn row_ranges(rows: u64, world_size: usize) -> Vec<Range<u64>> {
    let n = world_size as u64;
    let (base, extra) = (rows / n, rows % n);
    let mut start = 0;
    (0..n)
        .map(|r| {
            let len = base + u64::from(r < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect()
}

/// Plans the placement of `tables` over `world_size` ranks with `memory_budget` bytes each:
///
/// 1. tables of at most `thresholds.replicate_max_bytes` are [`Placement::Replicated`];
///    tables above `thresholds.table_wise_max_budget_fraction × memory_budget` are
///    [`Placement::RowWise`]; the others [`Placement::TableWise`];
/// 2. table-wise tables go, largest first (ties by input order), to the rank holding the
///    fewest bytes so far (ties to the lowest rank), after the replicated tables and the
///    row-wise shares are counted;
/// 3. while some rank is over budget, the largest table-wise table (then the largest
///    replicated one) becomes row-wise and the table-wise tables are balanced again;
/// 4. when every table is row-wise and a rank is still over budget, the error names the rank
///    and its shortfall.
pub fn plan(
    tables: &[TableSpec],
    world_size: usize,
    memory_budget: u64,
    thresholds: Thresholds,
) -> Result<Plan, PlanError> {
    if world_size == 0 {
        return Err(PlanError::ZeroWorldSize);
    }
    let fraction = thresholds.table_wise_max_budget_fraction;
    if !(fraction.is_finite() && fraction > 0.0) {
        return Err(PlanError::BadThreshold(fraction));
    }
    if let Some(t) = tables.iter().find(|t| t.rows == 0 || t.dim == 0) {
        return Err(PlanError::EmptyTable {
            table: t.name.clone(),
            rows: t.rows,
            dim: t.dim,
        });
    }
    let table_wise_max = (memory_budget as f64 * fraction).floor();
    let mut kinds: Vec<Kind> = tables
        .iter()
        .map(|t| {
            let bytes = t.bytes();
            if bytes <= thresholds.replicate_max_bytes {
                Kind::Replicated
            } else if bytes as f64 > table_wise_max {
                Kind::RowWise
            } else {
                Kind::TableWise
            }
        })
        .collect();
    // Largest first, ties by input order: the order tables are demoted and balanced in.
    let mut by_size: Vec<usize> = (0..tables.len()).collect();
    by_size.sort_by(|&a, &b| tables[b].bytes().cmp(&tables[a].bytes()).then(a.cmp(&b)));

    loop {
        let (owners, memory) = assign(tables, &kinds, &by_size, world_size);
        let worst = (0..world_size)
            .max_by(|&a, &b| memory[a].cmp(&memory[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        if memory[worst] <= memory_budget {
            return Ok(finish(
                tables,
                &kinds,
                &owners,
                memory,
                world_size,
                memory_budget,
                thresholds,
            ));
        }
        let demote = by_size
            .iter()
            .find(|&&i| kinds[i] == Kind::TableWise)
            .or_else(|| by_size.iter().find(|&&i| kinds[i] == Kind::Replicated));
        match demote {
            Some(&i) => kinds[i] = Kind::RowWise,
            None => {
                return Err(PlanError::DoesNotFit {
                    rank: worst,
                    needed: memory[worst],
                    budget: memory_budget,
                    shortfall: memory[worst] - memory_budget,
                });
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Replicated,
    TableWise,
    RowWise,
}

/// Bytes per rank for `kinds`, and the rank of each table-wise table (greedy, largest first).
fn assign(
    tables: &[TableSpec],
    kinds: &[Kind],
    by_size: &[usize],
    world_size: usize,
) -> (Vec<Option<usize>>, Vec<u64>) {
    let mut memory = vec![0u64; world_size];
    for (t, kind) in tables.iter().zip(kinds) {
        match kind {
            Kind::Replicated => memory.iter_mut().for_each(|m| *m += t.bytes()),
            Kind::RowWise => {
                for (m, range) in memory.iter_mut().zip(row_ranges(t.rows, world_size)) {
                    *m += (range.end - range.start) * t.bytes_per_row();
                }
            }
            Kind::TableWise => {}
        }
    }
    let mut owners = vec![None; tables.len()];
    for &i in by_size.iter().filter(|&&i| kinds[i] == Kind::TableWise) {
        let rank = (0..world_size)
            .min_by(|&a, &b| memory[a].cmp(&memory[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        memory[rank] += tables[i].bytes();
        owners[i] = Some(rank);
    }
    (owners, memory)
}

fn finish(
    tables: &[TableSpec],
    kinds: &[Kind],
    owners: &[Option<usize>],
    memory_per_rank: Vec<u64>,
    world_size: usize,
    memory_budget: u64,
    thresholds: Thresholds,
) -> Plan {
    let tables = tables
        .iter()
        .zip(kinds)
        .zip(owners)
        .map(|((t, kind), owner)| TablePlan {
            name: t.name.clone(),
            rows: t.rows,
            dim: t.dim,
            bytes: t.bytes(),
            placement: match kind {
                Kind::Replicated => Placement::Replicated,
                Kind::TableWise => Placement::TableWise {
                    rank: owner.unwrap_or(0),
                },
                Kind::RowWise => Placement::RowWise {
                    ranges: row_ranges(t.rows, world_size),
                },
            },
        })
        .collect();
    Plan {
        world_size,
        memory_budget,
        thresholds,
        tables,
        memory_per_rank,
    }
}

/// `bytes` in binary units with one decimal: `512 B`, `1.5 KiB`, `3.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Parses a memory size: a whole number of bytes, or a number with a unit `K`, `M`, `G`, `T`
/// (powers of 1000, also `KB`, `MB`, …) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024),
/// case-insensitive, e.g. `4GiB`, `512 MiB`, `1.5G`, `1000000`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let bad = || {
        format!(
            "cannot read memory size '{text}': expected e.g. 4GiB, 512MiB, 1.5G or a number of bytes"
        )
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024f64.powi(2),
        "gi" | "gib" => 1024f64.powi(3),
        "ti" | "tib" => 1024f64.powi(4),
        _ => return Err(bad()),
    };
    let bytes = (value * scale).round();
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn table(name: &str, rows: u64, dim: usize) -> TableSpec {
        TableSpec {
            name: name.into(),
            rows,
            dim,
            storage: Storage::F32,
            optimizer: Optimizer::Sgd {
                lr: 0.1,
                weight_decay: 0.0,
            },
        }
    }

    fn kinds(plan: &Plan) -> Vec<&'static str> {
        plan.tables.iter().map(|t| t.placement.name()).collect()
    }

    #[test]
    fn row_bytes_follow_storage_and_optimizer() {
        let mut t = table("t", 10, 64);
        assert_eq!(t.bytes_per_row(), 256);
        t.storage = Storage::F16;
        assert_eq!(t.bytes_per_row(), 128);
        t.storage = Storage::Int8;
        assert_eq!(t.bytes_per_row(), 64 + 8);
        t.optimizer = Optimizer::rowwise_adagrad(0.1);
        assert_eq!(t.bytes_per_row(), 64 + 8 + 4);
        t.optimizer = Optimizer::adam(0.1);
        assert_eq!(t.bytes_per_row(), 64 + 8 + 2 * 64 * 4);
        assert_eq!(t.bytes(), 10 * (72 + 512));
        t.rows = u64::MAX;
        assert_eq!(t.bytes(), u64::MAX, "saturates instead of overflowing");
    }

    #[test]
    fn thresholds_choose_the_placement() {
        // Replicated up to 1 MiB; row-wise above 4 GiB × 0.25 = 1 GiB.
        let tables = [
            table("tiny", 1000, 64),        // 256 KB: replicated
            table("mid", 1_000_000, 64),    // 256 MB: table-wise
            table("large", 10_000_000, 64), // 2.56 GB: row-wise
            table("edge", MIB / 256, 64),   // exactly 1 MiB: replicated
        ];
        let p = plan(&tables, 4, 4 * GIB, Thresholds::default()).unwrap();
        assert_eq!(
            kinds(&p),
            ["replicated", "table_wise", "row_wise", "replicated"]
        );
        assert_eq!(p.tables[1].placement, Placement::TableWise { rank: 0 });
        let Placement::RowWise { ranges } = &p.tables[2].placement else {
            panic!("row-wise expected")
        };
        assert_eq!(ranges.len(), 4);
        assert_eq!(ranges[0], 0..2_500_000);
        assert_eq!(ranges[3], 7_500_000..10_000_000);
    }

    #[test]
    fn thresholds_are_configurable() {
        let tables = [table("a", 1000, 64), table("b", 1_000_000, 64)];
        let t = Thresholds {
            replicate_max_bytes: 0,
            table_wise_max_budget_fraction: 0.5,
        };
        let p = plan(&tables, 2, 4 * GIB, t).unwrap();
        assert_eq!(kinds(&p), ["table_wise", "table_wise"]);
        assert_eq!(p.tables[0].placement, Placement::TableWise { rank: 1 });
        let t = Thresholds {
            replicate_max_bytes: u64::MAX,
            table_wise_max_budget_fraction: 0.25,
        };
        let p = plan(&tables, 2, 4 * GIB, t).unwrap();
        assert_eq!(kinds(&p), ["replicated", "replicated"]);
        let t = Thresholds {
            replicate_max_bytes: 0,
            table_wise_max_budget_fraction: 0.0001,
        };
        let p = plan(&tables, 2, 4 * GIB, t).unwrap();
        assert_eq!(kinds(&p), ["table_wise", "row_wise"]);
    }

    #[test]
    fn table_wise_tables_are_balanced_largest_first() {
        // 5 MB, 4 MB, 3 MB, 2 MB, 2 MB on 2 ranks: 5→0, 4→1, 3→1 (4 < 5), 2→0 (5 < 7),
        // 2→0 (7 = 7, lowest rank): 9 and 7.
        let mb = |n: u64| n * 1_000_000 / 256;
        let tables = [
            table("c", mb(3), 64),
            table("a", mb(5), 64),
            table("d", mb(2), 64),
            table("b", mb(4), 64),
            table("e", mb(2), 64),
        ];
        let p = plan(&tables, 2, GIB, Thresholds::default()).unwrap();
        let ranks: Vec<usize> = p
            .tables
            .iter()
            .map(|t| match t.placement {
                Placement::TableWise { rank } => rank,
                ref other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ranks, [1, 0, 0, 1, 0]);
        let bytes = |n: u64| mb(n) * 256;
        assert_eq!(
            p.memory_per_rank,
            [bytes(5) + bytes(2) + bytes(2), bytes(4) + bytes(3)]
        );
    }

    #[test]
    fn memory_per_rank_counts_every_placement() {
        let tables = [
            table("tiny", 100, 8),        // 3200 B on every rank
            table("mid", 10_000, 64),     // 2.56 MB on one rank
            table("large", 1_000_003, 4), // 16 B rows, row-wise over 3 ranks
        ];
        let t = Thresholds {
            replicate_max_bytes: 4096,
            table_wise_max_budget_fraction: 0.25,
        };
        let p = plan(&tables, 3, 20_000_000, t).unwrap();
        assert_eq!(kinds(&p), ["replicated", "table_wise", "row_wise"]);
        // Rows 1_000_003 over 3 ranks: 333_335, 333_334, 333_334.
        let shares = [333_335 * 16, 333_334 * 16, 333_334 * 16];
        // The row-wise shares are counted first: the table-wise table goes to the least
        // loaded rank, rank 1 (rank 0 holds one row more).
        assert_eq!(p.tables[1].placement, Placement::TableWise { rank: 1 });
        assert_eq!(
            p.memory_per_rank,
            [
                3200 + shares[0],
                3200 + 2_560_000 + shares[1],
                3200 + shares[2]
            ]
        );
        let total: u64 = p.memory_per_rank.iter().sum();
        assert_eq!(total, 3 * 3200 + 2_560_000 + 1_000_003 * 16);
    }

    #[test]
    fn row_ranges_cover_every_row_once() {
        for rows in [1u64, 2, 7, 8, 9, 1000, 1001] {
            for world in [1usize, 2, 3, 4, 8] {
                let ranges = row_ranges(rows, world);
                assert_eq!(ranges.len(), world);
                assert_eq!(ranges[0].start, 0);
                assert_eq!(ranges[world - 1].end, rows);
                for pair in ranges.windows(2) {
                    assert_eq!(pair[0].end, pair[1].start);
                    let (a, b) = (pair[0].end - pair[0].start, pair[1].end - pair[1].start);
                    assert!(a == b || a == b + 1, "{rows} rows on {world}: {ranges:?}");
                }
            }
        }
        assert_eq!(row_ranges(2, 4), [0..1, 1..2, 2..2, 2..2]);
    }

    #[test]
    fn owner_of_row_follows_the_ranges() {
        let placement = Placement::RowWise {
            ranges: row_ranges(10, 4), // 0..3, 3..6, 6..8, 8..10
        };
        let owners: Vec<Option<usize>> = (0..11).map(|r| placement.owner_of_row(r)).collect();
        let expected = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3].map(Some);
        assert_eq!(&owners[..10], expected);
        assert_eq!(owners[10], None);
        let sparse = Placement::RowWise {
            ranges: row_ranges(2, 4),
        };
        assert_eq!(sparse.owner_of_row(1), Some(1));
        assert_eq!(sparse.owner_of_row(2), None);
        assert_eq!(Placement::Replicated.owner_of_row(5), None);
        assert_eq!(Placement::TableWise { rank: 3 }.owner_of_row(5), Some(3));
    }

    #[test]
    fn ranks_labels() {
        assert_eq!(Placement::Replicated.ranks_label(4), "all");
        assert_eq!(Placement::TableWise { rank: 2 }.ranks_label(4), "2");
        let rw = Placement::RowWise {
            ranges: row_ranges(10, 4),
        };
        assert_eq!(rw.ranks_label(4), "0-3");
        assert_eq!(rw.ranks_label(1), "0");
    }

    #[test]
    fn over_budget_table_wise_tables_become_row_wise() {
        // Two 600 MB tables, each below the table-wise limit (0.9 × 1 GB), on 2 ranks with
        // 1 GB: table-wise they fit (one each).
        let budget = 1_000_000_000;
        let t = Thresholds {
            replicate_max_bytes: MIB,
            table_wise_max_budget_fraction: 0.9,
        };
        let rows = 600_000_000 / 256;
        let two = [table("a", rows, 64), table("b", rows, 64)];
        let p = plan(&two, 2, budget, t).unwrap();
        assert_eq!(kinds(&p), ["table_wise", "table_wise"]);
        // Three of them do not fit table-wise on 2 ranks (1.2 GB on one), but do row-wise
        // (900 MB each): the largest (first, by input order) is demoted first.
        let three = [
            table("a", rows, 64),
            table("b", rows, 64),
            table("c", rows, 64),
        ];
        let p = plan(&three, 2, budget, t).unwrap();
        assert_eq!(kinds(&p), ["row_wise", "table_wise", "table_wise"]);
        assert!(p.memory_per_rank.iter().all(|&m| m <= budget), "{p:?}");
    }

    #[test]
    fn tables_too_large_even_row_wise_name_the_rank_and_shortfall() {
        // 2 × 10 M rows of 256 B = 5.12 GB over 2 ranks of 2 GB: 2.56 GB each, 560 MB short.
        let tables = [table("big1", 10_000_000, 64), table("big2", 10_000_000, 64)];
        let err = plan(&tables, 2, 2_000_000_000, Thresholds::default()).unwrap_err();
        assert_eq!(
            err,
            PlanError::DoesNotFit {
                rank: 0,
                needed: 2_560_000_000,
                budget: 2_000_000_000,
                shortfall: 560_000_000,
            }
        );
        let text = err.to_string();
        assert!(text.contains("rank 0"), "{text}");
        assert!(text.contains("560000000 bytes"), "{text}");
        // An odd row count leaves rank 0 one row heavier: it is the rank named.
        let odd = [table("odd", 3, 1_000)];
        let err = plan(&odd, 2, 5_000, Thresholds::default()).unwrap_err();
        assert!(matches!(
            err,
            PlanError::DoesNotFit {
                rank: 0,
                needed: 8000,
                shortfall: 3000,
                ..
            }
        ));
        // Four ranks fit what two cannot.
        assert!(plan(&tables, 4, 2_000_000_000, Thresholds::default()).is_ok());
    }

    #[test]
    fn replicated_tables_are_demoted_last() {
        // Ten 1 MiB tables replicated on 2 ranks need 10 MiB each; with an 8 MiB budget some
        // become row-wise (5 MiB each when all are), largest first (input order on ties).
        let rows = MIB / 256;
        let tables: Vec<TableSpec> = (0..10).map(|i| table(&format!("t{i}"), rows, 64)).collect();
        let p = plan(&tables, 2, 8 * MIB, Thresholds::default()).unwrap();
        let row_wise = kinds(&p).iter().filter(|&&k| k == "row_wise").count();
        // k row-wise: (10 - k) MiB + k/2 MiB ≤ 8 MiB ⇒ k ≥ 4.
        assert_eq!(row_wise, 4);
        assert_eq!(&kinds(&p)[..4], ["row_wise"; 4]);
        assert!(p.memory_per_rank.iter().all(|&m| m <= 8 * MIB));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let ok = [table("a", 10, 4)];
        assert_eq!(
            plan(&ok, 0, GIB, Thresholds::default()),
            Err(PlanError::ZeroWorldSize)
        );
        let empty = [table("e", 0, 4)];
        let err = plan(&empty, 1, GIB, Thresholds::default()).unwrap_err();
        assert!(err.to_string().contains("'e'"), "{err}");
        let t = Thresholds {
            replicate_max_bytes: 0,
            table_wise_max_budget_fraction: f64::NAN,
        };
        assert!(matches!(
            plan(&ok, 1, GIB, t),
            Err(PlanError::BadThreshold(_))
        ));
        // No tables: an empty plan.
        let p = plan(&[], 3, GIB, Thresholds::default()).unwrap();
        assert_eq!(p.memory_per_rank, [0, 0, 0]);
    }

    #[test]
    fn one_rank_holds_everything() {
        let tables = [
            table("tiny", 10, 4),
            table("mid", 100_000, 64),
            table("big", 5_000_000, 64),
        ];
        let p = plan(&tables, 1, 4 * GIB, Thresholds::default()).unwrap();
        let total: u64 = tables.iter().map(TableSpec::bytes).sum();
        assert_eq!(p.memory_per_rank, [total]);
    }

    #[test]
    fn plans_are_deterministic() {
        let tables: Vec<TableSpec> = (0..40u64)
            .map(|i| {
                table(
                    &format!("t{i}"),
                    1000 + (i * 7919) % 500_000,
                    16 + (i % 3) as usize * 16,
                )
            })
            .collect();
        let a = plan(&tables, 8, 256 * MIB, Thresholds::default()).unwrap();
        let b = plan(&tables, 8, 256 * MIB, Thresholds::default()).unwrap();
        assert_eq!(a, b);
        // Every table-wise table is on a rank in range, and the memory adds up.
        let replicated: u64 = a
            .tables
            .iter()
            .filter(|t| t.placement == Placement::Replicated)
            .map(|t| t.bytes)
            .sum();
        let others: u64 = a
            .tables
            .iter()
            .filter(|t| t.placement != Placement::Replicated)
            .map(|t| t.bytes)
            .sum();
        assert_eq!(
            a.memory_per_rank.iter().sum::<u64>(),
            8 * replicated + others
        );
    }

    #[test]
    fn plans_serialise_to_json() {
        let tables = [table("tiny", 10, 4), table("big", 5_000_000, 64)];
        let p = plan(&tables, 2, 2 * GIB, Thresholds::default()).unwrap();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["tables"][0]["placement"]["kind"], "replicated");
        assert_eq!(json["tables"][1]["placement"]["kind"], "row_wise");
        assert_eq!(
            json["tables"][1]["placement"]["ranges"][1]["start"],
            2_500_000
        );
        assert_eq!(json["memory_per_rank"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn memory_sizes_parse() {
        assert_eq!(parse_bytes("4GiB"), Ok(4 * GIB));
        assert_eq!(parse_bytes("512 MiB"), Ok(512 * MIB));
        assert_eq!(parse_bytes("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("2gb"), Ok(2_000_000_000));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("64k"), Ok(64_000));
        for bad in ["", "GiB", "4 parsecs", "-1G", "1.2.3M", "1e400"] {
            let err = parse_bytes(bad).unwrap_err();
            assert!(err.contains("memory size"), "{bad}: {err}");
        }
    }

    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(4 * GIB), "4.0 GiB");
    }
}
