//! DLRM's pairwise dot interaction between the dense embedding and the sparse embeddings.
//!
//! Each example's row holds `F + 1` vectors of width `D`: the bottom MLP's output first, then
//! the `F` pooled sparse embeddings. The output is the dense vector followed by the dot
//! product of every pair `i < j` (the strict upper triangle of the `(F+1) x (F+1)` Gram
//! matrix, row by row as `torch.triu_indices(F + 1, F + 1, 1)` lists them), optionally with
//! the self-pairs `i = j` as well. With `F = 26`, `D = 64` that is `64 + 27·26/2 = 415`
//! columns. Backward returns the gradient with respect to every input vector. A DLRM holds the
//! first vector and the others in two matrices; [`DotInteraction::forward_split`] and
//! [`DotInteraction::backward_split`] take them as they are, composing each task's rows in a
//! buffer that stays in cache.
//!
//! Widths that are a multiple of 16 run the AVX-512 kernels of [`avx512`] where the CPU has
//! them; the kernels below serve every other case. Forward takes one vectorised dot product
//! per pair. Backward is a small matrix product per example, `G Z` with `G` the symmetric
//! matrix of pair gradients, computed in register blocks of 4 rows by 32 columns with fused multiply-adds: two scaled adds per pair would load and
//! store every input-gradient vector once per pair, which made backward the slowest part of
//! the interaction (profiled on the reference DLRM); the blocked form stores each one once.
//! A blocked Gram matrix `Z Zᵀ` forward was measured too and lost: it needs each example
//! transposed, and those scattered stores cost more than the per-pair sums they save. Every
//! example is computed alone, so results do not depend on the thread count.

#[cfg(target_arch = "x86_64")]
mod avx512;

use crate::error::{NnError, check_cols, check_dims};
use crate::kernels::{dot, simd_dispatch};
use crate::layer::Layer;
use crate::param::Parameters;
use crate::rows;
use crate::tensor::{MatRef, Matrix};
use rayon::prelude::*;

/// Examples per parallel task: enough work to amortise the task, small enough to balance.
const ROWS_PER_TASK: usize = 32;

/// Rows of a backward block computed together: each row's accumulators reuse the same loaded
/// column vectors.
const BLOCK_ROWS: usize = 4;

/// Columns of a block: two AVX-512 registers per row, so a block keeps eight independent
/// accumulators in registers, enough to hide the latency of the fused multiply-adds.
const BLOCK_COLS: usize = 32;

/// The DLRM dot interaction (parameter-free).
#[derive(Debug, Clone)]
pub struct DotInteraction {
    vectors: usize,
    dim: usize,
    /// The `(i, j)` vector pairs in output order.
    pairs: Vec<(usize, usize)>,
    /// Whether the pairs include `i = j`.
    self_pairs: bool,
    output: Matrix,
    grad_input: Matrix,
    /// Input gradients of [`backward_split`](Self::backward_split): first vectors, the rest.
    grad_first: Matrix,
    grad_rest: Matrix,
}

impl DotInteraction {
    /// An interaction of one dense vector with `num_sparse` sparse vectors, all of width
    /// `dim`; `self_interaction` adds the squared norms (`i = j`) to the pairs.
    pub fn new(num_sparse: usize, dim: usize, self_interaction: bool) -> Result<Self, NnError> {
        if dim == 0 {
            return Err(NnError::Config(
                "interaction dimension must be positive".into(),
            ));
        }
        let vectors = num_sparse + 1;
        let offset = usize::from(!self_interaction);
        let pairs = (0..vectors)
            .flat_map(|i| (i + offset..vectors).map(move |j| (i, j)))
            .collect();
        Ok(Self {
            vectors,
            dim,
            pairs,
            self_pairs: self_interaction,
            output: Matrix::default(),
            grad_input: Matrix::default(),
            grad_first: Matrix::default(),
            grad_rest: Matrix::default(),
        })
    }

    /// Width of an input row: `(F + 1) · D`.
    pub fn input_cols(&self) -> usize {
        self.vectors * self.dim
    }

    /// Width of an output row: `D` plus the number of pairs.
    pub fn out_cols(&self) -> usize {
        self.dim + self.pairs.len()
    }

    /// The output of the last forward pass, which the next layer keeps as its saved input.
    pub fn output(&self) -> MatRef<'_> {
        self.output.view()
    }

    /// The shape of one example, as the row kernels need it.
    fn shape(&self) -> Shape {
        Shape {
            vectors: self.vectors,
            dim: self.dim,
            self_pairs: self.self_pairs,
            padded: self.vectors.next_multiple_of(BLOCK_ROWS),
        }
    }

    /// [`Layer::forward`] on the rows `[first | rest]`, without building them: `first` holds
    /// each example's first vector (`[batch, D]`, the bottom MLP's output) and `rest` the
    /// others (`[batch, F·D]`, the pooled embeddings). Each task copies its examples' rows
    /// into a buffer that stays in cache and runs the kernels there, where concatenating the
    /// batch first wrote and read back a matrix of `batch · (F+1) · D` values (14 MiB on the
    /// reference DLRM) in memory.
    pub fn forward_split(
        &mut self,
        first: MatRef<'_>,
        rest: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        let split = self.split_input(first, rest)?;
        let (out_cols, shape) = (self.out_cols(), self.shape());
        self.output.resize(first.rows(), out_cols);
        let pairs = &self.pairs;
        self.output
            .as_mut_slice()
            .par_chunks_mut(out_cols * ROWS_PER_TASK)
            .enumerate()
            .for_each_init(Vec::new, |z, (task, out)| {
                let z = split.rows(task * ROWS_PER_TASK, out.len() / out_cols, z);
                forward_any(shape, pairs, z, out);
            });
        Ok(self.output.view())
    }

    /// [`Layer::backward`] for [`forward_split`](Self::forward_split) (the same `first` and
    /// `rest`): returns the input gradient split the same way, first vectors then the rest.
    pub fn backward_split(
        &mut self,
        first: MatRef<'_>,
        rest: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<(MatRef<'_>, MatRef<'_>), NnError> {
        let split = self.split_input(first, rest)?;
        let (out_cols, shape) = (self.out_cols(), self.shape());
        let rows = self.output.rows();
        check_dims("interaction gradient", (rows, out_cols), grad_output.dims())?;
        check_dims("interaction input", (rows, self.dim), first.dims())?;
        let rest_cols = rest.cols();
        self.grad_first.resize(rows, self.dim);
        self.grad_rest.resize(rows, rest_cols);
        let g = grad_output.as_slice();
        self.grad_first
            .as_mut_slice()
            .par_chunks_mut(self.dim * ROWS_PER_TASK)
            .zip(
                self.grad_rest
                    .as_mut_slice()
                    .par_chunks_mut(rest_cols * ROWS_PER_TASK),
            )
            .enumerate()
            .for_each_init(
                || {
                    (
                        Vec::new(),
                        Vec::new(),
                        vec![0.0f32; shape.padded * shape.vectors],
                    )
                },
                |(z, dz, gs), (task, (grad_first, grad_rest))| {
                    let (first_row, rows) = (task * ROWS_PER_TASK, grad_first.len() / shape.dim);
                    let z = split.rows(first_row, rows, z);
                    let g = &g[first_row * out_cols..(first_row + rows) * out_cols];
                    dz.resize(z.len(), 0.0);
                    backward_any(shape, z, g, dz, gs);
                    rows::part(
                        dz,
                        shape.vectors * shape.dim,
                        grad_first,
                        shape.dim,
                        grad_rest,
                    );
                },
            );
        Ok((self.grad_first.view(), self.grad_rest.view()))
    }

    /// Checks the two parts of a split input against each other and the layer.
    fn split_input<'a>(
        &self,
        first: MatRef<'a>,
        rest: MatRef<'a>,
    ) -> Result<SplitRows<'a>, NnError> {
        check_cols("interaction first vectors", self.dim, first.cols())?;
        check_dims(
            "interaction other vectors",
            (first.rows(), self.input_cols() - self.dim),
            rest.dims(),
        )?;
        Ok(SplitRows {
            first: first.as_slice(),
            rest: rest.as_slice(),
            dim: self.dim,
        })
    }
}

impl Parameters for DotInteraction {}

/// An interaction input held as two matrices, the first vector of every example and the rest.
#[derive(Clone, Copy)]
struct SplitRows<'a> {
    first: &'a [f32],
    rest: &'a [f32],
    dim: usize,
}

impl SplitRows<'_> {
    /// Rows `first_row..first_row + rows` of `[first | rest]`, composed in `buf`.
    fn rows<'b>(&self, first_row: usize, rows: usize, buf: &'b mut Vec<f32>) -> &'b [f32] {
        let rest_cols = self.rest.len() / (self.first.len() / self.dim).max(1);
        let width = self.dim + rest_cols;
        buf.resize(rows * width, 0.0);
        let (firsts, rests) = (
            &self.first[first_row * self.dim..],
            &self.rest[first_row * rest_cols..],
        );
        rows::join(buf, width, firsts, self.dim, rests);
        buf
    }
}

/// One example's structure: `vectors` vectors of `dim` values, and `vectors` rounded up to a
/// multiple of [`BLOCK_ROWS`] (`padded`), the rows of the backward pass's scratch matrix.
#[derive(Debug, Clone, Copy)]
struct Shape {
    vectors: usize,
    dim: usize,
    self_pairs: bool,
    padded: usize,
}

/// A block of `BLOCK_ROWS` by `BLOCK_COLS` sums: over `steps` steps, row `r` accumulates the
/// scalar `scalars(t, r)` times the first `BLOCK_COLS` values of `column(t)`, with fused
/// multiply-adds into accumulators that stay in registers.
#[inline(always)]
fn block_product<'a>(
    steps: usize,
    scalars: impl Fn(usize, usize) -> f32,
    column: impl Fn(usize) -> &'a [f32],
) -> [[f32; BLOCK_COLS]; BLOCK_ROWS] {
    let mut acc = [[0.0f32; BLOCK_COLS]; BLOCK_ROWS];
    for t in 0..steps {
        let col = column(t)
            .first_chunk::<BLOCK_COLS>()
            .expect("a block column holds BLOCK_COLS values");
        for (r, acc) in acc.iter_mut().enumerate() {
            let s = scalars(t, r);
            for (a, c) in acc.iter_mut().zip(col) {
                *a = s.mul_add(*c, *a);
            }
        }
    }
    acc
}

/// Forward for whole rows: `z` holds the input rows, `out` the matching output rows.
#[inline(always)]
fn forward_rows_generic(pairs: &[(usize, usize)], dim: usize, z: &[f32], out: &mut [f32]) {
    let in_cols = z.len() / (out.len() / (dim + pairs.len())).max(1);
    for (o, z) in out
        .chunks_exact_mut(dim + pairs.len())
        .zip(z.chunks_exact(in_cols))
    {
        o[..dim].copy_from_slice(&z[..dim]);
        for (o, &(i, j)) in o[dim..].iter_mut().zip(pairs) {
            *o = dot(&z[i * dim..(i + 1) * dim], &z[j * dim..(j + 1) * dim]);
        }
    }
}

/// Backward for whole rows: `z` the input rows, `g` the output-gradient rows, `dz` the
/// input-gradient rows to write; `gs` is scratch of `padded * vectors` values whose rows from
/// `vectors` on are zero.
///
/// The gradient of each example's vectors is `G Z`, where `G` is the symmetric matrix of the
/// pair gradients (doubled on the diagonal for self pairs). `G` is scattered into `gs`, then
/// each block of output rows accumulates `G[i][j] · Z[j]` over `j` in registers and is stored
/// once.
#[inline(always)]
fn backward_rows_generic(shape: Shape, z: &[f32], g: &[f32], dz: &mut [f32], gs: &mut [f32]) {
    let Shape { vectors, dim, .. } = shape;
    let in_cols = vectors * dim;
    let out_cols = g.len() / (z.len() / in_cols).max(1);
    let (main, tail) = (dim / BLOCK_COLS * BLOCK_COLS, dim % BLOCK_COLS);
    for ((dz, z), g) in dz
        .chunks_exact_mut(in_cols)
        .zip(z.chunks_exact(in_cols))
        .zip(g.chunks_exact(out_cols))
    {
        scatter_pair_gradients(shape, g, gs);
        for i0 in (0..vectors).step_by(BLOCK_ROWS) {
            for kc in (0..main).step_by(BLOCK_COLS) {
                let acc = block_product(
                    vectors,
                    |j, r| gs[(i0 + r) * vectors + j],
                    |j| &z[j * dim + kc..],
                );
                for (r, acc) in acc.iter().enumerate() {
                    let i = i0 + r;
                    if i < vectors {
                        dz[i * dim + kc..i * dim + kc + BLOCK_COLS].copy_from_slice(acc);
                    }
                }
            }
            for i in i0..(i0 + BLOCK_ROWS).min(vectors) {
                let d = &mut dz[i * dim + main..(i + 1) * dim];
                d.fill(0.0);
                for j in 0..vectors {
                    let s = gs[i * vectors + j];
                    for (d, x) in d.iter_mut().zip(&z[j * dim + main..j * dim + main + tail]) {
                        *d += s * x;
                    }
                }
            }
        }
        for (d, g) in dz[..dim].iter_mut().zip(&g[..dim]) {
            *d += g;
        }
    }
}

/// Writes one example's symmetric matrix of pair gradients `G` into the first `vectors` rows of
/// `gs` (row-major, `vectors` wide): `G[i][j] = G[j][i]` is the gradient of pair `(i, j)` from
/// the example's output gradient row `g`; the diagonal is twice the self pair's, or zero.
#[inline(always)]
fn scatter_pair_gradients(shape: Shape, g: &[f32], gs: &mut [f32]) {
    let Shape {
        vectors,
        dim,
        self_pairs,
        ..
    } = shape;
    let offset = usize::from(!self_pairs);
    let mut p = dim;
    for i in 0..vectors {
        for j in i + offset..vectors {
            let gp = g[p];
            p += 1;
            if i == j {
                gs[i * vectors + i] = 2.0 * gp;
            } else {
                gs[i * vectors + j] = gp;
                gs[j * vectors + i] = gp;
            }
        }
        if offset == 1 {
            gs[i * vectors + i] = 0.0;
        }
    }
}

simd_dispatch!(
    /// [`forward_rows_generic`] for the running CPU.
    fn forward_rows(pairs: &[(usize, usize)], dim: usize, z: &[f32], out: &mut [f32]) => forward_rows_generic
);

simd_dispatch!(
    /// [`backward_rows_generic`] for the running CPU.
    fn backward_rows(
        shape: Shape,
        z: &[f32],
        g: &[f32],
        dz: &mut [f32],
        gs: &mut [f32],
    ) => backward_rows_generic
);

/// Forward for whole rows on the best kernels for this CPU and width: [`avx512`] where it
/// serves, else [`forward_rows`].
fn forward_any(shape: Shape, pairs: &[(usize, usize)], z: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx512::usable(shape.dim) {
        // SAFETY: `usable` checked that the CPU has AVX-512F.
        return unsafe { avx512::forward_rows(shape, pairs.len(), z, out) };
    }
    forward_rows(pairs, shape.dim, z, out);
}

/// Backward for whole rows on the best kernels for this CPU and width: [`avx512`] where it
/// serves, else [`backward_rows`].
fn backward_any(shape: Shape, z: &[f32], g: &[f32], dz: &mut [f32], gs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx512::usable(shape.dim) {
        // SAFETY: `usable` checked that the CPU has AVX-512F.
        return unsafe { avx512::backward_rows(shape, z, g, dz, gs) };
    }
    backward_rows(shape, z, g, dz, gs);
}

impl Layer for DotInteraction {
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        check_cols("interaction input", self.input_cols(), input.cols())?;
        let (in_cols, out_cols) = (self.input_cols(), self.out_cols());
        self.output.resize(input.rows(), out_cols);
        let (pairs, shape) = (&self.pairs, self.shape());
        let x = input.as_slice();
        self.output
            .as_mut_slice()
            .par_chunks_mut(out_cols * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * ROWS_PER_TASK * in_cols;
                let z = &x[first..first + out.len() / out_cols * in_cols];
                forward_any(shape, pairs, z, out);
            });
        Ok(self.output.view())
    }

    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        let (in_cols, out_cols, shape) = (self.input_cols(), self.out_cols(), self.shape());
        let rows = self.output.rows();
        check_dims("interaction gradient", (rows, out_cols), grad_output.dims())?;
        check_dims("interaction input", (rows, in_cols), input.dims())?;
        self.grad_input.resize(rows, in_cols);
        let (x, g) = (input.as_slice(), grad_output.as_slice());
        self.grad_input
            .as_mut_slice()
            .par_chunks_mut(in_cols * ROWS_PER_TASK)
            .enumerate()
            .for_each_init(
                || vec![0.0f32; shape.padded * shape.vectors],
                |gs, (task, dz)| {
                    let rows = dz.len() / in_cols;
                    let (first_in, first_out) = (
                        task * ROWS_PER_TASK * in_cols,
                        task * ROWS_PER_TASK * out_cols,
                    );
                    let z = &x[first_in..first_in + rows * in_cols];
                    let g = &g[first_out..first_out + rows * out_cols];
                    backward_any(shape, z, g, dz, gs);
                },
            );
        Ok(self.grad_input.view())
    }

    fn output_cols(&self, input_cols: usize) -> Result<usize, NnError> {
        check_cols("interaction input", self.input_cols(), input_cols)?;
        Ok(self.out_cols())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_layer, random_matrix};

    #[test]
    fn reference_layout_widths() {
        let dlrm = DotInteraction::new(26, 64, false).unwrap();
        assert_eq!((dlrm.input_cols(), dlrm.out_cols()), (27 * 64, 415));
        let with_self = DotInteraction::new(26, 64, true).unwrap();
        assert_eq!(with_self.out_cols(), 64 + 27 * 28 / 2);
        assert!(DotInteraction::new(3, 0, false).is_err());
    }

    #[test]
    fn output_is_dense_then_upper_triangle_in_row_order() {
        // Vectors a = (1, 0), b = (2, 3), c = (-1, 4): pairs ab, ac, bc.
        let x = Matrix::from_vec(1, 6, vec![1.0, 0.0, 2.0, 3.0, -1.0, 4.0]).unwrap();
        let mut inter = DotInteraction::new(2, 2, false).unwrap();
        assert_eq!(
            inter.forward(x.view()).unwrap().as_slice(),
            &[1.0, 0.0, 2.0, -1.0, 10.0]
        );
        let mut with_self = DotInteraction::new(2, 2, true).unwrap();
        assert_eq!(
            with_self.forward(x.view()).unwrap().as_slice(),
            &[1.0, 0.0, 1.0, 2.0, -1.0, 13.0, 10.0, 17.0]
        );
    }

    /// Output and input gradient by one dot product and two scaled adds per pair.
    fn naive(vectors: usize, dim: usize, self_pairs: bool, z: &[f32], g: &[f32]) -> [Vec<f32>; 2] {
        let pairs: Vec<(usize, usize)> = (0..vectors)
            .flat_map(|i| (i + usize::from(!self_pairs)..vectors).map(move |j| (i, j)))
            .collect();
        let (in_cols, out_cols) = (vectors * dim, dim + pairs.len());
        let (mut out, mut dz) = (Vec::new(), Vec::new());
        for (z, g) in z.chunks_exact(in_cols).zip(g.chunks_exact(out_cols)) {
            let v = |i: usize| &z[i * dim..(i + 1) * dim];
            out.extend_from_slice(&z[..dim]);
            let mut d = vec![0.0f32; in_cols];
            d[..dim].copy_from_slice(&g[..dim]);
            for (&(i, j), &gp) in pairs.iter().zip(&g[dim..]) {
                out.push(v(i).iter().zip(v(j)).map(|(a, b)| a * b).sum());
                for k in 0..dim {
                    d[i * dim + k] += gp * v(j)[k];
                    d[j * dim + k] += gp * v(i)[k];
                }
            }
            dz.extend(d);
        }
        [out, dz]
    }

    #[test]
    fn blocked_kernels_match_pair_by_pair_products() {
        // Widths below, at and across the 32-wide blocks, and more than 32 vectors; multiples
        // of 16 (the AVX-512 kernels) in blocks of 1 to 4 registers and 1 to 4 pairs.
        for (vectors, dim) in [
            (2, 3),
            (5, 32),
            (27, 64),
            (6, 40),
            (35, 17),
            (33, 70),
            (9, 48),
            (7, 16),
            (3, 112),
        ] {
            for self_pairs in [false, true] {
                let mut inter = DotInteraction::new(vectors - 1, dim, self_pairs).unwrap();
                let rows = 37;
                let x = random_matrix(rows, vectors * dim, 61, 1.0);
                let g = random_matrix(rows, inter.out_cols(), 62, 1.0);
                let [want_out, want_dz] =
                    naive(vectors, dim, self_pairs, x.as_slice(), g.as_slice());
                let out = inter.forward(x.view()).unwrap().as_slice().to_vec();
                let dz = inter
                    .backward(x.view(), g.view())
                    .unwrap()
                    .as_slice()
                    .to_vec();
                for (what, got, want) in [("output", out, want_out), ("gradient", dz, want_dz)] {
                    assert_eq!(got.len(), want.len());
                    for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "{vectors}x{dim} self {self_pairs}: {what}[{k}] {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let x = random_matrix(300, 27 * 64, 63, 1.0);
        let g = random_matrix(300, 415, 64, 1.0);
        let run = |threads: usize| {
            crate::par::on_threads(threads, || {
                let mut inter = DotInteraction::new(26, 64, false).unwrap();
                let out = inter.forward(x.view()).unwrap().to_matrix();
                (out, inter.backward(x.view(), g.view()).unwrap().to_matrix())
            })
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn gradients_match_finite_differences() {
        // 40 rows span two parallel tasks.
        let x = random_matrix(40, 4 * 3, 51, 1.0);
        check_layer(
            &mut DotInteraction::new(3, 3, false).unwrap(),
            &x,
            1e-2,
            2e-3,
        );
        check_layer(
            &mut DotInteraction::new(3, 3, true).unwrap(),
            &x,
            1e-2,
            2e-3,
        );
        // Wide enough for the 32-column blocks of the backward pass.
        let wide = random_matrix(3, 3 * 40, 52, 1.0);
        check_layer(
            &mut DotInteraction::new(2, 40, false).unwrap(),
            &wide,
            1e-2,
            2e-3,
        );
    }

    #[test]
    fn split_input_gives_the_results_of_the_joined_rows() {
        // 70 rows: three parallel tasks, the last one short.
        for (sparse, dim) in [(26, 64), (3, 5)] {
            let rows = 70;
            let first = random_matrix(rows, dim, 71, 1.0);
            let rest = random_matrix(rows, sparse * dim, 72, 1.0);
            let mut joined = Matrix::zeros(rows, (sparse + 1) * dim);
            for r in 0..rows {
                let row =
                    &mut joined.as_mut_slice()[r * (sparse + 1) * dim..][..(sparse + 1) * dim];
                row[..dim].copy_from_slice(first.view().row(r));
                row[dim..].copy_from_slice(rest.view().row(r));
            }
            let mut whole = DotInteraction::new(sparse, dim, false).unwrap();
            let mut split = whole.clone();
            let out_cols = whole.out_cols();
            let g = random_matrix(rows, out_cols, 73, 1.0);
            let want_out = whole.forward(joined.view()).unwrap().to_matrix();
            let want_dz = whole.backward(joined.view(), g.view()).unwrap().to_matrix();
            let out = split
                .forward_split(first.view(), rest.view())
                .unwrap()
                .to_matrix();
            assert_eq!(out, want_out);
            let (d_first, d_rest) = split
                .backward_split(first.view(), rest.view(), g.view())
                .unwrap();
            for r in 0..rows {
                let want = want_dz.view().row(r);
                assert_eq!(d_first.row(r), &want[..dim]);
                assert_eq!(d_rest.row(r), &want[dim..]);
            }
        }
    }

    #[test]
    fn split_inputs_of_the_wrong_shape_are_errors() {
        let mut inter = DotInteraction::new(3, 4, false).unwrap();
        let first = random_matrix(5, 4, 74, 1.0);
        let short = random_matrix(5, 8, 75, 1.0);
        let fewer_rows = random_matrix(4, 12, 76, 1.0);
        assert!(inter.forward_split(first.view(), short.view()).is_err());
        assert!(
            inter
                .forward_split(first.view(), fewer_rows.view())
                .is_err()
        );
        assert!(inter.forward_split(short.view(), first.view()).is_err());
    }
}
