//! The hidden world behind a two-tower dataset: users and items with MovieLens side features,
//! latent taste factors, item popularity, and each user's interactions drawn from them.
//!
//! A user picks items with probability proportional to
//! `exp(popularity_i + preference · ⟨p_u, q_i⟩ / sqrt(FACTORS))` without replacement (Gumbel
//! top-k), where `popularity_i = -popularity · ln(rank_i)` over a random popularity order of
//! the items. Half of a user's factor `p_u` comes from their age group, gender and occupation,
//! half from the user alone; half of an item's factor `q_i` comes from its genres, half from
//! the item alone. So ids, side features and popularity all carry signal, and the best possible
//! ranking (the hidden score itself) is known. Ratings (1 to 5) rise with the same affinity
//! plus per-user and per-item biases and noise. The order of a user's interactions in time is
//! random, so a leave-last-N split holds out a fair sample of their tastes.

use super::config::{FACTORS, TwoTowerConfig};
use crate::rng::Rng;
use crate::zipf::Zipf;
use cascade_convert::formats::movielens100k::GENRES;
use rayon::prelude::*;

/// Domain tags keep the random streams of different quantities independent.
const USERS: u64 = 20;
const ITEMS: u64 = 21;
const GROUPS: u64 = 22;
const PICKS: u64 = 23;
const POPULARITY: u64 = 24;
const SIZES: u64 = 25;

/// MovieLens occupations, most common first.
pub const OCCUPATIONS: [&str; 21] = [
    "student",
    "other",
    "educator",
    "administrator",
    "engineer",
    "programmer",
    "librarian",
    "writer",
    "executive",
    "scientist",
    "artist",
    "technician",
    "marketing",
    "entertainment",
    "healthcare",
    "retired",
    "lawyer",
    "salesman",
    "none",
    "homemaker",
    "doctor",
];

/// Genres (indices into [`GENRES`]), most common first.
const GENRE_POPULARITY: [usize; 19] = [
    8, 5, 1, 16, 14, 2, 15, 6, 4, 17, 11, 13, 12, 3, 18, 10, 9, 7, 0,
];

/// First and last timestamps of MovieLens 100K (1997-09-20 to 1998-04-22).
const FIRST_TIME: i64 = 874_724_710;
const LAST_TIME: i64 = 893_286_638;

/// The age groups a user's age falls in, for the taste factors (the converter's buckets).
const AGE_GROUP_BOUNDS: [i64; 6] = [18, 25, 35, 45, 50, 56];

/// One user's side features and hidden factor.
#[derive(Debug, Clone)]
pub struct User {
    /// Age in years.
    pub age: i64,
    /// `M` or `F`.
    pub gender: &'static str,
    /// One of [`OCCUPATIONS`].
    pub occupation: &'static str,
    /// Five-digit zip code.
    pub zip: String,
    /// Taste factor (unit-variance components).
    pub factor: [f64; FACTORS],
    /// How generously the user rates (added to every rating's latent value).
    pub bias: f64,
}

/// One item's side features and hidden factor.
#[derive(Debug, Clone)]
pub struct Item {
    /// Release year.
    pub year: i64,
    /// Genres, indices into [`GENRES`] (ascending).
    pub genres: Vec<usize>,
    /// Taste factor (unit-variance components).
    pub factor: [f64; FACTORS],
    /// Log-popularity: the item's share of attention before taste.
    pub popularity: f64,
    /// Quality: added to every rating of the item.
    pub quality: f64,
}

/// One interaction: the item (index into the world's items), its rating and time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// Item index (0-based).
    pub item: usize,
    /// Rating, 1 to 5.
    pub rating: u8,
    /// Unix seconds.
    pub time: i64,
}

/// Every user and item of a dataset.
#[derive(Debug, Clone)]
pub struct World {
    /// Users (user `u` has raw id `u + 1`).
    pub users: Vec<User>,
    /// Items (item `i` has raw id `i + 1`).
    pub items: Vec<Item>,
    /// Scale of the affinity in the pick logit.
    preference: f64,
}

/// A vector of unit-variance normal components.
fn normal_vector(rng: &mut Rng) -> [f64; FACTORS] {
    let mut v = [0.0; FACTORS];
    for pair in v.chunks_mut(2) {
        let (a, b) = rng.normal_pair();
        pair[0] = a;
        if let Some(x) = pair.get_mut(1) {
            *x = b;
        }
    }
    v
}

/// `√½·shared + √½·own`: half of the variance from a group, half individual.
fn blend(shared: &[f64; FACTORS], own: &[f64; FACTORS]) -> [f64; FACTORS] {
    std::array::from_fn(|d| std::f64::consts::FRAC_1_SQRT_2 * (shared[d] + own[d]))
}

impl World {
    /// The world a configuration's seed plants.
    pub fn new(config: &TwoTowerConfig) -> World {
        let seed = config.seed;
        let group =
            |kind: u64, index: u64| normal_vector(&mut Rng::for_key(&[seed, GROUPS, kind, index]));
        let ages: Vec<[f64; FACTORS]> = (0..=AGE_GROUP_BOUNDS.len() as u64)
            .map(|a| group(0, a))
            .collect();
        let genders = [group(1, 0), group(1, 1)];
        let occupations: Vec<[f64; FACTORS]> =
            (0..OCCUPATIONS.len() as u64).map(|o| group(2, o)).collect();
        let genre_vectors: Vec<[f64; FACTORS]> =
            (0..GENRES.len() as u64).map(|g| group(3, g)).collect();
        let occupation_zipf = Zipf::new(OCCUPATIONS.len() as u64, 0.8);
        let genre_zipf = Zipf::new(GENRES.len() as u64, 0.9);

        let users = (0..config.user_count())
            .into_par_iter()
            .map(|u| {
                let mut rng = Rng::for_key(&[seed, USERS, u]);
                let age = (30.0 + 11.0 * rng.normal()).round().clamp(7.0, 73.0) as i64;
                let male = rng.uniform() < 0.71;
                let occupation = occupation_zipf.sample(&mut rng) as usize;
                let zip = format!("{:05}", rng.below(100_000));
                let age_group = AGE_GROUP_BOUNDS.iter().filter(|&&b| age >= b).count();
                let shared: [f64; FACTORS] = std::array::from_fn(|d| {
                    (ages[age_group][d]
                        + genders[usize::from(male)][d]
                        + occupations[occupation][d])
                        / 3f64.sqrt()
                });
                let own = normal_vector(&mut rng);
                User {
                    age,
                    gender: if male { "M" } else { "F" },
                    occupation: OCCUPATIONS[occupation],
                    zip,
                    factor: blend(&shared, &own),
                    bias: 0.4 * rng.normal(),
                }
            })
            .collect();

        // Popularity ranks are a seeded random permutation of the items.
        let item_count = config.item_count();
        let mut order: Vec<u64> = (0..item_count).collect();
        let mut rng = Rng::for_key(&[seed, POPULARITY]);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut rank = vec![0u64; order.len()];
        for (r, &item) in order.iter().enumerate() {
            rank[item as usize] = r as u64 + 1;
        }
        let items = (0..item_count)
            .into_par_iter()
            .map(|i| {
                let mut rng = Rng::for_key(&[seed, ITEMS, i]);
                let age = (-8.0 * rng.uniform_open().ln()).floor() as i64;
                let year = (1998 - age).max(1922);
                let count = 1 + rng.below(3) as usize;
                let mut genres: Vec<usize> = (0..count)
                    .map(|_| GENRE_POPULARITY[genre_zipf.sample(&mut rng) as usize])
                    .collect();
                genres.sort_unstable();
                genres.dedup();
                let mut shared = [0.0; FACTORS];
                for &g in &genres {
                    shared
                        .iter_mut()
                        .zip(&genre_vectors[g])
                        .for_each(|(s, x)| *s += x);
                }
                let norm = (genres.len() as f64).sqrt();
                shared.iter_mut().for_each(|s| *s /= norm);
                let own = normal_vector(&mut rng);
                Item {
                    year,
                    genres,
                    factor: blend(&shared, &own),
                    popularity: -config.popularity * (rank[i as usize] as f64).ln(),
                    quality: 0.4 * rng.normal(),
                }
            })
            .collect();
        World {
            users,
            items,
            preference: config.preference,
        }
    }

    /// The user–item affinity, scaled to unit variance.
    pub fn affinity(&self, user: &User, item: &Item) -> f64 {
        let dot: f64 = user
            .factor
            .iter()
            .zip(&item.factor)
            .map(|(a, b)| a * b)
            .sum();
        dot / (FACTORS as f64).sqrt()
    }

    /// The hidden pick logit of an item for a user: the best possible retrieval score.
    pub fn score(&self, user: &User, item: &Item) -> f64 {
        item.popularity + self.preference * self.affinity(user, item)
    }

    /// How many interactions each user has: at least `min(20, rows / users)`, the rest shared
    /// in proportion to a log-normal activity, never more than the number of items.
    pub fn interaction_counts(&self, config: &TwoTowerConfig) -> Vec<u64> {
        let users = self.users.len() as u64;
        let items = self.items.len() as u64;
        let floor = (config.rows / users).min(20).min(items);
        let activity: Vec<f64> = (0..users)
            .map(|u| (0.9 * Rng::for_key(&[config.seed, SIZES, u]).normal()).exp())
            .collect();
        let total: f64 = activity.iter().sum();
        let spare = (config.rows - floor * users) as f64;
        let mut counts: Vec<u64> = activity
            .iter()
            .map(|a| (floor + (spare * a / total).floor() as u64).min(items))
            .collect();
        // Hand out what rounding and the cap left, one at a time, to users with room.
        let mut left = config.rows - counts.iter().sum::<u64>();
        while left > 0 {
            for count in counts.iter_mut() {
                if left > 0 && *count < items {
                    *count += 1;
                    left -= 1;
                }
            }
        }
        counts
    }

    /// User `u`'s `count` interactions in time order: distinct items drawn by their hidden
    /// logits, ratings, and increasing timestamps.
    pub fn picks(&self, seed: u64, u: usize, count: usize) -> Vec<Pick> {
        let user = &self.users[u];
        let mut rng = Rng::for_key(&[seed, PICKS, u as u64]);
        // Gumbel top-k: the `count` largest perturbed logits are a draw without replacement.
        let mut keyed: Vec<(f64, usize)> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| (self.score(user, item) + rng.gumbel(), i))
            .collect();
        if count < keyed.len() {
            keyed.select_nth_unstable_by(count, |a, b| b.0.total_cmp(&a.0));
            keyed.truncate(count);
        }
        keyed.sort_unstable_by_key(|&(_, i)| i);
        // A random order in time.
        for i in (1..keyed.len()).rev() {
            keyed.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let span = (LAST_TIME - FIRST_TIME) as f64;
        let mut time = FIRST_TIME + (0.8 * span * rng.uniform()) as i64;
        let mean_gap = 0.2 * span / count.max(1) as f64;
        keyed
            .into_iter()
            .map(|(_, i)| {
                let item = &self.items[i];
                let latent = 3.0
                    + user.bias
                    + item.quality
                    + 0.7 * self.affinity(user, item)
                    + 0.6 * rng.normal();
                time += 1 + (-mean_gap * rng.uniform_open().ln()) as i64;
                Pick {
                    item: i,
                    rating: latent.round().clamp(1.0, 5.0) as u8,
                    time,
                }
            })
            .collect()
    }
}
