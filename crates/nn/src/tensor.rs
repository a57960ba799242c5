//! Row-major `f32` matrices: an owned buffer with its shape, and borrowed views of one.
//!
//! Every activation in the dense layers is a batch-major matrix (one row per example), so a
//! two-dimensional row-major type is all the layers need; a layer that sees more structure in
//! a row (the interaction layer's `F + 1` embeddings of width `D`) knows it from its
//! configuration.

use crate::error::NnError;

/// An owned row-major matrix whose allocation is reused when it is resized.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl Matrix {
    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            data: vec![0.0; rows * cols],
            rows,
            cols,
        }
    }

    /// Wraps `data` as a `rows x cols` matrix; fails when the length does not match.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self, NnError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(NnError::Shape(format!(
                "a {rows}x{cols} matrix needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            )));
        }
        Ok(Self { data, rows, cols })
    }

    /// Number of rows (examples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`, for shape checks.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The values, row after row.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The values, row after row, for writing.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Gives the buffer back, for callers that want to keep the allocation.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// A borrowed view of the whole matrix.
    pub fn view(&self) -> MatRef<'_> {
        MatRef {
            data: &self.data,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// A mutable borrowed view of the whole matrix.
    pub fn view_mut(&mut self) -> MatMut<'_> {
        MatMut {
            data: &mut self.data,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Changes the shape to `rows x cols`, keeping the allocation when it is large enough.
    ///
    /// The values after a resize are unspecified (stale or zero); layers overwrite them. This
    /// is what lets a layer keep one buffer across steps and across a short last batch.
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.data.resize(rows * cols, 0.0);
        self.rows = rows;
        self.cols = cols;
    }

    /// Sets every value to zero without changing the shape.
    pub fn fill_zero(&mut self) {
        self.data.fill(0.0);
    }
}

/// A borrowed, read-only row-major matrix: what layers take as input.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatRef<'a> {
    /// Views `data` as a `rows x cols` matrix; fails when the length does not match.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, NnError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(NnError::Shape(format!(
                "a {rows}x{cols} view needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            )));
        }
        Ok(Self { data, rows, cols })
    }

    /// Number of rows (examples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`, for shape checks.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The values, row after row.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i`; panics when `i` is out of range, like slice indexing.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Copies the view into an owned matrix.
    pub fn to_matrix(&self) -> Matrix {
        Matrix {
            data: self.data.to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }
}

/// A borrowed, writable row-major matrix: the destination of a matrix product.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatMut<'a> {
    /// Views `data` as a writable `rows x cols` matrix; fails when the length does not match.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self, NnError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(NnError::Shape(format!(
                "a {rows}x{cols} view needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            )));
        }
        Ok(Self { data, rows, cols })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`, for shape checks.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The values, row after row, for writing.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_length() {
        assert!(Matrix::from_vec(2, 3, vec![0.0; 5]).is_err());
        let m = Matrix::from_vec(2, 3, (0..6).map(|v| v as f32).collect()).unwrap();
        assert_eq!(m.view().row(1), &[3.0, 4.0, 5.0]);
        assert!(MatRef::new(&[0.0; 4], 3, 1).is_err());
        assert!(MatMut::new(&mut [0.0; 4], 2, 2).is_ok());
    }

    #[test]
    fn resize_keeps_allocation_when_shrinking() {
        let mut m = Matrix::zeros(8, 4);
        let ptr = m.as_slice().as_ptr();
        m.resize(3, 4);
        assert_eq!((m.rows(), m.cols(), m.as_slice().len()), (3, 4, 12));
        m.resize(8, 4);
        assert_eq!(m.as_slice().as_ptr(), ptr);
    }
}
