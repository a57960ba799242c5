//! One tower of a two-tower model: the embedding tables of its features, pooled and
//! concatenated, then an MLP to the embedding both towers share the width of.

use super::spec::{TowerFeature, TwoTowerSpec};
use crate::error::{ModelError, Result};
use cascade_core::KeyedJagged;
use cascade_embed::{EmbeddingCollection, Pooled, TableConfig};
use cascade_nn::{Activation, Layer, MatRef, Mlp, ParamMut, Parameters, Rng};

/// A tower: embeddings, their pooled output (the MLP's input) and the MLP.
#[derive(Debug, Clone)]
pub(crate) struct Tower {
    pub(crate) embeddings: EmbeddingCollection,
    pooled: Pooled,
    mlp: Mlp,
    /// Samples of the last forward pass, so backward can refuse another batch.
    forward_rows: Option<usize>,
}

impl Tower {
    /// The tower over `features` with `spec`'s MLP widths, its layers drawn from `rng`.
    pub(crate) fn new(
        features: &[TowerFeature],
        spec: &TwoTowerSpec,
        rng: &mut Rng,
    ) -> Result<Self> {
        let tables = features
            .iter()
            .map(|f| {
                let mut t = TableConfig::new(f.name.clone(), f.rows, f.dim, &[&f.name]);
                t.pooling = f.pooling;
                t.storage = spec.storage;
                t.seed = spec.seed;
                t
            })
            .collect();
        let embeddings = EmbeddingCollection::new(tables, spec.embedding_optimizer)?;
        let input: usize = features.iter().map(|f| f.dim).sum();
        let sizes: Vec<usize> = std::iter::once(input)
            .chain(spec.tower_mlp.iter().copied())
            .collect();
        Ok(Self {
            embeddings,
            pooled: Pooled::new(),
            mlp: Mlp::new(&sizes, Activation::Identity, rng)?,
            forward_rows: None,
        })
    }

    /// The tower's embeddings of the samples of `sparse` (`B x D`).
    pub(crate) fn forward(&mut self, sparse: &KeyedJagged) -> Result<MatRef<'_>> {
        self.forward_rows = None;
        self.embeddings.forward(sparse, &mut self.pooled)?;
        let rows = sparse.batch_size();
        let input = MatRef::new(self.pooled.values(), rows, self.pooled.width())?;
        self.mlp.forward(input)?;
        self.forward_rows = Some(rows);
        Ok(self.output())
    }

    /// The embeddings of the last forward pass.
    pub(crate) fn output(&self) -> MatRef<'_> {
        let layers = self.mlp.layers();
        layers[layers.len() - 1].output()
    }

    /// Back-propagates `grad` (with respect to the last output, which must have been computed
    /// from `sparse`): accumulates the MLP's gradients and applies the fused optimizer to the
    /// embedding rows the batch touched.
    pub(crate) fn backward(&mut self, sparse: &KeyedJagged, grad: MatRef<'_>) -> Result<()> {
        let rows = sparse.batch_size();
        if self.forward_rows != Some(rows) {
            return Err(ModelError::Batch(format!(
                "a tower's backward pass needs the forward pass of this batch of {rows} samples"
            )));
        }
        let input = MatRef::new(self.pooled.values(), rows, self.pooled.width())?;
        let grad_input = self.mlp.backward(input, grad)?;
        self.embeddings
            .backward_update(sparse, grad_input.as_slice())?;
        self.forward_rows = None;
        Ok(())
    }
}

impl Parameters for Tower {
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        self.mlp.visit_parameters(f);
    }
}
