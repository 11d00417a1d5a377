//! Gold: business tables built from silver.
//!
//! This module holds the daily sales aggregate (`gold/daily_sales/date=D/part-0.parquet`) and
//! the sale lines it is computed from: silver transactions de-duplicated across files on the
//! business key (the latest ingestion wins), with each line's revenue (its `amount`, else
//! `quantity × unit_price`, else `quantity ×` the product's catalog price) and its product's
//! name and category.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, Date32Array, Decimal128Array, Float64Array, Int64Array, RecordBatch,
};
use arrow::datatypes::{
    DataType, Decimal128Type, Field, Int64Type, Schema, SchemaRef, TimestampMicrosecondType,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::layer::{self, EncodeError, keys};
use crate::ports::{ObjectStore, StoreError};
use crate::validate::parse;

/// Errors while building gold.
#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// Object store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Parquet encoding or decoding failed.
    #[error("Parquet data in {key} cannot be processed")]
    Parquet {
        /// The object.
        key: String,
        /// The error.
        #[source]
        source: EncodeError,
    },
    /// A silver table lacks a column gold needs.
    #[error("silver object {key} lacks column {column:?} of type {expected}")]
    MissingColumn {
        /// The object.
        key: String,
        /// The column.
        column: &'static str,
        /// Its expected type.
        expected: &'static str,
    },
    /// Encoding gold failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// One de-duplicated sale line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaleLine {
    /// Business key.
    pub transaction_id: String,
    /// Buyer.
    pub customer_id: String,
    /// Product.
    pub product_id: String,
    /// Units.
    pub quantity: i64,
    /// Revenue in cents, if it can be known.
    pub revenue_cents: Option<i128>,
    /// Sale time.
    pub at: DateTime<Utc>,
    /// Product name, from the catalog.
    pub product_name: Option<String>,
    /// Product category, from the catalog.
    pub category: Option<String>,
}

/// A product as the latest catalog snapshot describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductInfo {
    /// Name.
    pub name: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Price in cents.
    pub price_cents: Option<i128>,
}

async fn silver_batches(
    store: &dyn ObjectStore,
    dataset: &str,
) -> Result<Vec<(String, RecordBatch)>, GoldError> {
    let mut out = Vec::new();
    for object in store.list(&keys::silver_prefix(dataset)).await? {
        if !object.key.ends_with(".parquet") {
            continue;
        }
        let bytes = store.get(&object.key).await?;
        let batches = layer::decode_parquet(bytes).map_err(|source| GoldError::Parquet {
            key: object.key.clone(),
            source,
        })?;
        out.extend(batches.into_iter().map(|b| (object.key.clone(), b)));
    }
    Ok(out)
}

fn strings<'a>(
    b: &'a RecordBatch,
    key: &str,
    column: &'static str,
) -> Result<&'a arrow::array::StringArray, GoldError> {
    b.column_by_name(column)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| GoldError::MissingColumn {
            key: key.to_string(),
            column,
            expected: "string",
        })
}

fn opt_str(a: Option<&arrow::array::StringArray>, i: usize) -> Option<String> {
    a.filter(|a| a.is_valid(i)).map(|a| a.value(i).to_string())
}

fn opt_dec(b: &RecordBatch, column: &str) -> Option<arrow::array::PrimitiveArray<Decimal128Type>> {
    b.column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<Decimal128Type>())
        .cloned()
}

/// The latest catalog entry per product (latest ingestion wins).
pub async fn load_products(
    store: &dyn ObjectStore,
) -> Result<HashMap<String, ProductInfo>, GoldError> {
    let mut latest: HashMap<String, (i64, ProductInfo)> = HashMap::new();
    for (key, b) in silver_batches(store, "products").await? {
        let ids = strings(&b, &key, "product_id")?;
        let names = b
            .column_by_name("name")
            .and_then(|c| c.as_string_opt::<i32>());
        let cats = b
            .column_by_name("category")
            .and_then(|c| c.as_string_opt::<i32>());
        let prices = opt_dec(&b, "price");
        let at = b
            .column_by_name("_ingested_at")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
        for i in 0..b.num_rows() {
            if !ids.is_valid(i) {
                continue;
            }
            let t = at.map_or(0, |a| a.value(i));
            let info = ProductInfo {
                name: opt_str(names, i),
                category: opt_str(cats, i),
                price_cents: prices
                    .as_ref()
                    .filter(|p| p.is_valid(i))
                    .map(|p| p.value(i)),
            };
            let id = ids.value(i).to_string();
            if latest.get(&id).is_none_or(|(old, _)| t >= *old) {
                latest.insert(id, (t, info));
            }
        }
    }
    Ok(latest.into_iter().map(|(k, (_, v))| (k, v)).collect())
}

/// Silver transactions as de-duplicated sale lines, with revenue and catalog fields.
pub async fn load_sale_lines(store: &dyn ObjectStore) -> Result<Vec<SaleLine>, GoldError> {
    let products = load_products(store).await?;
    let mut latest: HashMap<String, (i64, SaleLine)> = HashMap::new();
    for (key, b) in silver_batches(store, "transactions").await? {
        let ids = strings(&b, &key, "transaction_id")?;
        let customers = strings(&b, &key, "customer_id")?;
        let product_ids = strings(&b, &key, "product_id")?;
        let quantity = b
            .column_by_name("quantity")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| GoldError::MissingColumn {
                key: key.clone(),
                column: "quantity",
                expected: "int64",
            })?;
        let when = b
            .column_by_name("transaction_date")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or_else(|| GoldError::MissingColumn {
                key: key.clone(),
                column: "transaction_date",
                expected: "timestamp",
            })?;
        let amount = opt_dec(&b, "amount");
        let unit_price = opt_dec(&b, "unit_price");
        let at = b
            .column_by_name("_ingested_at")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
        for i in 0..b.num_rows() {
            let product_id = product_ids.value(i).to_string();
            let product = products.get(&product_id);
            let q = quantity.value(i);
            let revenue_cents = amount
                .as_ref()
                .filter(|a| a.is_valid(i))
                .map(|a| a.value(i))
                .or_else(|| {
                    unit_price
                        .as_ref()
                        .filter(|p| p.is_valid(i))
                        .map(|p| p.value(i) * i128::from(q))
                })
                .or_else(|| {
                    product
                        .and_then(|p| p.price_cents)
                        .map(|p| p * i128::from(q))
                });
            let line = SaleLine {
                transaction_id: ids.value(i).to_string(),
                customer_id: customers.value(i).to_string(),
                product_id,
                quantity: q,
                revenue_cents,
                at: DateTime::from_timestamp_micros(when.value(i)).unwrap_or_default(),
                product_name: product.and_then(|p| p.name.clone()),
                category: product.and_then(|p| p.category.clone()),
            };
            let t = at.map_or(0, |a| a.value(i));
            if latest
                .get(&line.transaction_id)
                .is_none_or(|(old, _)| t >= *old)
            {
                latest.insert(line.transaction_id.clone(), (t, line));
            }
        }
    }
    let mut lines: Vec<SaleLine> = latest.into_values().map(|(_, l)| l).collect();
    lines.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then_with(|| a.transaction_id.cmp(&b.transaction_id))
    });
    Ok(lines)
}

/// One day of sales.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailySales {
    /// The day (UTC).
    pub date: NaiveDate,
    /// Revenue in cents.
    pub revenue_cents: i128,
    /// Sale lines.
    pub transactions: u64,
    /// Units sold.
    pub units: i64,
    /// Distinct buyers.
    pub unique_customers: u64,
    /// Sale lines whose revenue is known (the AOV denominator).
    pub priced_transactions: u64,
}

/// Aggregates sale lines by day.
pub fn daily_sales(lines: &[SaleLine]) -> Vec<DailySales> {
    let mut by_day: BTreeMap<NaiveDate, (i128, u64, i64, HashSet<&str>, u64)> = BTreeMap::new();
    for l in lines {
        let e = by_day.entry(l.at.date_naive()).or_default();
        e.0 += l.revenue_cents.unwrap_or(0);
        e.1 += 1;
        e.2 += l.quantity;
        e.3.insert(&l.customer_id);
        e.4 += u64::from(l.revenue_cents.is_some());
    }
    by_day
        .into_iter()
        .map(|(date, (r, t, u, c, priced))| DailySales {
            date,
            revenue_cents: r,
            transactions: t,
            units: u,
            unique_customers: c.len() as u64,
            priced_transactions: priced,
        })
        .collect()
}

/// The schema of `gold/daily_sales`.
pub fn daily_sales_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("revenue", DataType::Decimal128(18, 2), false),
        Field::new("transactions", DataType::Int64, false),
        Field::new("units", DataType::Int64, false),
        Field::new("unique_customers", DataType::Int64, false),
        Field::new("average_order_value", DataType::Float64, false),
    ]))
}

/// Writes `gold/daily_sales/date=D/part-0.parquet` for every day given; returns the keys.
pub async fn write_daily_sales(
    store: &dyn ObjectStore,
    days: &[DailySales],
) -> Result<Vec<String>, GoldError> {
    let mut written = Vec::new();
    for d in days {
        let batch = RecordBatch::try_new(
            daily_sales_schema(),
            vec![
                Arc::new(Date32Array::from(vec![parse::days_since_epoch(d.date)])),
                Arc::new(
                    Decimal128Array::from(vec![d.revenue_cents])
                        .with_precision_and_scale(18, 2)
                        .map_err(EncodeError::Arrow)?,
                ),
                Arc::new(Int64Array::from(vec![d.transactions as i64])),
                Arc::new(Int64Array::from(vec![d.units])),
                Arc::new(Int64Array::from(vec![d.unique_customers as i64])),
                Arc::new(Float64Array::from(vec![aov(
                    d.revenue_cents,
                    d.priced_transactions,
                )])),
            ],
        )
        .map_err(EncodeError::Arrow)?;
        let bytes = layer::encode_parquet(daily_sales_schema(), &[batch])?;
        let key = keys::gold("daily_sales", d.date);
        store.put(&key, bytes).await?;
        written.push(key);
    }
    Ok(written)
}

/// Average order value in currency units.
pub fn aov(revenue_cents: i128, transactions: u64) -> f64 {
    if transactions == 0 {
        0.0
    } else {
        (revenue_cents as f64 / 100.0 / transactions as f64 * 100.0).round() / 100.0
    }
}

/// Cents as currency units.
pub fn money(cents: i128) -> f64 {
    cents as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, customer: &str, day: u32, cents: i128) -> SaleLine {
        SaleLine {
            transaction_id: id.into(),
            customer_id: customer.into(),
            product_id: "P".into(),
            quantity: 1,
            revenue_cents: Some(cents),
            at: NaiveDate::from_ymd_opt(2024, 1, day)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc(),
            product_name: None,
            category: None,
        }
    }

    #[test]
    fn aggregates_sales_by_day_to_the_cent() {
        let lines = [
            line("a", "c1", 1, 1999),
            line("b", "c1", 1, 1),
            line("c", "c2", 2, 500),
        ];
        let days = daily_sales(&lines);
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].revenue_cents, 2000);
        assert_eq!(days[0].transactions, 2);
        assert_eq!(days[0].unique_customers, 1);
        assert_eq!(aov(days[0].revenue_cents, days[0].transactions), 10.0);
    }
}
