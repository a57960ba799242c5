//! Turning samples into columnar [`Batch`]es as a [`DatasetManifest`] describes them: dense float
//! columns concatenated into the dense matrix, integer id columns into keyed jagged bags, the
//! label column into `f32`, and each sample's global index alongside.

use crate::columns::{IntElements, Numeric, is_float, push_floats};
use crate::error::{DataError, Result};
use crate::manifest::DatasetManifest;
use crate::reader::Picked;
use cascade_core::{Batch, KeyedJagged};
use cascade_mds::{Column, DType};

/// A column resolved once: its position in the dataset's column order, name and layout.
#[derive(Debug, Clone)]
struct Resolved {
    index: usize,
    name: String,
    numeric: Numeric,
}

/// A sparse feature resolved against the columns.
#[derive(Debug, Clone)]
struct SparseColumn {
    column: Resolved,
    cardinality: u64,
    multi_hot: bool,
}

/// How a dataset's columns become a [`Batch`]; built once from the manifest and the columns.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    dense: Vec<(Resolved, usize)>,
    num_dense: usize,
    sparse: Vec<SparseColumn>,
    keys: Vec<String>,
    label: Option<Resolved>,
}

impl BatchSpec {
    /// Resolves the manifest's label, dense and sparse features against `columns` (the dataset's
    /// columns in index order). `dataset` names the dataset in errors.
    pub fn new(manifest: &DatasetManifest, columns: &[Column], dataset: &str) -> Result<BatchSpec> {
        let schema = |message: String| DataError::Schema {
            dataset: dataset.to_string(),
            message,
        };
        let resolve = |name: &str| -> Result<Resolved> {
            let index = columns.iter().position(|c| c.name == name).ok_or_else(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                schema(format!(
                    "no column {name:?}; the columns are: {}",
                    names.join(", ")
                ))
            })?;
            let numeric = Numeric::of(&columns[index].encoding).ok_or_else(|| {
                schema(format!(
                    "column {name:?} has encoding {} which is not numeric",
                    columns[index].encoding
                ))
            })?;
            Ok(Resolved {
                index,
                name: name.to_string(),
                numeric,
            })
        };
        let mut dense = Vec::new();
        let mut num_dense = 0;
        for feature in &manifest.dense {
            let column = resolve(&feature.column)?;
            if let Some(d) = column.numeric.static_dtype().filter(|d| !is_float(*d)) {
                return Err(schema(format!(
                    "dense column {:?} holds {d:?}, not floats",
                    feature.column
                )));
            }
            if let Some(n) = column.numeric.static_len().filter(|n| *n != feature.width) {
                return Err(schema(format!(
                    "dense column {:?} holds {n} values per sample, the manifest says width {}",
                    feature.column, feature.width
                )));
            }
            num_dense += feature.width;
            dense.push((column, feature.width));
        }
        let mut sparse = Vec::new();
        for feature in &manifest.sparse {
            let column = resolve(&feature.column)?;
            if let Some(d) = column.numeric.static_dtype().filter(|d| is_float(*d)) {
                return Err(schema(format!(
                    "sparse feature {:?}: column {:?} holds {d:?}, not integer ids",
                    feature.name, feature.column
                )));
            }
            sparse.push(SparseColumn {
                column,
                cardinality: feature.cardinality,
                multi_hot: feature.multi_hot,
            });
        }
        let keys = manifest.sparse.iter().map(|f| f.name.clone()).collect();
        let label = manifest.label.as_deref().map(resolve).transpose()?;
        if let Some(n) = label
            .as_ref()
            .and_then(|l| l.numeric.static_len())
            .filter(|n| *n != 1)
        {
            return Err(schema(format!(
                "label column holds {n} values per sample, not one"
            )));
        }
        Ok(BatchSpec {
            dense,
            num_dense,
            sparse,
            keys,
            label,
        })
    }

    /// Dense values per sample.
    pub fn num_dense(&self) -> usize {
        self.num_dense
    }

    /// Sparse feature names, in batch key order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Builds one batch from picked samples.
    pub(crate) fn build(&self, picks: &[Picked<'_>]) -> Result<Batch> {
        let len = picks.len();
        let mut dense = Vec::with_capacity(len * self.num_dense);
        let mut labels = Vec::with_capacity(if self.label.is_some() { len } else { 0 });
        let mut indices = Vec::with_capacity(len);
        let mut ids: Vec<Vec<u64>> = self
            .sparse
            .iter()
            .map(|f| Vec::with_capacity(len * f.column.numeric.static_len().unwrap_or(1)))
            .collect();
        let mut bag_ends: Vec<Vec<usize>> = self
            .sparse
            .iter()
            .map(|f| Vec::with_capacity(len * f.column.numeric.static_len().unwrap_or(1)))
            .collect();
        for pick in picks {
            let sample = &pick.sample;
            let fail = |column: &Resolved, message: String| DataError::Column {
                shard: pick.shard.to_string(),
                sample: pick.local,
                column: column.name.clone(),
                message,
            };
            indices.push(pick.global);
            for (column, width) in &self.dense {
                let (dtype, bytes) = column
                    .numeric
                    .elements(sample.column(column.index))
                    .map_err(|m| fail(column, m))?;
                let before = dense.len();
                if !is_float(dtype) {
                    return Err(fail(column, format!("holds {dtype:?}, not floats")));
                }
                push_floats(dtype, bytes, &mut dense);
                if dense.len() - before != *width {
                    return Err(fail(
                        column,
                        format!(
                            "holds {} values, the manifest says width {width}",
                            dense.len() - before
                        ),
                    ));
                }
            }
            for (f, feature) in self.sparse.iter().enumerate() {
                let column = &feature.column;
                let (dtype, bytes) = column
                    .numeric
                    .elements(sample.column(column.index))
                    .map_err(|m| fail(column, m))?;
                let out = &mut ids[f];
                let before = out.len();
                push_ids(dtype, bytes, feature.cardinality, out).map_err(|m| fail(column, m))?;
                let count = out.len() - before;
                if !feature.multi_hot && count != 1 {
                    return Err(fail(
                        column,
                        format!("holds {count} ids but the feature is not multi-hot"),
                    ));
                }
                bag_ends[f].push(out.len());
            }
            if let Some(column) = &self.label {
                let (dtype, bytes) = column
                    .numeric
                    .elements(sample.column(column.index))
                    .map_err(|m| fail(column, m))?;
                let before = labels.len();
                push_floats(dtype, bytes, &mut labels);
                if labels.len() - before != 1 {
                    return Err(fail(column, "label must be one value".into()));
                }
            }
        }
        // Feature-major: the first feature's ids are moved, the others appended after them.
        let total_ids: usize = ids.iter().map(Vec::len).sum();
        let mut offsets = Vec::with_capacity(self.sparse.len() * len + 1);
        offsets.push(0);
        let mut features = ids.into_iter();
        let mut flat = features.next().unwrap_or_default();
        flat.reserve(total_ids - flat.len());
        offsets.extend(bag_ends.first().into_iter().flatten());
        for (feature_ids, ends) in features.zip(bag_ends.iter().skip(1)) {
            let base = flat.len();
            offsets.extend(ends.iter().map(|end| base + end));
            flat.extend(feature_ids);
        }
        let sparse =
            KeyedJagged::new(self.keys.clone(), len, flat, offsets, None).map_err(|e| {
                DataError::Schema {
                    dataset: "batch".into(),
                    message: e.to_string(),
                }
            })?;
        Ok(Batch {
            len,
            dense,
            num_dense: self.num_dense,
            sparse,
            labels,
            indices,
        })
    }
}

/// Appends integer ids to `out`, refusing floats, negative ids and ids `>= cardinality`.
fn push_ids(
    dtype: DType,
    bytes: &[u8],
    cardinality: u64,
    out: &mut Vec<u64>,
) -> Result<(), String> {
    if is_float(dtype) {
        return Err(format!("holds {dtype:?}, not integer ids"));
    }
    let check = |id: i128| -> Result<u64, String> {
        if id < 0 {
            Err(format!("negative id {id}; ids must be in 0..{cardinality}"))
        } else if id >= i128::from(cardinality) {
            Err(format!(
                "id {id} is not below the feature's cardinality {cardinality}"
            ))
        } else {
            Ok(id as u64)
        }
    };
    if dtype == DType::I64 {
        // The common case, kept free of the generic element iterator.
        for c in bytes.chunks_exact(8) {
            let id = i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            out.push(check(i128::from(id))?);
        }
    } else {
        for id in IntElements::new(dtype, bytes) {
            out.push(check(id)?);
        }
    }
    Ok(())
}
