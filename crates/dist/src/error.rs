//! The errors of process groups and collectives.

/// Why a collective, or setting up a process group, failed.
///
/// Argument errors are detected on the calling rank before anything is sent, so a rank that
/// gets one has not entered the collective; the caller should stop the whole job (the other
/// ranks would otherwise wait for it). Failures inside the MPI library itself are fatal to the
/// job under MPI's default error handler and never come back as an error.
#[derive(Debug, thiserror::Error)]
pub enum CommError {
    /// The per-rank counts of a variable-size collective do not have one entry per rank.
    #[error("{op}: {found} counts given, expected one per rank ({world_size})")]
    CountsPerRank {
        /// The collective.
        op: &'static str,
        /// Counts given.
        found: usize,
        /// Ranks in the group.
        world_size: usize,
    },
    /// The counts of a variable-size collective do not add up to the send buffer's length.
    #[error("{op}: the counts add up to {counts_total} values but the send buffer holds {len}")]
    CountsMismatch {
        /// The collective.
        op: &'static str,
        /// Sum of the counts.
        counts_total: usize,
        /// Length of the send buffer.
        len: usize,
    },
    /// A root rank outside the group.
    #[error("{op}: root rank {root} is outside the group of {world_size} ranks")]
    BadRoot {
        /// The collective.
        op: &'static str,
        /// The root given.
        root: usize,
        /// Ranks in the group.
        world_size: usize,
    },
    /// A message larger than MPI's 32-bit element counts can describe.
    #[error("{op}: {len} values exceed the {max} elements one MPI call can move")]
    TooLarge {
        /// The collective.
        op: &'static str,
        /// Elements asked for.
        len: usize,
        /// The largest count MPI takes.
        max: usize,
    },
    /// Setting up the MPI process group failed (e.g. MPI was already initialised).
    #[error("MPI initialisation: {0}")]
    Init(String),
    /// The environment says the job was launched with several ranks, but this binary was
    /// built without the `mpi` feature: running on would train the whole model once per rank.
    #[error(
        "launched as one of {world_size} ranks ({variable} is set) but this binary was built without MPI support; rebuild with `--features mpi` (see scripts/mpi-setup.sh) or run a single process"
    )]
    MpiNotBuilt {
        /// The world size the launcher announced.
        world_size: usize,
        /// The environment variable that announced it.
        variable: &'static str,
    },
}

/// The result of a collective.
pub type Result<T> = std::result::Result<T, CommError>;
