//! Item embeddings: the `n × d` row-major matrix of item vectors a retrieval index is built from,
//! row `i` being the item with dense index `i`. Construction validates the shape and refuses
//! non-finite values, and computes the fingerprint that ties every index to these exact values.

use std::path::Path;

use crate::error::{Result, RetrieveError};
use crate::fingerprint::Fingerprint;
use crate::npy;

/// Validated item vectors plus their fingerprint.
#[derive(Clone, Debug)]
pub struct ItemEmbeddings {
    dim: usize,
    values: Vec<f32>,
    fingerprint: Fingerprint,
}

impl ItemEmbeddings {
    /// Wraps `values` (row-major, `dim` per item). Refuses `dim = 0`, a length that is not a
    /// multiple of `dim`, more than `u32::MAX` items (items are addressed by `u32`), and NaN or
    /// infinite values.
    pub fn new(dim: usize, values: Vec<f32>) -> Result<Self> {
        check_matrix("item embeddings", dim, &values)?;
        let rows = values.len() / dim;
        if rows > u32::MAX as usize {
            return Err(RetrieveError::shape(
                "item embeddings",
                format!("{rows} items exceed the limit of {}", u32::MAX),
            ));
        }
        let fingerprint = Fingerprint::of_matrix(rows, dim, &values);
        Ok(Self {
            dim,
            values,
            fingerprint,
        })
    }

    /// Reads a 2-D little-endian float32 `.npy` file (as written by NumPy or PyTorch exports).
    pub fn read_npy(path: &Path) -> Result<Self> {
        let (rows, dim, values) = npy::read::<f32>(path)?;
        if dim == 0 {
            return Err(RetrieveError::bad_file(
                path,
                format!("shape ({rows}, 0) has no columns"),
            ));
        }
        Self::new(dim, values).map_err(|err| RetrieveError::bad_file(path, err.to_string()))
    }

    /// Writes the embeddings as a 2-D float32 `.npy` file, atomically.
    pub fn write_npy(&self, path: &Path) -> Result<()> {
        npy::write(path, [self.len(), self.dim], &self.values)
    }

    /// The vector width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.values.len() / self.dim
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The vector of item `index`, if it exists.
    pub fn row(&self, index: usize) -> Option<&[f32]> {
        self.values.get(index * self.dim..(index + 1) * self.dim)
    }

    /// Identifies these exact values; recorded in every index built from them.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

/// Checks that `values` is a non-empty-width matrix of finite numbers with `dim` columns.
pub(crate) fn check_matrix(what: &'static str, dim: usize, values: &[f32]) -> Result<()> {
    if dim == 0 {
        return Err(RetrieveError::shape(what, "dimension must be at least 1"));
    }
    if !values.len().is_multiple_of(dim) {
        return Err(RetrieveError::shape(
            what,
            format!(
                "{} values is not a multiple of the dimension {dim}",
                values.len()
            ),
        ));
    }
    if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
        return Err(RetrieveError::NonFinite {
            what,
            row: pos / dim,
            col: pos % dim,
            value: values[pos],
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_shapes_and_values() {
        assert!(matches!(
            ItemEmbeddings::new(0, vec![]),
            Err(RetrieveError::Shape { .. })
        ));
        let err = ItemEmbeddings::new(3, vec![1.0; 7]).unwrap_err();
        assert!(err.to_string().contains("not a multiple"), "{err}");
        let err = ItemEmbeddings::new(2, vec![1.0, 2.0, f32::NAN, 0.0]).unwrap_err();
        assert!(err.to_string().contains("row 1, column 0 is NaN"), "{err}");
    }

    #[test]
    fn rows_and_fingerprint() {
        let emb = ItemEmbeddings::new(2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(emb.len(), 2);
        assert_eq!(emb.row(1), Some(&[3.0, 4.0][..]));
        assert_eq!(emb.row(2), None);
        assert_eq!(
            emb.fingerprint(),
            Fingerprint::of_matrix(2, 2, &[1.0, 2.0, 3.0, 4.0])
        );
    }

    #[test]
    fn npy_round_trip_keeps_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("items.npy");
        let emb = ItemEmbeddings::new(3, (0..12).map(|v| v as f32 * 0.5).collect()).unwrap();
        emb.write_npy(&path).unwrap();
        let back = ItemEmbeddings::read_npy(&path).unwrap();
        assert_eq!(back.values(), emb.values());
        assert_eq!(back.fingerprint(), emb.fingerprint());
    }
}
