//! Walker's alias method (in Vose's numerically stable construction): draws from any finite
//! discrete distribution with one random number, one table lookup and one comparison.
//!
//! The table costs 8 bytes per outcome and O(n) time to build, so it pays off when the same
//! distribution is sampled many times, as the id columns of a generated dataset are.

use crate::rng::Rng;

/// One column of the table: outcome `i` keeps it with probability `threshold / 2³²`, otherwise
/// it goes to `alias`. Full columns have `alias == i`, so they never leave it.
#[derive(Debug, Clone, Copy)]
struct Column {
    threshold: u32,
    alias: u32,
}

/// An alias table over outcomes `0..n` (`1 <= n <= u32::MAX`), built from their relative
/// weights.
#[derive(Debug)]
pub struct AliasTable {
    columns: Vec<Column>,
}

impl AliasTable {
    /// The table of outcomes `0..weights.len()`, drawn in proportion to `weights` (finite,
    /// non-negative, with a positive sum; the caller checks, as [`super::Zipf`] does).
    pub fn new(weights: &[f64]) -> AliasTable {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        // Each outcome's probability times n: a column holds exactly 1 of this mass.
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut columns: Vec<Column> = (0..n as u32)
            .map(|i| Column {
                threshold: u32::MAX,
                alias: i,
            })
            .collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| scaled[i as usize] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            columns[s as usize] = Column {
                threshold: to_threshold(scaled[s as usize]),
                alias: l,
            };
            // The large outcome gives the small column what it lacks.
            scaled[l as usize] = (scaled[l as usize] + scaled[s as usize]) - 1.0;
            if scaled[l as usize] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left (in either list, by rounding) holds a full column: already set.
        AliasTable { columns }
    }

    /// Draws one outcome. The top of `u·n` (for a 64-bit uniform `u`) picks the column and its
    /// fractional part, independent of the column, decides between the column's two outcomes.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let product = u128::from(rng.next_u64()) * self.columns.len() as u128;
        let index = (product >> 64) as usize;
        let fraction = ((product as u64) >> 32) as u32;
        let column = self.columns[index];
        // Which of the two comes up is a coin toss per column: a branch would be mispredicted
        // about half the time.
        std::hint::select_unpredictable(
            fraction < column.threshold,
            index as u64,
            u64::from(column.alias),
        )
    }
}

/// A column's keep-probability in 32-bit fixed point (`p >= 1` keeps always).
fn to_threshold(p: f64) -> u32 {
    (p * 4_294_967_296.0).round().clamp(0.0, u32::MAX as f64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_match_arbitrary_weights() {
        let weights = [5.0, 0.0, 1.0, 2.0, 0.5, 10.0, 1.5];
        let total: f64 = weights.iter().sum();
        let table = AliasTable::new(&weights);
        let mut rng = Rng::for_key(&[11]);
        let draws = 700_000;
        let mut counts = [0u64; 7];
        for _ in 0..draws {
            counts[table.sample(&mut rng) as usize] += 1;
        }
        assert_eq!(counts[1], 0, "a zero weight is never drawn");
        for (i, &w) in weights.iter().enumerate() {
            let p = w / total;
            let expected = p * draws as f64;
            let sd = (draws as f64 * p * (1.0 - p)).sqrt();
            let got = counts[i] as f64;
            assert!(
                (got - expected).abs() < 5.0 * sd + 1.0,
                "outcome {i}: {got}, expected {expected:.0} ± {sd:.0}"
            );
        }
    }

    #[test]
    fn a_single_outcome_is_always_drawn() {
        let table = AliasTable::new(&[3.0]);
        let mut rng = Rng::for_key(&[12]);
        assert!((0..1000).all(|_| table.sample(&mut rng) == 0));
    }
}
