//! A counting global allocator for the tests that measure memory: live heap bytes for the whole
//! process, and, per thread, the live bytes and their peak since a mark. (A `current_thread`
//! tokio test runs every task it spawns on its own thread, so the per-thread figures are that
//! test's, whatever other tests run beside it.)
//!
//! A test binary opts in with
//! `#[global_allocator] static HEAP: common::heap::Counting = common::heap::Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    static THREAD_PEAK: Cell<isize> = const { Cell::new(0) };
}

/// The system allocator, counting.
pub struct Counting;

fn note(delta: isize) {
    LIVE.fetch_add(delta, Ordering::Relaxed);
    let _ = THREAD_LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = THREAD_PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counting touches only atomics and
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// Live heap bytes of the whole process.
pub fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts measuring this thread's peak from its live bytes now; returns them.
pub fn mark() -> isize {
    let now = THREAD_LIVE.with(Cell::get);
    THREAD_PEAK.with(|peak| peak.set(now));
    now
}

/// How far this thread's live bytes rose above `mark` at their highest since then.
pub fn peak_since(mark: isize) -> isize {
    THREAD_PEAK.with(Cell::get) - mark
}

/// Resident set size of the process, from `/proc/self/statm` (0 where there is none).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
