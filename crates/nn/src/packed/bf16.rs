//! The bf16 form of the packed product (see the parent module): operands rounded to bf16 as
//! they are packed, products summed in `f32` by `vdpbf16ps`, which does two multiply-adds per
//! 32-bit lane where an `f32` FMA does one. On this project's Zen 4 machines a loop of
//! independent `vdpbf16ps` runs at 232 GFLOP/s a core against 116 for `vfmadd` (twice the work
//! per instruction at the same rate).
//!
//! A packed element is 32 bits holding two consecutive steps of the shared dimension, the
//! earlier one in the low half, as `vdpbf16ps` pairs them: the kernel broadcasts one element of
//! `a` (two steps of one row) and multiplies it into two registers of `b` elements (two steps
//! of 32 columns), so the packed layout is the `f32` one over half as many steps. Packing
//! stores these elements in the `f32` buffers the parent keeps, as bit patterns.

use super::avx512::{self, LANES, NR, Store};
use std::arch::x86_64::{
    __m256bh, __m256i, __m512, __m512bh, __m512i, _mm512_castsi512_ps, _mm512_cvtepu16_epi32,
    _mm512_cvtne2ps_pbh, _mm512_cvtneps_pbh, _mm512_dpbf16_ps, _mm512_mask_storeu_ps,
    _mm512_maskz_loadu_ps, _mm512_or_si512, _mm512_slli_epi32,
};

/// Rounds `x` to bf16 (to nearest, ties to even, as `vcvtneps2bf16` does) and returns its bits;
/// a NaN stays a (quiet) NaN.
pub(super) fn bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1));
    (rounded >> 16) as u16
}

/// The packed element of steps `even` and `odd` (zero past the last step).
pub(super) fn pair(even: f32, odd: f32) -> f32 {
    f32::from_bits(u32::from(bf16_bits(even)) | (u32::from(bf16_bits(odd)) << 16))
}

/// Packs a contiguous run of steps of one row, `src`, into `dst`, one element per two steps
/// (`dst.len() == src.len().div_ceil(2)`; an odd last step is paired with zero).
///
/// # Panics
/// When the lengths do not match.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) fn pairs_of_run(src: &[f32], dst: &mut [f32]) {
    assert_eq!(dst.len(), src.len().div_ceil(2), "pairs of a run");
    for (run, out) in src.chunks(2 * LANES).zip(dst.chunks_mut(LANES)) {
        let len = run.len();
        // SAFETY: lanes past the run's `len` values, and past the `out.len()` elements it
        // packs into, are masked off, so neither read nor written.
        unsafe {
            let lo = _mm512_maskz_loadu_ps(avx512::lanes(len, 0), run.as_ptr());
            let hi =
                _mm512_maskz_loadu_ps(avx512::lanes(len, LANES), run.as_ptr().wrapping_add(LANES));
            // Lanes 0-15 of the result are `lo` rounded, 16-31 `hi`: as 32-bit lanes, lane j
            // holds steps 2j and 2j + 1.
            let packed: __m512 =
                std::mem::transmute::<__m512bh, __m512>(_mm512_cvtne2ps_pbh(hi, lo));
            _mm512_mask_storeu_ps(out.as_mut_ptr(), avx512::lanes(out.len(), 0), packed);
        }
    }
}

/// Packs two steps of up to [`NR`] rows into `dst`: element `r` pairs `even[r]` with `odd[r]`
/// (zero when there is no odd step).
///
/// # Panics
/// When the lengths differ or exceed [`NR`].
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) fn interleave(dst: &mut [f32], even: &[f32], odd: Option<&[f32]>) {
    let len = dst.len();
    assert!(
        even.len() == len && odd.is_none_or(|o| o.len() == len) && len <= NR,
        "interleave of {} values into {len}",
        even.len()
    );
    for half in 0..2 {
        let mask = avx512::lanes(len, half * LANES);
        if mask == 0 {
            break;
        }
        let load = |values: &[f32]| {
            // SAFETY: lanes at or past `len` are masked off (and cannot fault).
            let v =
                unsafe { _mm512_maskz_loadu_ps(mask, values.as_ptr().wrapping_add(half * LANES)) };
            let rounded: __m256bh = _mm512_cvtneps_pbh(v);
            // SAFETY: both are 256 bits of plain data; every bit pattern is valid in either.
            let bits = unsafe { std::mem::transmute::<__m256bh, __m256i>(rounded) };
            _mm512_cvtepu16_epi32(bits)
        };
        let low: __m512i = load(even);
        let packed = match odd {
            Some(odd) => _mm512_or_si512(low, _mm512_slli_epi32::<16>(load(odd))),
            None => low,
        };
        // SAFETY: as above, for the writes.
        unsafe {
            _mm512_mask_storeu_ps(
                dst.as_mut_ptr().wrapping_add(half * LANES),
                mask,
                _mm512_castsi512_ps(packed),
            );
        }
    }
}

/// One register block: `dst = scale · a · b (+ dst)` over `kp` packed elements (twice as
/// many steps) of the shared dimension.
///
/// # Safety
/// As for the `f32` kernel, with `kp` elements of `MR` values for `a` and of `NR` values for
/// `b`, packed by this module.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) unsafe fn block(kp: usize, a: *const f32, b: *const f32, store: &Store<'_>) {
    // SAFETY: the caller's contract, and this function's CPU features.
    unsafe {
        avx512::block_with(kp, a, b, store, |acc, a, b| {
            _mm512_dpbf16_ps(acc, as_pairs(a), as_pairs(b))
        })
    }
}

/// The packed elements of a register, as the bf16 pairs they are.
#[inline]
fn as_pairs(v: __m512) -> __m512bh {
    // SAFETY: both are 512 bits of plain data; every bit pattern is a valid value of either.
    unsafe { std::mem::transmute::<__m512, __m512bh>(v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_even_and_keeps_nan() {
        // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to even (1).
        assert_eq!(bf16_bits(1.0 + 2f32.powi(-8)), 0x3f80);
        // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up, to even.
        assert_eq!(bf16_bits(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
        assert_eq!(bf16_bits(1.0 + 2f32.powi(-8) + 2f32.powi(-20)), 0x3f81);
        assert_eq!(bf16_bits(-2.0), 0xc000);
        assert!(f32::from_bits(u32::from(bf16_bits(f32::NAN)) << 16).is_nan());
    }

    #[test]
    fn vector_packing_matches_scalar_rounding() {
        if !std::arch::is_x86_feature_detected!("avx512bf16") {
            return;
        }
        let src: Vec<f32> = (0..75).map(|i| (i as f32 * 0.731).sin() * 3.3).collect();
        for len in [1usize, 2, 31, 32, 33, 75] {
            let mut dst = vec![-1.0; len.div_ceil(2)];
            // SAFETY: the test checked for AVX-512 BF16.
            unsafe { pairs_of_run(&src[..len], &mut dst) };
            for (j, v) in dst.iter().enumerate() {
                let odd = src.get(2 * j + 1).filter(|_| 2 * j + 1 < len);
                let want = pair(src[2 * j], odd.copied().unwrap_or(0.0));
                assert_eq!(v.to_bits(), want.to_bits(), "run of {len}, element {j}");
            }
        }
        for len in [1, 16, 17, 32] {
            for with_odd in [true, false] {
                let mut dst = vec![-1.0; len];
                let odd = with_odd.then(|| &src[40..40 + len]);
                // SAFETY: as above.
                unsafe { interleave(&mut dst, &src[..len], odd) };
                for (r, v) in dst.iter().enumerate() {
                    let want = pair(src[r], if with_odd { src[40 + r] } else { 0.0 });
                    assert_eq!(v.to_bits(), want.to_bits(), "{len} rows, row {r}");
                }
            }
        }
    }
}
