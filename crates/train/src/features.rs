//! Dense-feature preparation applied to every batch before the model sees it: the configured
//! transform (`log1p` for count features such as Criteo's) and the NaN/Inf policy.

use crate::config::{DenseTransform, NonFinitePolicy};
use crate::error::{Result, TrainError};
use cascade_core::Batch;
use cascade_data::DatasetManifest;

/// The transform and policy, with a name for every dense value so errors can point at it.
#[derive(Debug, Clone)]
pub struct DensePrep {
    transform: DenseTransform,
    policy: NonFinitePolicy,
    /// One name per dense value: the source column the converter recorded (`extra.dense_columns`
    /// of `cascade.json`, e.g. Criteo's `I5`) when it lists one per value, else the stored
    /// column, with `[k]` for multi-value columns.
    names: Vec<String>,
}

impl DensePrep {
    /// The preparation of `manifest`'s dense features.
    pub fn new(
        manifest: &DatasetManifest,
        transform: DenseTransform,
        policy: NonFinitePolicy,
    ) -> Self {
        let names = manifest
            .dense
            .iter()
            .flat_map(|f| {
                (0..f.width).map(move |k| {
                    if f.width == 1 {
                        f.column.clone()
                    } else {
                        format!("{}[{k}]", f.column)
                    }
                })
            })
            .collect::<Vec<_>>();
        let sources = manifest
            .extra
            .get("dense_columns")
            .and_then(|v| v.as_array())
            .and_then(|a| {
                a.iter()
                    .map(|v| v.as_str().map(String::from))
                    .collect::<Option<Vec<String>>>()
            });
        let names = match sources {
            Some(sources) if sources.len() == names.len() => sources,
            _ => names,
        };
        Self {
            transform,
            policy,
            names,
        }
    }

    /// Applies the policy and the transform to `batch`'s dense values in place.
    pub fn apply(&self, batch: &mut Batch) -> Result<()> {
        let width = batch.num_dense;
        if width != self.names.len() {
            return Err(TrainError::Invalid(format!(
                "batches have {width} dense values, the dataset manifest describes {}",
                self.names.len()
            )));
        }
        for (i, v) in batch.dense.iter_mut().enumerate() {
            if !v.is_finite() {
                match self.policy {
                    NonFinitePolicy::Zero => *v = 0.0,
                    NonFinitePolicy::Error => {
                        let sample = batch.indices.get(i / width).copied().unwrap_or(0);
                        return Err(TrainError::Invalid(format!(
                            "dense column '{}' is {} in sample {sample}; set \
                             data.non_finite = \"zero\" to replace such values with 0",
                            self.names[i % width],
                            v
                        )));
                    }
                }
            }
            if self.transform == DenseTransform::Log1p {
                *v = v.max(0.0).ln_1p();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cascade_data::DenseFeature;

    fn manifest() -> DatasetManifest {
        let mut m: DatasetManifest = serde_json::from_value(serde_json::json!({
            "version": 1, "source": "test", "splits": {}, "dense": [], "sparse": []
        }))
        .unwrap();
        m.dense = vec![
            DenseFeature {
                column: "age".into(),
                width: 1,
            },
            DenseFeature {
                column: "counts".into(),
                width: 2,
            },
        ];
        m
    }

    fn batch(dense: Vec<f32>) -> Batch {
        Batch {
            len: 2,
            dense,
            num_dense: 3,
            indices: vec![10, 11],
            ..Batch::default()
        }
    }

    #[test]
    fn non_finite_values_name_the_column_or_become_zero() {
        let strict = DensePrep::new(&manifest(), DenseTransform::None, NonFinitePolicy::Error);
        let mut b = batch(vec![1.0, 2.0, 3.0, 4.0, f32::NAN, 6.0]);
        let err = strict.apply(&mut b).unwrap_err().to_string();
        assert!(
            err.starts_with("dense column 'counts[0]' is NaN in sample 11"),
            "{err}"
        );
        let lenient = DensePrep::new(&manifest(), DenseTransform::None, NonFinitePolicy::Zero);
        let mut b = batch(vec![f32::INFINITY, 2.0, 3.0, 4.0, f32::NAN, 6.0]);
        lenient.apply(&mut b).unwrap();
        assert_eq!(b.dense, vec![0.0, 2.0, 3.0, 4.0, 0.0, 6.0]);
    }

    #[test]
    fn errors_name_the_source_column_the_converter_recorded() {
        let mut m = manifest();
        m.extra.insert(
            "dense_columns".into(),
            serde_json::json!(["age", "clicks", "views"]),
        );
        let strict = DensePrep::new(&m, DenseTransform::None, NonFinitePolicy::Error);
        let mut b = batch(vec![1.0, 2.0, 3.0, 4.0, 5.0, f32::INFINITY]);
        let err = strict.apply(&mut b).unwrap_err().to_string();
        assert!(
            err.starts_with("dense column 'views' is inf in sample 11"),
            "{err}"
        );
    }

    #[test]
    fn log1p_clamps_negatives() {
        let prep = DensePrep::new(&manifest(), DenseTransform::Log1p, NonFinitePolicy::Error);
        let mut b = batch(vec![0.0, -3.0, 1.0, 9.0, 0.5, 2.0]);
        prep.apply(&mut b).unwrap();
        let want: Vec<f32> = [0.0f32, 0.0, 1.0, 9.0, 0.5, 2.0]
            .iter()
            .map(|v| v.ln_1p())
            .collect();
        assert_eq!(b.dense, want);
    }
}
