//! A cache-blocked matrix product on an AVX-512 register-block kernel, for the layers whose
//! products are large: a DLRM's 512- and 256-wide MLPs at batch 2048.
//!
//! Why not `gemm` for these: on this project's 2-core AVX-512 machines `gemm` gains little
//! from the second thread on these shapes. `cargo run --release -p cascade-bench --bin
//! dlrm_products` times the 17 products of the DLRM reference MLPs' training step (the
//! forward and both backward products of the six layers, batch 2048) on both, alternating:
//! on 2 threads this module took 41.5-46.2 ms a step against `gemm`'s 52.7-58.6 (ratio
//! 1.14-1.27 over three runs; the 415-wide top layer's products gain most, 1.1-2.2x), on 1
//! thread 59.1 against 64.6. Products with few steps or a narrow output stay on `gemm`, which
//! is as fast or faster there. On a Zen 4 machine of the same size the two tie in `f32` (31.2
//! against 29.6 ms), and the kernel's bf16 form ([`bf16`], `--precision bf16`) takes 16.5 ms:
//! `gemm` has no bf16 product with `f32` sums, which is the other reason to own this kernel.
//!
//! This module does the classic blocking by hand:
//! - the shared dimension is cut into blocks of at most [`KC_MAX`] steps (balanced, so 2048
//!   becomes four blocks of 512, and 415 stays one);
//! - for each block, `b` is packed once into panels of [`NR`] columns, each a `kc × 32`
//!   row-major strip aligned to 64 bytes (zero-padded past the last column); the panels (at
//!   most about 1 MiB at the widths served here) stay in L2 while every row block reads them;
//! - each task packs its rows of `a` into strips of [`MR`] rows, a `kc × 12` strip (at most
//!   24 KiB) staying in L1 while the kernel walks every panel of `b` against it. Row-major
//!   `a` (and transposed `b`) is transposed 16 × 16 values at a time in registers, and every
//!   contiguous run of an operand is read whole in one pass;
//! - the kernel keeps a 12 × 32 block of the result in 24 registers and writes it once per
//!   block of the shared dimension, masking the columns past the edge.
//!
//! Threads split the output rows into tasks of whole register blocks (about four tasks per
//! thread, at most [`MAX_PANELS_PER_TASK`] blocks each). Every output value is summed by one
//! kernel call per block of the shared dimension, in the same order whichever task computes
//! it, so results are bit-identical across thread counts. `b` panels are packed in parallel
//! too.
//!
//! In bf16 ([`Precision::Bf16`] on a CPU with AVX-512 BF16) both operands are rounded to bf16
//! as they are packed, two steps of the shared dimension to a 32-bit element, and the kernel
//! sums pairs of products with `vdpbf16ps`; blocks then hold up to twice as many steps, in the
//! same bytes. Everything else — blocking, tasks, edges, determinism — is the same.
//!
//! [`product`] returns whether it did the work; when it did not (another CPU, a product too
//! small or too narrow to pay for packing), the caller runs its `gemm` path.

#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod bf16;

use crate::matmul::Precision;
use crate::narrow::Epilogue;
#[cfg(target_arch = "x86_64")]
use crate::par::for_chunks;
#[cfg(target_arch = "x86_64")]
use avx512::{MR, NR};
#[cfg(target_arch = "x86_64")]
use std::cell::Cell;
#[cfg(target_arch = "x86_64")]
use std::ops::Range;
#[cfg(target_arch = "x86_64")]
use std::thread::LocalKey;

/// Most packed elements of the shared dimension per block (512 steps in `f32`, 1024 in bf16):
/// a 12-row strip of `a` (24 KiB) stays in L1 and 512 columns of `b` (1 MiB) in L2. (384
/// measured no faster, and costs one more pass over the result for the 512-deep products.)
#[cfg(target_arch = "x86_64")]
const KC_MAX: usize = 512;

/// Most register blocks of output rows per task (96 rows, whose packed `a` stays in L2).
/// Products with fewer rows, such as the 64- and 256-row weight gradients of a DLRM, get
/// smaller tasks, so that they still split between the threads.
#[cfg(target_arch = "x86_64")]
const MAX_PANELS_PER_TASK: usize = 8;

/// Tasks per thread aimed at, so that uneven progress still balances.
#[cfg(target_arch = "x86_64")]
const TASKS_PER_THREAD: usize = 4;

/// Panels of `b` one packing task fills: 128 columns, so that a row-major `b` is read in runs
/// of 512 bytes, while a 415-wide operand still splits into four tasks.
#[cfg(target_arch = "x86_64")]
const PANELS_PER_PACK: usize = 4;

/// Narrowest output served: at 64 columns (a DLRM bottom MLP's last forward product) `gemm`
/// was faster, 0.78 of its time against this kernel's.
#[cfg(target_arch = "x86_64")]
const MIN_WIDTH: usize = 3 * NR;

/// Narrowest output served in bf16: at 64 columns the bf16 kernel beats `f32` `gemm` (0.19
/// against 0.31 ms for a DLRM bottom MLP's last forward product).
#[cfg(target_arch = "x86_64")]
const MIN_WIDTH_BF16: usize = 2 * NR;

/// Shortest shared dimension served: with fewer steps the kernel stores its 12 × 32 block
/// after too little work to pay for the stores and the packing (a DLRM's first layer, 13
/// inputs, ties with `gemm`).
#[cfg(target_arch = "x86_64")]
const MIN_DEPTH: usize = 32;

/// Fewest multiply-adds worth packing for.
#[cfg(target_arch = "x86_64")]
const MIN_WORK: usize = 1 << 18;

/// An operand of a product, as the product sees it: element `(i, j)` is
/// `data[i * row_stride + j * col_stride]`. A transposed matrix is the same data with the
/// strides swapped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strided<'a> {
    /// The stored values.
    pub(crate) data: &'a [f32],
    /// Distance between consecutive rows.
    pub(crate) row_stride: usize,
    /// Distance between consecutive columns.
    pub(crate) col_stride: usize,
}

impl<'a> Strided<'a> {
    /// The transpose: the same values with the strides swapped.
    #[cfg(target_arch = "x86_64")]
    fn transposed(self) -> Strided<'a> {
        Strided {
            data: self.data,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

/// A product `dst = scale · a · b`, or `dst += scale · a · b` when `accumulate` is set, with
/// `a` `m × k`, `b` `k × n` and `dst` `m × n` row-major.
#[derive(Debug)]
pub(crate) struct Product<'a> {
    /// Rows of `a` and of the result.
    pub(crate) m: usize,
    /// Columns of `b` and of the result.
    pub(crate) n: usize,
    /// The shared dimension.
    pub(crate) k: usize,
    /// Left operand.
    pub(crate) a: Strided<'a>,
    /// Right operand.
    pub(crate) b: Strided<'a>,
    /// Factor on the product.
    pub(crate) scale: f32,
    /// Add to `dst` instead of overwriting it.
    pub(crate) accumulate: bool,
    /// Precision of the operands as the kernel multiplies them.
    pub(crate) precision: Precision,
    /// Bias and ReLU applied to the result as it is stored (a linear layer's forward pass).
    pub(crate) epilogue: Epilogue<'a>,
}

/// How packed operands hold the shared dimension, which decides the kernel.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// One `f32` step per element, for the `f32` kernel.
    F32,
    /// Two bf16 steps per element, for the bf16 kernel ([`bf16`]).
    Bf16Pairs,
}

#[cfg(target_arch = "x86_64")]
impl Format {
    /// The format serving `precision` on this CPU: bf16 products run in `f32` on CPUs without
    /// AVX-512 BF16, which only makes them more exact.
    fn of(precision: Precision) -> Format {
        match precision {
            Precision::Bf16 if std::arch::is_x86_feature_detected!("avx512bf16") => {
                Format::Bf16Pairs
            }
            _ => Format::F32,
        }
    }

    /// Steps of the shared dimension in one packed element.
    fn steps(self) -> usize {
        match self {
            Format::F32 => 1,
            Format::Bf16Pairs => 2,
        }
    }
}

/// Computes `p` into `dst` (`m * n` values) and returns true, or returns false, touching
/// nothing, when this module does not serve it. The caller has checked that the operands hold
/// every element their shapes and strides address.
pub(crate) fn product(p: &Product<'_>, dst: &mut [f32]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let format = Format::of(p.precision);
        let min_width = match format {
            Format::F32 => MIN_WIDTH,
            Format::Bf16Pairs => MIN_WIDTH_BF16,
        };
        let served = p.n >= min_width
            && p.m >= MR
            && p.k >= MIN_DEPTH
            && p.m * p.n * p.k >= MIN_WORK
            && std::arch::is_x86_feature_detected!("avx512f");
        if served {
            blocked(p, format, dst);
        }
        served
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (p, dst);
        false
    }
}

thread_local! {
    /// The calling thread's packed `b` panels, kept between products.
    #[cfg(target_arch = "x86_64")]
    static B_PANELS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// A pool thread's packed `a` strips, kept between products.
    #[cfg(target_arch = "x86_64")]
    static A_STRIPS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// A thread's rows packed into bf16 pairs on their way to a transposition.
    #[cfg(target_arch = "x86_64")]
    static PAIR_ROWS: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer `key`. The buffer is taken out for the call, so a
/// nested product on the same thread (Rayon runs other tasks while it waits) gets a fresh one
/// instead of aliasing it.
#[cfg(target_arch = "x86_64")]
fn with_scratch<R>(
    key: &'static LocalKey<Cell<Vec<f32>>>,
    f: impl FnOnce(&mut Vec<f32>) -> R,
) -> R {
    let mut buf = key.take();
    let result = f(&mut buf);
    key.set(buf);
    result
}

/// `len` values of `buf` starting at a 64-byte boundary, growing `buf` as needed.
#[cfg(target_arch = "x86_64")]
fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    const ALIGN_VALUES: usize = 16;
    if buf.len() < len + ALIGN_VALUES {
        buf.resize(len + ALIGN_VALUES, 0.0);
    }
    let offset = buf.as_ptr().align_offset(64).min(ALIGN_VALUES);
    &mut buf[offset..offset + len]
}

/// The blocked product on the AVX-512 kernel of `format`.
#[cfg(target_arch = "x86_64")]
fn blocked(p: &Product<'_>, format: Format, dst: &mut [f32]) {
    let steps_per_element = format.steps();
    let k_blocks = p.k.div_ceil(KC_MAX * steps_per_element);
    // Blocks start on whole elements.
    let kc_max = p.k.div_ceil(k_blocks).next_multiple_of(steps_per_element);
    let n_panels = p.n.div_ceil(NR);
    let threads = rayon::current_num_threads();
    let panels_per_task =
        (p.m.div_ceil(MR) / (TASKS_PER_THREAD * threads)).clamp(1, MAX_PANELS_PER_TASK);
    let task_rows = panels_per_task * MR;
    let parallel = threads > 1 && p.m > task_rows;
    with_scratch(&B_PANELS, |b_buf| {
        let b_panels = aligned(b_buf, n_panels * NR * (kc_max / steps_per_element));
        let mut first_step = 0;
        while first_step < p.k {
            let kc = kc_max.min(p.k - first_step);
            let block = Block {
                format,
                first_step,
                steps: kc,
                elements: kc.div_ceil(steps_per_element),
            };
            let b_panels = &mut b_panels[..n_panels * NR * block.elements];
            let pack_panels = |group: usize, out: &mut [f32]| {
                let first_col = group * PANELS_PER_PACK * NR;
                let cols = (p.n - first_col).min(PANELS_PER_PACK * NR);
                block.pack(p.b.transposed(), first_col, cols, NR, out);
            };
            for_chunks(
                b_panels,
                PANELS_PER_PACK * NR * block.elements,
                parallel,
                pack_panels,
            );
            let b_panels = &*b_panels;
            let accumulate = p.accumulate || first_step > 0;
            let task = |t: usize, rows: &mut [f32]| {
                let step = Step {
                    p,
                    block,
                    b_panels,
                    accumulate,
                };
                step.rows(t * task_rows, rows);
            };
            for_chunks(dst, task_rows * p.n, parallel, task);
            first_step += kc;
        }
    });
}

/// One block of the shared dimension and how it is packed.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
struct Block {
    format: Format,
    /// Its first step.
    first_step: usize,
    /// Its steps.
    steps: usize,
    /// Packed elements per row or column (`steps`, or half of them rounded up).
    elements: usize,
}

#[cfg(target_arch = "x86_64")]
impl Block {
    /// The step after its last.
    fn end(&self) -> usize {
        self.first_step + self.steps
    }

    /// Packs this block's steps of rows `first_row..first_row + rows` of `x` into `out`, in
    /// strips of `width` ([`MR`] or [`NR`]) rows.
    fn pack(&self, x: Strided<'_>, first_row: usize, rows: usize, width: usize, out: &mut [f32]) {
        let strip_len = self.elements * width;
        if !rows.is_multiple_of(width) {
            let last = out.len() - strip_len;
            out[last..].fill(0.0);
        }
        let rows = first_row..first_row + rows;
        // SAFETY: `product` checked that the CPU has AVX-512, and `Format::of` that it has
        // AVX-512 BF16 when the format is bf16.
        unsafe {
            match self.format {
                Format::F32 => pack(x, rows, self, width, out),
                Format::Bf16Pairs => pack_pairs(x, rows, self, width, out),
            }
        }
    }
}

/// One block of the shared dimension: its packed `b` panels and what to do with the sums.
#[cfg(target_arch = "x86_64")]
struct Step<'a, 'p> {
    p: &'a Product<'p>,
    block: Block,
    b_panels: &'a [f32],
    accumulate: bool,
}

#[cfg(target_arch = "x86_64")]
impl Step<'_, '_> {
    /// Whether this is the product's last block, whose stores apply its epilogue.
    fn last(&self) -> bool {
        self.block.end() == self.p.k
    }

    /// Output rows from `first_row` on, `rows` being their values (whole rows of `n`).
    fn rows(&self, first_row: usize, rows: &mut [f32]) {
        let n = self.p.n;
        let row_count = rows.len() / n;
        let strip_len = MR * self.block.elements;
        with_scratch(&A_STRIPS, |a_buf| {
            let strips = aligned(a_buf, row_count.div_ceil(MR) * strip_len);
            self.block.pack(self.p.a, first_row, row_count, MR, strips);
            for (strip, out) in strips.chunks_exact(strip_len).zip(rows.chunks_mut(MR * n)) {
                self.panels(strip, out.len() / n, out);
            }
        });
    }

    /// One packed strip of rows (`valid` of them, `out` being their values) against every
    /// panel of `b`.
    fn panels(&self, strip: &[f32], valid: usize, out: &mut [f32]) {
        let n = self.p.n;
        let elements = self.block.elements;
        for (panel, b) in self.b_panels.chunks_exact(NR * elements).enumerate() {
            let first_col = panel * NR;
            let store = avx512::Store {
                dst: out[first_col..].as_mut_ptr(),
                row_stride: n,
                rows: valid,
                cols: NR.min(n - first_col),
                scale: self.p.scale,
                accumulate: self.accumulate,
                bias: self
                    .p
                    .epilogue
                    .bias
                    .filter(|_| self.last())
                    .map(|bias| &bias[first_col..]),
                relu: self.last() && self.p.epilogue.relu,
            };
            // SAFETY: `strip` holds `elements` packed elements of MR values and `b` of NR
            // values, 64-byte aligned (`aligned`, panels of NR * elements values, a multiple
            // of 16), in the block's format, whose CPU features `Format::of` checked; `out`
            // holds `valid` rows of `n` values from column `first_col`, of which the store
            // touches `cols` per row; `out` is this task's own slice.
            unsafe {
                match self.block.format {
                    Format::F32 => avx512::block(elements, strip.as_ptr(), b.as_ptr(), &store),
                    Format::Bf16Pairs => bf16::block(elements, strip.as_ptr(), b.as_ptr(), &store),
                }
            }
        }
    }
}

/// [`pack_into`] for the `f32` kernel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn pack(x: Strided<'_>, rows: Range<usize>, block: &Block, width: usize, out: &mut [f32]) {
    // SAFETY: this function's features are the format's.
    unsafe { pack_into(Format::F32, x, rows, block, width, out) }
}

/// [`pack_into`] for the bf16 kernel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
fn pack_pairs(x: Strided<'_>, rows: Range<usize>, block: &Block, width: usize, out: &mut [f32]) {
    // SAFETY: this function's features are the format's.
    unsafe { pack_into(Format::Bf16Pairs, x, rows, block, width, out) }
}

/// Packs `rows` of `x`, the steps of `block`, into `out` in `format` (compiled once per format
/// by [`pack`] and [`pack_pairs`], with its CPU features): one strip per `width` rows, each
/// `block.elements` groups of `width` packed elements (one per row). `a` is packed in strips of
/// [`MR`] rows; `b` is packed as its transpose, in panels of [`NR`] columns. All strips are
/// packed in one pass so that each run of `x` that is contiguous in memory is read once, whole,
/// rather than a few values of it per strip. The caller has zeroed the rows past the last.
///
/// # Safety
/// The CPU must have AVX-512, and AVX-512 BF16 for the bf16 format.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn pack_into(
    format: Format,
    x: Strided<'_>,
    rows: Range<usize>,
    block: &Block,
    width: usize,
    out: &mut [f32],
) {
    let (steps, elements) = (block.steps, block.elements);
    let strip_len = elements * width;
    let at = |row: usize, step: usize| (rows.start + row) * x.row_stride + step * x.col_stride;
    if x.col_stride == 1 {
        // Rows are contiguous: transpose them, at most one register's worth at a time (bf16
        // rows are first packed into pairs, in a buffer of 16 rows kept by the thread; taken
        // and put back here rather than through `with_scratch`, whose closure would be
        // compiled without this function's CPU features).
        let mut pairs = PAIR_ROWS.take();
        if format == Format::Bf16Pairs && pairs.len() < avx512::LANES * elements {
            pairs.resize(avx512::LANES * elements, 0.0);
        }
        for (s, strip) in out.chunks_exact_mut(strip_len).enumerate() {
            let strip_rows = width.min(rows.len() - s * width);
            for first in (0..strip_rows).step_by(avx512::LANES) {
                let valid = avx512::LANES.min(strip_rows - first);
                let lanes = avx512::LANES.min(width - first);
                let start = at(s * width + first, block.first_step);
                let src = &x.data[start..start + (valid - 1) * x.row_stride + steps];
                let dst = &mut strip[first..];
                // SAFETY: the caller's contract on the CPU.
                unsafe {
                    if format == Format::F32 {
                        avx512::transpose_into(src, x.row_stride, valid, steps, dst, width, lanes);
                    } else {
                        for (r, row) in pairs.chunks_exact_mut(elements).take(valid).enumerate() {
                            bf16::pairs_of_run(&src[r * x.row_stride..][..steps], row);
                        }
                        avx512::transpose_into(
                            &pairs, elements, valid, elements, dst, width, lanes,
                        );
                    }
                }
            }
        }
        PAIR_ROWS.set(pairs);
    } else if x.row_stride == 1 {
        // Steps are contiguous: copy (or pair) each step's run of rows strip by strip.
        for element in 0..elements {
            let step = block.first_step + element * format.steps();
            let run = |step: usize| &x.data[at(0, step)..at(0, step) + rows.len()];
            let even = run(step).chunks(width);
            let odd = (format == Format::Bf16Pairs && step + 1 < block.end())
                .then(|| run(step + 1).chunks(width));
            let mut odd = odd.into_iter().flatten();
            for (s, values) in even.enumerate() {
                let group = &mut out[s * strip_len + element * width..][..values.len()];
                // SAFETY: the caller's contract on the CPU.
                unsafe {
                    if format == Format::F32 {
                        avx512::copy_short(group, values);
                    } else {
                        bf16::interleave(group, values, odd.next());
                    }
                }
            }
        }
    } else {
        for r in 0..rows.len() {
            let strip = &mut out[(r / width) * strip_len..][..strip_len];
            for (element, group) in strip.chunks_exact_mut(width).enumerate() {
                let step = block.first_step + element * format.steps();
                group[r % width] = match format {
                    Format::F32 => x.data[at(r, step)],
                    Format::Bf16Pairs => {
                        let odd = if step + 1 < block.end() {
                            x.data[at(r, step + 1)]
                        } else {
                            0.0
                        };
                        bf16::pair(x.data[at(r, step)], odd)
                    }
                };
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::par::on_threads;

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|i| ((i as f32 + seed) * 0.37).sin()).collect()
    }

    /// An `rows × cols` operand stored as is or transposed.
    fn operand(data: &[f32], rows: usize, cols: usize, transposed: bool) -> Strided<'_> {
        if transposed {
            Strided {
                data,
                row_stride: 1,
                col_stride: rows,
            }
        } else {
            Strided {
                data,
                row_stride: cols,
                col_stride: 1,
            }
        }
    }

    /// The product in `f64` of the operands as `p.precision` rounds them.
    fn naive(p: &Product<'_>, dst: &[f32]) -> Vec<f32> {
        let round = |v: f32| match p.precision {
            Precision::F32 => v,
            Precision::Bf16 => f32::from_bits(u32::from(bf16::bf16_bits(v)) << 16),
        };
        let at =
            |x: Strided<'_>, i: usize, j: usize| round(x.data[i * x.row_stride + j * x.col_stride]);
        let mut out = dst.to_vec();
        for i in 0..p.m {
            for j in 0..p.n {
                let sum: f64 = (0..p.k)
                    .map(|s| f64::from(at(p.a, i, s)) * f64::from(at(p.b, s, j)))
                    .sum();
                let v = p.scale * sum as f32;
                let o = &mut out[i * p.n + j];
                *o = if p.accumulate { *o + v } else { v };
                *o += p.epilogue.bias.map_or(0.0, |b| b[j]);
                if p.epilogue.relu {
                    *o = o.max(0.0);
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_product_across_edges_strides_and_blocks() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        // Rows past a register block and a task, columns past a panel and a packing group, a
        // shared dimension of one and of two blocks; every transposition; overwrite, accumulate,
        // and bias and ReLU on the last block's stores.
        for &(m, n, k) in &[
            (12, 96, 700),
            (97, 109, 61),
            (200, 128, 900),
            (13, 415, 130),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (accumulate, fused) in [(false, false), (true, false), (false, true)] {
                    let a_data = values(m * k, 1.0);
                    let b_data = values(k * n, 2.0);
                    let bias = values(n, 9.0);
                    let epilogue = Epilogue {
                        bias: fused.then_some(bias.as_slice()),
                        relu: fused,
                    };
                    let p = Product {
                        m,
                        n,
                        k,
                        a: operand(&a_data, m, k, ta),
                        b: operand(&b_data, k, n, tb),
                        scale: -0.5,
                        accumulate,
                        precision: Precision::F32,
                        epilogue,
                    };
                    let mut dst = values(m * n, 3.0);
                    let want = naive(&p, &dst);
                    assert!(product(&p, &mut dst), "{m}x{n}x{k} served");
                    for (i, (g, w)) in dst.iter().zip(&want).enumerate() {
                        assert!(
                            (g - w).abs() < 1e-3,
                            "{m}x{n}x{k} {ta}/{tb} acc {accumulate} bias and ReLU {fused}, \
                             value {i}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bf16_products_match_the_product_of_rounded_operands() {
        if !std::arch::is_x86_feature_detected!("avx512bf16") {
            eprintln!("skipped: this CPU has no AVX-512 BF16");
            return;
        }
        // An odd shared dimension (the last pair half empty), one past a bf16 block (1024
        // steps), every transposition.
        for &(m, n, k) in &[(25, 100, 133), (13, 96, 1031), (40, 130, 257)] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a_data = values(m * k, 6.0);
                let b_data = values(k * n, 7.0);
                let mut p = Product {
                    m,
                    n,
                    k,
                    a: operand(&a_data, m, k, ta),
                    b: operand(&b_data, k, n, tb),
                    scale: 2.0,
                    accumulate: true,
                    precision: Precision::Bf16,
                    epilogue: Epilogue::default(),
                };
                let mut dst = values(m * n, 8.0);
                let want = naive(&p, &dst);
                p.precision = Precision::F32;
                let exact = naive(&p, &dst);
                p.precision = Precision::Bf16;
                assert!(product(&p, &mut dst), "{m}x{n}x{k} served");
                let mut rounding = 0.0f32;
                for (i, ((g, w), e)) in dst.iter().zip(&want).zip(&exact).enumerate() {
                    assert!(
                        (g - w).abs() < 1e-3 * (k as f32).sqrt(),
                        "{m}x{n}x{k} {ta}/{tb}, value {i}: {g} vs {w}"
                    );
                    rounding = rounding.max((g - e).abs());
                }
                // bf16 keeps 8 bits: the result differs from the f32 product, but not by much.
                assert!(
                    rounding > 1e-4 && rounding < 0.05 * (k as f32).sqrt(),
                    "{m}x{n}x{k}: largest difference from f32 {rounding}"
                );
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        let (m, n, k) = (1000, 100, 800);
        let a_data = values(m * k, 4.0);
        let b_data = values(k * n, 5.0);
        let run = |threads, precision| {
            on_threads(threads, || {
                let p = Product {
                    m,
                    n,
                    k,
                    a: operand(&a_data, m, k, false),
                    b: operand(&b_data, k, n, true),
                    scale: 1.0,
                    accumulate: false,
                    precision,
                    epilogue: Epilogue::default(),
                };
                let mut dst = vec![0.0; m * n];
                assert!(product(&p, &mut dst));
                dst
            })
        };
        for precision in [Precision::F32, Precision::Bf16] {
            let one = run(1, precision);
            assert_eq!(one, run(2, precision), "{precision:?}");
            assert_eq!(one, run(3, precision), "{precision:?}");
        }
    }

    #[test]
    fn small_or_narrow_products_are_left_to_the_caller() {
        let data = values(64 * 64, 0.0);
        let square = |m, n, k| Product {
            m,
            n,
            k,
            a: operand(&data, m, k, false),
            b: operand(&data, k, n, false),
            scale: 1.0,
            accumulate: false,
            precision: Precision::F32,
            epilogue: Epilogue::default(),
        };
        let mut dst = vec![7.0; 64 * 64];
        assert!(!product(&square(64, 64, 8), &mut dst));
        assert!(!product(&square(64, 8, 64), &mut dst));
        assert!(dst.iter().all(|&v| v == 7.0));
    }
}
