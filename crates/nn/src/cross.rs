//! DCN-v2's cross network: explicit feature crosses `x_{l+1} = x0 ⊙ (W x_l + b) + x_l`.
//!
//! Each layer multiplies the original input elementwise with a linear map of the current
//! one, so `L` layers model crosses up to degree `L + 1`. `W` is either a full `d x d`
//! matrix or the low-rank product `U Vᵀ` (`U`, `V` both `d x r`), which is what makes the
//! network affordable for wide inputs. Backward carries the gradient down through every
//! layer and collects the gradient reaching `x0` from all of them.

use crate::error::{NnError, check_cols, check_dims};
use crate::layer::Layer;
use crate::matmul::{Op, matmul};
use crate::par::{chunk_count, for_row_chunks, for_row_chunks_with_partials, reduce_partials};
use crate::param::{ParamMut, Parameters};
use crate::rng::Rng;
use crate::tensor::{MatRef, Matrix};

/// The form of every cross layer's weight matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossKind {
    /// A full `d x d` matrix per layer.
    Full,
    /// `W = U Vᵀ` with `U`, `V` of shape `d x rank`.
    LowRank {
        /// The inner dimension `r` of the factorisation.
        rank: usize,
    },
}

/// The weight of one cross layer and its gradient (plus the low-rank intermediates).
#[derive(Debug, Clone)]
enum Weights {
    Full {
        w: Matrix,
        w_grad: Matrix,
    },
    LowRank {
        u: Matrix,
        u_grad: Matrix,
        v: Matrix,
        v_grad: Matrix,
        /// `x_l V`, kept for `dU`.
        t: Matrix,
        /// `dh U`, the gradient with respect to `t`.
        dt: Matrix,
    },
}

/// Per-step scratch buffers shared by the layers of a network during backward.
#[derive(Debug, Clone, Default)]
struct Scratch {
    /// `∂L/∂h = g ⊙ x0`.
    dh: Matrix,
    /// Per-chunk partial sums of `dh`, for the bias gradient.
    partials: Vec<f32>,
}

/// One cross layer: its parameters and the pre-product `h = W x_l + b` backward needs.
#[derive(Debug, Clone)]
struct CrossLayer {
    weights: Weights,
    bias: Vec<f32>,
    bias_grad: Vec<f32>,
    h: Matrix,
    output: Matrix,
}

impl CrossLayer {
    fn new(dim: usize, kind: CrossKind, rng: &mut Rng) -> Self {
        let uniform = |rows: usize, cols: usize, fan_in: usize, rng: &mut Rng| {
            let mut m = Matrix::zeros(rows, cols);
            rng.fill_uniform(m.as_mut_slice(), 1.0 / (fan_in as f32).sqrt());
            m
        };
        let weights = match kind {
            CrossKind::Full => Weights::Full {
                w: uniform(dim, dim, dim, rng),
                w_grad: Matrix::zeros(dim, dim),
            },
            CrossKind::LowRank { rank } => Weights::LowRank {
                u: uniform(dim, rank, rank, rng),
                u_grad: Matrix::zeros(dim, rank),
                v: uniform(dim, rank, dim, rng),
                v_grad: Matrix::zeros(dim, rank),
                t: Matrix::default(),
                dt: Matrix::default(),
            },
        };
        Self {
            weights,
            bias: vec![0.0; dim],
            bias_grad: vec![0.0; dim],
            h: Matrix::default(),
            output: Matrix::default(),
        }
    }

    /// `output = x0 ⊙ (W x + b) + x`.
    fn forward(&mut self, x0: MatRef<'_>, x: MatRef<'_>) -> Result<(), NnError> {
        let (rows, dim) = x.dims();
        self.h.resize(rows, dim);
        match &mut self.weights {
            Weights::Full { w, .. } => {
                matmul(self.h.view_mut(), x, Op::N, w.view(), Op::T, false)?;
            }
            Weights::LowRank { u, v, t, .. } => {
                t.resize(rows, v.cols());
                matmul(t.view_mut(), x, Op::N, v.view(), Op::N, false)?;
                matmul(self.h.view_mut(), t.view(), Op::N, u.view(), Op::T, false)?;
            }
        }
        let bias = &self.bias;
        for_row_chunks(self.h.as_mut_slice(), dim, |_, chunk| {
            for row in chunk.chunks_exact_mut(dim) {
                for (h, b) in row.iter_mut().zip(bias) {
                    *h += b;
                }
            }
        });
        self.output.resize(rows, dim);
        let (h, x0, x) = (self.h.as_slice(), x0.as_slice(), x.as_slice());
        for_row_chunks(self.output.as_mut_slice(), dim, |first_row, chunk| {
            let at = first_row * dim;
            let span = at..at + chunk.len();
            for (((o, a), h), x) in chunk
                .iter_mut()
                .zip(&x0[span.clone()])
                .zip(&h[span.clone()])
                .zip(&x[span])
            {
                *o = a * h + x;
            }
        });
        Ok(())
    }

    /// Given `g = ∂L/∂output`, accumulates parameter gradients, adds `g ⊙ h` into `dx0`, and
    /// writes `∂L/∂x = g + (g ⊙ x0) W` into `dx`.
    fn backward(
        &mut self,
        (x0, x, g): (MatRef<'_>, MatRef<'_>, MatRef<'_>),
        dx0: &mut Matrix,
        dx: &mut Matrix,
        scratch: &mut Scratch,
    ) -> Result<(), NnError> {
        let Scratch { dh, partials } = scratch;
        let (rows, dim) = g.dims();
        dh.resize(rows, dim);
        partials.resize(chunk_count(rows, dim) * dim, 0.0);
        let (gs, x0s, hs) = (g.as_slice(), x0.as_slice(), self.h.as_slice());
        for_row_chunks_with_partials(
            dh.as_mut_slice(),
            dim,
            partials,
            dim,
            |first_row, chunk, partial| {
                let at = first_row * dim;
                let span = at..at + chunk.len();
                for ((d, g), a) in chunk.iter_mut().zip(&gs[span.clone()]).zip(&x0s[span]) {
                    *d = g * a;
                }
                partial.fill(0.0);
                for row in chunk.chunks_exact(dim) {
                    for (s, d) in partial.iter_mut().zip(row) {
                        *s += d;
                    }
                }
            },
        );
        reduce_partials(partials, &mut self.bias_grad);
        for_row_chunks(dx0.as_mut_slice(), dim, |first_row, chunk| {
            let at = first_row * dim;
            let span = at..at + chunk.len();
            for ((d, g), h) in chunk.iter_mut().zip(&gs[span.clone()]).zip(&hs[span]) {
                *d += g * h;
            }
        });
        dx.resize(rows, dim);
        dx.as_mut_slice().copy_from_slice(gs);
        match &mut self.weights {
            Weights::Full { w, w_grad } => {
                matmul(w_grad.view_mut(), dh.view(), Op::T, x, Op::N, true)?;
                matmul(dx.view_mut(), dh.view(), Op::N, w.view(), Op::N, true)?;
            }
            Weights::LowRank {
                u,
                u_grad,
                v,
                v_grad,
                t,
                dt,
            } => {
                matmul(u_grad.view_mut(), dh.view(), Op::T, t.view(), Op::N, true)?;
                dt.resize(rows, u.cols());
                matmul(dt.view_mut(), dh.view(), Op::N, u.view(), Op::N, false)?;
                matmul(v_grad.view_mut(), x, Op::T, dt.view(), Op::N, true)?;
                matmul(dx.view_mut(), dt.view(), Op::N, v.view(), Op::T, true)?;
            }
        }
        Ok(())
    }
}

/// A stack of DCN-v2 cross layers over inputs of width `d`; output width is `d` too.
#[derive(Debug, Clone)]
pub struct CrossNetwork {
    dim: usize,
    layers: Vec<CrossLayer>,
    grad_input: Matrix,
    grad_a: Matrix,
    grad_b: Matrix,
    scratch: Scratch,
}

impl CrossNetwork {
    /// `num_layers` cross layers over `dim`-wide inputs. Weights are uniform in
    /// `±1/sqrt(fan_in)` as for a linear layer (fan-in `d` for `W` and `V`, `r` for `U`);
    /// biases start at zero, as in the DCN-v2 reference implementation.
    pub fn new(
        dim: usize,
        num_layers: usize,
        kind: CrossKind,
        rng: &mut Rng,
    ) -> Result<Self, NnError> {
        if dim == 0 || num_layers == 0 {
            return Err(NnError::Config(format!(
                "a cross network needs a positive width and depth, got {dim} and {num_layers}"
            )));
        }
        if let CrossKind::LowRank { rank } = kind
            && rank == 0
        {
            return Err(NnError::Config(
                "low-rank cross layers need rank > 0".into(),
            ));
        }
        Ok(Self {
            dim,
            layers: (0..num_layers)
                .map(|_| CrossLayer::new(dim, kind, rng))
                .collect(),
            grad_input: Matrix::default(),
            grad_a: Matrix::default(),
            grad_b: Matrix::default(),
            scratch: Scratch::default(),
        })
    }
}

impl Parameters for CrossNetwork {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        for layer in &mut self.layers {
            match &mut layer.weights {
                Weights::Full { w, w_grad } => f(ParamMut {
                    value: w.as_mut_slice(),
                    grad: w_grad.as_mut_slice(),
                }),
                Weights::LowRank {
                    u,
                    u_grad,
                    v,
                    v_grad,
                    ..
                } => {
                    f(ParamMut {
                        value: u.as_mut_slice(),
                        grad: u_grad.as_mut_slice(),
                    });
                    f(ParamMut {
                        value: v.as_mut_slice(),
                        grad: v_grad.as_mut_slice(),
                    });
                }
            }
            f(ParamMut {
                value: &mut layer.bias,
                grad: &mut layer.bias_grad,
            });
        }
    }
}

impl Layer for CrossNetwork {
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        check_cols("cross network input", self.dim, input.cols())?;
        for l in 0..self.layers.len() {
            let (below, rest) = self.layers.split_at_mut(l);
            let x = below.last().map_or(input, |prev| prev.output.view());
            rest[0].forward(input, x)?;
        }
        Ok(self.layers[self.layers.len() - 1].output.view())
    }

    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        let rows = self.layers[0].output.rows();
        check_dims("cross network input", (rows, self.dim), input.dims())?;
        check_dims(
            "cross network gradient",
            (rows, self.dim),
            grad_output.dims(),
        )?;
        self.grad_input.resize(rows, self.dim);
        self.grad_input.fill_zero();
        let n = self.layers.len();
        for l in (0..n).rev() {
            let (below, rest) = self.layers.split_at_mut(l);
            let x = below.last().map_or(input, |prev| prev.output.view());
            // The gradient for layer l is `grad_output` for the top layer, else what the
            // layer above left in `grad_a`; this layer writes its input gradient to `grad_b`.
            let g = if l + 1 == n {
                grad_output
            } else {
                self.grad_a.view()
            };
            rest[0].backward(
                (input, x, g),
                &mut self.grad_input,
                &mut self.grad_b,
                &mut self.scratch,
            )?;
            std::mem::swap(&mut self.grad_a, &mut self.grad_b);
        }
        // x0 is also the first layer's x: add the gradient that flowed down the residual path.
        let through = self.grad_a.as_slice();
        for_row_chunks(
            self.grad_input.as_mut_slice(),
            self.dim,
            |first_row, chunk| {
                let at = first_row * self.dim;
                let n = chunk.len();
                for (d, g) in chunk.iter_mut().zip(&through[at..at + n]) {
                    *d += g;
                }
            },
        );
        Ok(self.grad_input.view())
    }

    fn output_cols(&self, input_cols: usize) -> Result<usize, NnError> {
        check_cols("cross network input", self.dim, input_cols)?;
        Ok(self.dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_layer, random_matrix};
    use crate::param::scatter_values;

    #[test]
    fn one_full_layer_by_hand() {
        let mut net = CrossNetwork::new(2, 1, CrossKind::Full, &mut Rng::seed(0)).unwrap();
        // W = [[1, 0], [1, 1]], b = [0.5, -1]; x0 = (2, 3): W x0 + b = (2.5, 4), out = (7, 15).
        scatter_values(&mut net, &[1.0, 0.0, 1.0, 1.0, 0.5, -1.0]).unwrap();
        let x = Matrix::from_vec(1, 2, vec![2.0, 3.0]).unwrap();
        assert_eq!(net.forward(x.view()).unwrap().as_slice(), &[7.0, 15.0]);
    }

    #[test]
    fn low_rank_equals_full_with_the_product_matrix() {
        let mut rng = Rng::seed(61);
        let mut low = CrossNetwork::new(3, 1, CrossKind::LowRank { rank: 2 }, &mut rng).unwrap();
        let mut full = CrossNetwork::new(3, 1, CrossKind::Full, &mut rng).unwrap();
        let u = [1.0, 2.0, 0.0, -1.0, 3.0, 1.0];
        let v = [0.5, 1.0, -2.0, 0.0, 1.0, 1.0];
        let bias = [0.1, 0.2, 0.3];
        let mut w = [0.0f32; 9];
        for i in 0..3 {
            for j in 0..3 {
                w[i * 3 + j] = (0..2).map(|k| u[i * 2 + k] * v[j * 2 + k]).sum();
            }
        }
        scatter_values(&mut low, &[&u[..], &v[..], &bias[..]].concat()).unwrap();
        scatter_values(&mut full, &[&w[..], &bias[..]].concat()).unwrap();
        let x = random_matrix(4, 3, 62, 1.0);
        let a = low.forward(x.view()).unwrap().to_matrix();
        let b = full.forward(x.view()).unwrap();
        for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((p - q).abs() < 1e-5);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = random_matrix(5, 4, 63, 1.0);
        for kind in [CrossKind::Full, CrossKind::LowRank { rank: 2 }] {
            let mut net = CrossNetwork::new(4, 3, kind, &mut Rng::seed(64)).unwrap();
            // Non-zero biases so their gradient path is exercised through later layers.
            let mut values = vec![0.0; crate::param::parameter_count(&mut net)];
            crate::param::gather_values(&mut net, &mut values).unwrap();
            for (i, v) in values.iter_mut().enumerate() {
                if *v == 0.0 {
                    *v = 0.1 * (i % 7) as f32 - 0.3;
                }
            }
            scatter_values(&mut net, &values).unwrap();
            check_layer(&mut net, &x, 1e-2, 3e-3);
        }
    }

    #[test]
    fn invalid_configurations_are_errors() {
        let mut rng = Rng::seed(0);
        assert!(CrossNetwork::new(0, 1, CrossKind::Full, &mut rng).is_err());
        assert!(CrossNetwork::new(3, 0, CrossKind::Full, &mut rng).is_err());
        assert!(CrossNetwork::new(3, 1, CrossKind::LowRank { rank: 0 }, &mut rng).is_err());
        let mut net = CrossNetwork::new(3, 1, CrossKind::Full, &mut rng).unwrap();
        assert!(net.forward(Matrix::zeros(2, 4).view()).is_err());
    }
}
