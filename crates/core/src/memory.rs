//! How much freed memory the process keeps: one allocator setting every binary applies at start.
//!
//! The data plane allocates and frees buffers of a few hundred KiB to a few MiB per batch
//! (Arrow arrays, Parquet pages, zstd contexts). glibc's allocator serves a freed block of that
//! size from its heap the next time instead of from `mmap`, raising its mmap threshold up to
//! 32 MiB as it sees such blocks freed; freed space inside the heap is only given back when it
//! sits at the top. So the resident size follows every block ever freed, not what is live, and
//! grows with the file: a 2 GB ingest peaked at 319 MiB RSS over a live heap that never passed
//! 90 MiB (heaptrack), its validation pass alone rising from 114 to 218 MiB. Fixing the
//! threshold at [`MMAP_THRESHOLD_BYTES`] sends every block at or above it to `mmap`, which
//! returns it to the system when it is freed (ADR 0014 has the measurements).
//!
//! A user who sets the allocator themselves (`MALLOC_MMAP_THRESHOLD_` or `GLIBC_TUNABLES`) keeps
//! their setting; on targets without glibc nothing changes.

/// Blocks of at least this many bytes are mapped on their own and unmapped when freed.
pub const MMAP_THRESHOLD_BYTES: usize = 128 * 1024;

/// The environment variables through which glibc takes allocator settings at start; when one
/// is set, [`bound_heap_retention`] leaves the allocator as the user configured it.
pub const ALLOCATOR_ENV: [&str; 2] = ["MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"];

/// What [`bound_heap_retention`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// The mmap threshold is now fixed at [`MMAP_THRESHOLD_BYTES`].
    Bounded,
    /// The user configured the allocator through [`ALLOCATOR_ENV`]; nothing was changed.
    UserConfigured,
    /// Not glibc, or glibc refused the setting: the allocator keeps its defaults.
    Unchanged,
}

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD_BYTES`] unless the user configured the
/// allocator. Call once, first thing in `main`.
pub fn bound_heap_retention() -> Retention {
    if ALLOCATOR_ENV
        .iter()
        .any(|name| std::env::var_os(name).is_some())
    {
        return Retention::UserConfigured;
    }
    if set_mmap_threshold(MMAP_THRESHOLD_BYTES) {
        Retention::Bounded
    } else {
        Retention::Unchanged
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_mmap_threshold(bytes: usize) -> bool {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` takes two integers and only changes glibc's allocator parameters under
    // glibc's own lock; no pointer crosses the call and Rust's allocations are glibc's, so
    // every block, whichever way it was obtained, is still freed the way it was allocated.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, value) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold(_bytes: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_takes_the_threshold_unless_the_user_configured_the_allocator() {
        let user = ALLOCATOR_ENV
            .iter()
            .any(|name| std::env::var_os(name).is_some());
        let expected = if user {
            Retention::UserConfigured
        } else if cfg!(all(target_os = "linux", target_env = "gnu")) {
            Retention::Bounded
        } else {
            Retention::Unchanged
        };
        assert_eq!(bound_heap_retention(), expected);
        // Asking again changes nothing: the setting is idempotent.
        assert_eq!(bound_heap_retention(), expected);
    }
}
