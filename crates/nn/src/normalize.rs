//! Row-wise L2 normalisation, the step that turns dot-product scores into cosine scores.
//!
//! Follows PyTorch's `F.normalize`: `y = x / max(‖x‖, ε)` with `ε = 1e-12`, so a zero row
//! stays zero instead of producing NaN.

use crate::error::{NnError, check_dims};
use crate::kernels::dot;
use crate::layer::Layer;
use crate::param::Parameters;
use crate::tensor::{MatRef, Matrix};

/// Smallest norm divided by, as in PyTorch.
const EPS: f32 = 1e-12;

/// Scales every row to unit Euclidean length.
#[derive(Debug, Clone, Default)]
pub struct L2Normalize {
    output: Matrix,
    norms: Vec<f32>,
    grad_input: Matrix,
}

impl L2Normalize {
    /// A layer with empty buffers; they grow on the first batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// The normalised rows of the last forward pass.
    pub fn output(&self) -> MatRef<'_> {
        self.output.view()
    }
}

impl Parameters for L2Normalize {}

impl Layer for L2Normalize {
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        let (rows, cols) = input.dims();
        self.output.resize(rows, cols);
        self.norms.resize(rows, 0.0);
        if cols == 0 {
            return Ok(self.output.view());
        }
        let out = self.output.as_mut_slice();
        for ((o, x), n) in out
            .chunks_exact_mut(cols)
            .zip(input.as_slice().chunks_exact(cols))
            .zip(&mut self.norms)
        {
            *n = dot(x, x).sqrt();
            let inv = 1.0 / n.max(EPS);
            for (o, x) in o.iter_mut().zip(x) {
                *o = x * inv;
            }
        }
        Ok(self.output.view())
    }

    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        let (rows, cols) = self.output.dims();
        check_dims("normalize gradient", (rows, cols), grad_output.dims())?;
        check_dims("normalize input", (rows, cols), input.dims())?;
        self.grad_input.resize(rows, cols);
        if cols == 0 {
            return Ok(self.grad_input.view());
        }
        for (((d, y), g), &n) in self
            .grad_input
            .as_mut_slice()
            .chunks_exact_mut(cols)
            .zip(self.output.as_slice().chunks_exact(cols))
            .zip(grad_output.as_slice().chunks_exact(cols))
            .zip(&self.norms)
        {
            if n > EPS {
                // d(x/‖x‖) = (g - y (y·g)) / ‖x‖.
                let yg = dot(y, g);
                let inv = 1.0 / n;
                for ((d, y), g) in d.iter_mut().zip(y).zip(g) {
                    *d = (g - y * yg) * inv;
                }
            } else {
                // The denominator is the constant ε here.
                for (d, g) in d.iter_mut().zip(g) {
                    *d = g / EPS;
                }
            }
        }
        Ok(self.grad_input.view())
    }

    fn output_cols(&self, input_cols: usize) -> Result<usize, NnError> {
        Ok(input_cols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_layer, random_matrix};

    #[test]
    fn rows_get_unit_length_and_zero_rows_stay_zero() {
        let x = Matrix::from_vec(2, 2, vec![3.0, 4.0, 0.0, 0.0]).unwrap();
        let mut norm = L2Normalize::new();
        assert_eq!(
            norm.forward(x.view()).unwrap().as_slice(),
            &[0.6, 0.8, 0.0, 0.0]
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        check_layer(
            &mut L2Normalize::new(),
            &random_matrix(4, 5, 31, 1.0),
            1e-3,
            3e-3,
        );
    }
}
