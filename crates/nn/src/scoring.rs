//! Two-tower scoring: how a query embedding and an item embedding become a score.
//!
//! [`RowDot`] scores each query against its own item (one score per row, for pointwise
//! training and for serving); [`InBatchScores`] scores every query against every item of
//! the batch (the `B x N` matrix an in-batch softmax needs). Both optionally normalise the
//! embeddings first (cosine similarity) and divide by a temperature.

use crate::error::{NnError, check_cols, check_dims};
use crate::kernels::{dot, simd_dispatch};
use crate::layer::Layer;
use crate::matmul::{Op, matmul_scaled};
use crate::normalize::L2Normalize;
use crate::par::{for_chunks, worth_parallel};
use crate::tensor::{MatRef, Matrix};
use rayon::prelude::*;

/// What both scorers share: the optional normalisation and the temperature.
#[derive(Debug, Clone)]
struct Scaling {
    inv_temperature: f32,
    /// Normalisers for the query and item sides when scoring by cosine.
    cosine: Option<(L2Normalize, L2Normalize)>,
}

impl Scaling {
    fn new(cosine: bool, temperature: f32) -> Result<Self, NnError> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(NnError::Config(format!(
                "temperature must be positive and finite, got {temperature}"
            )));
        }
        Ok(Self {
            inv_temperature: 1.0 / temperature,
            cosine: cosine.then(|| (L2Normalize::new(), L2Normalize::new())),
        })
    }

    /// The embeddings the score is taken of: normalised copies, or the inputs themselves.
    fn embed<'a>(
        &'a mut self,
        u: MatRef<'a>,
        v: MatRef<'a>,
    ) -> Result<(MatRef<'a>, MatRef<'a>), NnError> {
        check_cols("item embeddings", u.cols(), v.cols())?;
        match &mut self.cosine {
            Some((nu, nv)) => Ok((nu.forward(u)?, nv.forward(v)?)),
            None => Ok((u, v)),
        }
    }

    /// The embeddings of the last forward pass, without recomputing them.
    fn embedded<'a>(&'a self, u: MatRef<'a>, v: MatRef<'a>) -> (MatRef<'a>, MatRef<'a>) {
        match &self.cosine {
            Some((nu, nv)) => (nu.output(), nv.output()),
            None => (u, v),
        }
    }

    /// Turns gradients with respect to the scored embeddings into gradients with respect to
    /// the inputs.
    fn backward<'a>(
        &'a mut self,
        u: MatRef<'_>,
        v: MatRef<'_>,
        grad_u: &'a Matrix,
        grad_v: &'a Matrix,
    ) -> Result<(MatRef<'a>, MatRef<'a>), NnError> {
        match &mut self.cosine {
            Some((nu, nv)) => Ok((
                nu.backward(u, grad_u.view())?,
                nv.backward(v, grad_v.view())?,
            )),
            None => Ok((grad_u.view(), grad_v.view())),
        }
    }
}

/// One score per row: `s_i = <u_i, v_i> / τ`, or the cosine of the two over `τ`.
#[derive(Debug, Clone)]
pub struct RowDot {
    scaling: Scaling,
    scores: Matrix,
    grad_u: Matrix,
    grad_v: Matrix,
}

impl RowDot {
    /// A scorer; `cosine` normalises both embeddings first, `temperature` divides the score.
    pub fn new(cosine: bool, temperature: f32) -> Result<Self, NnError> {
        Ok(Self {
            scaling: Scaling::new(cosine, temperature)?,
            scores: Matrix::default(),
            grad_u: Matrix::default(),
            grad_v: Matrix::default(),
        })
    }

    /// Scores the `B x D` queries `u` against the `B x D` items `v`; returns `B x 1`.
    pub fn forward(&mut self, u: MatRef<'_>, v: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        check_dims("item embeddings", u.dims(), v.dims())?;
        let inv_t = self.scaling.inv_temperature;
        let (eu, ev) = self.scaling.embed(u, v)?;
        let cols = eu.cols();
        self.scores.resize(eu.rows(), 1);
        let (u, v) = (eu.as_slice(), ev.as_slice());
        for_rows(self.scores.as_mut_slice(), cols, |first, scores| {
            let span = first * cols..(first + scores.len()) * cols;
            row_dots(&u[span.clone()], &v[span], inv_t, scores);
        });
        Ok(self.scores.view())
    }

    /// Gradients with respect to `u` and `v` given the gradient of the scores (`B x 1`).
    pub fn backward(
        &mut self,
        u: MatRef<'_>,
        v: MatRef<'_>,
        grad_scores: MatRef<'_>,
    ) -> Result<(MatRef<'_>, MatRef<'_>), NnError> {
        check_dims("score gradient", self.scores.dims(), grad_scores.dims())?;
        check_dims("query embeddings", (self.scores.rows(), v.cols()), u.dims())?;
        check_dims("item embeddings", u.dims(), v.dims())?;
        let (rows, cols) = u.dims();
        self.grad_u.resize(rows, cols);
        self.grad_v.resize(rows, cols);
        let inv_t = self.scaling.inv_temperature;
        let (eu, ev) = self.scaling.embedded(u, v);
        let (eu, ev, g) = (eu.as_slice(), ev.as_slice(), grad_scores.as_slice());
        let chunk = ROWS_PER_TASK * cols.max(1);
        let task = |(c, (du, dv)): (usize, (&mut [f32], &mut [f32]))| {
            let span = c * chunk..c * chunk + du.len();
            let g = &g[c * ROWS_PER_TASK..c * ROWS_PER_TASK + du.len() / cols.max(1)];
            scale_rows(g, inv_t, &ev[span.clone()], du);
            scale_rows(g, inv_t, &eu[span], dv);
        };
        let (gu, gv) = (self.grad_u.as_mut_slice(), self.grad_v.as_mut_slice());
        if worth_parallel(rows * cols) {
            gu.par_chunks_mut(chunk)
                .zip(gv.par_chunks_mut(chunk))
                .enumerate()
                .for_each(task);
        } else {
            gu.chunks_mut(chunk)
                .zip(gv.chunks_mut(chunk))
                .enumerate()
                .for_each(task);
        }
        self.scaling.backward(u, v, &self.grad_u, &self.grad_v)
    }
}

/// Rows of a [`RowDot`] task: a few hundred rows of a 64-wide embedding is enough work to pay
/// for a Rayon task, and a batch of thousands splits between threads.
const ROWS_PER_TASK: usize = 512;

/// Calls `f(first_row, scores)` on consecutive chunks of [`ROWS_PER_TASK`] scores of rows of
/// `cols` values, in parallel when there is enough work.
fn for_rows(scores: &mut [f32], cols: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let parallel = worth_parallel(scores.len() * cols);
    for_chunks(scores, ROWS_PER_TASK, parallel, |c, s| {
        f(c * ROWS_PER_TASK, s)
    });
}

simd_dispatch!(
    /// `scores[i] = <u_i, v_i> * scale` for the rows of `u` and `v` (`scores.len()` rows each),
    /// compiled for the widest vectors.
    fn row_dots(u: &[f32], v: &[f32], scale: f32, scores: &mut [f32]) => row_dots_generic
);

/// [`row_dots`] for any instruction set.
#[inline(always)]
fn row_dots_generic(u: &[f32], v: &[f32], scale: f32, scores: &mut [f32]) {
    let cols = u.len() / scores.len().max(1);
    if cols == 0 {
        scores.fill(0.0);
        return;
    }
    let rows = u.chunks_exact(cols).zip(v.chunks_exact(cols));
    for (s, (u, v)) in scores.iter_mut().zip(rows) {
        *s = dot(u, v) * scale;
    }
}

simd_dispatch!(
    /// `out_i = g_i * scale * x_i` for every row `i` of `x` (`g.len()` rows), compiled for the
    /// widest vectors.
    fn scale_rows(g: &[f32], scale: f32, x: &[f32], out: &mut [f32]) => scale_rows_generic
);

/// [`scale_rows`] for any instruction set.
#[inline(always)]
fn scale_rows_generic(g: &[f32], scale: f32, x: &[f32], out: &mut [f32]) {
    let cols = (x.len() / g.len().max(1)).max(1);
    let rows = out.chunks_exact_mut(cols).zip(x.chunks_exact(cols));
    for (&g, (out, x)) in g.iter().zip(rows) {
        let g = g * scale;
        for (d, x) in out.iter_mut().zip(x) {
            *d = g * x;
        }
    }
}

/// Every query against every item: `S = U Vᵀ / τ` (`B x N`), or the cosines over `τ`.
#[derive(Debug, Clone)]
pub struct InBatchScores {
    scaling: Scaling,
    scores: Matrix,
    grad_u: Matrix,
    grad_v: Matrix,
}

impl InBatchScores {
    /// A scorer; `cosine` normalises both embeddings first, `temperature` divides the score.
    pub fn new(cosine: bool, temperature: f32) -> Result<Self, NnError> {
        Ok(Self {
            scaling: Scaling::new(cosine, temperature)?,
            scores: Matrix::default(),
            grad_u: Matrix::default(),
            grad_v: Matrix::default(),
        })
    }

    /// Scores the `B x D` queries `u` against the `N x D` items `v`; returns `B x N`.
    pub fn forward(&mut self, u: MatRef<'_>, v: MatRef<'_>) -> Result<MatRef<'_>, NnError> {
        let inv_t = self.scaling.inv_temperature;
        let (eu, ev) = self.scaling.embed(u, v)?;
        self.scores.resize(eu.rows(), ev.rows());
        matmul_scaled(self.scores.view_mut(), eu, Op::N, ev, Op::T, inv_t, false)?;
        Ok(self.scores.view())
    }

    /// Gradients with respect to `u` (`B x D`) and `v` (`N x D`) given the gradient of the
    /// score matrix: `dU = dS V / τ`, `dV = dSᵀ U / τ`.
    pub fn backward(
        &mut self,
        u: MatRef<'_>,
        v: MatRef<'_>,
        grad_scores: MatRef<'_>,
    ) -> Result<(MatRef<'_>, MatRef<'_>), NnError> {
        check_dims("score gradient", self.scores.dims(), grad_scores.dims())?;
        check_dims("query embeddings", (self.scores.rows(), v.cols()), u.dims())?;
        check_dims("item embeddings", (self.scores.cols(), u.cols()), v.dims())?;
        self.grad_u.resize(u.rows(), u.cols());
        self.grad_v.resize(v.rows(), v.cols());
        let inv_t = self.scaling.inv_temperature;
        let (eu, ev) = self.scaling.embedded(u, v);
        matmul_scaled(
            self.grad_u.view_mut(),
            grad_scores,
            Op::N,
            ev,
            Op::N,
            inv_t,
            false,
        )?;
        matmul_scaled(
            self.grad_v.view_mut(),
            grad_scores,
            Op::T,
            eu,
            Op::N,
            inv_t,
            false,
        )?;
        self.scaling.backward(u, v, &self.grad_u, &self.grad_v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{assert_close, numeric_grad, random_matrix, weighted_sum};

    #[test]
    fn row_dot_values() {
        let u = Matrix::from_vec(2, 2, vec![1.0, 2.0, 3.0, 0.0]).unwrap();
        let v = Matrix::from_vec(2, 2, vec![3.0, 4.0, -1.0, 5.0]).unwrap();
        let mut dot = RowDot::new(false, 0.5).unwrap();
        assert_eq!(
            dot.forward(u.view(), v.view()).unwrap().as_slice(),
            &[22.0, -6.0]
        );
        let mut cos = RowDot::new(true, 1.0).unwrap();
        let s = cos.forward(u.view(), v.view()).unwrap().as_slice().to_vec();
        assert!((s[0] - 11.0 / (5f32.sqrt() * 5.0)).abs() < 1e-6);
        assert!((s[1] + 3.0 / (3.0 * 26f32.sqrt())).abs() < 1e-6);
        assert!(RowDot::new(false, 0.0).is_err());
        assert!(dot.forward(u.view(), Matrix::zeros(2, 3).view()).is_err());
    }

    #[test]
    fn in_batch_scores_values() {
        let u = Matrix::from_vec(1, 2, vec![1.0, 2.0]).unwrap();
        let v = Matrix::from_vec(3, 2, vec![1.0, 0.0, 0.0, 1.0, 2.0, 2.0]).unwrap();
        let mut s = InBatchScores::new(false, 2.0).unwrap();
        assert_eq!(
            s.forward(u.view(), v.view()).unwrap().as_slice(),
            &[0.5, 1.0, 3.0]
        );
    }

    /// Checks both input gradients of a two-input scorer by finite differences.
    fn check_two_input(
        mut forward: impl FnMut(MatRef<'_>, MatRef<'_>) -> Vec<f32>,
        analytic: (Vec<f32>, Vec<f32>),
        u: &Matrix,
        v: &Matrix,
        g: &Matrix,
    ) {
        let nu = numeric_grad(u.as_slice(), 1e-3, |x| {
            let m = MatRef::new(x, u.rows(), u.cols()).unwrap();
            weighted_sum(&forward(m, v.view()), g.as_slice())
        });
        assert_close("query gradient", &analytic.0, &nu, 3e-3);
        let nv = numeric_grad(v.as_slice(), 1e-3, |x| {
            let m = MatRef::new(x, v.rows(), v.cols()).unwrap();
            weighted_sum(&forward(u.view(), m), g.as_slice())
        });
        assert_close("item gradient", &analytic.1, &nv, 3e-3);
    }

    #[test]
    fn row_dot_gradients_match_finite_differences() {
        let u = random_matrix(4, 5, 41, 1.0);
        let v = random_matrix(4, 5, 42, 1.0);
        let g = random_matrix(4, 1, 43, 1.0);
        for cosine in [false, true] {
            let mut s = RowDot::new(cosine, 0.7).unwrap();
            s.forward(u.view(), v.view()).unwrap();
            let (du, dv) = s.backward(u.view(), v.view(), g.view()).unwrap();
            let analytic = (du.as_slice().to_vec(), dv.as_slice().to_vec());
            check_two_input(
                |a, b| s.forward(a, b).unwrap().as_slice().to_vec(),
                analytic,
                &u,
                &v,
                &g,
            );
        }
    }

    #[test]
    fn in_batch_gradients_match_finite_differences() {
        let u = random_matrix(3, 4, 44, 1.0);
        let v = random_matrix(5, 4, 45, 1.0);
        let g = random_matrix(3, 5, 46, 1.0);
        for cosine in [false, true] {
            let mut s = InBatchScores::new(cosine, 0.2).unwrap();
            s.forward(u.view(), v.view()).unwrap();
            let (du, dv) = s.backward(u.view(), v.view(), g.view()).unwrap();
            let analytic = (du.as_slice().to_vec(), dv.as_slice().to_vec());
            check_two_input(
                |a, b| s.forward(a, b).unwrap().as_slice().to_vec(),
                analytic,
                &u,
                &v,
                &g,
            );
        }
    }
}
