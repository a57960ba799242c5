//! The AVX-512 micro-kernel of the packed product (see the parent module): a block of
//! [`MR`] output rows by [`NR`] output columns lives in 24 registers while the kernel walks
//! the shared dimension, reading one packed column of `a` (broadcast one value at a time)
//! and one packed row of `b` (two registers) per step.

use std::arch::x86_64::{
    __m512, _MM_HINT_T0, _mm_prefetch, _mm512_add_ps, _mm512_fmadd_ps, _mm512_load_ps,
    _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_max_ps, _mm512_mul_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_shuffle_ps, _mm512_unpackhi_ps,
    _mm512_unpacklo_ps,
};

/// Rows of the register block: 12 rows of two registers are 24 accumulators, enough
/// independent chains for both FMA ports, with room for the two `b` registers and a broadcast.
pub(super) const MR: usize = 12;

/// Columns of the register block: two 16-wide registers.
pub(super) const NR: usize = 32;

/// Steps of `b` fetched ahead into L1: the panels stream from L2, two cache lines a step.
const PREFETCH_STEPS: usize = 8;

/// `f32` values in one register.
pub(super) const LANES: usize = 16;

/// Copies `src` into `dst` (the same length, at most [`NR`] values) with two masked
/// register moves: packing copies runs of 12 or 32 values, or fewer at an edge, and
/// `copy_from_slice` of a run-time length calls `memmove`, whose per-call cost is several times
/// the copy at this size.
///
/// # Panics
/// When the lengths differ or exceed [`NR`].
#[inline]
#[target_feature(enable = "avx512f")]
pub(super) fn copy_short(dst: &mut [f32], src: &[f32]) {
    let len = dst.len();
    assert!(
        src.len() == len && len <= NR,
        "copy_short of {} into {len}",
        src.len()
    );
    for half in 0..2 {
        let mask = lanes(len, half * LANES);
        // SAFETY: lanes at or past `len` are masked off, so neither read nor written (and a
        // masked-off lane cannot fault); the pointers are only offset, not dereferenced, past
        // the slices.
        unsafe {
            let v = _mm512_maskz_loadu_ps(mask, src.as_ptr().wrapping_add(half * LANES));
            _mm512_mask_storeu_ps(dst.as_mut_ptr().wrapping_add(half * LANES), mask, v);
        }
    }
}

/// Transposes rows into packed groups: value `p` of row `r` (`src[r * src_stride + p]`, for
/// `r < rows` and `p < steps`) goes to `out[p * out_stride + r]`, and lanes `rows..width` of
/// each group are zero. Packing a row-major `a`, or a transposed `b`, is this transposition;
/// a 16 × 16 block is transposed in registers (four rounds of shuffles) where a plain loop
/// compiles to scatter instructions, which this CPU executes one value at a time.
///
/// # Panics
/// When `rows > 16`, `width > 16`, `rows > width`, or the slices are too short.
#[target_feature(enable = "avx512f")]
pub(super) fn transpose_into(
    src: &[f32],
    src_stride: usize,
    rows: usize,
    steps: usize,
    out: &mut [f32],
    out_stride: usize,
    width: usize,
) {
    assert!(
        rows <= width && width <= LANES,
        "transpose of {rows} rows into {width} lanes"
    );
    let store_mask = lanes(width, 0);
    for first in (0..steps).step_by(LANES) {
        let count = LANES.min(steps - first);
        let load_mask = lanes(count, 0);
        let mut block = [_mm512_setzero_ps(); LANES];
        for (r, v) in block.iter_mut().enumerate().take(rows) {
            let run = &src[r * src_stride + first..r * src_stride + first + count];
            // SAFETY: lanes past `count` are masked off; `run` holds `count` values.
            *v = unsafe { _mm512_maskz_loadu_ps(load_mask, run.as_ptr()) };
        }
        let columns = transpose16(block);
        for (c, v) in columns.iter().enumerate().take(count) {
            let at = (first + c) * out_stride;
            let group = &mut out[at..at + width];
            // SAFETY: lanes past `width` are masked off; `group` holds `width` values.
            unsafe { _mm512_mask_storeu_ps(group.as_mut_ptr(), store_mask, *v) };
        }
    }
}

/// The transpose of a 16 × 16 block held as 16 row registers: register `c` of the result holds
/// value `c` of every row.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; LANES]) -> [__m512; LANES] {
    // Round 1: interleave pairs of rows. Round 2: gather, per 128-bit quarter, one value of
    // four consecutive rows: register 4g + c then holds, in quarter q, rows 4g..4g+4 of
    // column 4q + c.
    let mut t = [_mm512_setzero_ps(); LANES];
    for g in 0..LANES / 2 {
        t[2 * g] = _mm512_unpacklo_ps(r[2 * g], r[2 * g + 1]);
        t[2 * g + 1] = _mm512_unpackhi_ps(r[2 * g], r[2 * g + 1]);
    }
    let mut u = [_mm512_setzero_ps(); LANES];
    for g in 0..LANES / 4 {
        let (lo, hi) = (4 * g, 4 * g + 2);
        u[4 * g] = _mm512_shuffle_ps::<0b01_00_01_00>(t[lo], t[hi]);
        u[4 * g + 1] = _mm512_shuffle_ps::<0b11_10_11_10>(t[lo], t[hi]);
        u[4 * g + 2] = _mm512_shuffle_ps::<0b01_00_01_00>(t[lo + 1], t[hi + 1]);
        u[4 * g + 3] = _mm512_shuffle_ps::<0b11_10_11_10>(t[lo + 1], t[hi + 1]);
    }
    // Round 3: pair row groups 0-1 and 2-3, keeping quarters 0 and 2 (columns c, 8 + c) or 1
    // and 3 (columns 4 + c, 12 + c). Round 4: pair those, completing each column.
    let mut v = [_mm512_setzero_ps(); LANES];
    for c in 0..4 {
        v[c] = _mm512_shuffle_f32x4::<0b10_00_10_00>(u[c], u[4 + c]);
        v[4 + c] = _mm512_shuffle_f32x4::<0b11_01_11_01>(u[c], u[4 + c]);
        v[8 + c] = _mm512_shuffle_f32x4::<0b10_00_10_00>(u[8 + c], u[12 + c]);
        v[12 + c] = _mm512_shuffle_f32x4::<0b11_01_11_01>(u[8 + c], u[12 + c]);
    }
    let mut columns = [_mm512_setzero_ps(); LANES];
    for c in 0..4 {
        columns[c] = _mm512_shuffle_f32x4::<0b10_00_10_00>(v[c], v[8 + c]);
        columns[4 + c] = _mm512_shuffle_f32x4::<0b10_00_10_00>(v[4 + c], v[12 + c]);
        columns[8 + c] = _mm512_shuffle_f32x4::<0b11_01_11_01>(v[c], v[8 + c]);
        columns[12 + c] = _mm512_shuffle_f32x4::<0b11_01_11_01>(v[4 + c], v[12 + c]);
    }
    columns
}

/// The mask of the lanes of a 16-value register starting at value `from` of a run of `len`.
#[inline]
pub(super) fn lanes(len: usize, from: usize) -> u16 {
    match len.saturating_sub(from) {
        0 => 0,
        c if c >= LANES => u16::MAX,
        c => (1u16 << c) - 1,
    }
}

/// Where a register block's results go and how they combine with what is there.
pub(super) struct Store<'a> {
    /// First value of the block's first row in the destination.
    pub(super) dst: *mut f32,
    /// Distance between destination rows.
    pub(super) row_stride: usize,
    /// Rows of the block that exist (the rest were zero padding).
    pub(super) rows: usize,
    /// Columns of the block that exist, at most [`NR`].
    pub(super) cols: usize,
    /// Factor on the sum.
    pub(super) scale: f32,
    /// Add to the destination instead of overwriting it.
    pub(super) accumulate: bool,
    /// Added per column after the sum (and the destination, when accumulating): the bias of
    /// the block's columns, at least `cols` values.
    pub(super) bias: Option<&'a [f32]>,
    /// Clamp at zero last.
    pub(super) relu: bool,
}

/// One register block: `dst = scale · a · b (+ dst)` over `kc` steps of the shared dimension.
///
/// # Safety
/// `a` must hold `kc * MR` values and `b` `kc * NR` values aligned to 64 bytes (see the
/// parent module's `pack`); `store.dst` must address `store.rows` rows of `store.cols` writable
/// values, `store.row_stride` apart, that no other thread touches meanwhile.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn block(kc: usize, a: *const f32, b: *const f32, store: &Store<'_>) {
    // SAFETY: the caller's contract, and this function's CPU features.
    unsafe { block_with(kc, a, b, store, |acc, a, b| _mm512_fmadd_ps(a, b, acc)) }
}

/// The register-block loop of every kernel, over `elements` packed elements:
/// `madd(acc, a, b)` adds to `acc` the products of `a`, one element of `a` broadcast, and `b`,
/// a register of elements of `b` (one FMA in `f32`; in bf16 a pair of products per lane).
/// Inlined into each kernel, which compiles it with its CPU features.
///
/// # Safety
/// As for [`block`], with `elements` packed elements in place of steps; the CPU must have the
/// features `madd` uses.
#[inline(always)]
pub(super) unsafe fn block_with(
    elements: usize,
    a: *const f32,
    b: *const f32,
    store: &Store<'_>,
    madd: impl Fn(__m512, __m512, __m512) -> __m512,
) {
    // SAFETY: the caller's contract on the CPU.
    let mut acc = [[unsafe { _mm512_setzero_ps() }; 2]; MR];
    for p in 0..elements {
        // SAFETY: element `p < elements` of the packed panels (the caller's contract); `b`
        // rows are 128 bytes from a 64-byte-aligned start. Prefetching past the end is
        // harmless.
        let (b0, b1) = unsafe {
            _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add((p + PREFETCH_STEPS) * NR).cast());
            _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add((p + PREFETCH_STEPS) * NR + LANES).cast());
            (
                _mm512_load_ps(b.add(p * NR)),
                _mm512_load_ps(b.add(p * NR + LANES)),
            )
        };
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: as above, element `r < MR` of element `p` of the packed `a`.
            let av = unsafe { _mm512_set1_ps(*a.add(p * MR + r)) };
            row[0] = madd(row[0], av, b0);
            row[1] = madd(row[1], av, b1);
        }
    }
    // SAFETY: the caller's contract on `store`.
    unsafe { store_block(&acc, store) };
}

/// Writes a register block's sums where `store` says, scaled, added, biased and clamped as it
/// says.
///
/// # Safety
/// `store.dst` must address `store.rows` rows of `store.cols` writable values,
/// `store.row_stride` apart, that no other thread touches meanwhile.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store_block(acc: &[[__m512; 2]; MR], store: &Store<'_>) {
    let masks = [lanes(store.cols, 0), lanes(store.cols, LANES)];
    let scale = _mm512_set1_ps(store.scale);
    let bias = store.bias.map(|b| {
        assert!(b.len() >= store.cols, "a bias for every column");
        // SAFETY: lanes past `cols` are masked off; `b` holds `cols` values.
        [0, 1].map(|half| unsafe {
            _mm512_maskz_loadu_ps(masks[half], b.as_ptr().wrapping_add(half * LANES))
        })
    });
    for (r, row) in acc.iter().enumerate() {
        if r >= store.rows {
            break;
        }
        for (half, (&sum, &mask)) in row.iter().zip(&masks).enumerate() {
            // SAFETY: row `r < rows` of the destination, columns masked to `cols` (the
            // caller's contract); masked-off lanes are neither read nor written.
            unsafe {
                let dst = store.dst.add(r * store.row_stride + half * LANES);
                let mut v = _mm512_mul_ps(sum, scale);
                if store.accumulate {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, dst));
                }
                if let Some(bias) = &bias {
                    v = _mm512_add_ps(v, bias[half]);
                }
                if store.relu {
                    v = _mm512_max_ps(v, _mm512_setzero_ps());
                }
                _mm512_mask_storeu_ps(dst, mask, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_into_moves_every_value_and_zeroes_the_padding() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        for (rows, width, steps) in [(16, 16, 16), (12, 12, 37), (5, 16, 3), (1, 12, 20)] {
            let stride = steps + 3;
            let src: Vec<f32> = (0..rows * stride).map(|i| i as f32 + 1.0).collect();
            let out_stride = width + 4;
            let mut out = vec![-1.0; steps * out_stride];
            // SAFETY: the test checked for AVX-512.
            unsafe { transpose_into(&src, stride, rows, steps, &mut out, out_stride, width) };
            for p in 0..steps {
                for r in 0..out_stride {
                    let want = match r {
                        r if r < rows => src[r * stride + p],
                        r if r < width => 0.0,
                        _ => -1.0,
                    };
                    assert_eq!(
                        out[p * out_stride + r],
                        want,
                        "{rows}x{steps}: step {p} lane {r}"
                    );
                }
            }
        }
    }
}
