//! The daily workflow's steps besides ingesting one object: which of the day's landing objects
//! are still pending, and the day's counts from their manifests. Plain functions over the
//! [`ObjectStore`] port, which the transformer's handler answers (`{"list_pending": …}`,
//! `{"summarize": …}`) in Lambda and in `shopflow run` alike.
//!
//! **The day's landing objects** are the objects under `landing/{dataset}/` whose
//! `LastModified` falls on the date (UTC) and whose dataset has a contract: what landed that day.
//! An object is **pending** when its current version (the object id of its key and etag, as the
//! [`Ingestor`](crate::ingest::Ingestor) derives it) has no manifest yet. The manifest is what
//! the ledger's completed entry points to and is written just before that entry is completed, so
//! "has a manifest" is "processed" without touching the ledger: the
//! [`Ledger`](crate::ports::Ledger) port offers no read that is free of side effects (a claim
//! writes). An object whose processing is under way is listed as pending; the transformer's
//! claim then refuses the duplicate (`ShopFlow.Retryable`) and the state machine retries it
//! later, when it is skipped as done.
//!
//! An object that failed on its landing day stays pending until a run for that day processes
//! it: start the workflow again with `{"date": "YYYY-MM-DD"}` (a backfill). [`summarize`] says
//! how many are left (`files_pending`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{ErrorKind, FunctionError};
use crate::contract::ContractSet;
use crate::ingest::{IngestOutcome, Manifest, ManifestStatus};
use crate::layer::{self, keys};
use crate::ports::{ObjectStore, StoreError};

/// Errors of the daily steps.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Listing or reading the lake failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A manifest could not be decoded.
    #[error("manifest {key} cannot be decoded")]
    Manifest {
        /// The manifest's key.
        key: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

impl StepError {
    /// Its class: a store that may answer later is retryable, a bad key is the request's
    /// fault, anything else (an undecodable manifest) is internal.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Store(e) if e.is_retryable() => ErrorKind::Retryable,
            Self::Store(StoreError::InvalidKey { .. }) => ErrorKind::InvalidInput,
            Self::Store(_) | Self::Manifest { .. } => ErrorKind::Internal,
        }
    }
}

impl From<StepError> for FunctionError {
    fn from(e: StepError) -> Self {
        Self::wrap(e.kind(), e)
    }
}

/// `{"date": "YYYY-MM-DD"}`, the date optional (absent or `null`: yesterday, UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayRequest {
    /// The day.
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

impl DayRequest {
    /// The day asked for, or the day before `now`.
    pub fn date_or_yesterday(&self, now: DateTime<Utc>) -> NaiveDate {
        self.date.unwrap_or_else(|| yesterday(now))
    }
}

/// The day before `now` (UTC).
pub fn yesterday(now: DateTime<Utc>) -> NaiveDate {
    (now - Duration::days(1)).date_naive()
}

/// One of the day's landing objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayObject {
    /// Its key.
    pub key: String,
    /// Its dataset.
    pub dataset: String,
    /// The id of its current version (names its manifest).
    pub object_id: String,
}

/// The day's landing objects that are not processed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingList {
    /// The day (resolved: never null).
    pub date: NaiveDate,
    /// Their keys, referenced datasets first, then by key.
    pub keys: Vec<String>,
    /// How many.
    pub count: usize,
    /// Landing objects of the day, processed or not.
    pub landed: usize,
    /// Objects of the day under `landing/` that no contract covers (left alone).
    pub ignored: usize,
}

/// The day's counts, from the manifests of its landing objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    /// The day.
    pub date: NaiveDate,
    /// Landing objects of the day.
    pub files: u64,
    /// Of which processed (they have a manifest).
    pub files_processed: u64,
    /// Of which not processed (failed, or under way).
    pub files_pending: u64,
    /// Of which quarantined whole.
    pub files_quarantined: u64,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written to silver.
    pub rows_silver: u64,
    /// Rows quarantined (rejected).
    pub rows_rejected: u64,
    /// Exact duplicates removed.
    pub duplicates_removed: u64,
    /// Rejected share of rows read, percent, two decimals (0 when no row was read).
    pub rejected_pct: f64,
}

/// One object's result of a transformer invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectResult {
    /// The key.
    pub key: String,
    /// `processed`, `file_quarantined` or `skipped`.
    pub status: String,
    /// Rows read.
    pub rows_in: u64,
    /// Rows to silver.
    pub rows_silver: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Duplicates removed.
    pub duplicates_removed: u64,
    /// The manifest.
    pub manifest_key: String,
}

/// The result of an ingestion, as the transformer reports it.
pub fn object_result(outcome: IngestOutcome) -> ObjectResult {
    match outcome {
        IngestOutcome::Processed(m) => ObjectResult {
            status: match m.status {
                ManifestStatus::Processed => "processed".into(),
                ManifestStatus::FileQuarantined => "file_quarantined".into(),
            },
            manifest_key: keys::manifest(&m.dataset, m.ingest_date, &m.object_id),
            key: m.source_key,
            rows_in: m.rows_in,
            rows_silver: m.rows_silver,
            rows_quarantined: m.rows_quarantined,
            duplicates_removed: m.duplicates_removed,
        },
        IngestOutcome::Skipped { key, manifest_key } => ObjectResult {
            key,
            status: "skipped".into(),
            rows_in: 0,
            rows_silver: 0,
            rows_quarantined: 0,
            duplicates_removed: 0,
            manifest_key,
        },
        IngestOutcome::Superseded { key, .. } => ObjectResult {
            key,
            status: "superseded".into(),
            rows_in: 0,
            rows_silver: 0,
            rows_quarantined: 0,
            duplicates_removed: 0,
            manifest_key: String::new(),
        },
    }
}

/// The objects that landed on `date`, with their object ids, and how many were ignored (no
/// contract for their dataset).
pub async fn day_objects(
    store: &dyn ObjectStore,
    contracts: &ContractSet,
    date: NaiveDate,
) -> Result<(Vec<DayObject>, usize), StepError> {
    let mut out = Vec::new();
    let mut ignored = 0;
    for meta in store.list("landing/").await? {
        if meta.last_modified.map(|t| t.date_naive()) != Some(date) {
            continue;
        }
        let Some((dataset, _)) = keys::parse_landing(&meta.key) else {
            continue;
        };
        if contracts.get(dataset).is_err() {
            tracing::info!(key = %meta.key, "no contract for its dataset; not part of the day's work");
            ignored += 1;
            continue;
        }
        let dataset = dataset.to_string();
        // Listings of local stores carry no etag: ask for it as the ingestor does.
        let etag = match meta.etag {
            Some(e) => e,
            None => match store.head(&meta.key).await? {
                Some(h) => h.etag.unwrap_or_else(|| format!("size-{}", h.size)),
                None => continue,
            },
        };
        out.push(DayObject {
            object_id: layer::object_id(&meta.key, &etag),
            key: meta.key,
            dataset,
        });
    }
    Ok((out, ignored))
}

/// Object id → manifest key, for the datasets of `objects`.
async fn manifest_index(
    store: &dyn ObjectStore,
    objects: &[DayObject],
) -> Result<HashMap<String, String>, StepError> {
    let mut datasets: Vec<&str> = objects.iter().map(|o| o.dataset.as_str()).collect();
    datasets.sort_unstable();
    datasets.dedup();
    let mut index = HashMap::new();
    for dataset in datasets {
        for meta in store.list(&format!("manifests/{dataset}/")).await? {
            let stem = meta
                .key
                .rsplit('/')
                .next()
                .and_then(|name| name.strip_suffix(".json"));
            if let Some(id) = stem {
                index.insert(id.to_string(), meta.key.clone());
            }
        }
    }
    Ok(index)
}

/// The day's landing objects that have no manifest yet, referenced datasets first.
pub async fn list_pending(
    store: &dyn ObjectStore,
    contracts: &ContractSet,
    date: NaiveDate,
) -> Result<PendingList, StepError> {
    let (objects, ignored) = day_objects(store, contracts, date).await?;
    let index = manifest_index(store, &objects).await?;
    let order = contracts.dependency_order();
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut pending: Vec<&DayObject> = objects
        .iter()
        .filter(|o| !index.contains_key(&o.object_id))
        .collect();
    pending.sort_by(|a, b| {
        let ra = rank.get(a.dataset.as_str()).copied().unwrap_or(usize::MAX);
        let rb = rank.get(b.dataset.as_str()).copied().unwrap_or(usize::MAX);
        (ra, &a.key).cmp(&(rb, &b.key))
    });
    let keys: Vec<String> = pending.into_iter().map(|o| o.key.clone()).collect();
    tracing::info!(%date, landed = objects.len(), pending = keys.len(), ignored, "pending landing objects");
    Ok(PendingList {
        date,
        count: keys.len(),
        keys,
        landed: objects.len(),
        ignored,
    })
}

/// The day's counts: the manifests of the objects that landed on `date`.
pub async fn summarize(
    store: &dyn ObjectStore,
    contracts: &ContractSet,
    date: NaiveDate,
) -> Result<DaySummary, StepError> {
    let (objects, _) = day_objects(store, contracts, date).await?;
    let index = manifest_index(store, &objects).await?;
    let mut s = DaySummary {
        date,
        files: objects.len() as u64,
        files_processed: 0,
        files_pending: 0,
        files_quarantined: 0,
        rows_in: 0,
        rows_silver: 0,
        rows_rejected: 0,
        duplicates_removed: 0,
        rejected_pct: 0.0,
    };
    for o in &objects {
        let Some(key) = index.get(&o.object_id) else {
            s.files_pending += 1;
            continue;
        };
        let bytes = store.get(key).await?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|source| StepError::Manifest {
            key: key.clone(),
            source,
        })?;
        s.files_processed += 1;
        s.files_quarantined += m.files_quarantined;
        s.rows_in += m.rows_in;
        s.rows_silver += m.rows_silver;
        s.rows_rejected += m.rows_quarantined;
        s.duplicates_removed += m.duplicates_removed;
    }
    if s.rows_in > 0 {
        s.rejected_pct = (s.rows_rejected as f64 * 10_000.0 / s.rows_in as f64).round() / 100.0;
    }
    Ok(s)
}

// The steps' tests ingest through the real tables (feature `tables`, on in every workspace
// build of the tests).
#[cfg(test)]
#[cfg(feature = "tables")]
mod tests {
    use super::*;
    use crate::adapters::local::LogMetrics;
    use crate::adapters::memory::{MemoryLedger, MemoryObjectStore};
    use crate::ingest::{IngestOptions, Ingestor};
    use std::sync::Arc;

    const GOOD: &[u8] = b"transaction_id,customer_id,product_id,quantity,transaction_date\n\
        T1,C1,P1,1,2026-11-21 10:00:00\nT2,C1,P1,2,2026-11-21 11:00:00\n";
    const HALF_BAD: &[u8] = b"transaction_id,customer_id,product_id,quantity,transaction_date\n\
        T3,C1,P1,1,2026-11-21 10:00:00\nT4,C1,P1,-5,2026-11-21 11:00:00\n";

    async fn lake() -> (Arc<MemoryObjectStore>, Ingestor) {
        let store = Arc::new(MemoryObjectStore::new());
        let contracts = Arc::new(ContractSet::defaults().unwrap());
        let ingestor = Ingestor::new(
            store.clone(),
            Arc::new(crate::tables::DeltaLake::new(store.clone())),
            Arc::new(MemoryLedger::new()),
            Arc::new(LogMetrics),
            contracts,
            IngestOptions::default(),
        );
        for (key, body) in [
            ("landing/transactions/b.csv", HALF_BAD),
            ("landing/transactions/a.csv", GOOD),
            ("landing/products/p.json", br#"{"products": []}"#.as_slice()),
            ("landing/nobody/x.csv", b"a\n1\n".as_slice()),
            ("bronze/not-landing.csv", b"a\n".as_slice()),
        ] {
            store.put(key, body.to_vec()).await.unwrap();
        }
        (store, ingestor)
    }

    #[tokio::test]
    async fn pending_objects_are_the_days_landing_objects_without_a_manifest_in_dependency_order() {
        let (store, ingestor) = lake().await;
        let contracts = ingestor.contracts().clone();
        let today = Utc::now().date_naive();
        let pending = list_pending(store.as_ref(), &contracts, today)
            .await
            .unwrap();
        let order = contracts.dependency_order();
        let products = order.iter().position(|d| d == "products").unwrap();
        let transactions = order.iter().position(|d| d == "transactions").unwrap();
        assert!(products < transactions, "{order:?}");
        assert_eq!(
            pending.keys,
            [
                "landing/products/p.json",
                "landing/transactions/a.csv",
                "landing/transactions/b.csv"
            ]
        );
        assert_eq!((pending.count, pending.landed, pending.ignored), (3, 3, 1));

        ingestor
            .ingest_object("landing/transactions/a.csv", "run-1")
            .await
            .unwrap();
        let pending = list_pending(store.as_ref(), &contracts, today)
            .await
            .unwrap();
        assert_eq!(
            pending.keys,
            ["landing/products/p.json", "landing/transactions/b.csv"]
        );

        // A new version of a processed object is pending again.
        store
            .put("landing/transactions/a.csv", HALF_BAD.to_vec())
            .await
            .unwrap();
        let pending = list_pending(store.as_ref(), &contracts, today)
            .await
            .unwrap();
        assert_eq!(pending.count, 3);

        // Nothing landed yesterday.
        let before = list_pending(store.as_ref(), &contracts, yesterday(Utc::now()))
            .await
            .unwrap();
        assert_eq!((before.count, before.landed), (0, 0));
    }

    #[tokio::test]
    async fn the_summary_adds_up_the_manifests_and_counts_what_is_still_pending() {
        let (store, ingestor) = lake().await;
        let contracts = ingestor.contracts().clone();
        let today = Utc::now().date_naive();
        let none = summarize(store.as_ref(), &contracts, today).await.unwrap();
        assert_eq!((none.files, none.files_pending, none.rows_in), (3, 3, 0));
        assert_eq!(none.rejected_pct, 0.0);

        for key in ["landing/transactions/a.csv", "landing/transactions/b.csv"] {
            ingestor.ingest_object(key, "run-1").await.unwrap();
        }
        let s = summarize(store.as_ref(), &contracts, today).await.unwrap();
        assert_eq!(s.files_processed, 2);
        assert_eq!(s.files_pending, 1);
        assert_eq!(s.rows_in, 4);
        assert_eq!(s.rows_silver + s.rows_rejected + s.duplicates_removed, 4);
        assert_eq!(s.rows_rejected, 1, "{s:?}");
        assert_eq!(s.rejected_pct, 25.0);
    }

    #[test]
    fn a_missing_or_null_date_means_yesterday() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T00:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for text in ["{}", r#"{"date": null}"#] {
            let r: DayRequest = serde_json::from_str(text).unwrap();
            assert_eq!(
                r.date_or_yesterday(now),
                NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
            );
        }
        let r: DayRequest = serde_json::from_str(r#"{"date": "2026-01-02"}"#).unwrap();
        assert_eq!(r.date_or_yesterday(now).to_string(), "2026-01-02");
        assert!(serde_json::from_str::<DayRequest>(r#"{"date": "02/01/2026"}"#).is_err());
        assert!(serde_json::from_str::<DayRequest>(r#"{"day": "2026-01-02"}"#).is_err());
    }
}
