//! Byte budgets on the way in: how much a file may decompress to, by what ratio, and how long
//! one JSON record may be, enforced as the bytes stream (never after the fact).
//!
//! [`Meter`] is shared by two readers: [`Compressed`] counts the bytes a decoder consumes,
//! [`Decoded`] counts what it produces and fails the read with a [`LimitExceeded`] inside an
//! `io::Error` as soon as a budget is spent, so a gzip bomb stops after its first 64 MiB.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use crate::contract::ReadLimits;

/// A budget a file overran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// More decompressed bytes than allowed.
    #[error(
        "the file decompresses to more than the contract's max_decompressed_bytes ({limit} bytes)"
    )]
    Decompressed {
        /// The limit.
        limit: u64,
    },
    /// A decompression bomb.
    #[error(
        "the file expands more than {ratio} times ({decoded} bytes from {encoded}): a decompression bomb, or data no export produces"
    )]
    Ratio {
        /// The contract's ratio.
        ratio: u64,
        /// Bytes produced so far.
        decoded: u64,
        /// Bytes consumed so far.
        encoded: u64,
    },
    /// One JSON record (array element) longer than allowed.
    #[error("a record is longer than the contract's max_record_bytes ({limit} bytes)")]
    Record {
        /// The limit.
        limit: usize,
    },
}

/// Counters shared by the readers of one file.
#[derive(Debug, Default)]
pub(super) struct Meter {
    encoded: Cell<u64>,
    decoded: Cell<u64>,
    since_mark: Cell<u64>,
    record_limit: Cell<Option<usize>>,
}

impl Meter {
    /// Starts counting one record's bytes against `limit` (JSON documents).
    pub(super) fn limit_records(&self, limit: usize) {
        self.record_limit.set(Some(limit));
        self.since_mark.set(0);
    }

    /// A record ended: its budget starts again.
    pub(super) fn mark(&self) {
        self.since_mark.set(0);
    }

    /// Bytes produced so far.
    pub(super) fn decoded(&self) -> u64 {
        self.decoded.get()
    }
}

/// Counts the compressed bytes a decoder reads.
pub(super) struct Compressed<R> {
    pub(super) inner: R,
    pub(super) meter: Rc<Meter>,
}

impl<R: Read> Read for Compressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter.encoded.set(self.meter.encoded.get() + n as u64);
        Ok(n)
    }
}

/// Counts and limits the bytes a file decodes to.
pub(super) struct Decoded<R> {
    pub(super) inner: R,
    pub(super) meter: Rc<Meter>,
    pub(super) limits: ReadLimits,
    /// Whether the ratio applies (a compressed file).
    pub(super) compressed: bool,
}

/// Slack on a record budget: the reader hands bytes over in buffers, so a record's bytes are
/// counted up to one buffer early.
const READ_AHEAD_SLACK: u64 = 512 * 1024;

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let m = &self.meter;
        let decoded = m.decoded.get() + n as u64;
        m.decoded.set(decoded);
        m.since_mark.set(m.since_mark.get() + n as u64);
        let fail = |e: LimitExceeded| Err(std::io::Error::other(e));
        if decoded > self.limits.max_decompressed_bytes {
            return fail(LimitExceeded::Decompressed {
                limit: self.limits.max_decompressed_bytes,
            });
        }
        let encoded = m.encoded.get().max(1);
        if self.compressed
            && decoded > ReadLimits::RATIO_GRACE_BYTES
            && decoded / encoded > self.limits.max_expansion_ratio
        {
            return fail(LimitExceeded::Ratio {
                ratio: self.limits.max_expansion_ratio,
                decoded,
                encoded,
            });
        }
        if let Some(limit) = m.record_limit.get()
            && m.since_mark.get() > limit as u64 + READ_AHEAD_SLACK
        {
            return fail(LimitExceeded::Record { limit });
        }
        Ok(n)
    }
}

/// The budget an I/O error reports, if it is one.
pub(super) fn exceeded(e: &std::io::Error) -> Option<LimitExceeded> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitExceeded>())
        .cloned()
}
