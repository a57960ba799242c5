//! Small vector kernels (dot product) written so the compiler vectorises them,
//! and the runtime dispatch that compiles a caller's loop for the CPU's widest vectors.
//!
//! A plain `f32` sum cannot be reordered by the compiler, so it stays scalar; these kernels
//! keep independent accumulators and reduce them as a tree, which both vectorises and fixes
//! the summation order (the result does not depend on the thread count). The portable build
//! targets baseline x86-64; [`simd_dispatch!`] recompiles a hot loop for AVX-512 or AVX2 (with
//! FMA) and picks the version the running CPU supports.

/// Independent accumulators: one AVX-512 register, two AVX2 or four SSE registers.
const LANES: usize = 16;

/// Defines `$name`, which runs the `#[inline(always)]` function `$generic` compiled for the
/// best instruction set the CPU offers (AVX-512F, else AVX2 with FMA, else the baseline), so
/// that `f32::mul_add` in `$generic` is one fused instruction on both vector paths.
macro_rules! simd_dispatch {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $generic:ident) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    $generic($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $generic($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F, checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

simd_dispatch!(
    /// Adds every row of `rows` (rows of `sums.len()` values) to `sums`, in row order: a bias
    /// gradient, compiled for the widest vectors.
    pub(crate) fn add_rows(rows: &[f32], sums: &mut [f32]) => add_rows_generic
);

/// [`add_rows`] for any instruction set.
#[inline(always)]
fn add_rows_generic(rows: &[f32], sums: &mut [f32]) {
    for row in rows.chunks_exact(sums.len().max(1)) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

/// `Σ a[i] * b[i]` over the shorter of the two slices.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    // Halving tree: every step is one vector add, not a chain of scalar ones.
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_a_plain_loop() {
        for n in [0, 1, 31, 32, 33, 100] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.7).cos()).collect();
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64) * (*y as f64))
                .sum();
            assert!((dot(&a, &b) as f64 - want).abs() < 1e-4, "n={n}");
        }
    }
}
