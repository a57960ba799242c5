//! Elementwise activations: fused into [`crate::Linear`] and available as standalone layers.
//!
//! Both ReLU and sigmoid have derivatives expressible from their output alone
//! (`y > 0` and `y (1 - y)`), so a layer that applies them needs to keep only its output.

use crate::error::{NnError, check_dims};
use crate::kernels::simd_dispatch;
use crate::layer::Layer;
use crate::par::for_row_chunks;
use crate::param::Parameters;
use crate::tensor::{MatRef, Matrix};

/// An elementwise nonlinearity applied after a linear map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// No nonlinearity: the layer outputs logits or raw projections.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
}

impl Activation {
    /// The activation of `x`.
    #[inline(always)]
    pub(crate) fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }

    /// The derivative, expressed through the activation's output `y`, times `g`.
    #[inline(always)]
    pub(crate) fn backprop(self, y: f32, g: f32) -> f32 {
        match self {
            Activation::Identity => g,
            Activation::Relu => {
                if y > 0.0 {
                    g
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => g * y * (1.0 - y),
        }
    }

    /// `out[r][c] = act(out[r][c] + bias[c])` over every row of `out`.
    pub(crate) fn add_bias_apply(self, out: &mut [f32], bias: &[f32]) {
        let cols = bias.len();
        for_row_chunks(out, cols, |_, chunk| {
            for row in chunk.chunks_exact_mut(cols) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = self.apply(*v + b);
                }
            }
        });
    }

    /// `dz = g ⊙ act'(·)` over whole rows given the activation's output `y`, with the column
    /// sums of `dz` (a bias gradient) added to `sums` in row order: one pass instead of two,
    /// the activation matched once rather than per value, compiled for the widest vectors.
    /// With `g` `None`, `dz` holds `g` on entry and is overwritten in place.
    pub(crate) fn backprop_rows(
        self,
        y: &[f32],
        g: Option<&[f32]>,
        dz: &mut [f32],
        sums: &mut [f32],
    ) {
        backprop_rows_any(self, y, g, dz, sums);
    }

    /// `grad_in = grad_out ⊙ act'(·)` given the activation's output.
    fn backprop_all(self, output: &[f32], grad_out: &[f32], grad_in: &mut [f32], cols: usize) {
        for_row_chunks(grad_in, cols, |first_row, chunk| {
            let at = first_row * cols;
            let y = &output[at..at + chunk.len()];
            let g = &grad_out[at..at + chunk.len()];
            for ((d, y), g) in chunk.iter_mut().zip(y).zip(g) {
                *d = self.backprop(*y, *g);
            }
        });
    }
}

simd_dispatch!(
    /// [`Activation::backprop_rows`] on the best instruction set of the CPU.
    fn backprop_rows_any(
        act: Activation,
        y: &[f32],
        g: Option<&[f32]>,
        dz: &mut [f32],
        sums: &mut [f32],
    ) => backprop_rows_generic
);

/// [`Activation::backprop_rows`], written so each activation's loop vectorises.
#[inline(always)]
fn backprop_rows_generic(
    act: Activation,
    y: &[f32],
    g: Option<&[f32]>,
    dz: &mut [f32],
    sums: &mut [f32],
) {
    match act {
        Activation::Identity => rows_with_sums(y, g, dz, sums, |_, g| g),
        Activation::Relu => rows_with_sums(y, g, dz, sums, |y, g| if y > 0.0 { g } else { 0.0 }),
        Activation::Sigmoid => rows_with_sums(y, g, dz, sums, |y, g| g * y * (1.0 - y)),
    }
}

/// `dz = d(y, g)` per value, with each row of `dz` added to `sums` (rows of `sums.len()`);
/// `g` `None` reads `g` from `dz` itself.
#[inline(always)]
fn rows_with_sums(
    y: &[f32],
    g: Option<&[f32]>,
    dz: &mut [f32],
    sums: &mut [f32],
    d: impl Fn(f32, f32) -> f32,
) {
    let cols = sums.len();
    let rows = dz.chunks_exact_mut(cols).zip(y.chunks_exact(cols));
    match g {
        Some(g) => {
            for ((dz, y), g) in rows.zip(g.chunks_exact(cols)) {
                for (((dz, &y), &g), s) in dz.iter_mut().zip(y).zip(g).zip(sums.iter_mut()) {
                    *dz = d(y, g);
                    *s += *dz;
                }
            }
        }
        None => {
            for (dz, y) in rows {
                for ((dz, &y), s) in dz.iter_mut().zip(y).zip(sums.iter_mut()) {
                    *dz = d(y, *dz);
                    *s += *dz;
                }
            }
        }
    }
}

/// A standalone elementwise activation layer (ReLU or sigmoid).
#[derive(Debug, Clone)]
struct Elementwise {
    activation: Activation,
    output: Matrix,
    grad_input: Matrix,
}

impl Elementwise {
    fn forward(&mut self, input: MatRef<'_>) -> MatRef<'_> {
        let (rows, cols) = input.dims();
        self.output.resize(rows, cols);
        let act = self.activation;
        let src = input.as_slice();
        for_row_chunks(self.output.as_mut_slice(), cols, |first_row, chunk| {
            let at = first_row * cols;
            let n = chunk.len();
            for (o, x) in chunk.iter_mut().zip(&src[at..at + n]) {
                *o = act.apply(*x);
            }
        });
        self.output.view()
    }

    fn backward(&mut self, grad_output: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        check_dims(
            "activation gradient",
            (self.output.rows(), self.output.cols()),
            grad_output.dims(),
        )?;
        let (rows, cols) = grad_output.dims();
        self.grad_input.resize(rows, cols);
        self.activation.backprop_all(
            self.output.as_slice(),
            grad_output.as_slice(),
            self.grad_input.as_mut_slice(),
            cols,
        );
        Ok(self.grad_input.view())
    }
}

macro_rules! activation_layer {
    ($name:ident, $act:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $name(Elementwise);

        impl $name {
            /// A layer with empty buffers; they grow on the first batch.
            pub fn new() -> Self {
                Self(Elementwise {
                    activation: $act,
                    output: Matrix::default(),
                    grad_input: Matrix::default(),
                })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl Parameters for $name {}

        impl Layer for $name {
            fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
                Ok(self.0.forward(input))
            }

            fn backward(
                &mut self,
                input: MatRef<'_>,
                grad_output: MatRef<'_>,
            ) -> Result<MatRef<'_>, NnError> {
                check_dims("activation input", grad_output.dims(), input.dims())?;
                self.0.backward(grad_output)
            }

            fn output_cols(&self, input_cols: usize) -> Result<usize, NnError> {
                Ok(input_cols)
            }
        }
    };
}

activation_layer!(
    Relu,
    Activation::Relu,
    "Rectified linear unit, `max(x, 0)`, as a layer of its own."
);
activation_layer!(
    Sigmoid,
    Activation::Sigmoid,
    "Logistic sigmoid, `1 / (1 + e^-x)`, as a layer of its own (e.g. to turn a logit into a click probability)."
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_layer, random_matrix};

    #[test]
    fn relu_and_sigmoid_values() {
        let x = Matrix::from_vec(1, 3, vec![-2.0, 0.5, 0.0]).unwrap();
        let mut relu = Relu::new();
        assert_eq!(relu.forward(x.view()).unwrap().as_slice(), &[0.0, 0.5, 0.0]);
        let mut sig = Sigmoid::new();
        let y = sig.forward(x.view()).unwrap().as_slice().to_vec();
        assert!((y[0] - 0.119_202_92).abs() < 1e-6);
        assert!((y[2] - 0.5).abs() < 1e-7);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = random_matrix(6, 5, 1, 1.0);
        check_layer(&mut Relu::new(), &x, 1e-3, 2e-3);
        check_layer(&mut Sigmoid::new(), &x, 1e-2, 2e-3);
    }

    #[test]
    fn backward_rejects_a_wrong_gradient_shape() {
        let x = random_matrix(2, 3, 1, 1.0);
        let mut relu = Relu::new();
        relu.forward(x.view()).unwrap();
        let g = Matrix::zeros(2, 4);
        assert!(relu.backward(x.view(), g.view()).is_err());
    }
}
