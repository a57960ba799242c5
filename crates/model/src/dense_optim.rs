//! The dense-parameter optimizer, with its state in one flat buffer so it can be checkpointed.
//!
//! The update rules are PyTorch's (`SGD` with momentum and no dampening, `Adagrad` with
//! `eps = 1e-10`, `Adam` with betas 0.9/0.999 and `eps = 1e-8`). State is laid out parameter
//! after parameter in the model's visiting order, `slots` values per parameter value, which
//! makes saving and restoring it a copy of one buffer. Updates are elementwise, so splitting a
//! large tensor across threads does not change a single bit.

use crate::error::{ModelError, Result};
use crate::spec::{DenseOptimizerKind, DenseOptimizerSpec};
use cascade_nn::{ParamMut, Parameters, parameter_count};
use rayon::prelude::*;

/// Values per parallel task of an update.
const CHUNK: usize = 16 * 1024;

/// PyTorch's Adagrad epsilon.
const ADAGRAD_EPS: f32 = 1e-10;
/// PyTorch's Adam defaults.
const ADAM_BETA1: f32 = 0.9;
const ADAM_BETA2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;

/// An optimizer of every dense parameter of a model, with checkpointable state.
#[derive(Debug, Clone)]
pub struct DenseOptimizer {
    spec: DenseOptimizerSpec,
    state: Vec<f32>,
    steps: u64,
}

impl DenseOptimizer {
    /// An optimizer for `params`, with zeroed state sized for them.
    pub fn new(spec: DenseOptimizerSpec, params: &mut dyn Parameters) -> Self {
        let slots = Self::slots(spec);
        Self {
            spec,
            state: vec![0.0; slots * parameter_count(params)],
            steps: 0,
        }
    }

    /// State values per parameter value.
    fn slots(spec: DenseOptimizerSpec) -> usize {
        match spec.kind {
            DenseOptimizerKind::Sgd if spec.momentum == 0.0 => 0,
            DenseOptimizerKind::Sgd | DenseOptimizerKind::Adagrad => 1,
            DenseOptimizerKind::Adam => 2,
        }
    }

    /// Steps taken so far (Adam's bias correction uses it).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The whole state, for checkpoints.
    pub fn state(&self) -> &[f32] {
        &self.state
    }

    /// Replaces the state and step count with saved ones of the same length.
    pub fn restore(&mut self, state: &[f32], steps: u64) -> Result<()> {
        if state.len() != self.state.len() {
            return Err(ModelError::Spec(format!(
                "dense optimizer state has {} values, this model needs {}",
                state.len(),
                self.state.len()
            )));
        }
        self.state.copy_from_slice(state);
        self.steps = steps;
        Ok(())
    }

    /// Applies one update to every parameter of `params` from its gradient.
    pub fn step(&mut self, params: &mut dyn Parameters) -> Result<()> {
        let slots = Self::slots(self.spec);
        let n = parameter_count(params);
        if n * slots != self.state.len() {
            return Err(ModelError::Spec(format!(
                "the model has {n} dense parameters, the optimizer state is for {}",
                self.state.len() / slots.max(1)
            )));
        }
        self.steps += 1;
        let spec = self.spec;
        let lr = spec.learning_rate;
        let t = self.steps as f64;
        let adam_step = (lr as f64 / (1.0 - (ADAM_BETA1 as f64).powf(t))) as f32;
        let adam_bc2 = (1.0 - (ADAM_BETA2 as f64).powf(t)).sqrt() as f32;
        let mut at = 0;
        let state = &mut self.state;
        params.visit_parameters(&mut |p: ParamMut<'_>| {
            let len = p.value.len();
            let s = &mut state[at * slots..(at + len) * slots];
            at += len;
            let update = |(value, grad, s): (&mut [f32], &[f32], &mut [f32])| match spec.kind {
                DenseOptimizerKind::Sgd if slots == 0 => {
                    for (v, g) in value.iter_mut().zip(grad) {
                        *v -= lr * g;
                    }
                }
                DenseOptimizerKind::Sgd => {
                    for ((v, g), b) in value.iter_mut().zip(grad).zip(s) {
                        *b = spec.momentum * *b + g;
                        *v -= lr * *b;
                    }
                }
                DenseOptimizerKind::Adagrad => {
                    for ((v, g), acc) in value.iter_mut().zip(grad).zip(s) {
                        *acc += g * g;
                        *v -= lr * g / (acc.sqrt() + ADAGRAD_EPS);
                    }
                }
                DenseOptimizerKind::Adam => {
                    for ((v, g), ms) in value.iter_mut().zip(grad).zip(s.chunks_exact_mut(2)) {
                        ms[0] += (1.0 - ADAM_BETA1) * (g - ms[0]);
                        ms[1] = ADAM_BETA2 * ms[1] + (1.0 - ADAM_BETA2) * g * g;
                        *v -= adam_step * ms[0] / (ms[1].sqrt() / adam_bc2 + ADAM_EPS);
                    }
                }
            };
            if len >= 4 * CHUNK && rayon::current_num_threads() > 1 {
                let state_chunk = CHUNK * slots.max(1);
                let mut s_chunks: Vec<&mut [f32]> = if slots == 0 {
                    Vec::new()
                } else {
                    s.chunks_mut(state_chunk).collect()
                };
                s_chunks.resize_with(len.div_ceil(CHUNK), Default::default);
                p.value
                    .par_chunks_mut(CHUNK)
                    .zip(p.grad.par_chunks(CHUNK))
                    .zip(s_chunks.into_par_iter())
                    .for_each(|((v, g), s)| update((v, g, s)));
            } else {
                update((p.value, p.grad, s));
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_nn::{Activation, Linear, Rng, gather_values, scatter_grads};

    fn spec(kind: DenseOptimizerKind, momentum: f32) -> DenseOptimizerSpec {
        DenseOptimizerSpec {
            kind,
            learning_rate: 0.1,
            momentum,
            clip_norm: 0.0,
        }
    }

    /// Runs two steps with gradient `[1, -2]` on a 1x1 linear layer starting at `[w, b]`.
    fn two_steps(kind: DenseOptimizerKind, momentum: f32) -> Vec<f32> {
        let mut lin = Linear::new(1, 1, Activation::Identity, &mut Rng::seed(0)).unwrap();
        cascade_nn::scatter_values(&mut lin, &[0.5, -0.5]).unwrap();
        let mut opt = DenseOptimizer::new(spec(kind, momentum), &mut lin);
        for _ in 0..2 {
            scatter_grads(&mut lin, &[1.0, -2.0]).unwrap();
            opt.step(&mut lin).unwrap();
        }
        let mut v = vec![0.0; 2];
        gather_values(&mut lin, &mut v).unwrap();
        v
    }

    fn close(got: &[f32], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn updates_follow_pytorch_formulas() {
        close(&two_steps(DenseOptimizerKind::Sgd, 0.0), &[0.3, -0.1]);
        // Momentum 0.9: buffers 1 then 1.9 → w = 0.5 - 0.1 - 0.19.
        close(
            &two_steps(DenseOptimizerKind::Sgd, 0.9),
            &[0.21, -0.5 + 0.2 + 0.38],
        );
        // Adagrad: accumulators 1, 2 → w = 0.5 - 0.1/1 - 0.1/sqrt(2).
        let s2 = 2f64.sqrt();
        close(
            &two_steps(DenseOptimizerKind::Adagrad, 0.0),
            &[0.5 - 0.1 - 0.1 / s2, -0.5 + 0.1 + 0.1 / s2],
        );
        // Adam with a constant gradient moves by lr each step (up to eps).
        close(&two_steps(DenseOptimizerKind::Adam, 0.0), &[0.3, -0.3]);
    }

    #[test]
    fn restore_checks_length_and_round_trips() {
        let mut lin = Linear::new(3, 2, Activation::Identity, &mut Rng::seed(0)).unwrap();
        let mut opt = DenseOptimizer::new(spec(DenseOptimizerKind::Adam, 0.0), &mut lin);
        scatter_grads(&mut lin, &[0.5; 8]).unwrap();
        opt.step(&mut lin).unwrap();
        let mut other = DenseOptimizer::new(spec(DenseOptimizerKind::Adam, 0.0), &mut lin);
        other.restore(opt.state(), opt.steps()).unwrap();
        assert_eq!((other.state(), other.steps()), (opt.state(), 1));
        assert!(other.restore(&[0.0; 3], 1).is_err());
        let mut bigger = Linear::new(4, 2, Activation::Identity, &mut Rng::seed(0)).unwrap();
        assert!(opt.step(&mut bigger).is_err());
    }
}
