//! A multilayer perceptron: a stack of [`Linear`] layers with ReLU between them.
//!
//! DLRM's bottom and top MLPs, DCN-v2's deep part, DeepFM's deep part and each tower of a
//! two-tower model are all this. The last layer's activation is a choice: DLRM's top MLP
//! ends in a plain logit, while the reference two-tower towers apply ReLU after the last
//! layer too. Each layer's output buffer doubles as the next layer's saved input, so the
//! stack keeps no copies of its activations; and in backward each hidden layer computes its
//! pre-activation gradient in the input-gradient buffer of the layer above, which is spent by
//! then (after a backward pass, those buffers hold the gradients of the layers below).

use crate::activation::Activation;
use crate::error::NnError;
use crate::layer::Layer;
use crate::linear::{Linear, Upstream};
use crate::matmul::Precision;
use crate::param::{ParamMut, Parameters};
use crate::rng::Rng;
use crate::tensor::MatRef;

/// Linear layers with ReLU after each hidden layer and a chosen activation after the last.
#[derive(Debug, Clone)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// An MLP through the layer widths `sizes` (input width first), e.g. `[13, 512, 256, 64]`.
    /// Layers are initialised in order from `rng`, as `nn.Linear` would initialise them.
    pub fn new(sizes: &[usize], last: Activation, rng: &mut Rng) -> Result<Self, NnError> {
        if sizes.len() < 2 {
            return Err(NnError::Config(format!(
                "an MLP needs an input width and at least one layer width, got {sizes:?}"
            )));
        }
        let n = sizes.len() - 1;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let act = if i + 1 == n { last } else { Activation::Relu };
                Linear::new(w[0], w[1], act, rng)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { layers })
    }

    /// The output of the last forward pass (the last layer's), which backward passes that
    /// need it again read in place.
    pub fn output(&self) -> MatRef<'_> {
        self.layers[self.layers.len() - 1].output()
    }

    /// Sets the precision every layer's products multiply in (see [`Precision`]).
    pub fn set_precision(&mut self, precision: Precision) {
        for layer in &mut self.layers {
            layer.set_precision(precision);
        }
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Width of the input.
    pub fn in_features(&self) -> usize {
        self.layers[0].in_features()
    }

    /// Width of the output.
    pub fn out_features(&self) -> usize {
        self.layers[self.layers.len() - 1].out_features()
    }

    /// Runs backward through every layer but the first, leaving in each layer's input
    /// gradient what the layer below it needs.
    fn backward_upper(&mut self, grad_output: MatRef<'_>) -> Result<(), NnError> {
        let n = self.layers.len();
        for i in (1..n).rev() {
            let (below, rest) = self.layers.split_at_mut(i);
            let (layer, above) = rest.split_at_mut(1);
            layer[0].backward_from(below[i - 1].output(), upstream(above, grad_output))?;
        }
        Ok(())
    }
}

/// The gradient of a layer's output, given the layers above it: the input gradient of the
/// next layer, which nothing needs once the layer has its own pre-activation gradient (so it
/// is computed there, in place), or the MLP's `grad_output` for the last layer.
fn upstream<'a>(above: &'a mut [Linear], grad_output: MatRef<'a>) -> Upstream<'a> {
    match above.first_mut() {
        Some(next) => Upstream::Spent(next.grad_input_mut()),
        None => Upstream::Borrowed(grad_output),
    }
}

impl Parameters for Mlp {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        for layer in &mut self.layers {
            layer.visit_parameters(f);
        }
    }
}

impl Layer for Mlp {
    fn forward(&mut self, input: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        for i in 0..self.layers.len() {
            let (below, rest) = self.layers.split_at_mut(i);
            let x = match below.last() {
                Some(prev) => prev.output(),
                None => input,
            };
            rest[0].forward(x)?;
        }
        Ok(self.output())
    }

    fn backward(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<MatRef<'_>, NnError> {
        self.backward_upper(grad_output)?;
        let (first, rest) = self.layers.split_at_mut(1);
        first[0].backward_from(input, upstream(rest, grad_output))
    }

    fn backward_params_only(
        &mut self,
        input: MatRef<'_>,
        grad_output: MatRef<'_>,
    ) -> Result<(), NnError> {
        self.backward_upper(grad_output)?;
        let (first, rest) = self.layers.split_at_mut(1);
        first[0].backward_params_from(input, upstream(rest, grad_output))
    }

    fn output_cols(&self, input_cols: usize) -> Result<usize, NnError> {
        self.layers
            .iter()
            .try_fold(input_cols, |cols, layer| layer.output_cols(cols))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{check_layer, random_matrix};
    use crate::loss::BceWithLogits;
    use crate::optim::{Adam, Optimizer};
    use crate::param::zero_grad;
    use crate::tensor::Matrix;

    #[test]
    fn gradients_match_finite_differences() {
        let x = random_matrix(6, 5, 11, 2.0);
        for last in [Activation::Identity, Activation::Relu] {
            let mut mlp = Mlp::new(&[5, 8, 6, 3], last, &mut Rng::seed(12)).unwrap();
            check_layer(&mut mlp, &x, 1e-3, 3e-3);
        }
    }

    #[test]
    fn widths_are_checked() {
        assert!(Mlp::new(&[3], Activation::Identity, &mut Rng::seed(0)).is_err());
        assert!(Mlp::new(&[3, 0, 1], Activation::Identity, &mut Rng::seed(0)).is_err());
        let mlp = Mlp::new(&[3, 4, 1], Activation::Identity, &mut Rng::seed(0)).unwrap();
        assert_eq!(mlp.output_cols(3).unwrap(), 1);
        assert!(mlp.output_cols(4).is_err());
        assert_eq!(
            (mlp.in_features(), mlp.out_features(), mlp.layers().len()),
            (3, 1, 2)
        );
    }

    #[test]
    fn learns_xor() {
        // XOR is not linearly separable: the loss only falls to near zero when gradients flow
        // correctly through the hidden layer.
        let x = Matrix::from_vec(4, 2, vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]).unwrap();
        let labels = [0.0, 1.0, 1.0, 0.0];
        let mut mlp = Mlp::new(&[2, 8, 1], Activation::Identity, &mut Rng::seed(3)).unwrap();
        let mut loss = BceWithLogits::new();
        let mut opt = Adam::new(0.05);
        let mut last = f32::INFINITY;
        for _ in 0..500 {
            zero_grad(&mut mlp);
            let logits = mlp.forward(x.view()).unwrap();
            last = loss.forward(logits, &labels).unwrap();
            mlp.backward(x.view(), loss.grad()).unwrap();
            opt.step(&mut mlp).unwrap();
        }
        assert!(last < 0.05, "final loss {last}");
        let logits = mlp.forward(x.view()).unwrap();
        for (z, y) in logits.as_slice().iter().zip(labels) {
            assert_eq!(*z > 0.0, y > 0.5, "logit {z} for label {y}");
        }
    }
}
