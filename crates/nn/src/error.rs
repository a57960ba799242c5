//! The one error type of the dense layers: a shape or configuration that cannot work.
//!
//! Shapes come from model configurations and data files, so a mismatch is reported to the
//! caller instead of aborting the process.

/// Why a dense-layer operation refused its arguments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NnError {
    /// Two shapes that must agree do not (for example a batch of the wrong width).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A layer or optimizer was configured with values it cannot use.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The parameters handed to an optimizer do not match the ones it has state for.
    #[error("parameter layout changed: {0}")]
    Layout(String),
}

/// Returns a shape error unless `got` equals `expected`; `what` names the operand.
pub(crate) fn check_dims(
    what: &str,
    expected: (usize, usize),
    got: (usize, usize),
) -> Result<(), NnError> {
    if expected == got {
        Ok(())
    } else {
        Err(NnError::Shape(format!(
            "{what}: expected {}x{}, got {}x{}",
            expected.0, expected.1, got.0, got.1
        )))
    }
}

/// Returns a shape error unless `got` equals `expected` columns; `what` names the operand.
pub(crate) fn check_cols(what: &str, expected: usize, got: usize) -> Result<(), NnError> {
    if expected == got {
        Ok(())
    } else {
        Err(NnError::Shape(format!(
            "{what}: expected {expected} columns, got {got}"
        )))
    }
}
