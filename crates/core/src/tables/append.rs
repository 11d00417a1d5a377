//! The silver write's append path: a landing object whose keys the table does not hold yet
//! (the usual daily file) is written as new data files of the table and committed in one
//! commit, without a MERGE (`docs/adr/0015-silver-append-path.md`).
//!
//! A MERGE joins the staged rows with the table's rows of their days to find the keys it
//! updates; when the locating scan ([`DeltaLake::located_days`]) has already found that none
//! of the staged keys is in the table, every row is an insert and that join, with its hash
//! table and its bound of a few days per commit, is work for nothing. Here the staged rows are
//! streamed into delta-rs's partitioned writer a window of event days at a time (each day an
//! open Parquet writer, so the window bounds the memory, as the MERGE's chunks did), every
//! window's files are kept, and one commit adds them all: a file of any size is one atomic
//! commit.
//!
//! The commit carries the written days and the staged key range as its read predicate, so a
//! concurrent writer that added files on those days, or files whose key range overlaps, makes
//! it a conflict: the keys are then located again on the new snapshot, and the same files are
//! committed if the table still holds none of them, or deleted and the write left to the
//! MERGE otherwise.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{RecordBatch, new_null_array};
use arrow::datatypes::SchemaRef;
use deltalake_core::kernel::transaction::{CommitBuilder, TableReference};
use deltalake_core::kernel::{Action, Add};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::writer::{DeltaWriter as _, RecordBatchWriter};
use deltalake_core::{DeltaTable, DeltaTableError};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::chunks::{self, ChunkPlan};
use super::{DeltaLake, LocatedDays, backend, days_filter, is_conflict, silver_table_schema};
use crate::layer::{self, PARTITION_COLUMN};
use crate::ports::{SilverCommit, SilverWrite, TableError};

/// Rows read from a staged or spilled file at a time.
const READ_BATCH_ROWS: usize = 8192;

fn staged(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> TableError {
    TableError::Staged {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

/// `batch` as the table's columns in its order: a column cast to the table's type when it
/// differs, one the staging lacks as nulls.
fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => arrow::compute::cast(c, f.data_type()),
            None => Ok(new_null_array(f.data_type(), batch.num_rows())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// Whether the table's columns include every column of the contract's silver schema (a
/// contract that added a column needs the MERGE, which evolves the table's schema).
fn table_has_every_column(t: &DeltaTable, write: &SilverWrite<'_>) -> bool {
    let Ok(snapshot) = t.snapshot() else {
        return false;
    };
    let fields: Vec<String> = snapshot
        .schema()
        .fields()
        .map(|f| f.name().to_string())
        .collect();
    silver_table_schema(write.contract)
        .fields()
        .iter()
        .all(|f| fields.iter().any(|n| n == f.name()))
}

/// Which outcome the append path had.
pub(super) enum Appended {
    /// The rows were committed as new files.
    Committed(SilverCommit),
    /// The table holds staged keys or rows of an earlier version of the landing key (found
    /// now, or after a conflict), or lacks a column: the caller MERGEs. Carries the latest
    /// locating scan and the append commits that conflicted before it (0 when none was tried).
    Merge(LocatedDays, u32),
}

impl DeltaLake {
    /// Appends the staged rows of `write` (`days`: rows per event day) as new files in one
    /// commit, as long as the table holds none of their keys; see the module's documentation.
    pub(super) async fn append_silver(
        &self,
        table: &str,
        write: &SilverWrite<'_>,
        days: &BTreeMap<i32, u64>,
        mut located: LocatedDays,
    ) -> Result<Appended, TableError> {
        let schema = silver_table_schema(write.contract);
        let mut written: Option<(DeltaTable, Vec<Add>)> = None;
        let mut attempt = 1u32;
        loop {
            if located.matched || !located.own.is_empty() {
                self.discard(written.take()).await;
                return Ok(Appended::Merge(located, attempt - 1));
            }
            let Some(t) = located.read.take() else {
                // The table did not exist when the keys were located: create it, then locate
                // them on what it holds now (another writer may have created and filled it).
                self.load_or_create(table, &schema, PARTITION_COLUMN)
                    .await?;
                located = self.located_days(table, write).await?;
                if located.read.is_none() {
                    return Err(backend(
                        "load",
                        table,
                        DeltaTableError::generic("the table is gone after its creation"),
                    ));
                }
                continue;
            };
            if !table_has_every_column(&t, write) {
                self.discard(written.take()).await;
                located.read = Some(t);
                return Ok(Appended::Merge(located, attempt - 1));
            }
            let adds = match written.take() {
                Some((_, adds)) => adds,
                None => self.write_files(&t, table, write, days).await?,
            };
            let mut predicate = days_filter("", &days.keys().copied().collect());
            if let Some(range) = &located.range {
                predicate = format!("({predicate}) OR ({})", range.condition(""));
            }
            match self.commit_adds(&t, write, &adds, predicate).await {
                Ok(version) => {
                    let rows: u64 = days.values().sum();
                    tracing::debug!(
                        table,
                        files = adds.len(),
                        rows,
                        version,
                        attempt,
                        "silver append"
                    );
                    return Ok(Appended::Committed(SilverCommit {
                        version: Some(version),
                        rows_inserted: rows,
                        attempts: attempt,
                        ..SilverCommit::default()
                    }));
                }
                Err(e) if is_conflict(&e) => {
                    if attempt >= self.options.max_attempts.max(1) {
                        self.discard(Some((t, adds))).await;
                        return Err(TableError::Conflict {
                            table: table.to_string(),
                            attempts: attempt,
                        });
                    }
                    tracing::debug!(table, attempt, error = %e, "silver append conflicted; locating the keys again");
                    attempt += 1;
                    self.backoff(attempt).await;
                    written = Some((t, adds));
                    located = self.located_days(table, write).await?;
                }
                Err(e) => {
                    self.discard(Some((t, adds))).await;
                    return Err(backend("commit", table, e));
                }
            }
        }
    }

    /// Streams the staged rows into new data files of `t`, at most a window of event days
    /// open at once, and returns their `add` actions (nothing committed yet).
    async fn write_files(
        &self,
        t: &DeltaTable,
        table: &str,
        write: &SilverWrite<'_>,
        days: &BTreeMap<i32, u64>,
    ) -> Result<Vec<Add>, TableError> {
        let mut writer = RecordBatchWriter::for_table(t)
            .map_err(|e| backend("write", table, e))?
            .with_writer_properties(layer::writer_properties());
        let schema = writer.arrow_schema();
        let plan = ChunkPlan::windows(days, self.options.append_window_days);
        let mut adds = Vec::new();
        let put = async |writer: &mut RecordBatchWriter,
                         path: &Path,
                         batch: RecordBatch|
               -> Result<(), TableError> {
            let batch = conform(&batch, &schema).map_err(|e| staged(path, e))?;
            writer
                .write(batch)
                .await
                .map_err(|e| backend("write", table, e))
        };
        if plan.chunks <= 1 {
            for path in &write.parts {
                let file = File::open(path).map_err(|e| staged(path, e))?;
                let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                    .and_then(|b| b.with_batch_size(READ_BATCH_ROWS).build())
                    .map_err(|e| staged(path, e))?;
                for batch in reader {
                    put(&mut writer, path, batch.map_err(|e| staged(path, e))?).await?;
                }
            }
            adds.extend(
                writer
                    .flush()
                    .await
                    .map_err(|e| backend("write", table, e))?,
            );
            return Ok(adds);
        }
        let dir = write
            .parts
            .first()
            .and_then(|p| p.parent())
            .map(|p| p.join("silver-windows"))
            .unwrap_or_else(|| std::env::temp_dir().join("shopflow-silver-windows"));
        // At most `MAX_CHUNKS` windows are spilled per pass over the staging (one open file
        // each), so a file of years takes a few passes instead of wider windows.
        for first in (0..plan.chunks).step_by(chunks::MAX_CHUNKS) {
            let range = first..(first + chunks::MAX_CHUNKS).min(plan.chunks);
            for files in chunks::spill_range(&write.parts, &plan, &dir, range)? {
                for path in &files {
                    let file = File::open(path).map_err(|e| staged(path, e))?;
                    let reader = arrow::ipc::reader::FileReader::try_new(file, None)
                        .map_err(|e| staged(path, e))?;
                    for batch in reader {
                        put(&mut writer, path, batch.map_err(|e| staged(path, e))?).await?;
                    }
                    let _ = std::fs::remove_file(path);
                }
                // Closing the window's writers frees their row groups before the next window.
                adds.extend(
                    writer
                        .flush()
                        .await
                        .map_err(|e| backend("write", table, e))?,
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(adds)
    }

    /// One commit of `adds` on the snapshot `t`, with `predicate` as what it read.
    async fn commit_adds(
        &self,
        t: &DeltaTable,
        write: &SilverWrite<'_>,
        adds: &[Add],
        predicate: String,
    ) -> Result<u64, DeltaTableError> {
        let snapshot = t.snapshot()?;
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(vec![PARTITION_COLUMN.to_string()]),
            predicate: Some(predicate),
        };
        let props = self.commit_properties(&[
            ("run_id", write.run_id),
            ("source_key", write.source_key),
            ("sequence", write.sequence),
        ]);
        let actions: Vec<Action> = adds.iter().cloned().map(Action::Add).collect();
        let finalized = CommitBuilder::from(props)
            .with_actions(actions)
            .build(
                Some(snapshot as &dyn TableReference),
                t.log_store(),
                operation,
            )
            .await?;
        Ok(finalized.version() as u64)
    }

    /// Deletes files written for a commit that will not be made (best effort: an orphan left
    /// is removed by `maintain`'s VACUUM).
    async fn discard(&self, written: Option<(DeltaTable, Vec<Add>)>) {
        let Some((t, adds)) = written else {
            return;
        };
        use object_store::ObjectStoreExt as _;
        let store = t.object_store();
        for add in adds {
            let path = object_store::path::Path::from(add.path.as_str());
            if let Err(e) = store.delete(&path).await {
                tracing::debug!(path = %add.path, error = %e, "could not delete an unused file");
            }
        }
    }
}
