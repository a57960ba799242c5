//! Cascade's distributed training: **process groups** with the collective operations training
//! is built from, the **sharding planner** that decides where each embedding table lives, and
//! the **sharded embedding collection** ([`ShardedEmbeddings`]) that looks tables up and trains
//! them across ranks with all-to-all exchanges, as TorchRec's sharded collections do.
//!
//! # Process groups
//!
//! A [`ProcessGroup`] is the set of cooperating training processes of one job, numbered
//! `0..world_size`. Two implementations exist:
//!
//! - [`SingleProcess`]: rank 0 of 1, where every collective is an identity or a copy. It is
//!   the default build, so single-machine training runs the same code path at no cost.
//! - `MpiGroup` (cargo feature `mpi`): the ranks of an MPI job, over the system's Open MPI
//!   through the [`mpi`](https://docs.rs/mpi) crate. A process not started by a launcher
//!   initialises as a world of one (Open MPI's singleton mode).
//!
//! [`from_environment`] picks the group: MPI when the binary has the feature and an MPI
//! launcher started it (`OMPI_COMM_WORLD_SIZE` or `PMI_SIZE` set), otherwise a single
//! process; a multi-rank launch of a binary without MPI support is an error rather than N
//! copies silently training the same model.
//!
//! ## The collectives and what uses them
//!
//! | collective | training's use |
//! |---|---|
//! | [`all_reduce_sum_f32`](ProcessGroup::all_reduce_sum_f32) | sum the gradients of the replicated dense layers (data parallelism, as PyTorch DDP does) |
//! | [`all_reduce_sum_f64`](ProcessGroup::all_reduce_sum_f64) | loss and metric sums |
//! | [`all_to_all_v_u64`](ProcessGroup::all_to_all_v_u64) | send each batch id to the rank holding its row (the input distribution of TorchRec's sharded embedding collections) |
//! | [`all_to_all_v_f32`](ProcessGroup::all_to_all_v_f32) | return pooled embeddings to the ranks whose samples asked for them; in backward, send their gradients to the rows' owners, where the fused sparse optimizer updates the rows |
//! | [`all_gather_v_u64`](ProcessGroup::all_gather_v_u64), [`all_gather_v_f32`](ProcessGroup::all_gather_v_f32) | gather ids for row-wise shards, scores and labels for global evaluation metrics |
//! | [`broadcast_bytes`](ProcessGroup::broadcast_bytes) | checkpoint metadata, the resolved configuration and the reader position, from rank 0 |
//! | [`barrier`](ProcessGroup::barrier) | around checkpoints |
//!
//! Variable-size collectives first exchange the counts (an all-to-all or all-gather of one
//! count per rank), then the values, so a receiver never needs to know in advance how much it
//! gets; the result is a [`Received`] with the values in source-rank order and the count from
//! each rank.
//!
//! ## Why MPI
//!
//! Distributed training needs a launcher that starts the ranks on the machines of a cluster,
//! tells each its rank, and fast, well-tested collectives. MPI provides all three and is what
//! clusters already run: the same binary starts under `mpirun` (with a hostfile), Slurm
//! (`srun --mpi=pmix`) and Kubernetes (the Kubeflow MPI operator's MPIJob), the way Horovod
//! runs on Spark. Open MPI picks the transport (shared memory, TCP, InfiniBand) itself, so
//! Cascade has no networking layer of its own to get wrong. Debian's `libopenmpi-dev`,
//! `openmpi-bin` and `libclang-dev` (the `mpi` crate generates its bindings with bindgen) are
//! installed by `scripts/mpi-setup.sh`; `scripts/test-mpi.sh` runs every collective under
//! `mpirun -n 2` and `-n 4`.
//!
//! # The sharding planner
//!
//! [`plan()`] places embedding tables over the ranks within a per-rank memory budget, with the
//! three placements of TorchRec's planner:
//!
//! - [`Placement::Replicated`] (TorchRec's data-parallel): tables of at most
//!   [`Thresholds::replicate_max_bytes`] (default 1 MiB) are copied to every rank, which pools
//!   its own samples locally; every copy receives the whole global batch's ids and pooled
//!   gradients, and applies the same sparse update, so the copies stay identical.
//! - [`Placement::TableWise`]: mid-size tables live whole on one rank, assigned greedily,
//!   largest first, to the rank holding the fewest bytes so far.
//! - [`Placement::RowWise`]: tables larger than
//!   [`Thresholds::table_wise_max_budget_fraction`] (default 0.25) of the per-rank budget
//!   are split in contiguous row ranges over all ranks ([`row_ranges`]); row `r` lives on
//!   [`Placement::owner_of_row`]. This is what lets a 100M-user table span many machines.
//!
//! A table's bytes are its rows times the row size of its storage (the embedding crate's
//! [`Storage`](cascade_embed::Storage): 4 bytes per element for `f32`, 2 for `f16`, 1 plus an
//! `f32` scale and bias per row for `int8`) plus its optimizer's state
//! ([`Optimizer`](cascade_embed::Optimizer): none for SGD, one `f32` per row for row-wise
//! Adagrad, two `f32` per element for Adam), counted as the tables themselves count them. When a rank would exceed the budget, table-wise
//! (then replicated) tables become row-wise, largest first; when even all-row-wise does not fit,
//! [`PlanError::DoesNotFit`] names the rank and its shortfall. Plans are deterministic, so
//! every rank computes the same one without communicating.

#![warn(missing_docs)]

mod env;
mod error;
mod group;
#[cfg(feature = "mpi")]
mod mpi_group;
pub mod plan;
mod sharded;
#[cfg(feature = "mpi")]
mod watchdog;

pub use env::{WORLD_SIZE_VARIABLES, from_environment, launcher_world_size};
pub use error::{CommError, Result};
pub use group::{ProcessGroup, Received, SingleProcess};
#[cfg(feature = "mpi")]
pub use mpi_group::MpiGroup;
pub use plan::{Placement, Plan, PlanError, TablePlan, TableSpec, Thresholds, plan, row_ranges};
pub use sharded::{CommStats, ShardedEmbeddings, ShardedError};
