//! Raw batches: [`raw_schema`], and the builder that accumulates records into Arrow batches of
//! at most the caller's batch size and hands each full one to the caller's sink.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{EXTRA_COLUMN, Format, READ_ERROR_COLUMN, ROW_NUMBER_COLUMN, ReadFailure, Unreadable};
use crate::contract::Contract;

/// The schema of every batch a read hands its sink: one nullable UTF-8 column per kept contract
/// column, in contract order, then [`EXTRA_COLUMN`], [`ROW_NUMBER_COLUMN`] and
/// [`READ_ERROR_COLUMN`].
pub fn raw_schema(contract: &Contract) -> SchemaRef {
    let mut fields: Vec<Field> = contract
        .kept_columns()
        .map(|c| Field::new(&c.name, DataType::Utf8, true))
        .collect();
    fields.push(Field::new(EXTRA_COLUMN, DataType::Utf8, true));
    fields.push(Field::new(ROW_NUMBER_COLUMN, DataType::Int64, false));
    fields.push(Field::new(READ_ERROR_COLUMN, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// Accumulates records into raw batches and hands full ones to the sink.
pub(super) struct BatchBuilder<'a, E> {
    schema: SchemaRef,
    columns: Vec<StringBuilder>,
    extra: StringBuilder,
    row_number: Int64Builder,
    read_error: StringBuilder,
    len: usize,
    batch_rows: usize,
    sink: &'a mut dyn FnMut(RecordBatch) -> Result<(), E>,
    /// Whether any record so far had a value for each kept column.
    pub(super) seen_columns: Vec<bool>,
}

impl<'a, E> BatchBuilder<'a, E> {
    /// An empty builder of batches of at most `batch_rows` records, handed to `sink`.
    pub(super) fn new(
        schema: SchemaRef,
        width: usize,
        batch_rows: usize,
        sink: &'a mut dyn FnMut(RecordBatch) -> Result<(), E>,
    ) -> Self {
        Self {
            schema,
            columns: (0..width).map(|_| StringBuilder::new()).collect(),
            extra: StringBuilder::new(),
            row_number: Int64Builder::new(),
            read_error: StringBuilder::new(),
            len: 0,
            batch_rows: batch_rows.max(1),
            sink,
            seen_columns: vec![false; width],
        }
    }

    /// Adds one record: its kept columns' values (taken, leaving `None`), its unknown fields as
    /// JSON, and why it could not be read, if it could not. Hands a full batch to the sink.
    pub(super) fn push(
        &mut self,
        row_number: u64,
        values: &mut [Option<String>],
        extra: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), ReadFailure<E>> {
        for (i, (builder, value)) in self.columns.iter_mut().zip(values.iter_mut()).enumerate() {
            match value.take() {
                Some(v) => {
                    self.seen_columns[i] = true;
                    builder.append_value(v);
                }
                None => builder.append_null(),
            }
        }
        self.extra.append_option(extra);
        self.row_number
            .append_value(i64::try_from(row_number).unwrap_or(i64::MAX));
        self.read_error.append_option(error);
        self.len += 1;
        if self.len >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the records added since the last batch to the sink, if there are any.
    pub(super) fn flush(&mut self) -> Result<(), ReadFailure<E>> {
        if self.len == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        arrays.push(Arc::new(self.extra.finish()));
        arrays.push(Arc::new(self.row_number.finish()));
        arrays.push(Arc::new(self.read_error.finish()));
        self.len = 0;
        // The arrays are built to the schema above: a mismatch is a programming error, reported
        // as a format failure rather than a panic.
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| {
            ReadFailure::Unreadable(Unreadable::NotFormat {
                format: Format::Csv,
                detail: format!("internal batch error: {e}"),
            })
        })?;
        (self.sink)(batch).map_err(ReadFailure::Sink)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use super::*;
    use crate::read::tests::read;

    #[test]
    fn emits_bounded_batches() {
        let mut csv =
            String::from("transaction_id,customer_id,product_id,quantity,transaction_date\n");
        for i in 0..5 {
            csv.push_str(&format!("T{i},C,P,1,2024-01-01\n"));
        }
        let (b, _) = read("transactions", "t.csv", csv.as_bytes()).unwrap();
        assert_eq!(
            b.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let rows: Vec<i64> = b
            .iter()
            .flat_map(|b| {
                b.column_by_name(ROW_NUMBER_COLUMN)
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(rows, [1, 2, 3, 4, 5]);
    }
}
