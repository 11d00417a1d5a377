//! Typed column access to one query result: [`Rows`] looks a column up by name and casts it to
//! the type the report reads ([`Texts`], [`Ints`], [`Floats`], [`Dates`], [`Times`]).

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, NaiveDate, Utc};

use super::round2;
use crate::report::ReportError;
use crate::sql::Engine;
use crate::validate::parse;

/// One query result whose columns are looked up by name once, cast to the type the report
/// reads. A column the query does not return, or one that does not cast, is a
/// [`ReportError::Column`] naming the query and the column: a mistyped name never reads as 0.
pub(super) struct Rows {
    context: String,
    batch: RecordBatch,
}

impl Rows {
    pub(super) async fn query(
        engine: &Engine,
        context: &str,
        sql: &str,
    ) -> Result<Self, ReportError> {
        let r = engine.query(context, sql).await?;
        let batch = r.concat().map_err(|source| ReportError::Arrow {
            context: context.to_string(),
            source,
        })?;
        Ok(Self {
            context: context.to_string(),
            batch,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.batch.num_rows()
    }

    fn column(&self, name: &str, to: &DataType) -> Result<ArrayRef, ReportError> {
        let error = |reason: String| ReportError::Column {
            context: self.context.clone(),
            column: name.to_string(),
            reason,
        };
        let c = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| error("the query does not return it".into()))?;
        if c.data_type() == to {
            Ok(c.clone())
        } else {
            cast(c, to).map_err(|e| error(format!("{} does not cast to {to}: {e}", c.data_type())))
        }
    }

    pub(super) fn texts(&self, name: &str) -> Result<Texts, ReportError> {
        self.column(name, &DataType::Utf8).map(Texts)
    }

    /// A text column that exists only under some contracts (e.g. a masked email): `None` when
    /// the query does not return it.
    pub(super) fn optional_texts(&self, name: &str) -> Result<Option<Texts>, ReportError> {
        if self.batch.column_by_name(name).is_none() {
            return Ok(None);
        }
        self.texts(name).map(Some)
    }

    pub(super) fn ints(&self, name: &str) -> Result<Ints, ReportError> {
        self.column(name, &DataType::Int64).map(Ints)
    }

    pub(super) fn floats(&self, name: &str) -> Result<Floats, ReportError> {
        self.column(name, &DataType::Float64).map(Floats)
    }

    pub(super) fn dates(&self, name: &str) -> Result<Dates, ReportError> {
        self.column(name, &DataType::Date32).map(Dates)
    }

    pub(super) fn times(&self, name: &str) -> Result<Times, ReportError> {
        self.column(
            name,
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        )
        .map(Times)
    }
}

/// Per-cell reads, for the small results (tens of rows) most report queries return.
impl Rows {
    pub(super) fn text(&self, name: &str, i: usize) -> Result<Option<String>, ReportError> {
        Ok(self.texts(name)?.get(i))
    }

    pub(super) fn int(&self, name: &str, i: usize) -> Result<Option<i64>, ReportError> {
        Ok(self.ints(name)?.get(i))
    }

    pub(super) fn count(&self, name: &str, i: usize) -> Result<u64, ReportError> {
        Ok(self.ints(name)?.count(i))
    }

    pub(super) fn float(&self, name: &str, i: usize) -> Result<Option<f64>, ReportError> {
        Ok(self.floats(name)?.get(i))
    }

    pub(super) fn money(&self, name: &str, i: usize) -> Result<f64, ReportError> {
        Ok(self.floats(name)?.money(i))
    }

    pub(super) fn time(&self, name: &str, i: usize) -> Result<Option<DateTime<Utc>>, ReportError> {
        Ok(self.times(name)?.get(i))
    }
}

/// A text column (cast to `Utf8`).
pub(super) struct Texts(ArrayRef);

impl Texts {
    pub(super) fn get(&self, i: usize) -> Option<String> {
        let c = self.0.as_string::<i32>();
        c.is_valid(i).then(|| c.value(i).to_string())
    }
}

/// A whole-number column (cast to `Int64`).
pub(super) struct Ints(ArrayRef);

impl Ints {
    pub(super) fn get(&self, i: usize) -> Option<i64> {
        let c = self.0.as_primitive::<Int64Type>();
        c.is_valid(i).then(|| c.value(i))
    }

    /// The value as a count: null and negative values are 0.
    pub(super) fn count(&self, i: usize) -> u64 {
        self.get(i).map_or(0, |v| u64::try_from(v).unwrap_or(0))
    }
}

/// A number column (cast to `Float64`).
pub(super) struct Floats(ArrayRef);

impl Floats {
    pub(super) fn get(&self, i: usize) -> Option<f64> {
        let c = self.0.as_primitive::<Float64Type>();
        c.is_valid(i).then(|| c.value(i))
    }

    /// The value rounded to the cent; null is 0.
    pub(super) fn money(&self, i: usize) -> f64 {
        self.get(i).map_or(0.0, round2)
    }
}

/// A date column (cast to `Date32`).
pub(super) struct Dates(ArrayRef);

impl Dates {
    pub(super) fn get(&self, i: usize) -> Option<NaiveDate> {
        let c = self.0.as_primitive::<arrow::datatypes::Date32Type>();
        c.is_valid(i).then(|| parse::date_from_days(c.value(i)))
    }
}

/// A UTC timestamp column (cast to microseconds).
pub(super) struct Times(ArrayRef);

impl Times {
    pub(super) fn get(&self, i: usize) -> Option<DateTime<Utc>> {
        let c = self.0.as_primitive::<TimestampMicrosecondType>();
        c.is_valid(i)
            .then(|| DateTime::from_timestamp_micros(c.value(i)))
            .flatten()
    }
}
