//! The contract every dense layer with one input and one output follows.
//!
//! `forward` computes the output into a buffer the layer owns and keeps whatever else the
//! backward pass needs; `backward` takes the gradient of the loss with respect to that output
//! and returns the gradient with respect to the input, adding parameter gradients into the
//! layer's gradient buffers. A GPU implementation can follow the same contract.

use crate::error::NnError;
use crate::param::Parameters;
use crate::tensor::MatRef;

/// A differentiable function of a batch, with its parameters.
pub trait Layer: Parameters {
    /// Computes the output for `input` (one row per example) and keeps what backward needs.
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError>;

    /// Returns the gradient with respect to `input`, given the gradient with respect to the
    /// last output, and adds this batch's parameter gradients to the accumulated ones.
    ///
    /// `input` must be the input of the last [`Layer::forward`] call: layers do not copy their
    /// input, the caller keeps it alive instead.
    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError>;

    /// Like [`Layer::backward`] but only accumulates parameter gradients, for a first layer
    /// whose input (raw features) needs no gradient. Layers that can skip work override it.
    fn backward_params_only(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<(), NnError> {
        self.backward(input, grad_output).map(|_| ())
    }

    /// Width of the output for an input of width `input_cols`, or an error when the layer
    /// cannot take that width.
    fn output_cols(&self, input_cols: usize) -> Result<usize, NnError>;
}
