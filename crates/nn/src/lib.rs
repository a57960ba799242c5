//! Dense layers with hand-derived backward passes on a fast GEMM: linear, activations, MLP, DLRM
//! interaction, DCN-v2 cross, FM, two-tower scoring, losses and dense optimizers.
//!
//! Every layer owns preallocated buffers for its output and its input gradient and reuses them
//! from step to step, so a training step allocates nothing once batch shapes have been seen.
//! Layers do not copy their input: the caller passes the same input to
//! [`Layer::backward`] that it passed to [`Layer::forward`], exactly as an autograd engine
//! keeps references to saved tensors. Parameter gradients accumulate; call
//! [`zero_grad`] between steps.
//!
//! Threading: matrix products (this crate's blocked AVX-512 kernel for large ones, the `gemm`
//! crate otherwise) and elementwise work run on the *current* Rayon pool. Run a step inside
//! `ThreadPool::install` to choose the thread count. Reductions use a fixed partition of the
//! batch, so results are bit-identical for the same seed and thread count.
//!
//! Precision: parameters, gradients and sums are `f32`; a linear layer's (or an MLP's)
//! products can multiply in bf16 ([`Precision`], [`Mlp::set_precision`]), which CPUs with
//! AVX-512 BF16 run at twice the `f32` rate.

mod activation;
mod clip;
mod cross;
mod error;
mod fm;
mod interaction;
mod kernels;
mod layer;
mod linear;
mod loss;
mod matmul;
mod mlp;
mod narrow;
mod normalize;
mod optim;
mod packed;
mod par;
mod param;
mod rng;
mod rows;
mod scoring;
mod tensor;

#[cfg(test)]
mod gradcheck;

pub use activation::{Activation, Relu, Sigmoid};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use cross::{CrossKind, CrossNetwork};
pub use error::NnError;
pub use fm::FmSecondOrder;
pub use interaction::DotInteraction;
pub use layer::Layer;
pub use linear::Linear;
pub use loss::{BceWithLogits, InBatchSoftmax};
pub use matmul::{Op, Precision, matmul, matmul_in};
pub use mlp::Mlp;
pub use normalize::L2Normalize;
pub use optim::{Adagrad, Adam, Optimizer, Sgd};
pub use param::{
    ParamMut, Parameters, gather_grads, gather_values, parameter_count, scatter_grads,
    scatter_values, zero_grad,
};
pub use rng::Rng;
pub use rows::{concat_rows, split_rows};
pub use scoring::{InBatchScores, RowDot};
pub use tensor::{MatMut, MatRef, Matrix};
