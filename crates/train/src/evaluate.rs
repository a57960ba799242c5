//! Evaluation and prediction: the model's click probability for every sample of a split, in
//! the split's stored order, and the binary metrics (exact AUC, log loss, NE, calibration)
//! of those probabilities.

use crate::config::{DenseTransform, NonFinitePolicy};
use crate::error::{Result, TrainError};
use crate::features::DensePrep;
use crate::model::TrainModel;
use cascade_data::{OpenOptions, ReaderConfig, ShuffleConfig, StreamingDataset};
use cascade_dist::ProcessGroup;
use cascade_metrics::{BinaryMetrics, binary_metrics};
use std::path::Path;

/// The probabilities of one split, with each sample's index and label.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Predictions {
    /// Global sample indices, in reading order.
    pub indices: Vec<u64>,
    /// Predicted click probabilities.
    pub probabilities: Vec<f32>,
    /// Labels.
    pub labels: Vec<f32>,
}

impl Predictions {
    /// The metrics of the probabilities against the labels.
    pub fn metrics(&self) -> BinaryMetrics {
        binary_metrics(&self.probabilities, &self.labels)
    }
}

/// How to read a split for evaluation.
#[derive(Debug, Clone)]
pub struct EvalInput<'a> {
    /// Dataset root (with `cascade.json`).
    pub data: &'a Path,
    /// Split name.
    pub split: &'a str,
    /// Samples per batch.
    pub batch_size: usize,
    /// Loader threads.
    pub workers: usize,
}

/// The dataset root as the reader takes it.
pub(crate) fn location(data: &Path) -> Result<&str> {
    data.to_str().ok_or_else(|| {
        TrainError::Invalid(format!(
            "dataset path {} is not valid UTF-8",
            data.display()
        ))
    })
}

/// Runs `model` over every sample of the split, in stored order, with the dense transform
/// and NaN/Inf policy of training applied. A model without probabilities (a two-tower model
/// trained with the softmax) is an error.
///
/// Across ranks, each rank reads its interleaved share of every batch (`batch_size` is the
/// global batch) and every rank receives all the predictions, in rank order within each
/// rank's reading order: the metrics are those of the whole split.
pub fn predict(
    model: &mut TrainModel,
    input: &EvalInput<'_>,
    transform: DenseTransform,
    non_finite: NonFinitePolicy,
    group: &dyn ProcessGroup,
) -> Result<Predictions> {
    let (manifest, dataset) =
        StreamingDataset::open_split(location(input.data)?, input.split, &OpenOptions::default())?;
    let prep = DensePrep::new(&manifest, transform, non_finite);
    let spec = dataset.batch_spec(&manifest)?;
    let world = group.world_size();
    let reader_config = ReaderConfig {
        batch_size: input.batch_size.div_ceil(world),
        rank: group.rank(),
        world_size: world,
        workers: input.workers,
        ..ReaderConfig::default()
    };
    let state = dataset.start_state(
        ShuffleConfig {
            shuffle: false,
            ..ShuffleConfig::default()
        },
        0,
    );
    let capacity = dataset.len() as usize;
    let mut out = Predictions {
        indices: Vec::with_capacity(capacity),
        probabilities: Vec::with_capacity(capacity),
        labels: Vec::with_capacity(capacity),
    };
    for batch in dataset.batches(&spec, &reader_config, &state)? {
        let mut batch = batch?;
        if batch.labels.len() != batch.len {
            return Err(TrainError::Invalid(format!(
                "split '{}' of {} has no label column to evaluate against",
                input.split,
                input.data.display()
            )));
        }
        prep.apply(&mut batch)?;
        let logits = model.logits(&batch, group)?.ok_or_else(|| {
            TrainError::Invalid(
                "a two-tower model trained with the softmax loss scores items for retrieval \
                 and has no click probabilities; use its retrieval metrics"
                    .into(),
            )
        })?;
        out.probabilities
            .extend(logits.iter().map(|&z| 1.0 / (1.0 + (-z).exp())));
        out.indices.extend_from_slice(&batch.indices);
        out.labels.extend_from_slice(&batch.labels);
    }
    if world > 1 {
        out = Predictions {
            indices: group.all_gather_v_u64(&out.indices)?.values,
            probabilities: group.all_gather_v_f32(&out.probabilities)?.values,
            labels: group.all_gather_v_f32(&out.labels)?.values,
        };
    }
    Ok(out)
}
