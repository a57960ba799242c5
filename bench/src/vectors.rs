//! Synthetic embedding matrices for the retrieval benchmarks, generated deterministically from a
//! seed: plain Gaussian vectors, or unit vectors drawn around random cluster centres (closer to
//! what trained embeddings look like than uniform noise).

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// Rows generated from one sub-seed, so that generation runs in parallel yet is reproducible.
const ROWS_PER_CHUNK: usize = 4096;

/// A standard normal value (Box–Muller transform of two uniform values).
fn normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Scales `row` to unit Euclidean length (a zero row stays zero).
fn normalize(row: &mut [f32]) {
    let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        row.iter_mut().for_each(|v| *v /= norm);
    }
}

/// `rows × dim` standard normal values, row-major.
pub fn gaussian(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut values = vec![0f32; rows * dim];
    values
        .par_chunks_mut(ROWS_PER_CHUNK * dim)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ (chunk as u64) << 20);
            out.iter_mut().for_each(|v| *v = normal(&mut rng));
        });
    values
}

/// Unit-length cluster centres: `clusters × dim`, row-major.
pub fn centres(clusters: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut centres = gaussian(clusters, dim, seed);
    centres.par_chunks_mut(dim).for_each(normalize);
    centres
}

/// `rows × dim` unit vectors: each is a centre of `centres` picked uniformly plus Gaussian noise
/// of standard deviation `spread` per coordinate, then normalised. With no centres the rows are
/// uniform on the unit sphere.
pub fn clustered(rows: usize, dim: usize, centres: &[f32], spread: f32, seed: u64) -> Vec<f32> {
    let clusters = centres.len() / dim;
    let mut values = vec![0f32; rows * dim];
    values
        .par_chunks_mut(ROWS_PER_CHUNK * dim)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ (chunk as u64) << 20);
            for row in out.chunks_exact_mut(dim) {
                if clusters == 0 {
                    row.iter_mut().for_each(|v| *v = normal(&mut rng));
                } else {
                    let c = rng.random_range(0..clusters);
                    let centre = &centres[c * dim..(c + 1) * dim];
                    for (v, &m) in row.iter_mut().zip(centre) {
                        *v = m + spread * normal(&mut rng);
                    }
                }
                normalize(row);
            }
        });
    values
}
