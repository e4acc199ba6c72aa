//! The global allocator: mimalloc, asked the way its fast path wants.
//!
//! The `mimalloc` crate's allocator passes every request to
//! `mi_malloc_aligned`, even at the alignment every block already has. In
//! mimalloc 3 that call takes its fast path only for blocks up to 1 KiB that
//! happen to sit at the asked alignment, or whose size class is a power of
//! two; anything else (a 1.5 KiB boxed future, a response buffer) goes to
//! the generic path, which over-allocates by the alignment and marks the
//! page as holding interior pointers, so freeing there is slower too: ~8 of
//! a point read's allocations, ~2,200 instructions (callgrind). Known
//! upstream: purpleprotocol/mimalloc_rust#170.
//!
//! Every mimalloc block is 8-aligned, and blocks of 16 bytes or more are
//! 16-aligned (`MI_MAX_ALIGN_SIZE`: size classes above 8 bytes are
//! multiples of 16, and a page's first block is 16-aligned). So a request
//! whose alignment is at most 16 and divides its size is served by plain
//! `mi_malloc` (as `malloc` would be by std's `System`); every other request
//! still goes through the aligned calls.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// What every block of `size` bytes is aligned to, given `size % align == 0`.
const NATURAL_ALIGN: usize = 16;

pub struct MiMalloc;

#[inline(always)]
fn natural(align: usize, size: usize) -> bool {
    align <= NATURAL_ALIGN && size % align == 0
}

// SAFETY: each call forwards to the mimalloc function of the same contract;
// blocks from any of them may be freed and reallocated by any other.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if natural(layout.align(), layout.size()) {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if natural(layout.align(), layout.size()) {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr as *mut c_void);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if natural(layout.align(), new_size) {
            mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
        } else {
            mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: *mut u8, layout: Layout) {
        assert!(!p.is_null(), "{layout:?}");
        assert_eq!(p as usize % layout.align(), 0, "{layout:?}");
    }

    /// Every alignment up to 64 at every size up to 8 KiB (and a few large
    /// sizes): the pointer is aligned and the whole block is
    /// writable, whichever call served it, and survives growing and
    /// shrinking with its contents.
    #[test]
    fn blocks_are_aligned_and_usable_on_both_paths() {
        let a = MiMalloc;
        let mut sizes: Vec<usize> = (1..=8192).collect();
        sizes.extend([65_536, 1 << 20, (1 << 20) + 48, 3 << 20]);
        for align in [1, 2, 4, 8, 16, 32, 64] {
            // Many live blocks at once, so later ones come from used pages.
            let mut live = Vec::new();
            for &size in &sizes {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = if size % 3 == 0 {
                        a.alloc_zeroed(layout)
                    } else {
                        a.alloc(layout)
                    };
                    check(p, layout);
                    if size % 3 == 0 {
                        assert!(std::slice::from_raw_parts(p, size).iter().all(|b| *b == 0));
                    }
                    std::ptr::write_bytes(p, 0xa5, size);
                    live.push((p, layout));
                }
            }
            for (p, layout) in live {
                unsafe {
                    let grown = layout.size() * 2;
                    let q = a.realloc(p, layout, grown);
                    check(q, Layout::from_size_align(grown, layout.align()).unwrap());
                    let kept = std::slice::from_raw_parts(q, layout.size());
                    assert!(kept.iter().all(|b| *b == 0xa5), "{layout:?}");
                    let shrunk = (layout.size() / 2).max(1);
                    let r = a.realloc(
                        q,
                        Layout::from_size_align(grown, layout.align()).unwrap(),
                        shrunk,
                    );
                    let shrunk = Layout::from_size_align(shrunk, layout.align()).unwrap();
                    check(r, shrunk);
                    assert!(std::slice::from_raw_parts(r, shrunk.size())
                        .iter()
                        .all(|b| *b == 0xa5));
                    a.dealloc(r, shrunk);
                }
            }
        }
    }

    #[test]
    fn the_plain_path_is_taken_only_where_blocks_are_aligned_anyway() {
        assert!(natural(8, 24) && natural(16, 1536) && natural(1, 3));
        assert!(!natural(16, 24), "a 24-byte block may be only 8-aligned");
        assert!(!natural(32, 64) && !natural(64, 4096));
    }
}
