//! The factorisation machine's second-order term, DeepFM's pairwise interaction.
//!
//! For `F` field embeddings `v_f` of width `D`, the sum of all pairwise dot products
//! `Σ_{f<g} <v_f, v_g>` equals `½ Σ_d ((Σ_f v_fd)² − Σ_f v_fd²)`, which costs `O(F·D)`
//! instead of `O(F²·D)`. Its gradient is `∂/∂v_fd = (Σ_g v_gd) − v_fd`.

use crate::error::{NnError, check_cols, check_dims};
use crate::layer::Layer;
use crate::param::Parameters;
use crate::tensor::{MatRef, Matrix};
use rayon::prelude::*;

/// Examples per parallel task.
const ROWS_PER_TASK: usize = 64;

/// The FM second-order term: `F` fields of width `D` in, one value per example out.
#[derive(Debug, Clone)]
pub struct FmSecondOrder {
    fields: usize,
    dim: usize,
    output: Matrix,
    grad_input: Matrix,
}

impl FmSecondOrder {
    /// The term over `fields` embeddings of width `dim`, laid out field after field in a row.
    pub fn new(fields: usize, dim: usize) -> Result<Self, NnError> {
        if fields == 0 || dim == 0 {
            return Err(NnError::Config(format!(
                "FM needs positive field count and width, got {fields} x {dim}"
            )));
        }
        Ok(Self {
            fields,
            dim,
            output: Matrix::default(),
            grad_input: Matrix::default(),
        })
    }

    /// Width of an input row: `F · D`.
    pub fn input_cols(&self) -> usize {
        self.fields * self.dim
    }
}

/// `Σ_f v_fd` for one example's row of fields and one coordinate `d`.
fn field_sum(row: &[f32], dim: usize, d: usize) -> f32 {
    row[d..].iter().step_by(dim).sum()
}

impl Parameters for FmSecondOrder {}

impl Layer for FmSecondOrder {
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        let cols = self.input_cols();
        check_cols("FM input", cols, input.cols())?;
        let dim = self.dim;
        self.output.resize(input.rows(), 1);
        let x = input.as_slice();
        self.output
            .as_mut_slice()
            .par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| {
                for (r, o) in out.iter_mut().enumerate() {
                    let row = task * ROWS_PER_TASK + r;
                    let v = &x[row * cols..(row + 1) * cols];
                    let square_of_sum: f32 = (0..dim)
                        .map(|d| {
                            let s = field_sum(v, dim, d);
                            s * s
                        })
                        .sum();
                    let sum_of_squares: f32 = v.iter().map(|s| s * s).sum();
                    *o = 0.5 * (square_of_sum - sum_of_squares);
                }
            });
        Ok(self.output.view())
    }

    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        let cols = self.input_cols();
        let rows = self.output.rows();
        check_dims("FM gradient", (rows, 1), grad_output.dims())?;
        check_dims("FM input", (rows, cols), input.dims())?;
        let dim = self.dim;
        self.grad_input.resize(rows, cols);
        let (x, g) = (input.as_slice(), grad_output.as_slice());
        self.grad_input
            .as_mut_slice()
            .par_chunks_mut(cols * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| {
                for (r, dv) in out.chunks_exact_mut(cols).enumerate() {
                    let row = task * ROWS_PER_TASK + r;
                    let v = &x[row * cols..(row + 1) * cols];
                    for d in 0..dim {
                        let s = field_sum(v, dim, d);
                        for f in 0..self.fields {
                            let at = f * dim + d;
                            dv[at] = g[row] * (s - v[at]);
                        }
                    }
                }
            });
        Ok(self.grad_input.view())
    }

    fn output_cols(&self, input_cols: usize) -> Result<usize, NnError> {
        check_cols("FM input", self.input_cols(), input_cols)?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_layer, random_matrix};

    #[test]
    fn equals_sum_of_pairwise_dots() {
        let x = random_matrix(3, 4 * 5, 71, 1.0);
        let mut fm = FmSecondOrder::new(4, 5).unwrap();
        let out = fm.forward(x.view()).unwrap().as_slice().to_vec();
        for (r, o) in out.iter().enumerate() {
            let v: Vec<&[f32]> = x.view().row(r).chunks_exact(5).collect();
            let mut want = 0.0f64;
            for f in 0..4 {
                for g in f + 1..4 {
                    want += v[f]
                        .iter()
                        .zip(v[g])
                        .map(|(a, b)| (a * b) as f64)
                        .sum::<f64>();
                }
            }
            assert!((*o as f64 - want).abs() < 1e-5, "{o} vs {want}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = random_matrix(70, 3 * 4, 72, 1.0);
        check_layer(&mut FmSecondOrder::new(3, 4).unwrap(), &x, 1e-2, 2e-3);
        assert!(FmSecondOrder::new(0, 4).is_err());
    }
}
