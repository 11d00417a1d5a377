//! How a read ends: the [`ReadReport`] of a completed read (the [`Format`] and [`Compression`]
//! found, how fields mapped, schema drift), or a [`ReadFailure`]: the file is [`Unreadable`]
//! and goes to quarantine whole, or the caller's batch sink failed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::LimitExceeded;

/// The text layout of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Delimited text with a header row.
    Csv,
    /// A JSON array of objects, an object wrapping such an array, or a single object.
    Json,
    /// One JSON object per line.
    JsonLines,
}

/// How a file's bytes are compressed, told by its first bytes (never by its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Not compressed: the bytes are the text.
    None,
    /// gzip (one or more members).
    Gzip,
}

/// Why a whole file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// The file is empty (no header, no record).
    #[error("the file is empty")]
    Empty,
    /// The file is not in the format its name or content says.
    #[error("not valid {format:?}: {detail}")]
    NotFormat {
        /// The format tried.
        format: Format,
        /// The parser's complaint, with position.
        detail: String,
    },
    /// A required column is missing from the file.
    #[error("required column {column:?} is missing (accepted names: {accepted})")]
    MissingRequiredColumn {
        /// The contract's name for the missing column.
        column: String,
        /// The names that would have been accepted.
        accepted: String,
    },
    /// The bytes are not UTF-8 text.
    #[error("not UTF-8 text ({detail})")]
    BadEncoding {
        /// Where the first invalid bytes are (a header field, the first lines).
        detail: String,
    },
    /// The bytes could not be read (a corrupt gzip stream, a truncated file).
    #[error("cannot read the bytes")]
    Io(#[source] std::io::Error),
    /// The file overran one of the contract's read limits.
    #[error(transparent)]
    Limit(LimitExceeded),
    /// The content is compressed again (gzip in gzip) or in a format ShopFlow does not read.
    #[error("the content is {kind}: unpack it before dropping it in landing")]
    Compressed {
        /// What the content is.
        kind: &'static str,
    },
}

/// How a read ended early.
#[derive(Debug)]
pub enum ReadFailure<E> {
    /// The file cannot be read; quarantine it whole.
    Unreadable(Unreadable),
    /// The batch sink failed; propagate.
    Sink(E),
}

impl<E: fmt::Display> fmt::Display for ReadFailure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(u) => write!(f, "unreadable file: {u}"),
            Self::Sink(e) => write!(f, "{e}"),
        }
    }
}

impl<E> From<Unreadable> for ReadFailure<E> {
    fn from(u: Unreadable) -> Self {
        Self::Unreadable(u)
    }
}

/// What a completed read saw: format, how source fields mapped, schema drift.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadReport {
    /// The format the file was read as: from its name, else from its first significant byte.
    pub format: Option<Format>,
    /// The compression found in the file's first bytes.
    pub compression: Option<Compression>,
    /// Records read (including malformed ones).
    pub records: u64,
    /// Source field → canonical column.
    pub mapping: BTreeMap<String, String>,
    /// Source fields the contract does not know (kept in `_extra` in bronze): schema drift.
    pub unknown_fields: BTreeSet<String>,
    /// Source fields dropped because they are secret.
    pub secret_fields_dropped: BTreeSet<String>,
    /// Optional contract columns no record carried.
    pub missing_optional: BTreeSet<String>,
    /// Bytes of text read (after decompression).
    pub decoded_bytes: u64,
}
