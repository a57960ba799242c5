//! Mosaic Data Shard (MDS) format, version 2, byte-compatible with `mosaicml-streaming` 0.13.
//!
//! A dataset folder holds `index.json` and shards. Each shard is a u32 sample count `N`, `N + 1`
//! u32 offsets (from the start of the shard), the shard's own config as JSON, then the samples;
//! a sample is a u32 size for every variable-size column, then every column's bytes, in the
//! index's column order (sorted by name, as the Python writer sorts them). A shard may be stored
//! compressed (`zip_data`), and each stored file carries hex digests (`hashes`) checked on read.
//!
//! Modules: [`encoding`] (column encodings, [`Value`]s and borrowed [`Numeric`] views),
//! [`json`] (the JSON form of values), [`index`] (`index.json`), [`compression`], [`hash`],
//! [`shard`] (reading one shard), [`writer`] (writing a dataset), [`verify`] (checking every
//! hash of a dataset).

pub mod compression;
pub mod encoding;
pub mod error;
pub mod hash;
pub mod index;
pub mod json;
mod pyjson;
pub mod shard;
pub mod verify;
pub mod writer;

pub use compression::Compression;
pub use encoding::{Column, DType, Encoding, NdArray, Numeric, Value};
pub use error::{MdsError, Result};
pub use hash::HashAlgo;
pub use index::{FileInfo, INDEX_FILE, Index, ShardMeta};
pub use shard::{SampleRef, Shard};
pub use verify::{VerifyReport, verify_dataset};
pub use writer::{MdsWriter, WriterOptions};
