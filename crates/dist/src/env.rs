//! Choosing the process group from how the process was launched.

#[cfg(not(feature = "mpi"))]
use crate::error::CommError;
use crate::error::Result;
use crate::group::{ProcessGroup, SingleProcess};

/// Environment variables through which MPI launchers announce the world size: Open MPI's
/// `mpirun`, then PMI (Slurm's `srun --mpi=pmi2`, MPICH's Hydra, PMIx launchers).
pub const WORLD_SIZE_VARIABLES: [&str; 2] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"];

/// The world size an MPI launcher announced in the environment, with the variable that said
/// so; `None` when none of [`WORLD_SIZE_VARIABLES`] holds a positive integer (not launched by
/// an MPI launcher).
pub fn launcher_world_size() -> Option<(usize, &'static str)> {
    WORLD_SIZE_VARIABLES.iter().find_map(|&name| {
        let size = std::env::var(name).ok()?.trim().parse::<usize>().ok()?;
        (size > 0).then_some((size, name))
    })
}

/// The process group of this process, chosen from the build and the environment:
///
/// - built with the `mpi` feature and launched by an MPI launcher (`OMPI_COMM_WORLD_SIZE` or
///   `PMI_SIZE` set: `mpirun`, `srun --mpi=pmix`, a Kubernetes MPIJob): an `MpiGroup` over
///   `MPI_COMM_WORLD`, which initialises MPI (call this once per process);
/// - not launched by an MPI launcher: [`SingleProcess`] — MPI is not initialised, so a plain
///   `cascade train` never needs an MPI runtime;
/// - launched with more than one rank by a binary built without the `mpi` feature: an error
///   ([`CommError::MpiNotBuilt`](crate::CommError::MpiNotBuilt)), since each rank would
///   silently train the whole model on its own. A launch with one rank gives
///   [`SingleProcess`].
pub fn from_environment() -> Result<Box<dyn ProcessGroup>> {
    select(launcher_world_size())
}

#[cfg(feature = "mpi")]
fn select(launched: Option<(usize, &'static str)>) -> Result<Box<dyn ProcessGroup>> {
    match launched {
        Some(_) => Ok(Box::new(crate::MpiGroup::init()?)),
        None => Ok(Box::new(SingleProcess)),
    }
}

#[cfg(not(feature = "mpi"))]
fn select(launched: Option<(usize, &'static str)>) -> Result<Box<dyn ProcessGroup>> {
    match launched {
        Some((world_size, variable)) if world_size > 1 => Err(CommError::MpiNotBuilt {
            world_size,
            variable,
        }),
        _ => Ok(Box::new(SingleProcess)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_launcher_gives_a_single_process() {
        let g = select(None).unwrap();
        assert_eq!((g.rank(), g.world_size()), (0, 1));
    }

    #[cfg(not(feature = "mpi"))]
    #[test]
    fn a_multi_rank_launch_without_mpi_support_is_refused() {
        let err = select(Some((4, "OMPI_COMM_WORLD_SIZE"))).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("one of 4 ranks"), "{text}");
        assert!(text.contains("OMPI_COMM_WORLD_SIZE"), "{text}");
        assert!(text.contains("--features mpi"), "{text}");
        let one = select(Some((1, "PMI_SIZE"))).unwrap();
        assert_eq!(one.world_size(), 1);
    }
}
