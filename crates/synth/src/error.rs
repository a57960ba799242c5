//! Why a dataset could not be generated: a setting out of range, or a failure writing the output
//! (each naming the setting or the path involved).

use std::path::PathBuf;

/// An error of the generators.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A setting is out of range; `setting` is its name as the command line spells it.
    #[error("invalid --{setting}: {message}")]
    Setting {
        /// The setting's name (`rows`, `cardinality`, ...).
        setting: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A file or folder could not be created, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// Writing the MDS shards failed.
    #[error(transparent)]
    Mds(#[from] cascade_mds::MdsError),
    /// Writing the manifest failed.
    #[error(transparent)]
    Manifest(#[from] cascade_data::ManifestError),
    /// Converting the generated MovieLens files into a dataset failed.
    #[error(transparent)]
    Convert(#[from] cascade_convert::ConvertError),
}

/// Result of the generators.
pub type Result<T> = std::result::Result<T, SynthError>;

/// Shorthand for a [`SynthError::Setting`].
pub(crate) fn setting(setting: &'static str, message: impl Into<String>) -> SynthError {
    SynthError::Setting {
        setting,
        message: message.into(),
    }
}
