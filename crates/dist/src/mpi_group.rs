//! The MPI process group (cargo feature `mpi`), over the system's Open MPI.

use crate::error::{CommError, Result};
use crate::group::{ProcessGroup, Received, check_counts, check_root};
use crate::watchdog::Watchdog;
use mpi::Count;
use mpi::collective::SystemOperation;
use mpi::datatype::{Equivalence, Partition, PartitionMut};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

/// The most elements one MPI call moves: MPI counts and displacements are C `int`s.
const MAX_COUNT: usize = Count::MAX as usize;

/// The ranks of an MPI job (`MPI_COMM_WORLD`): the processes `mpirun -n N`, `srun --mpi=pmix`
/// or a Kubernetes MPIJob started. A process not started by a launcher is a world of one
/// (Open MPI's singleton initialisation).
///
/// MPI is initialised when the group is created and finalised when it is dropped; a process
/// creates at most one. Calls are made from the thread that created it (MPI's single-threaded
/// level). Errors inside MPI abort the whole job (MPI's default handler), so a dead rank ends
/// the job rather than hanging the others in a collective.
pub struct MpiGroup {
    /// Declared first: its thread stops before MPI is finalised.
    watchdog: Watchdog,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    // Declared last: finalises MPI after the communicator is gone.
    _universe: Universe,
}

impl std::fmt::Debug for MpiGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiGroup")
            .field("rank", &self.rank)
            .field("world_size", &self.size)
            .finish()
    }
}

impl MpiGroup {
    /// Initialises MPI and joins `MPI_COMM_WORLD`. Fails when MPI was already initialised in
    /// this process (only one group may exist).
    pub fn init() -> Result<MpiGroup> {
        let universe = mpi::initialize()
            .ok_or_else(|| CommError::Init("MPI is already initialised in this process".into()))?;
        let world = universe.world();
        let rank = usize::try_from(world.rank())
            .map_err(|_| CommError::Init(format!("negative rank {}", world.rank())))?;
        let size = usize::try_from(world.size())
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| CommError::Init(format!("bad world size {}", world.size())))?;
        Ok(MpiGroup {
            watchdog: Watchdog::start(rank, size),
            world,
            rank,
            size,
            _universe: universe,
        })
    }

    /// Element-wise sum over all ranks of `values`, in place, in chunks MPI's counts can hold.
    fn all_reduce_sum<T: Equivalence + Copy>(&self, values: &mut [T]) -> Result<()> {
        for chunk in values.chunks_mut(MAX_COUNT) {
            let send = chunk.to_vec();
            self.world
                .all_reduce_into(&send[..], chunk, SystemOperation::sum());
        }
        Ok(())
    }

    /// Exchanges the per-destination counts, then the values.
    fn all_to_all_v<T: Equivalence + Copy + Default>(
        &self,
        op: &'static str,
        send: &[T],
        send_counts: &[usize],
    ) -> Result<Received<T>> {
        check_counts(op, send.len(), send_counts, self.size)?;
        let send_counts_c = to_counts(op, send_counts)?;
        let mut recv_counts_c: Vec<Count> = vec![0; self.size];
        self.world
            .all_to_all_into(&send_counts_c[..], &mut recv_counts_c[..]);
        let (recv_counts, total) = receive_counts(op, &recv_counts_c)?;
        let send_displs = displacements(&send_counts_c);
        let recv_displs = displacements(&recv_counts_c);
        let mut values = vec![T::default(); total];
        {
            let send_part = Partition::new(send, &send_counts_c[..], &send_displs[..]);
            let mut recv_part =
                PartitionMut::new(&mut values[..], &recv_counts_c[..], &recv_displs[..]);
            self.world
                .all_to_all_varcount_into(&send_part, &mut recv_part);
        }
        Ok(Received {
            values,
            counts: recv_counts,
        })
    }

    /// Gathers every rank's length, then every rank's values.
    fn all_gather_v<T: Equivalence + Copy + Default>(
        &self,
        op: &'static str,
        send: &[T],
    ) -> Result<Received<T>> {
        let len = to_counts(op, &[send.len()])?[0];
        let mut counts_c: Vec<Count> = vec![0; self.size];
        self.world.all_gather_into(&len, &mut counts_c[..]);
        let (counts, total) = receive_counts(op, &counts_c)?;
        let displs = displacements(&counts_c);
        let mut values = vec![T::default(); total];
        {
            let mut part = PartitionMut::new(&mut values[..], &counts_c[..], &displs[..]);
            self.world.all_gather_varcount_into(send, &mut part);
        }
        Ok(Received { values, counts })
    }
}

/// `counts` as MPI counts, or an error when one or their sum exceeds what MPI can address.
fn to_counts(op: &'static str, counts: &[usize]) -> Result<Vec<Count>> {
    addressable(op, counts.iter().sum())?;
    Ok(counts.iter().map(|&c| c as Count).collect())
}

/// Fails when `total` elements exceed what one MPI call can address.
fn addressable(op: &'static str, total: usize) -> Result<usize> {
    if total > MAX_COUNT {
        return Err(CommError::TooLarge {
            op,
            len: total,
            max: MAX_COUNT,
        });
    }
    Ok(total)
}

/// Exclusive prefix sums: where each rank's block starts.
fn displacements(counts: &[Count]) -> Vec<Count> {
    let mut start = 0;
    counts
        .iter()
        .map(|&c| {
            let at = start;
            start += c;
            at
        })
        .collect()
}

impl ProcessGroup for MpiGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<()> {
        let _in = self.watchdog.enter("all_reduce_sum_f32");
        self.all_reduce_sum(values)
    }

    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<()> {
        let _in = self.watchdog.enter("all_reduce_sum_f64");
        self.all_reduce_sum(values)
    }

    fn all_to_all_v_u64(&self, send: &[u64], send_counts: &[usize]) -> Result<Received<u64>> {
        let _in = self.watchdog.enter("all_to_all_v_u64");
        self.all_to_all_v("all_to_all_v_u64", send, send_counts)
    }

    fn all_to_all_v_f32(&self, send: &[f32], send_counts: &[usize]) -> Result<Received<f32>> {
        let _in = self.watchdog.enter("all_to_all_v_f32");
        self.all_to_all_v("all_to_all_v_f32", send, send_counts)
    }

    fn all_gather_v_u64(&self, send: &[u64]) -> Result<Received<u64>> {
        let _in = self.watchdog.enter("all_gather_v_u64");
        self.all_gather_v("all_gather_v_u64", send)
    }

    fn all_gather_v_f32(&self, send: &[f32]) -> Result<Received<f32>> {
        let _in = self.watchdog.enter("all_gather_v_f32");
        self.all_gather_v("all_gather_v_f32", send)
    }

    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) -> Result<()> {
        check_root("broadcast_bytes", root, self.size)?;
        let _in = self.watchdog.enter("broadcast_bytes");
        let root_process = self.world.process_at_rank(root as mpi::Rank);
        let mut len = bytes.len() as u64;
        root_process.broadcast_into(&mut len);
        let len = usize::try_from(len).map_err(|_| CommError::TooLarge {
            op: "broadcast_bytes",
            len: usize::MAX,
            max: MAX_COUNT,
        })?;
        if self.rank != root {
            bytes.clear();
            bytes.resize(len, 0);
        }
        for chunk in bytes.chunks_mut(MAX_COUNT) {
            root_process.broadcast_into(chunk);
        }
        Ok(())
    }

    fn barrier(&self) -> Result<()> {
        let _in = self.watchdog.enter("barrier");
        self.world.barrier();
        Ok(())
    }

    fn set_collective_timeout(&self, timeout: Option<std::time::Duration>) {
        self.watchdog.set_timeout(timeout);
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

/// The per-rank counts about to be received, and their total, which MPI's 32-bit counts must
/// be able to address.
fn receive_counts(op: &'static str, counts: &[Count]) -> Result<(Vec<usize>, usize)> {
    let counts: Vec<usize> = counts.iter().map(|&c| c as usize).collect();
    let total = addressable(op, counts.iter().sum())?;
    Ok((counts, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displacements_are_exclusive_prefix_sums() {
        assert_eq!(displacements(&[2, 0, 3, 1]), [0, 2, 2, 5]);
        assert!(displacements(&[]).is_empty());
    }

    #[test]
    fn counts_beyond_mpi_int_are_refused() {
        assert!(to_counts("t", &[MAX_COUNT, 1]).is_err());
        assert_eq!(to_counts("t", &[1, 2]).unwrap(), [1, 2]);
    }
}
