//! Dense optimizers with PyTorch's update rules and defaults: SGD (with momentum), Adagrad
//! and Adam.
//!
//! Each optimizer keeps its per-parameter state in the order [`Parameters`] visits
//! parameters and refuses a model whose layout changed. Updates are elementwise, split into
//! fixed chunks, and run on Rayon only for large tensors, so they are deterministic.
//! Weight decay is PyTorch's classic L2 term (`g += λ p`), not AdamW's decoupled decay.

use crate::error::NnError;
use crate::param::{ParamMut, Parameters};
use rayon::prelude::*;

/// Values per parallel task in an update.
const CHUNK: usize = 16 * 1024;

/// Tensors smaller than this are updated on the calling thread.
const PARALLEL_MIN: usize = 64 * 1024;

/// Something that updates parameters from their accumulated gradients.
pub trait Optimizer {
    /// Applies one update to every parameter of `params` from its gradient. Gradients are
    /// left as they are; zero them before accumulating the next step's.
    fn step(&mut self, params: &mut dyn Parameters) -> Result<(), NnError>;
}

/// Per-parameter state: `slots` buffers for every parameter tensor, in visiting order.
#[derive(Debug, Clone, Default)]
struct State {
    steps: u64,
    buffers: Vec<Vec<f32>>,
}

impl State {
    /// Creates the buffers on the first step (filled with `init`) or checks that the model
    /// still has the layout they were created for.
    fn prepare(
        &mut self,
        params: &mut dyn Parameters,
        slots: usize,
        init: f32,
    ) -> Result<(), NnError> {
        let fresh = self.buffers.is_empty();
        let mut index = 0;
        let mut mismatch = None;
        let buffers = &mut self.buffers;
        params.visit_parameters(&mut |p| {
            let len = p.value.len();
            if p.grad.len() != len {
                mismatch.get_or_insert(format!(
                    "parameter {index} has {len} values but {} gradients",
                    p.grad.len()
                ));
            } else if fresh {
                buffers.extend((0..slots).map(|_| vec![init; len]));
            } else if buffers.get(index * slots).map(Vec::len) != Some(len) {
                mismatch.get_or_insert(format!("parameter {index} has {len} values"));
            }
            index += 1;
        });
        if let Some(m) = mismatch {
            if fresh {
                buffers.clear();
            }
            return Err(NnError::Layout(m));
        }
        if index * slots != self.buffers.len() {
            return Err(NnError::Layout(format!(
                "the model has {index} parameter tensors, the optimizer state {}",
                self.buffers.len() / slots.max(1)
            )));
        }
        self.steps += 1;
        Ok(())
    }

    /// Calls `f` with every parameter and its `slots` state buffers.
    fn for_each(
        &mut self,
        params: &mut dyn Parameters,
        slots: usize,
        mut f: impl FnMut(ParamMut<'_>, &mut [Vec<f32>]),
    ) {
        let mut index = 0;
        let buffers = &mut self.buffers;
        params.visit_parameters(&mut |p| {
            f(p, &mut buffers[index * slots..(index + 1) * slots]);
            index += 1;
        });
    }
}

fn check_hyper(name: &str, value: f32, ok: bool) -> Result<(), NnError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(NnError::Config(format!("invalid {name}: {value}")))
    }
}

/// Whether a tensor of `len` values is worth splitting across threads.
fn parallel(len: usize) -> bool {
    len >= PARALLEL_MIN && rayon::current_num_threads() > 1
}

/// Stochastic gradient descent, optionally with momentum (PyTorch's `SGD` with
/// `dampening = 0`, `nesterov = False`).
#[derive(Debug, Clone)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor; 0 disables the momentum buffer.
    pub momentum: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    state: State,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Self {
        Self {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
            state: State::default(),
        }
    }

    /// Sets the momentum factor.
    pub fn with_momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the L2 weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut dyn Parameters) -> Result<(), NnError> {
        check_hyper("learning rate", self.lr, self.lr >= 0.0)?;
        check_hyper("momentum", self.momentum, self.momentum >= 0.0)?;
        check_hyper("weight decay", self.weight_decay, self.weight_decay >= 0.0)?;
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        let slots = usize::from(mu != 0.0);
        self.state.prepare(params, slots, 0.0)?;
        let first = self.state.steps == 1;
        let update = move |p: &mut f32, g: f32, buf: Option<&mut f32>| {
            let d = g + wd * *p;
            let d = match buf {
                Some(b) => {
                    *b = if first { d } else { mu * *b + d };
                    *b
                }
                None => d,
            };
            *p -= lr * d;
        };
        self.state.for_each(params, slots, |p, state| {
            let par = parallel(p.value.len());
            match state.first_mut() {
                None => {
                    let run = |(v, g): (&mut [f32], &[f32])| {
                        for (v, g) in v.iter_mut().zip(g) {
                            update(v, *g, None);
                        }
                    };
                    if par {
                        p.value
                            .par_chunks_mut(CHUNK)
                            .zip(p.grad.par_chunks(CHUNK))
                            .for_each(run);
                    } else {
                        run((p.value, p.grad));
                    }
                }
                Some(buf) => {
                    let run = |((v, g), b): ((&mut [f32], &[f32]), &mut [f32])| {
                        for ((v, g), b) in v.iter_mut().zip(g).zip(b) {
                            update(v, *g, Some(b));
                        }
                    };
                    if par {
                        p.value
                            .par_chunks_mut(CHUNK)
                            .zip(p.grad.par_chunks(CHUNK))
                            .zip(buf.par_chunks_mut(CHUNK))
                            .for_each(run);
                    } else {
                        run(((p.value, p.grad), buf));
                    }
                }
            }
        });
        Ok(())
    }
}

/// Adagrad (PyTorch's defaults: `eps = 1e-10`, accumulator starting at 0, no lr decay).
#[derive(Debug, Clone)]
pub struct Adagrad {
    /// Learning rate.
    pub lr: f32,
    /// Added to the root of the accumulated squares.
    pub eps: f32,
    /// Starting value of the accumulated squares.
    pub initial_accumulator_value: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    state: State,
}

impl Adagrad {
    /// Adagrad with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: f32) -> Self {
        Self {
            lr,
            eps: 1e-10,
            initial_accumulator_value: 0.0,
            weight_decay: 0.0,
            state: State::default(),
        }
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self, params: &mut dyn Parameters) -> Result<(), NnError> {
        check_hyper("learning rate", self.lr, self.lr >= 0.0)?;
        check_hyper("eps", self.eps, self.eps >= 0.0)?;
        let init = self.initial_accumulator_value;
        check_hyper("initial accumulator value", init, init >= 0.0)?;
        check_hyper("weight decay", self.weight_decay, self.weight_decay >= 0.0)?;
        let (lr, eps, wd) = (self.lr, self.eps, self.weight_decay);
        self.state.prepare(params, 1, init)?;
        self.state.for_each(params, 1, |p, state| {
            let run = |((v, g), s): ((&mut [f32], &[f32]), &mut [f32])| {
                for ((v, g), s) in v.iter_mut().zip(g).zip(s) {
                    let g = g + wd * *v;
                    *s += g * g;
                    *v -= lr * g / (s.sqrt() + eps);
                }
            };
            if parallel(p.value.len()) {
                p.value
                    .par_chunks_mut(CHUNK)
                    .zip(p.grad.par_chunks(CHUNK))
                    .zip(state[0].par_chunks_mut(CHUNK))
                    .for_each(run);
            } else {
                run(((p.value, p.grad), &mut state[0]));
            }
        });
        Ok(())
    }
}

/// Adam with bias correction (PyTorch's defaults: betas 0.9 and 0.999, `eps = 1e-8`).
#[derive(Debug, Clone)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first-moment estimate.
    pub beta1: f32,
    /// Decay of the second-moment estimate.
    pub beta2: f32,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    state: State,
}

impl Adam {
    /// Adam with learning rate `lr` and PyTorch's other defaults.
    pub fn new(lr: f32) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            state: State::default(),
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut dyn Parameters) -> Result<(), NnError> {
        check_hyper("learning rate", self.lr, self.lr >= 0.0)?;
        check_hyper("beta1", self.beta1, (0.0..1.0).contains(&self.beta1))?;
        check_hyper("beta2", self.beta2, (0.0..1.0).contains(&self.beta2))?;
        check_hyper("eps", self.eps, self.eps >= 0.0)?;
        check_hyper("weight decay", self.weight_decay, self.weight_decay >= 0.0)?;
        self.state.prepare(params, 2, 0.0)?;
        let t = self.state.steps as f64;
        let (b1, b2, eps, wd) = (self.beta1, self.beta2, self.eps, self.weight_decay);
        let step_size = (self.lr as f64 / (1.0 - (b1 as f64).powf(t))) as f32;
        let bc2_sqrt = (1.0 - (b2 as f64).powf(t)).sqrt() as f32;
        self.state.for_each(params, 2, |p, state| {
            let (m, rest) = state.split_at_mut(1);
            let (m, v2) = (&mut m[0], &mut rest[0]);
            #[allow(clippy::type_complexity)]
            let run = |(((v, g), m), s): (((&mut [f32], &[f32]), &mut [f32]), &mut [f32])| {
                for (((v, g), m), s) in v.iter_mut().zip(g).zip(m).zip(s) {
                    let g = g + wd * *v;
                    *m += (1.0 - b1) * (g - *m);
                    *s = b2 * *s + (1.0 - b2) * g * g;
                    *v -= step_size * *m / (s.sqrt() / bc2_sqrt + eps);
                }
            };
            if parallel(p.value.len()) {
                p.value
                    .par_chunks_mut(CHUNK)
                    .zip(p.grad.par_chunks(CHUNK))
                    .zip(m.par_chunks_mut(CHUNK))
                    .zip(v2.par_chunks_mut(CHUNK))
                    .for_each(run);
            } else {
                run((((p.value, p.grad), m), v2));
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::tests::Toy;

    fn toy() -> Toy {
        Toy::new(
            [vec![1.0, -2.0, 0.5], vec![0.0, 3.0]],
            [vec![0.5, 0.1, -1.0], vec![2.0, -0.2]],
        )
    }

    fn assert_values(toy: &Toy, want: [&[f64]; 2]) {
        for (got, want) in toy.values.iter().zip(want) {
            for (g, w) in got.iter().zip(want) {
                assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
            }
        }
    }

    #[test]
    fn sgd_plain_and_with_momentum_and_decay() {
        let mut t = toy();
        Sgd::new(0.1).step(&mut t).unwrap();
        assert_values(&t, [&[0.95, -2.01, 0.6], &[-0.2, 3.02]]);

        // Momentum 0.9, decay 0.1: first step buf = g + 0.1 p; second buf = 0.9 buf + d.
        let mut t = toy();
        let mut opt = Sgd::new(0.1).with_momentum(0.9).with_weight_decay(0.1);
        opt.step(&mut t).unwrap();
        let p0 = 1.0f64;
        let d1 = 0.5 + 0.1 * p0;
        let p1 = p0 - 0.1 * d1;
        opt.step(&mut t).unwrap();
        let d2 = 0.5 + 0.1 * p1;
        let p2 = p1 - 0.1 * (0.9 * d1 + d2);
        assert!((t.values[0][0] as f64 - p2).abs() < 1e-6);
    }

    #[test]
    fn adagrad_matches_pytorch_formula() {
        let mut t = toy();
        let mut opt = Adagrad::new(0.1);
        opt.step(&mut t).unwrap();
        opt.step(&mut t).unwrap();
        // Same gradient twice: sum = g², then 2 g²; each step moves lr·g/sqrt(sum).
        let expect = |p: f64, g: f64| {
            if g == 0.0 {
                return p;
            }
            let p1 = p - 0.1 * g / ((g * g).sqrt() + 1e-10);
            p1 - 0.1 * g / ((2.0 * g * g).sqrt() + 1e-10)
        };
        assert_values(
            &t,
            [
                &[expect(1.0, 0.5), expect(-2.0, 0.1), expect(0.5, -1.0)],
                &[expect(0.0, 2.0), expect(3.0, -0.2)],
            ],
        );
    }

    #[test]
    fn adam_matches_pytorch_formula() {
        let mut t = toy();
        let mut opt = Adam::new(0.01);
        let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-8, 0.01);
        let mut reference: Vec<(f64, f64, f64)> = [1.0, -2.0, 0.5, 0.0, 3.0]
            .iter()
            .map(|&p| (p, 0.0, 0.0))
            .collect();
        let grads = [0.5, 0.1, -1.0, 2.0, -0.2];
        for step in 1..=3 {
            opt.step(&mut t).unwrap();
            for ((p, m, v), g) in reference.iter_mut().zip(grads) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                let mhat = *m / (1.0 - b1.powi(step));
                let denom = (*v).sqrt() / (1.0 - b2.powi(step)).sqrt() + eps;
                *p -= lr * mhat / denom;
            }
        }
        let r: Vec<f64> = reference.iter().map(|r| r.0).collect();
        assert_values(&t, [&r[..3], &r[3..]]);
        // The first step of Adam moves every parameter by about lr, whatever the gradient.
        assert!((t.values[0][0] - (1.0 - 0.03)).abs() < 1e-4);
    }

    #[test]
    fn layout_changes_and_bad_hyperparameters_are_errors() {
        let mut opt = Adam::new(0.01);
        opt.step(&mut toy()).unwrap();
        let mut other = Toy::new([vec![1.0], vec![2.0, 3.0]], [vec![0.0], vec![0.0, 0.0]]);
        assert!(matches!(opt.step(&mut other), Err(NnError::Layout(_))));
        assert!(Sgd::new(-1.0).step(&mut toy()).is_err());
        let mut bad = Adam::new(0.01);
        bad.beta2 = 1.0;
        assert!(bad.step(&mut toy()).is_err());
    }

    #[test]
    fn large_tensors_update_like_small_ones() {
        // A tensor big enough for the parallel path must match the sequential formula.
        let n = 200_000;
        let value: Vec<f32> = (0..n).map(|i| (i as f32 * 0.001).sin()).collect();
        let grad: Vec<f32> = (0..n).map(|i| (i as f32 * 0.002).cos()).collect();
        let mut big = Toy::new([value.clone(), vec![0.0]], [grad.clone(), vec![0.0]]);
        let mut opt = Adam::new(0.01);
        crate::par::on_threads(2, || opt.step(&mut big)).unwrap();
        for i in [0, 77_777, n - 1] {
            let g = grad[i];
            let want = value[i] - 0.01 * g / (g.abs() + 1e-8);
            assert!((big.values[0][i] - want).abs() < 1e-6, "index {i}");
        }
    }
}
