//! The [`ProcessGroup`] trait, the single-process group, and the argument checks every
//! implementation shares.

use crate::error::{CommError, Result};

/// What a variable-size collective delivers to one rank: the values from every source rank,
/// concatenated in rank order, and how many came from each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Received<T> {
    /// The received values: those of rank 0 first, then rank 1's, and so on.
    pub values: Vec<T>,
    /// `counts[r]`: how many of `values` came from rank `r` (one entry per rank).
    pub counts: Vec<usize>,
}

impl<T> Received<T> {
    /// The values that came from rank `source` (empty for a rank outside the group).
    pub fn from_rank(&self, source: usize) -> &[T] {
        if source >= self.counts.len() {
            return &[];
        }
        let start: usize = self.counts[..source].iter().sum();
        &self.values[start..start + self.counts[source]]
    }
}

/// A group of cooperating training processes (ranks `0..world_size()`), and the collective
/// operations distributed training is built from.
///
/// Every rank must call the same collectives in the same order with compatible arguments
/// (the same buffer length for all-reduce, the same root for broadcast); a collective returns
/// on a rank once that rank's part is complete. Arguments are checked before anything is sent
/// and a bad one comes back as a [`CommError`].
///
/// How training uses them:
/// - dense (MLP, interaction, cross) parameters are replicated on every rank and their
///   gradients summed with [`all_reduce_sum_f32`](Self::all_reduce_sum_f32) after backward
///   (data parallelism, as PyTorch DDP does);
/// - sharded embedding tables exchange the ids of a batch and the pooled embeddings with
///   all-to-all ([`all_to_all_v_u64`](Self::all_to_all_v_u64),
///   [`all_to_all_v_f32`](Self::all_to_all_v_f32)), as TorchRec's sharded embedding
///   collections do;
/// - metrics and loss sums are reduced in `f64`, evaluation scores gathered with all-gather;
/// - checkpoint metadata is broadcast from rank 0, and ranks meet at barriers around
///   checkpoints.
pub trait ProcessGroup: std::fmt::Debug {
    /// This process's rank, in `0..world_size()`.
    fn rank(&self) -> usize;

    /// How many ranks the group has (at least 1).
    fn world_size(&self) -> usize;

    /// Replaces `values` on every rank by the element-wise sum over all ranks. All ranks pass
    /// buffers of the same length. Training sums the replicated dense parameters' gradients
    /// with it (then divides by the world size, or scales the loss, for a mean).
    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<()>;

    /// [`all_reduce_sum_f32`](Self::all_reduce_sum_f32) in double precision: loss and metric
    /// sums (log loss, sample counts, AUC histograms) that must not lose precision.
    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<()>;

    /// Personalised exchange of ids: `send` holds the ids for rank 0 first, then those for
    /// rank 1, and so on, `send_counts[r]` of them for rank `r`; each rank receives what every
    /// rank sent it, in source-rank order. The forward pass of a sharded embedding collection
    /// sends each batch id to the rank that holds its row (the input distribution of TorchRec's
    /// sharded collections). The counts are exchanged first, so receivers need not know them.
    fn all_to_all_v_u64(&self, send: &[u64], send_counts: &[usize]) -> Result<Received<u64>>;

    /// [`all_to_all_v_u64`](Self::all_to_all_v_u64) for `f32` values: the looked-up (pooled)
    /// embeddings return to the ranks whose samples asked for them, and in backward their
    /// gradients travel the other way to the rows' owners, where the fused sparse optimizer
    /// updates them.
    fn all_to_all_v_f32(&self, send: &[f32], send_counts: &[usize]) -> Result<Received<f32>>;

    /// Every rank receives every rank's `send` (of any length), concatenated in rank order:
    /// the ids a row-wise shard must answer for, or evaluation scores and labels gathered
    /// for a global metric.
    fn all_gather_v_u64(&self, send: &[u64]) -> Result<Received<u64>>;

    /// [`all_gather_v_u64`](Self::all_gather_v_u64) for `f32` values.
    fn all_gather_v_f32(&self, send: &[f32]) -> Result<Received<f32>>;

    /// Copies `root`'s `bytes` (any length) to every rank, replacing theirs: the checkpoint
    /// metadata, resolved configuration and reader position rank 0 decides on.
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>, root: usize) -> Result<()>;

    /// Returns once every rank has called it: before and after writing a checkpoint, so no
    /// rank reads a checkpoint another is still writing.
    fn barrier(&self) -> Result<()>;

    /// Sets the longest time one collective may wait for the other ranks (`None`: no limit);
    /// past it, this rank prints which collective it was in and aborts, so a dead or hung rank
    /// ends the job instead of hanging it. A no-op for a single process, which never waits.
    fn set_collective_timeout(&self, timeout: Option<std::time::Duration>);

    /// Ends the whole job with exit status `code`, without waiting for the other ranks: what a
    /// rank does on an error the others cannot know about (they would otherwise wait for it in
    /// the next collective). A single process simply exits.
    fn abort(&self, code: i32) -> !;
}

/// Checks the counts of an all-to-all-v call against the group and the send buffer.
pub(crate) fn check_counts(
    op: &'static str,
    len: usize,
    counts: &[usize],
    world_size: usize,
) -> Result<()> {
    if counts.len() != world_size {
        return Err(CommError::CountsPerRank {
            op,
            found: counts.len(),
            world_size,
        });
    }
    let counts_total: usize = counts.iter().sum();
    if counts_total != len {
        return Err(CommError::CountsMismatch {
            op,
            counts_total,
            len,
        });
    }
    Ok(())
}

/// Checks that `root` is a rank of the group.
pub(crate) fn check_root(op: &'static str, root: usize, world_size: usize) -> Result<()> {
    if root >= world_size {
        return Err(CommError::BadRoot {
            op,
            root,
            world_size,
        });
    }
    Ok(())
}

/// The group of one process: rank 0 of 1. Every collective is an identity or a copy, so
/// single-process training runs the same code path as distributed training at no cost. The
/// default when the binary is not built with the `mpi` feature or not launched by an MPI
/// launcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SingleProcess;

impl ProcessGroup for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn all_reduce_sum_f32(&self, _values: &mut [f32]) -> Result<()> {
        Ok(())
    }

    fn all_reduce_sum_f64(&self, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }

    fn all_to_all_v_u64(&self, send: &[u64], send_counts: &[usize]) -> Result<Received<u64>> {
        check_counts("all_to_all_v_u64", send.len(), send_counts, 1)?;
        Ok(Received {
            values: send.to_vec(),
            counts: vec![send.len()],
        })
    }

    fn all_to_all_v_f32(&self, send: &[f32], send_counts: &[usize]) -> Result<Received<f32>> {
        check_counts("all_to_all_v_f32", send.len(), send_counts, 1)?;
        Ok(Received {
            values: send.to_vec(),
            counts: vec![send.len()],
        })
    }

    fn all_gather_v_u64(&self, send: &[u64]) -> Result<Received<u64>> {
        Ok(Received {
            values: send.to_vec(),
            counts: vec![send.len()],
        })
    }

    fn all_gather_v_f32(&self, send: &[f32]) -> Result<Received<f32>> {
        Ok(Received {
            values: send.to_vec(),
            counts: vec![send.len()],
        })
    }

    fn broadcast_bytes(&self, _bytes: &mut Vec<u8>, root: usize) -> Result<()> {
        check_root("broadcast_bytes", root, 1)
    }

    fn barrier(&self) -> Result<()> {
        Ok(())
    }

    fn set_collective_timeout(&self, _timeout: Option<std::time::Duration>) {}

    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_process_is_rank_zero_of_one() {
        let g = SingleProcess;
        assert_eq!((g.rank(), g.world_size()), (0, 1));
        g.barrier().unwrap();
    }

    #[test]
    fn single_process_all_reduce_is_the_identity() {
        let g = SingleProcess;
        let mut a = vec![1.5f32, -2.0, 0.0];
        g.all_reduce_sum_f32(&mut a).unwrap();
        assert_eq!(a, [1.5, -2.0, 0.0]);
        let mut b = vec![1e300f64, 3.0];
        g.all_reduce_sum_f64(&mut b).unwrap();
        assert_eq!(b, [1e300, 3.0]);
        g.all_reduce_sum_f32(&mut []).unwrap();
    }

    #[test]
    fn single_process_all_to_all_returns_the_send_buffer() {
        let g = SingleProcess;
        let r = g.all_to_all_v_u64(&[7, 8, 9], &[3]).unwrap();
        assert_eq!(r.values, [7, 8, 9]);
        assert_eq!(r.counts, [3]);
        assert_eq!(r.from_rank(0), [7, 8, 9]);
        assert!(r.from_rank(1).is_empty());
        let f = g.all_to_all_v_f32(&[0.5, 1.5], &[2]).unwrap();
        assert_eq!((f.values, f.counts), (vec![0.5, 1.5], vec![2]));
        let empty = g.all_to_all_v_f32(&[], &[0]).unwrap();
        assert_eq!((empty.values.len(), empty.counts), (0, vec![0]));
    }

    #[test]
    fn single_process_all_to_all_checks_counts() {
        let g = SingleProcess;
        let err = g.all_to_all_v_u64(&[1, 2], &[1, 1]).unwrap_err();
        assert!(matches!(
            err,
            CommError::CountsPerRank {
                found: 2,
                world_size: 1,
                ..
            }
        ));
        let err = g.all_to_all_v_f32(&[1.0, 2.0], &[3]).unwrap_err();
        assert!(matches!(
            err,
            CommError::CountsMismatch {
                counts_total: 3,
                len: 2,
                ..
            }
        ));
        assert!(err.to_string().contains("add up to 3"), "{err}");
    }

    #[test]
    fn single_process_all_gather_is_a_copy() {
        let g = SingleProcess;
        let r = g.all_gather_v_u64(&[4, 5]).unwrap();
        assert_eq!((r.values, r.counts), (vec![4, 5], vec![2]));
        let f = g.all_gather_v_f32(&[]).unwrap();
        assert_eq!((f.values.len(), f.counts), (0, vec![0]));
    }

    #[test]
    fn single_process_broadcast_keeps_the_bytes_and_checks_the_root() {
        let g = SingleProcess;
        let mut bytes = b"meta".to_vec();
        g.broadcast_bytes(&mut bytes, 0).unwrap();
        assert_eq!(bytes, b"meta");
        let err = g.broadcast_bytes(&mut bytes, 1).unwrap_err();
        assert!(err.to_string().contains("root rank 1"), "{err}");
    }

    #[test]
    fn received_slices_by_source() {
        let r = Received {
            values: vec![1u64, 2, 3, 4, 5, 6],
            counts: vec![1, 0, 2, 3],
        };
        assert_eq!(r.from_rank(0), [1]);
        assert!(r.from_rank(1).is_empty());
        assert_eq!(r.from_rank(2), [2, 3]);
        assert_eq!(r.from_rank(3), [4, 5, 6]);
    }

    #[test]
    fn process_groups_are_object_safe() {
        let g: Box<dyn ProcessGroup> = Box::new(SingleProcess);
        assert_eq!(g.world_size(), 1);
    }
}
