//! DCN-v2 in the MLPerf DLRMv2 shape: a bottom MLP maps the dense features to one `D`-wide
//! vector, which is concatenated with every pooled embedding; a cross network (full or
//! low-rank) models explicit feature crosses over that row; the top MLP maps it to a logit.

use crate::error::Result;
use crate::spec::RankingSpec;
use cascade_nn::{
    Activation, CrossKind, CrossNetwork, Layer, MatRef, Matrix, Mlp, ParamMut, Parameters, Rng,
    concat_rows, split_rows,
};

/// The dense part of a DCN-v2 model (everything but the embedding tables).
#[derive(Debug, Clone)]
pub(crate) struct Dcn {
    dim: usize,
    bottom: Option<Mlp>,
    cross: CrossNetwork,
    top: Mlp,
    /// `[bottom output | embeddings]`, the cross network's input when there are dense features.
    x0: Matrix,
    /// The cross network's output, kept as the top MLP's input for backward.
    top_input: Matrix,
    grad_bottom: Matrix,
    grad_pooled: Matrix,
}

impl Dcn {
    /// Builds the layers of `spec`, bottom MLP first, from `rng`.
    pub(crate) fn new(spec: &RankingSpec, rng: &mut Rng) -> Result<Self> {
        let dim = spec.embedding_dim;
        let bottom = (spec.num_dense > 0)
            .then(|| spec.mlp(spec.num_dense, &spec.bottom_mlp, Activation::Relu, rng))
            .transpose()?;
        let vectors = spec.sparse.len() + usize::from(bottom.is_some());
        let width = vectors * dim;
        let kind = match spec.cross_rank {
            0 => CrossKind::Full,
            rank => CrossKind::LowRank { rank },
        };
        let cross = CrossNetwork::new(width, spec.cross_layers, kind, rng)?;
        let top = spec.mlp(width, &spec.top_mlp, Activation::Identity, rng)?;
        Ok(Self {
            dim,
            bottom,
            cross,
            top,
            x0: Matrix::default(),
            top_input: Matrix::default(),
            grad_bottom: Matrix::default(),
            grad_pooled: Matrix::default(),
        })
    }

    /// Computes the logits `[batch, 1]` from the dense features and the pooled embeddings.
    pub(crate) fn forward(&mut self, dense: MatRef<'_>, pooled: MatRef<'_>) -> Result<MatRef<'_>> {
        let x0 = match &mut self.bottom {
            Some(bottom) => {
                let x = bottom.forward(dense)?;
                concat_rows(&mut self.x0, x, pooled);
                self.x0.view()
            }
            None => pooled,
        };
        let out = self.cross.forward(x0)?;
        self.top_input.resize(out.rows(), out.cols());
        self.top_input
            .as_mut_slice()
            .copy_from_slice(out.as_slice());
        Ok(self.top.forward(self.top_input.view())?)
    }

    /// Accumulates the dense gradients for `grad_logits` and returns the gradient with respect
    /// to the pooled embeddings; the inputs must be those of the last forward pass.
    pub(crate) fn backward(
        &mut self,
        dense: MatRef<'_>,
        pooled: MatRef<'_>,
        grad_logits: MatRef<'_>,
    ) -> Result<&[f32]> {
        let g = self.top.backward(self.top_input.view(), grad_logits)?;
        match &mut self.bottom {
            Some(bottom) => {
                let dx = self.cross.backward(self.x0.view(), g)?;
                split_rows(dx, self.dim, &mut self.grad_bottom, &mut self.grad_pooled);
                bottom.backward_params_only(dense, self.grad_bottom.view())?;
                Ok(self.grad_pooled.as_slice())
            }
            None => Ok(self.cross.backward(pooled, g)?.as_slice()),
        }
    }
}

impl Parameters for Dcn {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        if let Some(bottom) = &mut self.bottom {
            bottom.visit_parameters(f);
        }
        self.cross.visit_parameters(f);
        self.top.visit_parameters(f);
    }
}
