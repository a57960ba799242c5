//! Runs the lookup and update loops compiled for the widest vectors the CPU has.
//!
//! The crate is built for baseline x86-64 (SSE2), so a 64-wide row add is sixteen 4-wide
//! steps. The loops are memory-bound, but at one to ten ids per bag the instructions around
//! each row still count: on the DLRM benchmark (26 tables, 1-10 ids per bag, 2 threads) the
//! pooled lookups, the gradient combination and the row updates were 39 % of the profile, and
//! compiling them for AVX-512 took the median step from 162-171 ms to 131-165 ms (three runs
//! of each build, alternating, on a shared machine). [`widest`] compiles a closure's body
//! inside an AVX-512 function, once per call rather than once per row; the loops it calls are
//! `#[inline]` so that they are compiled there too.

/// Calls `f`, compiled with AVX-512F enabled when the running CPU has it.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        /// `f` inside a function compiled for AVX-512F; `f`'s body, called once here, is
        /// inlined and compiled with it.
        #[target_feature(enable = "avx512f")]
        fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { avx512(f) };
    }
    f()
}
