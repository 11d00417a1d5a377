//! The SQL engine over the lake: DataFusion on Arrow, reading the lake's Delta tables
//! ([`crate::tables`]) through the storage port, so the same queries run on a local lake
//! directory, in memory and on S3.
//!
//! Tables are registered by name from a table snapshot (the current one, or a past one for
//! time travel), never from a directory listing: only the data files the snapshot references
//! are read, and filters on the `dt` partition column (event date, as Athena's tables name it)
//! skip the other partitions' files. `SELECT … FROM transactions WHERE dt = DATE '2026-11-20'`
//! means the same locally and on Athena. See `docs/adr/0004-sql-engine-and-gold.md` and
//! `docs/adr/0007-delta-lake-tables.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SQLOptions, SessionContext};
use deltalake_core::DeltaTable;

use crate::contract::{ContractSet, Mask};
use crate::ports::TableError;
use crate::tables::{AsOf, DeltaLake};
use crate::validate::parse;

pub use crate::layer::PARTITION_COLUMN;

/// Errors of the SQL engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A lake table could not be read.
    #[error(transparent)]
    Table(#[from] TableError),
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
    /// Its rows, split into batches as the engine produced them.
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
        let ctx = crate::tables::session();
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

    /// Registers `table` (a Delta table already loaded: its current snapshot, or a past one)
    /// as `name`. With `days`, only the rows of those `dt` partitions are visible under
    /// `name` (the table is scanned with that filter, so other partitions are not read).
    pub async fn register_delta(
        &self,
        name: &str,
        table: &DeltaTable,
        days: Option<&BTreeSet<NaiveDate>>,
    ) -> Result<(), EngineError> {
        let query_error = |source| EngineError::Query {
            context: format!("registering table {name}"),
            source,
        };
        let table_error = |source: deltalake_core::DeltaTableError| EngineError::Query {
            context: format!("registering table {name}"),
            source: DataFusionError::External(Box::new(source)),
        };
        let provider = table.table_provider().build().await.map_err(query_error)?;
        table
            .update_datafusion_session(&self.ctx.state())
            .map_err(table_error)?;
        self.ctx.deregister_table(name).map_err(query_error)?;
        match days {
            None => {
                self.ctx
                    .register_table(name, Arc::new(provider))
                    .map_err(query_error)?;
            }
            Some(days) => {
                use datafusion::prelude::{col, lit};
                let values = days
                    .iter()
                    .map(|d| {
                        lit(datafusion::scalar::ScalarValue::Date32(Some(
                            parse::days_since_epoch(*d),
                        )))
                    })
                    .collect();
                let view = self
                    .ctx
                    .read_table(Arc::new(provider))
                    .and_then(|f| f.filter(col(PARTITION_COLUMN).in_list(values, false)))
                    .map_err(query_error)?
                    .into_view();
                self.ctx.register_table(name, view).map_err(query_error)?;
            }
        }
        Ok(())
    }

    /// Registers the lake table `table` (`silver/transactions`, `gold/fact_sales`) as `name`:
    /// its current snapshot, or its state at `as_of`, optionally only some `dt` days. A table
    /// that does not exist (yet, or at `as_of`) is registered empty with `fallback` and a `dt`
    /// column when given, and left out otherwise. Returns the version registered.
    pub async fn register_lake_table(
        &self,
        lake: &DeltaLake,
        name: &str,
        table: &str,
        as_of: Option<AsOf>,
        days: Option<&BTreeSet<NaiveDate>>,
        fallback: Option<SchemaRef>,
    ) -> Result<Option<u64>, EngineError> {
        let loaded = match as_of {
            None => lake.load(table).await?,
            Some(at) => lake.load_as_of(table, at).await?,
        };
        match loaded {
            Some(t) => {
                self.register_delta(name, &t, days).await?;
                Ok(t.version())
            }
            None => {
                if let Some(schema) = fallback {
                    let schema = with_partition_column(&schema);
                    self.register(name, schema, Vec::new())?;
                }
                Ok(None)
            }
        }
    }

    /// Registers every silver and gold table of the lake, by name: each dataset that has a
    /// contract (built-in or the user's) as `{dataset}`, with the contract's schema even before
    /// its first file arrives; each gold table as `{table}`. `as_of` reads each table as it was
    /// then (a version number pins every table at that version; tables without it are left
    /// out). Returns the names registered with the version read (`None`: empty, no table yet).
    pub async fn register_lake(
        &self,
        lake: &DeltaLake,
        contracts: &ContractSet,
        as_of: Option<AsOf>,
    ) -> Result<BTreeMap<String, Option<u64>>, EngineError> {
        let mut names = BTreeMap::new();
        for contract in contracts.iter() {
            let ds = contract.dataset.as_str();
            let fallback = as_of
                .is_none()
                .then(|| crate::tables::silver_table_schema(contract));
            let v = self
                .register_lake_table(
                    lake,
                    ds,
                    &crate::tables::silver_table(ds),
                    as_of,
                    None,
                    fallback,
                )
                .await?;
            if v.is_some() || as_of.is_none() {
                names.insert(ds.to_string(), v);
            }
        }
        for table in lake.tables().await? {
            let Some(name) = table.strip_prefix("gold/") else {
                continue;
            };
            if let Some(v) = self
                .register_lake_table(lake, name, &table, as_of, None, None)
                .await?
            {
                names.insert(name.to_string(), Some(v));
            }
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
        plain_strings(QueryResult { schema, batches }).map_err(|e| EngineError::Query {
            context: context.to_string(),
            source: e.into(),
        })
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

/// Table scans and some functions produce string views (`Utf8View`, `LargeUtf8`); results are
/// plain `Utf8`, the type every reader (Athena, pyarrow, the report code) knows, and what gold
/// stores.
fn plain_strings(result: QueryResult) -> Result<QueryResult, arrow::error::ArrowError> {
    let is_view = |t: &DataType| matches!(t, DataType::Utf8View | DataType::LargeUtf8);
    if !result
        .schema
        .fields()
        .iter()
        .any(|f| is_view(f.data_type()))
    {
        return Ok(result);
    }
    let schema: SchemaRef = Arc::new(Schema::new(
        result
            .schema
            .fields()
            .iter()
            .map(|f| {
                let t = if is_view(f.data_type()) {
                    DataType::Utf8
                } else {
                    f.data_type().clone()
                };
                f.as_ref().clone().with_data_type(t)
            })
            .collect::<Vec<_>>(),
    ));
    let batches = result
        .batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(QueryResult { schema, batches })
}

/// `schema` with every field nullable and a trailing `dt DATE` column (if it has none).
fn with_partition_column(schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|f| f.name() != PARTITION_COLUMN)
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new(PARTITION_COLUMN, DataType::Date32, true));
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryObjectStore;
    use arrow::array::{ArrayRef, Date32Array, StringArray};

    fn rows(ids: &[&str], days: &[NaiveDate]) -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new(PARTITION_COLUMN, DataType::Date32, true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(ids.to_vec())),
            Arc::new(Date32Array::from(
                days.iter()
                    .map(|d| parse::days_since_epoch(*d))
                    .collect::<Vec<_>>(),
            )),
        ];
        (schema.clone(), RecordBatch::try_new(schema, cols).unwrap())
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    async fn lake_with_two_days() -> DeltaLake {
        let lake = DeltaLake::new(Arc::new(MemoryObjectStore::default()));
        let (schema, batch) = rows(&["a", "b", "c"], &[day(1), day(1), day(2)]);
        let days: BTreeSet<NaiveDate> = [day(1), day(2)].into();
        lake.replace_gold("t", schema, vec![batch], Some(&days), "run", None)
            .await
            .unwrap();
        lake
    }

    #[tokio::test]
    async fn a_table_reads_through_its_snapshot_with_dt_as_a_column() {
        let lake = lake_with_two_days().await;
        let engine = Engine::new();
        let v = engine
            .register_lake_table(&lake, "t", "gold/t", None, None, None)
            .await
            .unwrap();
        assert_eq!(v, Some(0));
        let r = engine
            .query("test", "SELECT id FROM t WHERE dt = DATE '2026-01-02'")
            .await
            .unwrap()
            .concat()
            .unwrap();
        assert_eq!(r.num_rows(), 1);
        assert_eq!(r.column(0).as_string::<i32>().value(0), "c");
    }

    #[tokio::test]
    async fn only_the_days_asked_for_are_visible() {
        let lake = lake_with_two_days().await;
        let engine = Engine::new();
        let wanted: BTreeSet<NaiveDate> = [day(2)].into();
        engine
            .register_lake_table(&lake, "t", "gold/t", None, Some(&wanted), None)
            .await
            .unwrap();
        let r = engine.query("test", "SELECT id FROM t").await.unwrap();
        assert_eq!(r.rows(), 1);
    }

    #[tokio::test]
    async fn a_past_version_reads_as_it_was() {
        let lake = lake_with_two_days().await;
        let (schema, batch) = rows(&["z"], &[day(1)]);
        let one: BTreeSet<NaiveDate> = [day(1)].into();
        lake.replace_gold("t", schema, vec![batch], Some(&one), "run", None)
            .await
            .unwrap();
        let engine = Engine::new();
        engine
            .register_lake_table(&lake, "now", "gold/t", None, None, None)
            .await
            .unwrap();
        engine
            .register_lake_table(&lake, "then", "gold/t", Some(AsOf::Version(0)), None, None)
            .await
            .unwrap();
        let now = engine
            .query("now", "SELECT id FROM now ORDER BY id")
            .await
            .unwrap();
        let then = engine
            .query("then", "SELECT id FROM then ORDER BY id")
            .await
            .unwrap();
        assert_eq!(now.rows(), 2, "day 1 replaced by one row, day 2 kept");
        assert_eq!(then.rows(), 3);
    }

    #[tokio::test]
    async fn a_table_with_no_commits_yet_registers_the_fallback_schema() {
        let lake = DeltaLake::new(Arc::new(MemoryObjectStore::default()));
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)]));
        let engine = Engine::new();
        let v = engine
            .register_lake_table(&lake, "t", "silver/t", None, None, Some(schema))
            .await
            .unwrap();
        assert_eq!(v, None);
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
