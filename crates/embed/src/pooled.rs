//! The output of a lookup: one row-major `[batch, width]` buffer holding every feature's pooled
//! embedding side by side, the layout DLRM's interaction and two-tower MLPs consume, plus
//! per-feature views into it.

/// Where one feature's pooled embedding sits in each output row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSlot {
    /// The feature's name.
    pub name: String,
    /// Column of the feature's first value.
    pub offset: usize,
    /// Number of values (the serving table's dim).
    pub dim: usize,
}

/// Pooled embeddings of a batch; reused across batches to avoid reallocating.
#[derive(Debug, Clone, Default)]
pub struct Pooled {
    pub(crate) values: Vec<f32>,
    pub(crate) batch: usize,
    pub(crate) width: usize,
    pub(crate) layout: Vec<FeatureSlot>,
}

impl Pooled {
    /// An empty output, to be filled by a lookup.
    pub fn new() -> Self {
        Self::default()
    }

    /// All values, `[batch_size, width]` row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Number of samples.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Values per sample: the sum of every feature's dim.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Where each feature sits in a row, in output order.
    pub fn layout(&self) -> &[FeatureSlot] {
        &self.layout
    }

    /// The pooled embeddings of feature `name`, if the output holds it.
    pub fn feature(&self, name: &str) -> Option<FeatureView<'_>> {
        self.layout
            .iter()
            .find(|s| s.name == name)
            .map(|slot| FeatureView {
                values: &self.values,
                width: self.width,
                offset: slot.offset,
                dim: slot.dim,
            })
    }

    /// Sizes the buffer for `batch` rows of `layout` and returns it for filling.
    pub(crate) fn reset(
        &mut self,
        batch: usize,
        width: usize,
        layout: &[FeatureSlot],
    ) -> &mut [f32] {
        if self.layout != layout {
            self.layout = layout.to_vec();
        }
        self.batch = batch;
        self.width = width;
        self.values.resize(batch * width, 0.0);
        &mut self.values
    }
}

/// One feature's `[batch, dim]` block of a [`Pooled`] output, read in place.
#[derive(Debug, Clone, Copy)]
pub struct FeatureView<'a> {
    values: &'a [f32],
    width: usize,
    offset: usize,
    dim: usize,
}

impl<'a> FeatureView<'a> {
    /// Values per sample.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The feature's pooled embedding for each sample, in batch order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &'a [f32]> + 'a {
        let (offset, dim) = (self.offset, self.dim);
        self.values
            .chunks_exact(self.width)
            .map(move |row| &row[offset..offset + dim])
    }

    /// A contiguous `[batch, dim]` copy.
    pub fn to_dense(&self) -> Vec<f32> {
        self.rows().flatten().copied().collect()
    }
}
