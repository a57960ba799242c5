//! DLRM's pairwise dot interaction between the dense embedding and the sparse embeddings.
//!
//! Each example's row holds `F + 1` vectors of width `D`: the bottom MLP's output first, then
//! the `F` pooled sparse embeddings. The output is the dense vector followed by the dot
//! product of every pair `i < j` (the strict upper triangle of the `(F+1) x (F+1)` Gram
//! matrix, row by row as `torch.triu_indices(F + 1, F + 1, 1)` lists them), optionally with
//! the self-pairs `i = j` as well. With `F = 26`, `D = 64` that is `64 + 27·26/2 = 415`
//! columns. Backward returns the gradient with respect to every input vector.

use crate::error::{NnError, check_cols, check_dims};
use crate::kernels::{axpy, dot, simd_dispatch};
use crate::layer::Layer;
use crate::param::Parameters;
use crate::tensor::{MatRef, Matrix};
use rayon::prelude::*;

/// Examples per parallel task: enough work to amortise the task, small enough to balance.
const ROWS_PER_TASK: usize = 32;

/// The DLRM dot interaction (parameter-free).
#[derive(Debug, Clone)]
pub struct DotInteraction {
    vectors: usize,
    dim: usize,
    /// The `(i, j)` vector pairs in output order.
    pairs: Vec<(usize, usize)>,
    output: Matrix,
    grad_input: Matrix,
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
            output: Matrix::default(),
            grad_input: Matrix::default(),
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
}

impl Parameters for DotInteraction {}

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
/// input-gradient rows to write.
#[inline(always)]
fn backward_rows_generic(
    pairs: &[(usize, usize)],
    dim: usize,
    z: &[f32],
    g: &[f32],
    dz: &mut [f32],
) {
    let out_cols = dim + pairs.len();
    let in_cols = z.len() / (g.len() / out_cols).max(1);
    for ((dz, z), g) in dz
        .chunks_exact_mut(in_cols)
        .zip(z.chunks_exact(in_cols))
        .zip(g.chunks_exact(out_cols))
    {
        dz[..dim].copy_from_slice(&g[..dim]);
        dz[dim..].fill(0.0);
        for (&gp, &(i, j)) in g[dim..].iter().zip(pairs) {
            let zj = &z[j * dim..(j + 1) * dim];
            if i == j {
                axpy(2.0 * gp, zj, &mut dz[i * dim..(i + 1) * dim]);
            } else {
                axpy(gp, zj, &mut dz[i * dim..(i + 1) * dim]);
                axpy(
                    gp,
                    &z[i * dim..(i + 1) * dim],
                    &mut dz[j * dim..(j + 1) * dim],
                );
            }
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
        pairs: &[(usize, usize)],
        dim: usize,
        z: &[f32],
        g: &[f32],
        dz: &mut [f32],
    ) => backward_rows_generic
);

impl Layer for DotInteraction {
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        check_cols("interaction input", self.input_cols(), input.cols())?;
        let (in_cols, out_cols, dim) = (self.input_cols(), self.out_cols(), self.dim);
        self.output.resize(input.rows(), out_cols);
        let pairs = &self.pairs;
        let x = input.as_slice();
        self.output
            .as_mut_slice()
            .par_chunks_mut(out_cols * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * ROWS_PER_TASK * in_cols;
                let z = &x[first..first + out.len() / out_cols * in_cols];
                forward_rows(pairs, dim, z, out);
            });
        Ok(self.output.view())
    }

    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        let (in_cols, out_cols, dim) = (self.input_cols(), self.out_cols(), self.dim);
        let rows = self.output.rows();
        check_dims("interaction gradient", (rows, out_cols), grad_output.dims())?;
        check_dims("interaction input", (rows, in_cols), input.dims())?;
        self.grad_input.resize(rows, in_cols);
        let pairs = &self.pairs;
        let (x, g) = (input.as_slice(), grad_output.as_slice());
        self.grad_input
            .as_mut_slice()
            .par_chunks_mut(in_cols * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, dz)| {
                let rows = dz.len() / in_cols;
                let (first_in, first_out) = (
                    task * ROWS_PER_TASK * in_cols,
                    task * ROWS_PER_TASK * out_cols,
                );
                let z = &x[first_in..first_in + rows * in_cols];
                let g = &g[first_out..first_out + rows * out_cols];
                backward_rows(pairs, dim, z, g, dz);
            });
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
    }
}
