//! Table memory on huge pages.
//!
//! Lookups and updates touch rows in an order nothing can predict, so on 4 KiB pages nearly
//! every one of them also misses the TLB: a 100,000 × 64 table spans 6,250 pages, and 26 of
//! them 160,000, far beyond the few thousand entries a core's TLB holds. Inside a virtual
//! machine each of those misses walks two levels of page tables. Linux backs memory with
//! 2 MiB pages when a program asks for them (`madvise(MADV_HUGEPAGE)`); in the kernel's usual
//! transparent-huge-page mode, `madvise`, only memory so marked gets them. Tables and their
//! optimizer state are allocated here, marked before they are first written. Measured on the
//! DLRM benchmark (26 tables × 100,000 × 64, 2 threads): the pooled lookups' share of the step
//! fell from 5.8 % to 3.5 % of the samples. Where the kernel has no huge pages to give, or on
//! other systems, the advice is a no-op and the memory is ordinary.

use rayon::prelude::*;

/// Size of a huge page on x86-64 and most 64-bit Arm kernels.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Values one task writes when [`filled`] first touches a vector's memory.
const FILL_CHUNK: usize = 1 << 16;

/// A vector of `len` copies of `value`, its memory advised for huge pages before it is
/// written. The first writes, which fault the pages in, are spread over the Rayon pool, as
/// the parallel initialisation of a zeroed table would spread them.
pub(crate) fn filled<T: Copy + Send + Sync>(len: usize, value: T) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    let spare = &mut v.spare_capacity_mut()[..len];
    advise_huge(spare);
    spare.par_chunks_mut(FILL_CHUNK).for_each(|chunk| {
        for slot in chunk {
            slot.write(value);
        }
    });
    // SAFETY: the loop above initialised the first `len` values of the spare capacity.
    unsafe { v.set_len(len) };
    v
}

/// Asks the kernel to back the whole huge pages inside `memory` with huge pages.
#[cfg(target_os = "linux")]
fn advise_huge<T>(memory: &mut [std::mem::MaybeUninit<T>]) {
    let start = memory.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(memory);
    let (first, last) = (
        start.next_multiple_of(HUGE_PAGE),
        end / HUGE_PAGE * HUGE_PAGE,
    );
    if last > first {
        // SAFETY: the range lies inside memory this vector owns; the advice changes how the
        // kernel backs it, never its contents or its mapping. A failure (no transparent huge
        // pages in this kernel) leaves ordinary pages, so the result is ignored.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            )
        };
    }
}

/// Other systems get ordinary pages.
#[cfg(not(target_os = "linux"))]
fn advise_huge<T>(_memory: &mut [std::mem::MaybeUninit<T>]) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_vectors_hold_their_values() {
        for len in [0, 1, 1000, 3 << 20] {
            let v = filled(len, 0.5f32);
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == 0.5));
        }
    }
}
