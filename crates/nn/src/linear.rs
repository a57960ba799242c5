//! A fully connected layer `y = act(x Wᵀ + b)` with the bias and activation fused.
//!
//! The weight is stored as PyTorch stores it, `[out, in]`, so checkpoints map one to one.
//! Forward is one GEMM that adds the bias and applies ReLU as it stores its result (or one
//! GEMM plus one pass that does so, where the product does not fuse them). Backward
//! is one pass that applies the activation's derivative while summing the bias gradient per
//! fixed chunk of rows, then two GEMMs that read the transposed operands through strides.
//! The three products multiply in the layer's [`Precision`] (`f32` unless set to bf16); the
//! weight, bias and every gradient stay `f32`.

use crate::activation::Activation;
use crate::error::{NnError, check_cols, check_dims};
use crate::kernels::add_rows;
use crate::layer::Layer;
use crate::matmul::{Op, Precision, matmul_bias, matmul_in};
use crate::narrow::{self, Epilogue};
use crate::par::{
    chunk_count, for_read_chunks_with_partials, for_row_chunks_with_partials, reduce_partials,
};
use crate::param::{ParamMut, Parameters};
use crate::rng::Rng;
use crate::tensor::{MatRef, Matrix};

/// A linear map followed by an optional fused activation.
#[derive(Debug, Clone)]
pub struct Linear {
    activation: Activation,
    precision: Precision,
    weight: Matrix,
    bias: Vec<f32>,
    weight_grad: Matrix,
    bias_grad: Vec<f32>,
    output: Matrix,
    grad_pre: Matrix,
    grad_input: Matrix,
    bias_partials: Vec<f32>,
    /// Scratch of the narrow kernels: the transposed weight, the weight-gradient partials.
    narrow_weight: Vec<f32>,
    narrow_partials: Vec<f32>,
}

impl Linear {
    /// A layer from `in_features` to `out_features`, initialised as PyTorch's `nn.Linear`:
    /// weights and bias uniform in `±1/sqrt(in_features)` (Kaiming-uniform with `a = √5`).
    pub fn new(
        in_features: usize,
        out_features: usize,
        activation: Activation,
        rng: &mut Rng,
    ) -> Result<Self, NnError> {
        if in_features == 0 || out_features == 0 {
            return Err(NnError::Config(format!(
                "a linear layer needs positive sizes, got {in_features} -> {out_features}"
            )));
        }
        let bound = 1.0 / (in_features as f32).sqrt();
        let mut weight = Matrix::zeros(out_features, in_features);
        rng.fill_uniform(weight.as_mut_slice(), bound);
        let mut bias = vec![0.0; out_features];
        rng.fill_uniform(&mut bias, bound);
        Ok(Self {
            activation,
            precision: Precision::F32,
            weight,
            bias,
            weight_grad: Matrix::zeros(out_features, in_features),
            bias_grad: vec![0.0; out_features],
            output: Matrix::default(),
            grad_pre: Matrix::default(),
            grad_input: Matrix::default(),
            bias_partials: Vec::new(),
            narrow_weight: Vec::new(),
            narrow_partials: Vec::new(),
        })
    }

    /// Sets the precision the layer's products multiply in (see [`Precision`]).
    pub fn set_precision(&mut self, precision: Precision) {
        self.precision = precision;
    }

    /// Number of input features.
    pub fn in_features(&self) -> usize {
        self.weight.cols()
    }

    /// Number of output features.
    pub fn out_features(&self) -> usize {
        self.weight.rows()
    }

    /// The output of the last forward pass.
    pub fn output(&self) -> MatRef<'_> {
        self.output.view()
    }

    /// The input gradient of the last backward pass.
    pub fn grad_input(&self) -> MatRef<'_> {
        self.grad_input.view()
    }

    /// The input-gradient buffer, for the layer below in an MLP to compute its
    /// pre-activation gradient in (see [`Upstream::Spent`]).
    pub(crate) fn grad_input_mut(&mut self) -> &mut Matrix {
        &mut self.grad_input
    }

    /// Checks shapes, then accumulates the parameter gradients. The gradient with respect to
    /// the pre-activation is left in `grad_pre`, or in the spent buffer, or (for the identity)
    /// is the upstream gradient itself: see [`Linear::pre_activation_grad`].
    fn backward_params(
        &mut self,
        input: MatRef<'_>,
        upstream: &mut Upstream<'_>,
    ) -> Result<(), NnError> {
        let (rows, out) = (self.output.rows(), self.out_features());
        check_dims("linear gradient", (rows, out), upstream.view().dims())?;
        check_dims("linear input", (rows, self.in_features()), input.dims())?;
        let n_chunks = chunk_count(rows, out);
        self.bias_partials.resize(n_chunks * out, 0.0);
        let act = self.activation;
        let y = self.output.as_slice();
        match upstream {
            Upstream::Borrowed(g) if act == Activation::Identity => {
                let g = g.as_slice();
                for_read_chunks_with_partials(g, out, &mut self.bias_partials, out, |_, c, p| {
                    p.fill(0.0);
                    add_rows(c, p);
                });
            }
            Upstream::Borrowed(g) => {
                let g = g.as_slice();
                self.grad_pre.resize(rows, out);
                let dz = self.grad_pre.as_mut_slice();
                for_row_chunks_with_partials(dz, out, &mut self.bias_partials, out, |r, c, p| {
                    let span = r * out..r * out + c.len();
                    p.fill(0.0);
                    act.backprop_rows(&y[span.clone()], Some(&g[span]), c, p);
                });
            }
            Upstream::Spent(g) => {
                let dz = g.as_mut_slice();
                for_row_chunks_with_partials(dz, out, &mut self.bias_partials, out, |r, c, p| {
                    p.fill(0.0);
                    act.backprop_rows(&y[r * out..r * out + c.len()], None, c, p);
                });
            }
        }
        reduce_partials(&self.bias_partials, &mut self.bias_grad);
        let dz = Self::pre_activation_grad(act, &self.grad_pre, upstream);
        let (dz_values, x) = (dz.as_slice(), input.as_slice());
        if narrow::weight_grad(
            dz_values,
            out,
            x,
            input.cols(),
            &mut self.narrow_partials,
            self.weight_grad.as_mut_slice(),
        ) {
            return Ok(());
        }
        matmul_in(
            self.precision,
            self.weight_grad.view_mut(),
            (dz, Op::T),
            (input, Op::N),
            true,
        )
    }

    /// Where [`backward_params`](Self::backward_params) left the pre-activation gradient:
    /// in a spent upstream buffer, the upstream gradient itself for the identity, else the
    /// layer's `grad_pre` buffer.
    fn pre_activation_grad<'s>(
        activation: Activation,
        grad_pre: &'s Matrix,
        upstream: &'s Upstream<'_>,
    ) -> MatRef<'s> {
        match upstream {
            Upstream::Spent(g) => g.view(),
            Upstream::Borrowed(g) if activation == Activation::Identity => *g,
            Upstream::Borrowed(_) => grad_pre.view(),
        }
    }

    /// [`Layer::backward`] from `upstream`, which may be a spent buffer to work in.
    pub(crate) fn backward_from(
        &mut self,
        input: MatRef<'_>,
        mut upstream: Upstream<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        self.backward_params(input, &mut upstream)?;
        self.grad_input.resize(input.rows(), self.in_features());
        let dz = Self::pre_activation_grad(self.activation, &self.grad_pre, &upstream);
        let (k, n) = (self.out_features(), self.in_features());
        let w = self.weight.as_slice();
        let dst = self.grad_input.as_mut_slice();
        if narrow::product(dz.as_slice(), k, w, n, Epilogue::default(), dst) {
            return Ok(self.grad_input.view());
        }
        matmul_in(
            self.precision,
            self.grad_input.view_mut(),
            (dz, Op::N),
            (self.weight.view(), Op::N),
            false,
        )?;
        Ok(self.grad_input.view())
    }

    /// [`Layer::backward_params_only`] from `upstream`, which may be a spent buffer to work in.
    pub(crate) fn backward_params_from(
        &mut self,
        input: MatRef<'_>,
        mut upstream: Upstream<'_>,
    ) -> Result<(), NnError> {
        self.backward_params(input, &mut upstream)
    }
}

/// The gradient of a layer's output as its backward pass receives it.
pub(crate) enum Upstream<'a> {
    /// Borrowed: a layer with an activation computes its pre-activation gradient into a
    /// buffer of its own.
    Borrowed(MatRef<'a>),
    /// In a buffer its owner no longer needs (in an MLP, the input gradient of the layer
    /// above): the pre-activation gradient overwrites it, and the layer's own buffer for it
    /// stays empty (at batch 2048, 4 MiB per 512-wide layer).
    Spent(&'a mut Matrix),
}

impl Upstream<'_> {
    /// The gradient as a matrix.
    fn view(&self) -> MatRef<'_> {
        match self {
            Upstream::Borrowed(g) => *g,
            Upstream::Spent(g) => g.view(),
        }
    }
}

impl Parameters for Linear {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        f(ParamMut {
            value: self.weight.as_mut_slice(),
            grad: self.weight_grad.as_mut_slice(),
        });
        f(ParamMut {
            value: &mut self.bias,
            grad: &mut self.bias_grad,
        });
    }
}

impl Layer for Linear {
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        check_cols("linear input", self.in_features(), input.cols())?;
        let (k, n) = (self.in_features(), self.out_features());
        self.output.resize(input.rows(), n);
        // The narrow kernels add the bias and apply ReLU themselves; other activations run after.
        let fused = matches!(self.activation, Activation::Identity | Activation::Relu);
        let ep = Epilogue {
            bias: fused.then_some(self.bias.as_slice()),
            relu: self.activation == Activation::Relu,
        };
        if narrow::forward(
            input.as_slice(),
            k,
            self.weight.as_slice(),
            n,
            &mut self.narrow_weight,
            ep,
            self.output.as_mut_slice(),
        ) {
            if !fused {
                self.activation
                    .add_bias_apply(self.output.as_mut_slice(), &self.bias);
            }
            return Ok(self.output.view());
        }
        let (dst, w) = (self.output.view_mut(), (self.weight.view(), Op::T));
        if fused {
            matmul_bias(self.precision, dst, (input, Op::N), w, &self.bias, ep.relu)?;
        } else {
            matmul_in(self.precision, dst, (input, Op::N), w, false)?;
            self.activation
                .add_bias_apply(self.output.as_mut_slice(), &self.bias);
        }
        Ok(self.output.view())
    }

    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        self.backward_from(input, Upstream::Borrowed(grad_output))
    }

    fn backward_params_only(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<(), NnError> {
        self.backward_params_from(input, Upstream::Borrowed(grad_output))
    }

    fn output_cols(&self, input_cols: usize) -> Result<usize, NnError> {
        check_cols("linear input", self.in_features(), input_cols)?;
        Ok(self.out_features())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_layer, random_matrix};
    use crate::param::scatter_values;

    #[test]
    fn forward_matches_hand_computation() {
        let mut rng = Rng::seed(0);
        let mut lin = Linear::new(2, 2, Activation::Relu, &mut rng).unwrap();
        // W = [[1, 2], [-3, 4]], b = [0.5, -1].
        scatter_values(&mut lin, &[1.0, 2.0, -3.0, 4.0, 0.5, -1.0]).unwrap();
        let x = Matrix::from_vec(2, 2, vec![1.0, 1.0, 2.0, 0.0]).unwrap();
        let y = lin.forward(x.view()).unwrap();
        // Row 1: [3.5, 0], row 2: [2.5, relu(-7)] = [2.5, 0].
        assert_eq!(y.as_slice(), &[3.5, 0.0, 2.5, 0.0]);
    }

    #[test]
    fn init_follows_pytorch_bounds_and_seed() {
        let make = |seed| Linear::new(100, 30, Activation::Identity, &mut Rng::seed(seed)).unwrap();
        let (a, b, c) = (make(1), make(1), make(2));
        assert_eq!(a.weight, b.weight);
        assert_ne!(a.weight, c.weight);
        let bound = 0.1;
        assert!(a.weight.as_slice().iter().all(|w| w.abs() <= bound));
        assert!(a.bias.iter().all(|w| w.abs() <= bound));
        let max = a
            .weight
            .as_slice()
            .iter()
            .fold(0.0f32, |m, w| m.max(w.abs()));
        assert!(max > 0.09, "weights should fill the range, max {max}");
    }

    #[test]
    fn gradients_match_finite_differences_for_every_activation() {
        let x = random_matrix(5, 4, 3, 1.0);
        for (i, act) in [Activation::Identity, Activation::Relu, Activation::Sigmoid]
            .into_iter()
            .enumerate()
        {
            let mut lin = Linear::new(4, 3, act, &mut Rng::seed(10 + i as u64)).unwrap();
            check_layer(&mut lin, &x, 1e-2, 2e-3);
        }
    }

    #[test]
    fn large_batch_gradients_match_small_batch_sums() {
        // Exercises the chunked, parallel bias reduction: a batch of many chunks must give the
        // same bias gradient as the sum over its rows.
        let rows = 3000;
        let x = random_matrix(rows, 8, 4, 1.0);
        let g = random_matrix(rows, 40, 5, 1.0);
        let mut lin = Linear::new(8, 40, Activation::Relu, &mut Rng::seed(6)).unwrap();
        let y = lin.forward(x.view()).unwrap().to_matrix();
        lin.backward(x.view(), g.view()).unwrap();
        for c in [0, 17, 39] {
            let want: f64 = (0..rows)
                .filter(|&r| y.view().row(r)[c] > 0.0)
                .map(|r| g.view().row(r)[c] as f64)
                .sum();
            assert!((lin.bias_grad[c] as f64 - want).abs() < 1e-3, "column {c}");
        }
    }

    #[test]
    fn params_only_backward_matches_full_backward() {
        let x = random_matrix(4, 3, 7, 1.0);
        let g = random_matrix(4, 2, 8, 1.0);
        let mut a = Linear::new(3, 2, Activation::Relu, &mut Rng::seed(9)).unwrap();
        let mut b = a.clone();
        a.forward(x.view()).unwrap();
        a.backward(x.view(), g.view()).unwrap();
        b.forward(x.view()).unwrap();
        b.backward_params_only(x.view(), g.view()).unwrap();
        assert_eq!(a.weight_grad, b.weight_grad);
        assert_eq!(a.bias_grad, b.bias_grad);
    }

    #[test]
    fn shape_errors_are_reported() {
        assert!(Linear::new(0, 3, Activation::Relu, &mut Rng::seed(0)).is_err());
        let mut lin = Linear::new(3, 2, Activation::Relu, &mut Rng::seed(0)).unwrap();
        let bad = Matrix::zeros(4, 5);
        assert!(lin.forward(bad.view()).is_err());
        assert!(lin.output_cols(5).is_err());
        let x = Matrix::zeros(4, 3);
        lin.forward(x.view()).unwrap();
        let wrong_rows = Matrix::zeros(3, 2);
        assert!(lin.backward(x.view(), wrong_rows.view()).is_err());
    }
}
