//! Distributed training.
