//! Which positions of the epoch's global order a rank reads, batch by batch.
//!
//! Ranks take interleaved positions: from the resume point `start`, global batch `t` is the
//! contiguous run of `batch_size * world_size` positions, and rank `r` takes every
//! `world_size`-th of them starting at offset `r`. So the union of the ranks' `t`-th batches is
//! the same run of samples whatever the world size, a run with one rank reads exactly what a
//! distributed run reads in total, and each sample is read exactly once per epoch.
//!
//! The uneven tail: by default the last global batch is short and split the same interleaved way
//! (each sample still read exactly once, nothing repeated or padded); a rank whose share of it is
//! empty still gets an empty batch, so every rank yields the same number of batches. With
//! `drop_last` the positions after the last full global batch are skipped for this epoch.

/// One rank's batches over the rest of an epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RankPlan {
    start: u64,
    end: u64,
    rank: u64,
    world: u64,
    batch: u64,
}

impl RankPlan {
    /// The plan of `rank` of `world` reading positions `start..total` in batches of `batch`
    /// (all at least 1, `rank < world`, `start <= total`).
    pub(crate) fn new(
        start: u64,
        total: u64,
        rank: u64,
        world: u64,
        batch: u64,
        drop_last: bool,
    ) -> RankPlan {
        let step = batch * world;
        let end = if drop_last {
            start + (total - start) / step * step
        } else {
            total
        };
        RankPlan {
            start,
            end,
            rank,
            world,
            batch,
        }
    }

    /// Batches this rank yields (the same for every rank).
    pub(crate) fn num_batches(&self) -> u64 {
        (self.end - self.start).div_ceil(self.batch * self.world)
    }

    /// Positions of global batch `t` (all ranks' shares together).
    pub(crate) fn global_range(&self, t: u64) -> std::ops::Range<u64> {
        let first = self.start + t * self.batch * self.world;
        first.min(self.end)..(first + self.batch * self.world).min(self.end)
    }

    /// This rank's positions in batch `t`, in order.
    pub(crate) fn positions(&self, t: u64) -> impl Iterator<Item = u64> + use<> {
        let range = self.global_range(t);
        (range.start + self.rank..range.end).step_by(self.world as usize)
    }

    /// Global positions consumed once every rank has yielded batches `0..=t`; the end of the
    /// epoch (`total`, even when the tail is dropped) after the last batch.
    pub(crate) fn consumed_after(&self, t: u64, total: u64) -> u64 {
        if t + 1 >= self.num_batches() {
            total
        } else {
            self.global_range(t).end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(start: u64, total: u64, world: u64, batch: u64, drop_last: bool) -> Vec<Vec<u64>> {
        (0..world)
            .map(|r| {
                let p = RankPlan::new(start, total, r, world, batch, drop_last);
                (0..p.num_batches()).flat_map(|t| p.positions(t)).collect()
            })
            .collect()
    }

    #[test]
    fn ranks_cover_every_position_once() {
        for world in 1..5 {
            for batch in 1..6 {
                let mut seen: Vec<u64> = all(3, 23, world, batch, false).concat();
                seen.sort_unstable();
                assert_eq!(
                    seen,
                    (3..23).collect::<Vec<_>>(),
                    "world {world} batch {batch}"
                );
            }
        }
    }

    #[test]
    fn global_batches_do_not_depend_on_world_size() {
        let one = RankPlan::new(0, 20, 0, 1, 6, false);
        let p0 = RankPlan::new(0, 20, 0, 2, 3, false);
        let p1 = RankPlan::new(0, 20, 1, 2, 3, false);
        assert_eq!(one.num_batches(), p0.num_batches());
        for t in 0..one.num_batches() {
            let mut both: Vec<u64> = p0.positions(t).chain(p1.positions(t)).collect();
            both.sort_unstable();
            assert_eq!(both, one.positions(t).collect::<Vec<_>>());
        }
    }

    #[test]
    fn tail_is_split_or_dropped() {
        // 10 positions, 3 ranks, batch 2: the last global batch holds 4 positions.
        let p2 = RankPlan::new(0, 10, 2, 3, 2, false);
        assert_eq!(p2.num_batches(), 2);
        assert_eq!(p2.positions(1).collect::<Vec<_>>(), vec![8]);
        let dropped = all(0, 10, 3, 2, true);
        assert!(dropped.iter().all(|r| r.len() == 2));
        assert_eq!(
            RankPlan::new(0, 10, 0, 3, 2, true).consumed_after(0, 10),
            10
        );
        // A rank with nothing in the tail still gets an (empty) batch.
        let p = RankPlan::new(0, 7, 2, 3, 2, false);
        assert_eq!(p.num_batches(), 2);
        assert_eq!(p.positions(1).count(), 0);
        assert_eq!(p.consumed_after(0, 7), 6);
        assert_eq!(p.consumed_after(1, 7), 7);
    }
}
