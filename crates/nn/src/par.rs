//! Row-chunked elementwise work, parallel on Rayon only when the work is large enough to pay.
//!
//! Chunks have a fixed size that depends only on the row width, never on the thread count,
//! so any per-chunk partial result (such as a bias-gradient partial sum) is the same whether
//! the chunks run on one thread or many: results are deterministic.

use rayon::prelude::*;

/// Target number of values per chunk: large enough to amortise a Rayon task, small enough to
/// stay in L2 and to split a typical batch across threads.
const CHUNK_VALUES: usize = 16 * 1024;

/// Below this many values the work runs on the calling thread.
const PARALLEL_MIN_VALUES: usize = 64 * 1024;

/// Rows per chunk for rows of `cols` values (at least one).
pub(crate) fn rows_per_chunk(cols: usize) -> usize {
    (CHUNK_VALUES / cols.max(1)).max(1)
}

/// Whether work over `values` values is worth splitting between the pool's threads.
pub(crate) fn worth_parallel(values: usize) -> bool {
    values >= PARALLEL_MIN_VALUES && rayon::current_num_threads() > 1
}

/// Number of chunks `rows` rows split into for rows of `cols` values.
pub(crate) fn chunk_count(rows: usize, cols: usize) -> usize {
    rows.div_ceil(rows_per_chunk(cols))
}

/// Calls `f(first_row, rows_of_out)` on consecutive row chunks of `out` (rows of `cols`
/// values), in parallel when the matrix is large and the pool has more than one thread.
pub(crate) fn for_row_chunks<F>(out: &mut [f32], cols: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    if out.is_empty() || cols == 0 {
        return;
    }
    let rows = rows_per_chunk(cols);
    let parallel = worth_parallel(out.len());
    for_chunks(out, rows * cols, parallel, |i, c| f(i * rows, c));
}

/// Calls `f(index, chunk)` on the consecutive `chunk_len`-value chunks of `out` (the last one
/// possibly shorter): on the pool's threads when `parallel`, else in order on the calling
/// thread. The one loop behind this crate's chunked passes, whose chunk sizes and thresholds
/// differ.
pub(crate) fn for_chunks<F>(out: &mut [f32], chunk_len: usize, parallel: bool, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    if parallel {
        out.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
}

/// Like [`for_row_chunks`], but also hands each chunk its own `part_cols`-wide slice of
/// `partials` (one row of partial results per chunk, as many rows as [`chunk_count`]).
pub(crate) fn for_row_chunks_with_partials<F>(
    out: &mut [f32],
    cols: usize,
    partials: &mut [f32],
    part_cols: usize,
    f: F,
) where
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync + Send,
{
    if out.is_empty() || cols == 0 {
        return;
    }
    let rows = rows_per_chunk(cols);
    let chunk = rows * cols;
    debug_assert_eq!(partials.len(), out.len().div_ceil(chunk) * part_cols);
    if worth_parallel(out.len()) {
        out.par_chunks_mut(chunk)
            .zip(partials.par_chunks_mut(part_cols))
            .enumerate()
            .for_each(|(i, (c, p))| f(i * rows, c, p));
    } else {
        out.chunks_mut(chunk)
            .zip(partials.chunks_mut(part_cols))
            .enumerate()
            .for_each(|(i, (c, p))| f(i * rows, c, p));
    }
}

/// Calls `f(first_row, rows_of_src, partial)` on consecutive row chunks of the read-only
/// `src`, each with its own `part_cols`-wide row of `partials` (as many rows as
/// [`chunk_count`]).
pub(crate) fn for_read_chunks_with_partials<F>(
    src: &[f32],
    cols: usize,
    partials: &mut [f32],
    part_cols: usize,
    f: F,
) where
    F: Fn(usize, &[f32], &mut [f32]) + Sync + Send,
{
    if src.is_empty() || cols == 0 {
        return;
    }
    let rows = rows_per_chunk(cols);
    let chunk = rows * cols;
    debug_assert_eq!(partials.len(), src.len().div_ceil(chunk) * part_cols);
    if worth_parallel(src.len()) {
        src.par_chunks(chunk)
            .zip(partials.par_chunks_mut(part_cols))
            .enumerate()
            .for_each(|(i, (c, p))| f(i * rows, c, p));
    } else {
        src.chunks(chunk)
            .zip(partials.chunks_mut(part_cols))
            .enumerate()
            .for_each(|(i, (c, p))| f(i * rows, c, p));
    }
}

/// Adds the rows of `partials` (each `acc.len()` wide) into `acc`, in chunk order.
pub(crate) fn reduce_partials(partials: &[f32], acc: &mut [f32]) {
    for part in partials.chunks_exact(acc.len().max(1)) {
        for (a, p) in acc.iter_mut().zip(part) {
            *a += p;
        }
    }
}

/// Runs `work` on a fresh Rayon pool of `threads` threads, for tests that check a result does
/// not depend on the thread count.
#[cfg(test)]
pub(crate) fn on_threads<R: Send>(threads: usize, work: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test thread pool")
        .install(work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_column_sums_do_not_depend_on_thread_count() {
        let cols = 7;
        let rows = 20_000;
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 31 % 97) as f32).sin())
            .collect();
        let run = |threads: usize| {
            on_threads(threads, || {
                let mut out = data.clone();
                let mut partials = vec![0.0; chunk_count(rows, cols) * cols];
                for_row_chunks_with_partials(&mut out, cols, &mut partials, cols, |_, c, p| {
                    p.fill(0.0);
                    for row in c.chunks_exact_mut(cols) {
                        for (s, v) in p.iter_mut().zip(row.iter_mut()) {
                            *v *= 2.0;
                            *s += *v;
                        }
                    }
                });
                let mut acc = vec![0.0; cols];
                reduce_partials(&partials, &mut acc);
                (out, acc)
            })
        };
        let (o1, a1) = run(1);
        let (o3, a3) = run(3);
        assert_eq!(o1, o3);
        assert_eq!(a1, a3);
        let direct: f64 = data.iter().step_by(cols).map(|&v| 2.0 * v as f64).sum();
        assert!((a1[0] as f64 - direct).abs() < 1e-2);
    }
}
