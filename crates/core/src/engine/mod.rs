//! The SQL engine over the lake: DataFusion on Arrow, fed through the [`ObjectStore`] port, so
//! the same queries run on a local lake directory, in memory and on S3.
//!
//! Tables are registered by name from their lake prefix. Hive-style `date=YYYY-MM-DD` key
//! segments become a `dt DATE` column (the partition column, as Athena's partition projection
//! exposes it), so `SELECT … FROM transactions WHERE dt = DATE '2026-11-20'` means the same
//! locally and on Athena. Files of one table whose schemas drifted (a column added later, a
//! nullability change) are aligned to one schema: missing columns become nulls.
//!
//! Tables are loaded into memory ([`MemTable`]): the daily build reads only the partitions it
//! rebuilds plus the (small) dimensions and gold aggregates; see `docs/adr/0004-sql-engine-and-gold.md`.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Date32Array, RecordBatch, StringArray, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SQLOptions, SessionContext};

use crate::contract::{ContractSet, Mask};
use crate::layer::{self, EncodeError, keys};
use crate::ports::{ObjectStore, StoreError};
use crate::validate::parse;

/// The partition column added from `date=` key segments.
pub const PARTITION_COLUMN: &str = "dt";

/// Errors of the SQL engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Object store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A Parquet object could not be decoded.
    #[error("Parquet object {key} cannot be read")]
    Parquet {
        /// The object.
        key: String,
        /// The error.
        #[source]
        source: EncodeError,
    },
    /// A table's files could not be aligned to one schema.
    #[error("objects of table {table} cannot be aligned to one schema")]
    Schema {
        /// The table.
        table: String,
        /// The error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// Planning or running a query failed.
    #[error("query failed: {context}")]
    Query {
        /// What was being done (the query's name, or the start of the SQL text).
        context: String,
        /// The engine's error.
        #[source]
        source: DataFusionError,
    },
}

/// A query result.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// Its schema (also when there are no rows).
    pub schema: SchemaRef,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// All rows in one batch.
    pub fn concat(&self) -> Result<RecordBatch, arrow::error::ArrowError> {
        arrow::compute::concat_batches(&self.schema, &self.batches)
    }
}

/// Which partitions of a table to load.
#[derive(Debug, Clone, Copy)]
pub enum Partitions<'a> {
    /// Every object under the prefix.
    All,
    /// Only objects under `date=D` for these dates (and unpartitioned objects).
    Dates(&'a BTreeSet<NaiveDate>),
}

/// A DataFusion session with lake tables registered by name.
pub struct Engine {
    ctx: SessionContext,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine with no tables, and the masking functions gold applies to `pii` columns
    /// registered as SQL functions ([`mask_function`]).
    pub fn new() -> Self {
        let ctx = SessionContext::new();
        for mask in [Mask::Email, Mask::Initials] {
            if let Some(name) = mask_function(mask) {
                ctx.register_udf(mask_udf(mask, name));
            }
        }
        Self { ctx }
    }

    /// Registers (or replaces) a table from batches.
    pub fn register(
        &self,
        table: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<(), EngineError> {
        let query_error = |source| EngineError::Query {
            context: format!("registering table {table}"),
            source,
        };
        let provider = MemTable::try_new(schema, vec![batches]).map_err(query_error)?;
        self.ctx.deregister_table(table).map_err(query_error)?;
        self.ctx
            .register_table(table, Arc::new(provider))
            .map_err(query_error)?;
        Ok(())
    }

    /// The schema of a registered table.
    pub async fn table_schema(&self, table: &str) -> Result<SchemaRef, EngineError> {
        let frame = self
            .ctx
            .table(table)
            .await
            .map_err(|source| EngineError::Query {
                context: format!("schema of table {table}"),
                source,
            })?;
        Ok(Arc::new(frame.schema().as_arrow().clone()))
    }

    /// Whether a table is registered.
    pub fn has_table(&self, table: &str) -> bool {
        self.ctx.table_exist(table).unwrap_or(false)
    }

    /// Registered table names, sorted.
    pub fn tables(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .ctx
            .catalog_names()
            .into_iter()
            .filter_map(|c| self.ctx.catalog(&c))
            .flat_map(|c| {
                c.schema_names()
                    .into_iter()
                    .filter_map(move |s| c.schema(&s))
                    .flat_map(|s| s.table_names())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Loads every Parquet object under `prefix` (optionally only some `date=` partitions) and
    /// registers it as `table`. With no objects, registers an empty table of `fallback` when
    /// given (so queries over a table with no data yet still plan) and returns 0. Returns the
    /// rows loaded.
    pub async fn register_prefix(
        &self,
        store: &dyn ObjectStore,
        table: &str,
        prefix: &str,
        partitions: Partitions<'_>,
        fallback: Option<SchemaRef>,
    ) -> Result<usize, EngineError> {
        let mut loaded = Vec::new();
        let mut objects = store.list(prefix).await?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        for o in objects {
            if !o.key.ends_with(".parquet") {
                continue;
            }
            let date = keys::partition_value(&o.key, "date")
                .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok());
            if let (Partitions::Dates(wanted), Some(d)) = (partitions, date)
                && !wanted.contains(&d)
            {
                continue;
            }
            let bytes = store.get(&o.key).await?;
            let batches = layer::decode_parquet(bytes).map_err(|source| EngineError::Parquet {
                key: o.key.clone(),
                source,
            })?;
            loaded.push((date, batches));
        }
        let partitioned = loaded.iter().any(|(d, _)| d.is_some());
        let Some(schema) = unified_schema(
            fallback.as_ref(),
            loaded.iter().flat_map(|(_, b)| b),
            partitioned,
        )
        .or_else(|| fallback.map(|f| with_partition_column(&f, true))) else {
            return Ok(0);
        };
        let mut batches = Vec::new();
        for (date, parts) in loaded {
            for b in parts {
                batches.push(
                    align(&b, &schema, date).map_err(|source| EngineError::Schema {
                        table: table.to_string(),
                        source,
                    })?,
                );
            }
        }
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        self.register(table, schema, batches)?;
        Ok(rows)
    }

    /// Registers every silver and gold table of the lake, by name: each dataset that has a
    /// contract (built-in or the user's) as `{dataset}`, with the contract's schema even before
    /// its first file arrives; each `gold/{table}/` as `{table}`. Returns the names registered.
    pub async fn register_lake(
        &self,
        store: &dyn ObjectStore,
        contracts: &ContractSet,
    ) -> Result<Vec<String>, EngineError> {
        let mut names = Vec::new();
        for contract in contracts.iter() {
            let ds = contract.dataset.as_str();
            self.register_prefix(
                store,
                ds,
                &format!("silver/{ds}/"),
                Partitions::All,
                Some(layer::silver_schema(contract)),
            )
            .await?;
            names.push(ds.to_string());
        }
        let mut gold: BTreeSet<String> = BTreeSet::new();
        for o in store.list("gold/").await? {
            if let Some(t) = o
                .key
                .strip_prefix("gold/")
                .and_then(|r| r.split('/').next())
                && o.key.ends_with(".parquet")
            {
                gold.insert(t.to_string());
            }
        }
        for t in gold {
            self.register_prefix(store, &t, &format!("gold/{t}/"), Partitions::All, None)
                .await?;
            names.push(t);
        }
        Ok(names)
    }

    /// Runs one read-only SQL statement (no DDL, no `INSERT`/`COPY`, no `SET`); `context` names
    /// it in errors.
    pub async fn query(&self, context: &str, sql: &str) -> Result<QueryResult, EngineError> {
        let query_error = |source| EngineError::Query {
            context: context.to_string(),
            source,
        };
        let read_only = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = self
            .ctx
            .sql_with_options(sql, read_only)
            .await
            .map_err(query_error)?;
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(query_error)?;
        Ok(QueryResult { schema, batches })
    }
}

/// The SQL function that applies a masking method to a text column (`mask_email(x)`,
/// `mask_initials(x)`), or `None` for [`Mask::Omit`]. The function is [`Mask::apply`], so the
/// SQL engine and the Rust code mask the same way; nulls stay null.
pub fn mask_function(mask: Mask) -> Option<&'static str> {
    match mask {
        Mask::Omit => None,
        Mask::Email => Some("mask_email"),
        Mask::Initials => Some("mask_initials"),
    }
}

/// The SQL function `name` applying `mask` to a text column.
fn mask_udf(mask: Mask, name: &'static str) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    let apply = move |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let input = arrays
            .first()
            .ok_or_else(|| DataFusionError::Execution(format!("{name} takes one argument")))?;
        let text = cast(input, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let out: StringArray = text.iter().map(|v| v.and_then(|v| mask.apply(v))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(apply),
    )
}

/// The union of the batches' schemas, in first-seen order, every field nullable (files written
/// at different times may differ in nullability), plus `dt` when partitioned. A declared
/// schema (`declared`, the contract's) comes first and decides the types: a column the
/// contract gained after older files were written reads as nulls, never as a missing column.
fn unified_schema<'a>(
    declared: Option<&SchemaRef>,
    batches: impl Iterator<Item = &'a RecordBatch>,
    partitioned: bool,
) -> Option<SchemaRef> {
    let mut fields: Vec<Field> = declared
        .map(|d| {
            d.fields()
                .iter()
                .filter(|f| f.name() != PARTITION_COLUMN)
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect()
        })
        .unwrap_or_default();
    let mut any = false;
    for b in batches {
        any = true;
        for f in b.schema().fields() {
            if !fields.iter().any(|g| g.name() == f.name()) {
                fields.push(f.as_ref().clone().with_nullable(true));
            }
        }
    }
    if !any {
        return None;
    }
    Some(with_partition_column(
        &Arc::new(Schema::new(fields)),
        partitioned,
    ))
}

/// `schema` with every field nullable and, when `partitioned`, a trailing `dt DATE` column.
fn with_partition_column(schema: &SchemaRef, partitioned: bool) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != PARTITION_COLUMN)
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    if partitioned {
        fields.push(Field::new(PARTITION_COLUMN, DataType::Date32, true));
    }
    Arc::new(Schema::new(fields))
}

/// Aligns a batch to `schema`: same columns in schema order (cast when a type drifted, nulls
/// when missing) and `dt` filled from the object's partition date.
fn align(
    batch: &RecordBatch,
    schema: &SchemaRef,
    date: Option<NaiveDate>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = batch.num_rows();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        if f.name() == PARTITION_COLUMN {
            let day = date.map(parse::days_since_epoch);
            columns.push(Arc::new(Date32Array::from(vec![day; n])));
            continue;
        }
        match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => columns.push(c.clone()),
            Some(c) => columns.push(cast(c, f.data_type())?),
            None => columns.push(new_null_array(f.data_type(), n)),
        }
    }
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryObjectStore;
    use arrow::array::{Array, AsArray, Int64Array, StringArray};
    use arrow::datatypes::Int64Type;

    fn batch(cols: &[(&str, ArrayRef)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), false))
                .collect::<Vec<_>>(),
        ));
        RecordBatch::try_new(schema, cols.iter().map(|(_, a)| a.clone()).collect()).unwrap()
    }

    async fn put(store: &MemoryObjectStore, key: &str, b: &RecordBatch) {
        let bytes = layer::encode_parquet(b.schema(), std::slice::from_ref(b)).unwrap();
        store.put(key, bytes).await.unwrap();
    }

    #[tokio::test]
    async fn partition_dates_become_a_dt_column() {
        let store = MemoryObjectStore::default();
        let a = batch(&[("id", Arc::new(StringArray::from(vec!["a", "b"])))]);
        let b = batch(&[("id", Arc::new(StringArray::from(vec!["c"])))]);
        put(&store, "silver/t/date=2026-01-01/x.parquet", &a).await;
        put(&store, "silver/t/date=2026-01-02/x.parquet", &b).await;
        let engine = Engine::new();
        let rows = engine
            .register_prefix(&store, "t", "silver/t/", Partitions::All, None)
            .await
            .unwrap();
        assert_eq!(rows, 3);
        let r = engine
            .query("test", "SELECT id FROM t WHERE dt = DATE '2026-01-02'")
            .await
            .unwrap();
        let b = r.concat().unwrap();
        assert_eq!(b.column(0).as_string::<i32>().value(0), "c");
        assert_eq!(b.num_rows(), 1);
    }

    #[tokio::test]
    async fn aligns_files_whose_columns_drifted() {
        let store = MemoryObjectStore::default();
        let old = batch(&[("id", Arc::new(StringArray::from(vec!["a"])))]);
        let new = batch(&[
            ("id", Arc::new(StringArray::from(vec!["b"]))),
            ("qty", Arc::new(Int64Array::from(vec![3]))),
        ]);
        put(&store, "gold/t/part-a.parquet", &old).await;
        put(&store, "gold/t/part-b.parquet", &new).await;
        let engine = Engine::new();
        engine
            .register_lake(&store, &ContractSet::defaults().unwrap())
            .await
            .unwrap();
        let r = engine
            .query("test", "SELECT id, qty FROM t ORDER BY id")
            .await
            .unwrap()
            .concat()
            .unwrap();
        let qty = r.column(1).as_primitive::<Int64Type>();
        assert!(qty.is_null(0));
        assert_eq!(qty.value(1), 3);
    }

    #[tokio::test]
    async fn loads_only_the_partitions_asked_for() {
        let store = MemoryObjectStore::default();
        let a = batch(&[("id", Arc::new(StringArray::from(vec!["a"])))]);
        put(&store, "silver/t/date=2026-01-01/x.parquet", &a).await;
        put(&store, "silver/t/date=2026-01-02/x.parquet", &a).await;
        let wanted: BTreeSet<NaiveDate> = [NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()].into();
        let engine = Engine::new();
        let rows = engine
            .register_prefix(&store, "t", "silver/t/", Partitions::Dates(&wanted), None)
            .await
            .unwrap();
        assert_eq!(rows, 1);
    }

    #[tokio::test]
    async fn an_empty_prefix_registers_the_fallback_schema() {
        let store = MemoryObjectStore::default();
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let engine = Engine::new();
        engine
            .register_prefix(&store, "t", "silver/t/", Partitions::All, Some(schema))
            .await
            .unwrap();
        let r = engine
            .query("test", "SELECT count(*) AS n, max(dt) AS d FROM t")
            .await
            .unwrap();
        assert_eq!(r.rows(), 1);
        assert!(engine.tables().contains(&"t".to_string()));
    }

    #[tokio::test]
    async fn refuses_statements_that_write() {
        let engine = Engine::new();
        for sql in [
            "COPY (SELECT 1) TO '/tmp/shopflow-should-not-exist.csv'",
            "CREATE TABLE t AS SELECT 1",
            "SET datafusion.execution.batch_size = 1",
        ] {
            assert!(engine.query("test", sql).await.is_err(), "{sql}");
        }
        assert!(!std::path::Path::new("/tmp/shopflow-should-not-exist.csv").exists());
    }

    #[tokio::test]
    async fn names_the_query_that_failed() {
        let engine = Engine::new();
        let err = engine
            .query("top products", "SELECT * FROM nowhere")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("top products"), "{err}");
    }
}
