//! The bad-row policy: by default the first malformed row stops the conversion with an error
//! naming file, position and field; with `--skip-bad-rows` such rows are left out, counted, and
//! the first few are kept for the report.

use crate::error::{ConvertError, Result, RowError};

/// How many skipped rows the report quotes in full.
pub const QUOTED_BAD_ROWS: usize = 5;

/// Applies the bad-row policy and remembers what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BadRows {
    skip: bool,
    count: u64,
    first: Vec<RowError>,
}

impl BadRows {
    /// A policy that skips (`skip = true`) or fails on the first bad row.
    pub fn new(skip: bool) -> BadRows {
        BadRows {
            skip,
            count: 0,
            first: Vec::new(),
        }
    }

    /// Handles one malformed row: an error when not skipping, otherwise counted.
    pub fn record(&mut self, error: RowError) -> Result<()> {
        if !self.skip {
            return Err(ConvertError::Row(error));
        }
        self.count += 1;
        if self.first.len() < QUOTED_BAD_ROWS {
            self.first.push(error);
        }
        Ok(())
    }

    /// Rows skipped so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The first [`QUOTED_BAD_ROWS`] skipped rows, in input order.
    pub fn first(&self) -> &[RowError] {
        &self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Position;

    fn bad(line: u64) -> RowError {
        RowError {
            path: "in.tsv".into(),
            position: Position::Line(line),
            field: "rating".into(),
            message: "not a number".into(),
        }
    }

    #[test]
    fn failing_policy_returns_the_row_error() {
        let err = BadRows::new(false).record(bad(3)).unwrap_err().to_string();
        assert_eq!(err, "in.tsv: line 3, field rating: not a number");
    }

    #[test]
    fn skipping_policy_counts_and_quotes_the_first_few() {
        let mut rows = BadRows::new(true);
        for line in 1..=8 {
            rows.record(bad(line)).unwrap();
        }
        assert_eq!(rows.count(), 8);
        assert_eq!(rows.first().len(), QUOTED_BAD_ROWS);
        assert_eq!(rows.first()[4].position, Position::Line(5));
    }
}
