//! Inner products between a query and stored vectors, where a graph search spends its time, and
//! memory prefetches that let the next vectors arrive while the current ones are scored.
//!
//! The graph code is generic over [`Kernel`] so that each kernel is inlined into the search and
//! insertion loops: the AVX-512 instantiation is compiled inside functions that enable the
//! feature (see the `*_avx512` entry points of the build and search modules), the portable one
//! everywhere else. [`Choice`] picks one per index from what the CPU offers, once.

/// An inner product of two equally long vectors.
pub(super) trait Kernel: Copy {
    /// The sum of `a[i] * b[i]`.
    fn dot(self, a: &[f32], b: &[f32]) -> f32;
}

/// Any width, any CPU: sixteen independent partial sums the compiler vectorises.
#[derive(Clone, Copy, Debug)]
pub(super) struct Portable;

impl Kernel for Portable {
    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        let mut sums = [0.0f32; 16];
        let (a_blocks, a_tail) = a.as_chunks::<16>();
        let (b_blocks, b_tail) = b.as_chunks::<16>();
        for (x, y) in a_blocks.iter().zip(b_blocks) {
            for lane in 0..16 {
                sums[lane] += x[lane] * y[lane];
            }
        }
        let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
        sums.iter().sum::<f32>() + tail
    }
}

/// Widths that are a multiple of 16 on CPUs with AVX-512: one fused multiply-add per 16 values.
/// Only [`Choice::for_width`] creates one, after checking both conditions.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx512 {
    _checked: (),
}

#[cfg(target_arch = "x86_64")]
impl Kernel for Avx512 {
    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: an `Avx512` exists only where the CPU has AVX-512F (see `Choice::for_width`).
        unsafe { dot_avx512(a, b) }
    }
}

/// The AVX-512 inner product of `a` and `b`, whose common length is a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_reduce_add_ps, _mm512_setzero_ps,
    };
    let (a_blocks, _) = a.as_chunks::<16>();
    let (b_blocks, _) = b.as_chunks::<16>();
    let mut even = _mm512_setzero_ps();
    let mut odd = _mm512_setzero_ps();
    let mut pairs = a_blocks.iter().zip(b_blocks);
    while let Some((x0, y0)) = pairs.next() {
        // SAFETY: each block holds 16 values; the loads are unaligned.
        even = unsafe {
            _mm512_fmadd_ps(
                _mm512_loadu_ps(x0.as_ptr()),
                _mm512_loadu_ps(y0.as_ptr()),
                even,
            )
        };
        if let Some((x1, y1)) = pairs.next() {
            // SAFETY: as above.
            odd = unsafe {
                _mm512_fmadd_ps(
                    _mm512_loadu_ps(x1.as_ptr()),
                    _mm512_loadu_ps(y1.as_ptr()),
                    odd,
                )
            };
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(even, odd))
}

/// The kernel an index uses, chosen once from its vector width and the running CPU.
#[derive(Clone, Copy, Debug)]
pub(super) enum Choice {
    /// [`Portable`].
    Portable,
    /// [`Avx512`].
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
}

impl Choice {
    /// The fastest kernel for vectors of width `dim` on this CPU.
    pub(super) fn for_width(dim: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if dim.is_multiple_of(16) && std::arch::is_x86_feature_detected!("avx512f") {
            return Self::Avx512(Avx512 { _checked: () });
        }
        let _ = dim;
        Self::Portable
    }
}

/// Asks the CPU to start loading the cache lines of `values` (a vector about to be scored, or a
/// link list about to be read); a hint with no effect on results.
#[inline(always)]
pub(super) fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let bytes = std::mem::size_of_val(values);
        let start = values.as_ptr().cast::<i8>();
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: a prefetch never faults and `start + offset` stays inside `values`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree_with_a_plain_sum() {
        for width in [1, 5, 16, 32, 48, 64, 100, 128] {
            let a: Vec<f32> = (0..width).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..width).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let close = |got: f32| (got - plain).abs() <= 1e-4 * (1.0 + plain.abs());
            assert!(close(Portable.dot(&a, &b)), "portable, width {width}");
            match Choice::for_width(width) {
                Choice::Portable => {}
                #[cfg(target_arch = "x86_64")]
                Choice::Avx512(kernel) => {
                    assert!(close(kernel.dot(&a, &b)), "avx512, width {width}")
                }
            }
        }
    }
}
