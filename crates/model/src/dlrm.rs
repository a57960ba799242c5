//! DLRM: a bottom MLP maps the dense features to one `D`-wide vector, the pairwise dot
//! interaction crosses it with every pooled embedding, and the top MLP maps the dense vector
//! plus the interactions to a logit.
//!
//! Without dense features the interaction runs over the embeddings alone: the first
//! embedding takes the place of the dense vector.

use crate::error::Result;
use crate::spec::RankingSpec;
use cascade_nn::{Activation, DotInteraction, Layer, MatRef, Mlp, ParamMut, Parameters, Rng};

/// The dense part of a DLRM (everything but the embedding tables).
#[derive(Debug, Clone)]
pub(crate) struct Dlrm {
    bottom: Option<Mlp>,
    interaction: DotInteraction,
    top: Mlp,
}

impl Dlrm {
    /// Builds the layers of `spec`, bottom MLP first, from `rng`.
    pub(crate) fn new(spec: &RankingSpec, rng: &mut Rng) -> Result<Self> {
        let dim = spec.embedding_dim;
        let bottom = (spec.num_dense > 0)
            .then(|| spec.mlp(spec.num_dense, &spec.bottom_mlp, Activation::Relu, rng))
            .transpose()?;
        // With dense features the bottom output is vector 0; without, the first embedding is.
        let others = if bottom.is_some() {
            spec.sparse.len()
        } else {
            spec.sparse.len() - 1
        };
        let interaction = DotInteraction::new(others, dim, spec.interaction_self_pairs)?;
        let top = spec.mlp(
            interaction.out_cols(),
            &spec.top_mlp,
            Activation::Identity,
            rng,
        )?;
        Ok(Self {
            bottom,
            interaction,
            top,
        })
    }

    /// Computes the logits `[batch, 1]` from the dense features and the pooled embeddings.
    pub(crate) fn forward(&mut self, dense: MatRef<'_>, pooled: MatRef<'_>) -> Result<MatRef<'_>> {
        // The interaction keeps its output until the next forward pass: it is the top MLP's
        // saved input for backward, read in place rather than copied.
        match &mut self.bottom {
            Some(bottom) => {
                let x = bottom.forward(dense)?;
                self.interaction.forward_split(x, pooled)?;
            }
            None => {
                self.interaction.forward(pooled)?;
            }
        }
        Ok(self.top.forward(self.interaction.output())?)
    }

    /// Accumulates the dense gradients for `grad_logits` and returns the gradient with respect
    /// to the pooled embeddings; the inputs must be those of the last forward pass.
    pub(crate) fn backward(
        &mut self,
        dense: MatRef<'_>,
        pooled: MatRef<'_>,
        grad_logits: MatRef<'_>,
    ) -> Result<&[f32]> {
        let g = self.top.backward(self.interaction.output(), grad_logits)?;
        match &mut self.bottom {
            Some(bottom) => {
                let (grad_bottom, grad_pooled) =
                    self.interaction
                        .backward_split(bottom.output(), pooled, g)?;
                bottom.backward_params_only(dense, grad_bottom)?;
                Ok(grad_pooled.as_slice())
            }
            None => Ok(self.interaction.backward(pooled, g)?.as_slice()),
        }
    }
}

impl Parameters for Dlrm {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        if let Some(bottom) = &mut self.bottom {
            bottom.visit_parameters(f);
        }
        self.top.visit_parameters(f);
    }
}
