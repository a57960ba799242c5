//! Training and evaluation: what `cascade train`, `cascade eval` and `cascade predict` run.
//!
//! A run is described by a TOML [`config::TrainConfig`] (every key documented, every default
//! stated, unknown keys refused), optionally overridden key by key from the command line.

pub mod config;

pub use config::{ConfigError, TrainConfig};
