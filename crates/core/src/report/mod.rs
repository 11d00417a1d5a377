//! The daily report: every figure the business asked for (see [`model::DailyReport`]),
//! computed with SQL over the gold tables (feature `analytics`) and written under
//! `reports/daily/date=D/` as `report.json`, one CSV per table and `report.html`, a
//! self-contained dashboard ([`html::render_html`]).

#[cfg(feature = "analytics")]
mod build;
pub mod html;
pub mod kpi;
pub mod model;

#[cfg(feature = "analytics")]
pub use build::{
    DayFigures, ReportOptions, ReportOutput, anomalies, build_daily, compute, csv_tables,
    data_quality,
};
pub use model::*;

use crate::ingest::Manifest;
use crate::ports::{ObjectStore, StoreError};

/// Errors while building the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Building gold failed.
    #[cfg(feature = "analytics")]
    #[error(transparent)]
    Gold(#[from] crate::gold::GoldError),
    /// A report query failed.
    #[cfg(feature = "analytics")]
    #[error(transparent)]
    Engine(#[from] crate::sql::EngineError),
    /// A query result could not be read.
    #[error("result of {context} cannot be read")]
    Arrow {
        /// The query.
        context: String,
        /// The error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// Object store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lake table could not be read.
    #[error(transparent)]
    Table(#[from] crate::ports::TableError),
    /// A report query does not return a column the report reads, or returns it in a type that
    /// does not convert: a mistyped name or a changed gold table, never read as 0.
    #[error("the query for {context} has no usable column {column}: {reason}")]
    Column {
        /// The query.
        context: String,
        /// The column.
        column: String,
        /// Missing, or why it does not convert.
        reason: String,
    },
    /// There are no sales at all to report on.
    #[error("no sales in silver: ingest transactions first")]
    NoSales,
    /// A manifest or the report could not be encoded or decoded.
    #[error("JSON of {key} cannot be encoded or decoded")]
    Json {
        /// The object.
        key: String,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV table could not be written.
    #[error("CSV table {key} cannot be written")]
    Csv {
        /// The table.
        key: String,
        /// The error.
        #[source]
        source: csv::Error,
    },
}

impl ReportError {
    /// Whether retrying later may succeed (a storage hiccup), as opposed to bad data or a bug.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(s) => s.is_retryable(),
            #[cfg(feature = "analytics")]
            Self::Gold(crate::gold::GoldError::Store(s)) => s.is_retryable(),
            Self::Table(t) => t.is_retryable(),
            #[cfg(feature = "analytics")]
            Self::Gold(crate::gold::GoldError::Table(t))
            | Self::Gold(crate::gold::GoldError::Engine(crate::sql::EngineError::Table(t)))
            | Self::Engine(crate::sql::EngineError::Table(t)) => t.is_retryable(),
            _ => false,
        }
    }
}

/// Every manifest in the lake.
pub async fn load_manifests(store: &dyn ObjectStore) -> Result<Vec<Manifest>, ReportError> {
    let mut out = Vec::new();
    for o in store.list("manifests/").await? {
        if !o.key.ends_with(".json") {
            continue;
        }
        let bytes = store.get(&o.key).await?;
        out.push(
            serde_json::from_slice(&bytes).map_err(|source| ReportError::Json {
                key: o.key.clone(),
                source,
            })?,
        );
    }
    Ok(out)
}
