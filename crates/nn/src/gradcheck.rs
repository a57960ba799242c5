//! Test support: central finite differences against hand-derived gradients.
//!
//! The scalar checked is `L = Σ g ⊙ y` for a fixed random `g`, so `∂L/∂y = g` and the
//! analytic input and parameter gradients from `backward(g)` must match the numerical
//! derivatives of `L`. `L` is accumulated in `f64` from the `f32` outputs to keep the
//! differences above rounding noise.

use crate::layer::Layer;
use crate::param::{gather_grads, gather_values, parameter_count, scatter_values, zero_grad};
use crate::rng::Rng;
use crate::tensor::Matrix;

/// A `rows x cols` matrix of uniform values in `[-scale, scale)`.
pub(crate) fn random_matrix(rows: usize, cols: usize, seed: u64, scale: f32) -> Matrix {
    let mut rng = Rng::seed(seed);
    let mut m = Matrix::zeros(rows, cols);
    rng.fill_uniform(m.as_mut_slice(), scale);
    m
}

/// `Σ a ⊙ b` in `f64`.
pub(crate) fn weighted_sum(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Central differences of `f` at `x`, one coordinate at a time.
pub(crate) fn numeric_grad(x: &[f32], eps: f32, mut f: impl FnMut(&[f32]) -> f64) -> Vec<f64> {
    let mut probe = x.to_vec();
    (0..x.len())
        .map(|i| {
            probe[i] = x[i] + eps;
            let up = f(&probe);
            probe[i] = x[i] - eps;
            let down = f(&probe);
            probe[i] = x[i];
            (up - down) / (2.0 * eps as f64)
        })
        .collect()
}

/// Asserts `|analytic - numeric| <= tol * (1 + |numeric|)` everywhere, and that the gradient
/// is not identically zero (a check that cannot fail proves nothing).
pub(crate) fn assert_close(what: &str, analytic: &[f32], numeric: &[f64], tol: f64) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: length");
    let mut largest = 0.0f64;
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let err = (*a as f64 - n).abs();
        assert!(
            err <= tol * (1.0 + n.abs()),
            "{what}[{i}]: analytic {a}, numeric {n}"
        );
        largest = largest.max(n.abs());
    }
    assert!(
        analytic.is_empty() || largest > 1e-3,
        "{what}: gradient is all zero"
    );
}

/// Checks `layer`'s input and parameter gradients at `x` against central differences.
pub(crate) fn check_layer(layer: &mut dyn Layer, x: &Matrix, eps: f32, tol: f64) {
    let (rows, cols) = (x.rows(), x.cols());
    let out_cols = layer.output_cols(cols).unwrap();
    let g = random_matrix(rows, out_cols, 99, 1.0);
    let loss = |layer: &mut dyn Layer, input: &[f32]| {
        let m = Matrix::from_vec(rows, cols, input.to_vec()).unwrap();
        let y = layer.forward(m.view()).unwrap();
        assert_eq!(y.dims(), (rows, out_cols));
        weighted_sum(y.as_slice(), g.as_slice())
    };

    layer.forward(x.view()).unwrap();
    zero_grad(layer);
    let analytic_x = layer
        .backward(x.view(), g.view())
        .unwrap()
        .as_slice()
        .to_vec();
    let n_params = parameter_count(layer);
    let mut analytic_p = vec![0.0; n_params];
    gather_grads(layer, &mut analytic_p).unwrap();

    let numeric_x = numeric_grad(x.as_slice(), eps, |xs| loss(layer, xs));
    assert_close("input gradient", &analytic_x, &numeric_x, tol);

    if n_params > 0 {
        let mut values = vec![0.0; n_params];
        gather_values(layer, &mut values).unwrap();
        let numeric_p = numeric_grad(&values, eps, |ps| {
            scatter_values(layer, ps).unwrap();
            loss(layer, x.as_slice())
        });
        scatter_values(layer, &values).unwrap();
        assert_close("parameter gradient", &analytic_p, &numeric_p, tol);

        // Gradients accumulate: a second backward pass doubles them.
        layer.forward(x.view()).unwrap();
        layer.backward(x.view(), g.view()).unwrap();
        let mut twice = vec![0.0; n_params];
        gather_grads(layer, &mut twice).unwrap();
        for (t, a) in twice.iter().zip(&analytic_p) {
            assert!(
                (t - 2.0 * a).abs() <= 1e-5 * (1.0 + a.abs()),
                "accumulation"
            );
        }
    }
}
