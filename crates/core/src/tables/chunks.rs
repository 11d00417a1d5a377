//! Splitting one landing object's staged silver rows into commits of bounded size.
//!
//! delta-rs's MERGE holds one open Parquet writer per partition it writes and builds its hash
//! join over the whole source, so its memory grows with the event days and the rows of one
//! MERGE (365,000 rows over 3,650 days peaked at 1.84 GB in one MERGE). A staged write within
//! [`CommitBounds`] stays one MERGE, one atomic commit. A larger one is split here: days are
//! grouped in date order into chunks of at most `max_partitions` days and `max_rows` rows (a
//! day with more rows than that is split by its rows' order), each chunk is spilled to an Arrow
//! IPC file in one streaming pass over the staging (one small writer per chunk, never the rows
//! in memory), and each chunk is then merged on its own (`docs/adr/0009-bounded-silver-commits.md`).
//!
//! The staging holds each key once (the validator drops a key seen twice in one file), so the
//! chunks are disjoint in keys and their MERGEs are independent and idempotent.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch, RecordBatchReader, UInt32Array};
use arrow::datatypes::{DataType, Date32Type, SchemaRef};
use arrow::ipc::writer::FileWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::layer::PARTITION_COLUMN;
use crate::ports::TableError;

/// Rows read from the staging at a time while planning and spilling.
const READ_BATCH_ROWS: usize = 8192;

/// The most chunks one write is split into: one spill file is open per chunk while the
/// staging is read, so this bounds the open files (Lambda allows 1,024). A write that would
/// need more gets proportionally larger chunks.
pub const MAX_CHUNKS: usize = 256;

/// How large one silver commit may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitBounds {
    /// Event days (partitions) one MERGE writes at most: each is an open Parquet writer.
    pub max_partitions: usize,
    /// Rows one MERGE takes at most from the staging: its hash join holds them.
    pub max_rows: u64,
}

/// Which chunk each event day's rows go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    /// How many chunks there are, numbered from 0 in date order (the order they are
    /// committed in); [`ChunkPlan::new`] keeps it within [`MAX_CHUNKS`].
    pub chunks: usize,
    /// Per day (days since the epoch): its first chunk and how many of its rows go to each
    /// chunk from there on (the day's n-th row goes to `first + n / per_chunk`).
    days: HashMap<i32, (usize, u64)>,
    /// Per chunk, the days it writes.
    chunk_days: Vec<std::collections::BTreeSet<i32>>,
}

impl ChunkPlan {
    /// Groups `days` (rows per event day) into chunks within `bounds`, widening the bounds
    /// when more than [`MAX_CHUNKS`] chunks would be needed.
    pub fn new(days: &BTreeMap<i32, u64>, bounds: CommitBounds) -> Self {
        let mut bounds = CommitBounds {
            max_partitions: bounds.max_partitions.max(1),
            max_rows: bounds.max_rows.max(1),
        };
        loop {
            let plan = Self::group(days, bounds);
            if plan.chunks <= MAX_CHUNKS {
                return plan;
            }
            bounds.max_partitions = bounds.max_partitions.saturating_mul(2);
            bounds.max_rows = bounds.max_rows.saturating_mul(2);
        }
    }

    /// Groups `days` into windows of at most `max_days` days in date order, with no bound on
    /// rows or on the number of windows (the append path spills them [`MAX_CHUNKS`] at a time,
    /// [`spill_range`]).
    pub fn windows(days: &BTreeMap<i32, u64>, max_days: usize) -> Self {
        Self::group(
            days,
            CommitBounds {
                max_partitions: max_days.max(1),
                max_rows: u64::MAX,
            },
        )
    }

    fn group(days: &BTreeMap<i32, u64>, bounds: CommitBounds) -> Self {
        let mut out = HashMap::new();
        let mut next = 0usize;
        // The open chunk: its index, days and rows so far.
        let mut open: Option<(usize, usize, u64)> = None;
        for (&day, &rows) in days {
            if rows > bounds.max_rows {
                // A day larger than one chunk gets chunks of its own.
                if open.take().is_some() {
                    next += 1;
                }
                out.insert(day, (next, bounds.max_rows));
                next += rows.div_ceil(bounds.max_rows) as usize;
                continue;
            }
            let fits = matches!(open, Some((_, d, r)) if d < bounds.max_partitions && r + rows <= bounds.max_rows);
            let chunk = match open {
                Some((c, d, r)) if fits => {
                    open = Some((c, d + 1, r + rows));
                    c
                }
                Some(_) => {
                    next += 1;
                    open = Some((next, 1, rows));
                    next
                }
                None => {
                    open = Some((next, 1, rows));
                    next
                }
            };
            out.insert(day, (chunk, u64::MAX));
        }
        if open.is_some() {
            next += 1;
        }
        let mut chunk_days = vec![std::collections::BTreeSet::new(); next];
        for (&day, &(first, per)) in &out {
            let rows = days.get(&day).copied().unwrap_or(0);
            let span = if per == u64::MAX {
                1
            } else {
                rows.div_ceil(per) as usize
            };
            for c in first..first + span.max(1) {
                if let Some(set) = chunk_days.get_mut(c) {
                    set.insert(day);
                }
            }
        }
        Self {
            chunks: next,
            days: out,
            chunk_days,
        }
    }

    /// The event days (days since the epoch) chunk `chunk` writes; empty past the last
    /// chunk.
    pub fn days_of(&self, chunk: usize) -> std::collections::BTreeSet<i32> {
        self.chunk_days.get(chunk).cloned().unwrap_or_default()
    }

    /// The chunk of a day's `n`-th row (0-based), or `None` for a day the plan does not hold.
    fn chunk_of(&self, day: i32, n: u64) -> Option<usize> {
        self.days
            .get(&day)
            .map(|&(first, per)| first + (n / per) as usize)
    }
}

fn staged(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> TableError {
    TableError::Staged {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, TableError> {
    let file = File::open(path).map_err(|e| staged(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map(|b| b.with_batch_size(READ_BATCH_ROWS))
        .map_err(|e| staged(path, e))
}

fn day_column<'a>(
    path: &Path,
    batch: &'a RecordBatch,
) -> Result<&'a arrow::array::Date32Array, TableError> {
    batch
        .column_by_name(PARTITION_COLUMN)
        .filter(|c| c.data_type() == &DataType::Date32)
        .map(|c| c.as_primitive::<Date32Type>())
        .ok_or_else(|| {
            staged(
                path,
                std::io::Error::other(format!("no Date32 column {PARTITION_COLUMN:?}")),
            )
        })
}

/// Rows per event day of the staged files, reading only their `dt` column. Rows without a
/// day are counted under `i32::MIN` (the table keeps them in its null partition).
pub fn staged_days(parts: &[PathBuf]) -> Result<BTreeMap<i32, u64>, TableError> {
    let mut days = BTreeMap::new();
    for path in parts {
        let builder = open(path)?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), [PARTITION_COLUMN]);
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|e| staged(path, e))?;
        for batch in reader {
            let batch = batch.map_err(|e| staged(path, e))?;
            let dt = day_column(path, &batch)?;
            for i in 0..dt.len() {
                let day = if dt.is_null(i) { i32::MIN } else { dt.value(i) };
                *days.entry(day).or_insert(0) += 1;
            }
        }
    }
    Ok(days)
}

/// Writes each staged row to its chunk's Arrow IPC file under `dir`, in one pass over the
/// staging. Returns, per chunk in commit order, its files (one per staged part it has rows
/// from, since parts may differ in schema).
pub fn spill(
    parts: &[PathBuf],
    plan: &ChunkPlan,
    dir: &Path,
) -> Result<Vec<Vec<PathBuf>>, TableError> {
    spill_range(parts, plan, dir, 0..plan.chunks)
}

/// [`spill`] for the chunks in `range` only (the rows of other chunks are skipped): one pass
/// over the staging with at most `range.len()` files open. Returns the files of each chunk of
/// the range, in order.
pub fn spill_range(
    parts: &[PathBuf],
    plan: &ChunkPlan,
    dir: &Path,
    range: std::ops::Range<usize>,
) -> Result<Vec<Vec<PathBuf>>, TableError> {
    std::fs::create_dir_all(dir).map_err(|e| staged(dir, e))?;
    let range = range.start.min(plan.chunks)..range.end.min(plan.chunks);
    let mut out: Vec<Vec<PathBuf>> = vec![Vec::new(); plan.chunks];
    let mut seen: HashMap<i32, u64> = HashMap::new();
    for (p, path) in parts.iter().enumerate() {
        let reader = open(path)?.build().map_err(|e| staged(path, e))?;
        let schema: SchemaRef = reader.schema();
        let mut writers: Vec<Option<FileWriter<BufWriter<File>>>> =
            (0..plan.chunks).map(|_| None).collect();
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); plan.chunks];
        for batch in reader {
            let batch = batch.map_err(|e| staged(path, e))?;
            let dt = day_column(path, &batch)?;
            for i in 0..dt.len() {
                let day = if dt.is_null(i) { i32::MIN } else { dt.value(i) };
                let n = seen.entry(day).or_insert(0);
                let chunk = plan.chunk_of(day, *n).ok_or_else(|| {
                    staged(
                        path,
                        std::io::Error::other("a staged day changed between two reads"),
                    )
                })?;
                *n += 1;
                if range.contains(&chunk) {
                    rows[chunk].push(i as u32);
                }
            }
            for (chunk, indices) in rows.iter_mut().enumerate() {
                if indices.is_empty() {
                    continue;
                }
                let take = UInt32Array::from(std::mem::take(indices));
                let part = arrow::compute::take_record_batch(&batch, &take)
                    .map_err(|e| staged(path, e))?;
                if writers[chunk].is_none() {
                    let file_path = dir.join(format!("chunk-{chunk:04}-part-{p:04}.arrow"));
                    let file = File::create(&file_path).map_err(|e| staged(&file_path, e))?;
                    let w = FileWriter::try_new(BufWriter::new(file), &schema)
                        .map_err(|e| staged(&file_path, e))?;
                    writers[chunk] = Some(w);
                    out[chunk].push(file_path);
                }
                if let Some(w) = writers[chunk].as_mut() {
                    w.write(&part).map_err(|e| staged(path, e))?;
                }
            }
        }
        for w in writers.iter_mut().flatten() {
            w.finish().map_err(|e| staged(path, e))?;
        }
    }
    Ok(out.drain(range).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(v: &[(i32, u64)]) -> BTreeMap<i32, u64> {
        v.iter().copied().collect()
    }

    const BOUNDS: CommitBounds = CommitBounds {
        max_partitions: 2,
        max_rows: 10,
    };

    #[test]
    fn a_write_within_the_bounds_is_one_chunk() {
        let plan = ChunkPlan::new(&days(&[(1, 4), (2, 6)]), BOUNDS);
        assert_eq!(plan.chunks, 1);
        assert_eq!(plan.chunk_of(1, 3), Some(0));
        assert_eq!(plan.chunk_of(2, 5), Some(0));
    }

    #[test]
    fn days_are_grouped_in_date_order_by_partitions_and_rows() {
        let plan = ChunkPlan::new(&days(&[(1, 1), (2, 1), (3, 1), (4, 9), (5, 2)]), BOUNDS);
        // {1,2}: two partitions; {3,4}: 1 + 9 rows; {5}: a third partition would not fit.
        assert_eq!(
            [1, 2, 3, 4, 5].map(|d| plan.chunk_of(d, 0)),
            [0, 0, 1, 1, 2].map(Some)
        );
        assert_eq!(plan.chunks, 3);
    }

    #[test]
    fn a_day_larger_than_a_chunk_is_split_by_its_rows_order() {
        let plan = ChunkPlan::new(&days(&[(1, 3), (2, 25), (3, 1)]), BOUNDS);
        assert_eq!(plan.chunk_of(1, 0), Some(0));
        assert_eq!(plan.chunk_of(2, 0), Some(1));
        assert_eq!(plan.chunk_of(2, 9), Some(1));
        assert_eq!(plan.chunk_of(2, 10), Some(2));
        assert_eq!(plan.chunk_of(2, 24), Some(3));
        assert_eq!(plan.chunk_of(3, 0), Some(4));
        assert_eq!(plan.chunks, 5);
        assert_eq!(plan.chunk_of(9, 0), None);
        assert_eq!(plan.days_of(0), [1].into());
        assert_eq!(plan.days_of(2), [2].into());
        assert_eq!(plan.days_of(4), [3].into());
    }

    #[test]
    fn windows_keep_their_days_however_many_and_spill_a_range_at_a_time() {
        let many: BTreeMap<i32, u64> = (0..1_000).map(|d| (d, 1 + (d % 3) as u64)).collect();
        let plan = ChunkPlan::windows(&many, 4);
        assert_eq!(plan.chunks, 250, "no cap: 1,000 days in windows of 4");
        assert_eq!(plan.days_of(249), (996..1_000).collect());
        // A staged file of those days, spilled in two ranges: every row once, in its window.
        let dir = tempfile::tempdir().unwrap();
        let staged_path = dir.path().join("silver.parquet");
        let days: Vec<i32> = many
            .iter()
            .flat_map(|(d, n)| std::iter::repeat_n(*d, *n as usize))
            .rev()
            .collect();
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new(PARTITION_COLUMN, DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![std::sync::Arc::new(arrow::array::Date32Array::from(
                days.clone(),
            ))],
        )
        .unwrap();
        let mut w = crate::layer::ParquetFile::create(&staged_path, schema).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        let parts = vec![staged_path];
        let mut seen = 0;
        for range in [0..100, 100..250] {
            let files = spill_range(&parts, &plan, &dir.path().join("w"), range.clone()).unwrap();
            assert_eq!(files.len(), range.len());
            for (window, files) in range.zip(files) {
                for f in files {
                    let reader =
                        arrow::ipc::reader::FileReader::try_new(File::open(f).unwrap(), None)
                            .unwrap();
                    for b in reader {
                        let b = b.unwrap();
                        let dt = b.column(0).as_primitive::<Date32Type>();
                        assert!(dt.values().iter().all(|d| plan.days_of(window).contains(d)));
                        seen += b.num_rows();
                    }
                }
            }
        }
        assert_eq!(seen, days.len());
    }

    #[test]
    fn a_write_needing_more_than_the_chunk_cap_gets_larger_chunks() {
        let many: BTreeMap<i32, u64> = (0..10_000).map(|d| (d, 1)).collect();
        let plan = ChunkPlan::new(
            &many,
            CommitBounds {
                max_partitions: 1,
                max_rows: 1,
            },
        );
        assert!(plan.chunks <= MAX_CHUNKS, "{} chunks", plan.chunks);
        assert!(plan.chunks > MAX_CHUNKS / 2, "{} chunks", plan.chunks);
    }
}
