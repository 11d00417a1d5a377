//! The table catalog: every silver and gold table with its columns in Glue (Hive) types,
//! derived from the contracts in force, so that the Glue Data Catalog Terraform declares
//! (`infrastructure/modules/catalog/tables.json`, read with `jsondecode`) can never drift from
//! what the pipeline writes.
//!
//! Every table is a Delta table: its columns are the table schema's, the `dt` partition
//! included (Athena's native Delta support reads schema and partitions from the commit log; the
//! columns here keep Glue's own view, which Lake Formation and views use, the same).
//!
//! Silver tables come from each contract ([`crate::tables::silver_table_schema`]): built-in datasets and any
//! a user adds. Gold tables come from the gold SQL itself: [`gold::build`] runs on an empty
//! in-memory lake and the schema of each table it registers is read back, so a `pii` column a
//! contract masks, or a composite key, appears in the catalog with no hand-written list.
//! `shopflow catalog` prints the document; a test fails when the committed file differs.

use std::collections::BTreeMap;

use arrow::datatypes::{DataType, SchemaRef};
use chrono::NaiveDate;
use serde::Serialize;

use crate::adapters::memory::MemoryObjectStore;
use crate::contract::ContractSet;
use crate::gold::{self, GoldError, GoldOptions};
use crate::sql::{Engine, EngineError};
use crate::tables::DeltaLake;

/// Errors while deriving the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Building gold on the empty lake failed (a contract gold cannot use).
    #[error(transparent)]
    Gold(#[from] GoldError),
    /// Reading a table's schema failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A column has an Arrow type with no Glue equivalent here.
    #[error("table {table}: column {column} has type {data_type}, which has no Glue type")]
    Type {
        /// The table's name in the catalog: its dataset (silver) or its gold table name.
        table: String,
        /// The column's name in the table's schema.
        column: String,
        /// Its Arrow type, which [`glue_type`] cannot map.
        data_type: DataType,
    },
}

/// One table of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// `silver` or `gold`: the lake prefix the table lives under.
    pub layer: &'static str,
    /// What one row is.
    pub description: String,
    /// Partitioned by day: `dt` (a date, from the `date=YYYY-MM-DD` key segment).
    pub partitioned: bool,
    /// `[name, glue type]` pairs, in file order (`dt` excluded: it is the partition key).
    pub columns: Vec<[String; 2]>,
}

/// The catalog document: tables by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// How the document was made (a reminder for whoever opens the file).
    pub generated_by: &'static str,
    /// Every silver table (named by its dataset) and every gold table, sorted by name.
    pub tables: BTreeMap<String, Table>,
}

/// The command that regenerates the committed document.
pub const GENERATED_BY: &str =
    "cargo run -p shopflow -- catalog --out infrastructure/modules/catalog/tables.json";

/// The Glue (Hive DDL) type of an Arrow type, as Athena reads the Parquet files.
pub fn glue_type(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "string".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Int32 => "int".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Dictionary(_, values) => return glue_type(values),
        _ => return None,
    })
}

fn columns(table: &str, schema: &SchemaRef) -> Result<Vec<[String; 2]>, CatalogError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            glue_type(f.data_type())
                .map(|t| [f.name().clone(), t])
                .ok_or_else(|| CatalogError::Type {
                    table: table.into(),
                    column: f.name().clone(),
                    data_type: f.data_type().clone(),
                })
        })
        .collect()
}

/// The catalog of the lake the contracts describe.
pub async fn derive(contracts: &ContractSet) -> Result<Catalog, CatalogError> {
    let mut tables = BTreeMap::new();
    for contract in contracts.iter() {
        let description = format!(
            "Silver {}: {} dt = {}.",
            contract.dataset,
            contract
                .description
                .as_deref()
                .unwrap_or("typed, validated rows."),
            match &contract.event_time {
                Some(e) => format!("UTC day of {e}"),
                None => "ingest date".into(),
            }
        );
        tables.insert(
            contract.dataset.clone(),
            Table {
                layer: "silver",
                description,
                partitioned: true,
                columns: columns(
                    &contract.dataset,
                    &crate::tables::silver_table_schema(contract),
                )?,
            },
        );
    }
    let lake = DeltaLake::new(std::sync::Arc::new(MemoryObjectStore::new()));
    let engine = Engine::new();
    let day = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    gold::build(&lake, &engine, contracts, day, GoldOptions::default()).await?;
    for t in gold::TABLES {
        let schema = engine.table_schema(t.name).await?;
        tables.insert(
            t.name.to_string(),
            Table {
                layer: "gold",
                description: t.description.into(),
                partitioned: t.partitioned,
                columns: columns(t.name, &schema)?,
            },
        );
    }
    Ok(Catalog {
        generated_by: GENERATED_BY,
        tables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column<'a>(catalog: &'a Catalog, table: &str, name: &str) -> Option<&'a str> {
        catalog.tables[table]
            .columns
            .iter()
            .find(|[n, _]| n == name)
            .map(|[_, t]| t.as_str())
    }

    #[tokio::test]
    async fn every_contract_column_is_a_silver_column_with_its_glue_type() {
        let contracts = ContractSet::defaults().unwrap();
        let c = derive(&contracts).await.unwrap();
        let tx = &c.tables["transactions"];
        assert_eq!(tx.layer, "silver");
        assert!(tx.partitioned);
        assert_eq!(column(&c, "transactions", "amount"), Some("decimal(18,2)"));
        assert_eq!(column(&c, "transactions", "quantity"), Some("bigint"));
        assert_eq!(
            column(&c, "transactions", "transaction_date"),
            Some("timestamp")
        );
        assert_eq!(column(&c, "transactions", "_source_key"), Some("string"));
        // Secrets are never written, so never declared.
        assert_eq!(column(&c, "transactions", "card_number"), None);
        // The partition is a column of the Delta table's schema (Athena reads it from the log).
        assert_eq!(column(&c, "transactions", "dt"), Some("date"));
    }

    #[tokio::test]
    async fn gold_columns_follow_the_contracts_masks_and_keys() {
        let c = derive(&ContractSet::defaults().unwrap()).await.unwrap();
        assert_eq!(column(&c, "dim_customer", "email_masked"), Some("string"));
        assert_eq!(column(&c, "dim_customer", "name_initials"), Some("string"));
        assert_eq!(column(&c, "dim_customer", "email"), None);
        assert_eq!(column(&c, "dim_customer", "phone"), None);
        assert_eq!(column(&c, "fact_sales", "order_key"), Some("string"));
        assert_eq!(column(&c, "fact_sales", "revenue"), Some("decimal(18,2)"));
        assert!(c.tables["fact_sales"].partitioned);
        assert!(!c.tables["dim_date"].partitioned);
        assert_eq!(c.tables.len(), 4 + gold::TABLES.len());
    }

    #[tokio::test]
    async fn a_dataset_and_a_pii_column_a_user_adds_reach_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("returns.toml"),
            "dataset = \"returns\"\nversion = 1\nprimary_key = [\"return_id\"]\n[[columns]]\nname = \"return_id\"\ntype = \"string\"\nrequired = true\n[[columns]]\nname = \"refund\"\ntype = \"decimal\"\nscale = 2\n",
        )
        .unwrap();
        let customers = include_str!("../contracts/customers.toml").replace(
            "[[columns]]\nname = \"city\"",
            "[[columns]]\nname = \"backup_email\"\ntype = \"string\"\nclassification = \"pii\"\nmask = \"email\"\n\n[[columns]]\nname = \"city\"",
        );
        std::fs::write(dir.path().join("customers.toml"), customers).unwrap();
        let c = derive(&ContractSet::load_dir(dir.path()).unwrap())
            .await
            .unwrap();
        assert_eq!(column(&c, "returns", "refund"), Some("decimal(18,2)"));
        assert_eq!(column(&c, "customers", "backup_email"), Some("string"));
        assert_eq!(
            column(&c, "dim_customer", "backup_email_masked"),
            Some("string")
        );
        assert_eq!(column(&c, "dim_customer", "backup_email"), None);
        assert_eq!(
            column(&c, "customer_ltv", "backup_email_masked"),
            Some("string")
        );
    }
}
