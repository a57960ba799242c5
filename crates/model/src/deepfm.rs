//! DeepFM: the sum of a first-order term (a 1-wide embedding per sparse feature plus a linear
//! map of the dense features), the factorisation machine's second-order term over the
//! feature embeddings, and a deep MLP over the same embeddings concatenated.
//!
//! Dense features enter the FM and the deep part as one more field: the bottom MLP projects
//! them to a `D`-wide vector placed before the embeddings.

use crate::error::Result;
use crate::spec::RankingSpec;
use cascade_core::KeyedJagged;
use cascade_embed::{EmbeddingCollection, Pooled};
use cascade_nn::{
    Activation, FmSecondOrder, Layer, Linear, MatRef, Matrix, Mlp, ParamMut, Parameters, Rng,
    concat_rows, split_rows,
};
use rayon::prelude::*;

/// Examples per parallel task of the elementwise passes.
const ROWS_PER_TASK: usize = 256;

/// The parts of a DeepFM model other than the shared feature embeddings.
#[derive(Debug, Clone)]
pub(crate) struct DeepFm {
    dim: usize,
    bottom: Option<Mlp>,
    dense_linear: Option<Linear>,
    /// The first-order weights: a 1-wide embedding table per sparse feature.
    first_order: EmbeddingCollection,
    first_pooled: Pooled,
    fm: FmSecondOrder,
    deep: Mlp,
    /// `[dense projection | embeddings]`, the FM and deep input when there are dense features.
    x: Matrix,
    logits: Matrix,
    grad_first: Vec<f32>,
    grad_x: Matrix,
    grad_bottom: Matrix,
    grad_pooled: Matrix,
}

impl DeepFm {
    /// Builds the layers of `spec` from `rng` and the first-order tables from `first_order`.
    pub(crate) fn new(
        spec: &RankingSpec,
        first_order: EmbeddingCollection,
        rng: &mut Rng,
    ) -> Result<Self> {
        let dim = spec.embedding_dim;
        let has_dense = spec.num_dense > 0;
        let bottom = has_dense
            .then(|| spec.mlp(spec.num_dense, &spec.bottom_mlp, Activation::Relu, rng))
            .transpose()?;
        let dense_linear = has_dense
            .then(|| Linear::new(spec.num_dense, 1, Activation::Identity, rng))
            .transpose()?;
        let fields = spec.sparse.len() + usize::from(has_dense);
        let fm = FmSecondOrder::new(fields, dim)?;
        let deep = spec.mlp(fields * dim, &spec.top_mlp, Activation::Identity, rng)?;
        Ok(Self {
            dim,
            bottom,
            dense_linear,
            first_order,
            first_pooled: Pooled::new(),
            fm,
            deep,
            x: Matrix::default(),
            logits: Matrix::default(),
            grad_first: Vec::new(),
            grad_x: Matrix::default(),
            grad_bottom: Matrix::default(),
            grad_pooled: Matrix::default(),
        })
    }

    /// The first-order tables, for checkpoints.
    pub(crate) fn first_order_mut(&mut self) -> &mut EmbeddingCollection {
        &mut self.first_order
    }

    /// Computes the logits `[batch, 1]`.
    pub(crate) fn forward(
        &mut self,
        dense: MatRef<'_>,
        pooled: MatRef<'_>,
        sparse: &KeyedJagged,
    ) -> Result<MatRef<'_>> {
        let x = match &mut self.bottom {
            Some(bottom) => {
                let p = bottom.forward(dense)?;
                concat_rows(&mut self.x, p, pooled);
                self.x.view()
            }
            None => pooled,
        };
        let rows = x.rows();
        self.logits.resize(rows, 1);
        let fm = self.fm.forward(x)?;
        self.logits.as_mut_slice().copy_from_slice(fm.as_slice());
        let deep = self.deep.forward(x)?;
        add(self.logits.as_mut_slice(), deep.as_slice());
        if let Some(linear) = &mut self.dense_linear {
            add(
                self.logits.as_mut_slice(),
                linear.forward(dense)?.as_slice(),
            );
        }
        self.first_order.forward(sparse, &mut self.first_pooled)?;
        let fields = self.first_pooled.width();
        let first = self.first_pooled.values();
        self.logits
            .as_mut_slice()
            .par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| {
                let at = task * ROWS_PER_TASK * fields;
                let weights = &first[at..at + out.len() * fields];
                for (o, w) in out.iter_mut().zip(weights.chunks_exact(fields)) {
                    *o += w.iter().sum::<f32>();
                }
            });
        Ok(self.logits.view())
    }

    /// Accumulates the dense gradients for `grad_logits`, updates the first-order tables, and
    /// returns the gradient with respect to the pooled embeddings; the inputs must be those
    /// of the last forward pass.
    pub(crate) fn backward(
        &mut self,
        dense: MatRef<'_>,
        pooled: MatRef<'_>,
        sparse: &KeyedJagged,
        grad_logits: MatRef<'_>,
    ) -> Result<&[f32]> {
        let g = grad_logits.as_slice();
        let fields = self.first_pooled.width();
        self.grad_first.resize(g.len() * fields, 0.0);
        for (row, &gi) in self.grad_first.chunks_exact_mut(fields).zip(g) {
            row.fill(gi);
        }
        self.first_order.backward_update(sparse, &self.grad_first)?;
        if let Some(linear) = &mut self.dense_linear {
            linear.backward_params_only(dense, grad_logits)?;
        }
        let x = if self.bottom.is_some() {
            self.x.view()
        } else {
            pooled
        };
        let dfm = self.fm.backward(x, grad_logits)?;
        self.grad_x.resize(dfm.rows(), dfm.cols());
        self.grad_x.as_mut_slice().copy_from_slice(dfm.as_slice());
        let ddeep = self.deep.backward(x, grad_logits)?;
        add(self.grad_x.as_mut_slice(), ddeep.as_slice());
        match &mut self.bottom {
            Some(bottom) => {
                split_rows(
                    self.grad_x.view(),
                    self.dim,
                    &mut self.grad_bottom,
                    &mut self.grad_pooled,
                );
                bottom.backward_params_only(dense, self.grad_bottom.view())?;
                Ok(self.grad_pooled.as_slice())
            }
            None => Ok(self.grad_x.as_slice()),
        }
    }
}

/// `acc += values`, elementwise.
fn add(acc: &mut [f32], values: &[f32]) {
    for (a, v) in acc.iter_mut().zip(values) {
        *a += v;
    }
}

impl Parameters for DeepFm {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        if let Some(bottom) = &mut self.bottom {
            bottom.visit_parameters(f);
        }
        if let Some(linear) = &mut self.dense_linear {
            linear.visit_parameters(f);
        }
        self.deep.visit_parameters(f);
    }
}
