//! Retrieval quality on the leave-last-N test split, measured in the generator's own id space:
//! the hidden model's recall (the ceiling a trained two-tower model is judged against) and the
//! most-popular baseline's (the floor it must beat).
//!
//! Definitions follow `cascade eval`: for each user with held-out items, the top K of every item
//! not in the user's training interactions; Recall@K = hits / held-out items; averaged over
//! users. Popularity counts training interactions; ties go to the lower item index.

use super::world::{Pick, World};
use rayon::prelude::*;

/// The cut-offs reported.
pub const CUTOFFS: [usize; 3] = [10, 50, 100];

/// Mean Recall@K at each of [`CUTOFFS`] for one scorer.
pub type Recalls = [f64; CUTOFFS.len()];

/// Recall of the hidden model and of popularity, with the number of users averaged over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrievalReport {
    /// The hidden model's recall (its own pick logits as scores).
    pub hidden: Recalls,
    /// The most-popular baseline's recall.
    pub popularity: Recalls,
    /// Users with at least one held-out item.
    pub users: u64,
}

/// How many of a user's interactions (in time order) are held out: the last
/// `min(leave_last, n - 1)`, so every user keeps one in training (the converter's rule).
pub fn held_out(leave_last: usize, interactions: usize) -> usize {
    leave_last.min(interactions.saturating_sub(1))
}

/// Hits among the top K (for every K in [`CUTOFFS`]) of `scores` restricted to items not
/// `seen`, as recalls over `relevant` (true per held-out item).
pub(crate) fn recalls(scores: &[f64], seen: &[bool], relevant: &[bool], held: usize) -> Recalls {
    let kmax = CUTOFFS[CUTOFFS.len() - 1];
    let mut candidates: Vec<(f64, usize)> = scores
        .iter()
        .enumerate()
        .filter(|&(i, _)| !seen[i])
        .map(|(i, &s)| (s, i))
        .collect();
    // Best first; ties by lower index, so the ranking is a total order.
    let order = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if candidates.len() > kmax {
        candidates.select_nth_unstable_by(kmax, order);
        candidates.truncate(kmax);
    }
    candidates.sort_unstable_by(order);
    CUTOFFS.map(|k| {
        let hits = candidates
            .iter()
            .take(k)
            .filter(|&&(_, i)| relevant[i])
            .count();
        hits as f64 / held as f64
    })
}

/// Evaluates both scorers on `picks` (every user's interactions in time order) split with
/// `leave_last`.
pub fn evaluate(world: &World, picks: &[Vec<Pick>], leave_last: usize) -> RetrievalReport {
    let items = world.items.len();
    let mut counts = vec![0f64; items];
    for user_picks in picks {
        let train = user_picks.len() - held_out(leave_last, user_picks.len());
        for pick in &user_picks[..train] {
            counts[pick.item] += 1.0;
        }
    }
    let per_user: Vec<Option<(Recalls, Recalls)>> = picks
        .par_iter()
        .enumerate()
        .map(|(u, user_picks)| {
            let held = held_out(leave_last, user_picks.len());
            if held == 0 {
                return None;
            }
            let train = user_picks.len() - held;
            let mut seen = vec![false; items];
            let mut relevant = vec![false; items];
            user_picks[..train].iter().for_each(|p| seen[p.item] = true);
            user_picks[train..]
                .iter()
                .for_each(|p| relevant[p.item] = true);
            let user = &world.users[u];
            let hidden: Vec<f64> = world.items.iter().map(|i| world.score(user, i)).collect();
            Some((
                recalls(&hidden, &seen, &relevant, held),
                recalls(&counts, &seen, &relevant, held),
            ))
        })
        .collect();
    let mut report = RetrievalReport {
        hidden: [0.0; CUTOFFS.len()],
        popularity: [0.0; CUTOFFS.len()],
        users: 0,
    };
    for (hidden, popularity) in per_user.into_iter().flatten() {
        report.users += 1;
        for k in 0..CUTOFFS.len() {
            report.hidden[k] += hidden[k];
            report.popularity[k] += popularity[k];
        }
    }
    let users = report.users.max(1) as f64;
    report.hidden.iter_mut().for_each(|r| *r /= users);
    report.popularity.iter_mut().for_each(|r| *r /= users);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_hits_among_unseen_top_k() {
        // Six items; item 0 scores best but is seen, so the top ten is 1, 2, 3, 4, 5.
        let scores = [9.0, 5.0, 4.0, 3.0, 2.0, 1.0];
        let seen = [true, false, false, false, false, false];
        let relevant = [false, false, true, false, false, true];
        assert_eq!(recalls(&scores, &seen, &relevant, 2), [1.0; 3]);
        // With 120 items, a relevant item ranked 60th among the unseen counts from K = 100 on.
        let scores: Vec<f64> = (0..120).map(|i| -(i as f64)).collect();
        let seen = vec![false; 120];
        let mut relevant = vec![false; 120];
        relevant[59] = true;
        relevant[110] = true;
        assert_eq!(recalls(&scores, &seen, &relevant, 2), [0.0, 0.0, 0.5]);
    }

    #[test]
    fn every_user_keeps_a_training_interaction() {
        assert_eq!(held_out(10, 25), 10);
        assert_eq!(held_out(10, 4), 3);
        assert_eq!(held_out(10, 1), 0);
        assert_eq!(held_out(3, 0), 0);
    }
}
