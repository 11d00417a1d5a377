//! Gold built from small, hand-written landing files ingested through the real pipeline.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use chrono::NaiveDate;

use super::*;
use crate::adapters::local::LogMetrics;
use crate::adapters::memory::{MemoryLedger, MemoryObjectStore};
use crate::ingest::{IngestOptions, IngestOutcome, Ingestor};
use crate::ports::{Ledger, ObjectStore};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

struct Lake {
    store: Arc<MemoryObjectStore>,
    tables: DeltaLake,
    ingestor: Ingestor,
}

impl Lake {
    fn new() -> Self {
        Self::with_contracts(ContractSet::defaults().unwrap())
    }

    /// A lake whose contracts are the defaults with `replace` (TOML texts) in force, as
    /// `--contracts` gives them.
    fn with_user_contracts(replace: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (i, text) in replace.iter().enumerate() {
            std::fs::write(dir.path().join(format!("c{i}.toml")), text).unwrap();
        }
        Self::with_contracts(ContractSet::load_dir(dir.path()).unwrap())
    }

    fn with_contracts(contracts: ContractSet) -> Self {
        let store = Arc::new(MemoryObjectStore::new());
        let tables = DeltaLake::new(store.clone());
        let ingestor = Ingestor::new(
            store.clone(),
            Arc::new(tables.clone()),
            Arc::new(MemoryLedger::new()) as Arc<dyn Ledger>,
            Arc::new(LogMetrics),
            Arc::new(contracts),
            IngestOptions::default(),
        );
        Self {
            store,
            tables,
            ingestor,
        }
    }

    async fn land(&self, dataset: &str, file: &str, body: &str) {
        let key = format!("landing/{dataset}/{file}");
        self.store
            .put(&key, body.as_bytes().to_vec())
            .await
            .unwrap();
        match self.ingestor.ingest_object(&key, "run-1").await.unwrap() {
            IngestOutcome::Processed(m) => {
                assert_eq!(m.rows_quarantined, 0, "{key}: {:?}", m.rejected_by_rule);
                assert_eq!(
                    m.files_quarantined, 0,
                    "{key}: {:?}",
                    m.file_quarantine_reason
                );
            }
            IngestOutcome::Skipped { key, .. } => panic!("{key} skipped"),
            IngestOutcome::Superseded { key, .. } => panic!("{key} superseded"),
        }
    }

    async fn build(&self, date: &str) -> (Engine, GoldBuild) {
        let engine = Engine::new();
        let b = build(
            &self.tables,
            &engine,
            self.ingestor.contracts(),
            day(date),
            GoldOptions::default(),
        )
        .await
        .unwrap();
        (engine, b)
    }
}

async fn snapshot(store: &dyn ObjectStore) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for o in store.list("").await.unwrap() {
        out.push((o.key.clone(), store.get(&o.key).await.unwrap()));
    }
    out.sort();
    out
}

async fn rows(engine: &Engine, sql: &str) -> RecordBatch {
    engine.query("test", sql).await.unwrap().concat().unwrap()
}

fn text(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let c = arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Utf8).unwrap();
    let c = c.as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}

fn floats(b: &RecordBatch, col: &str) -> Vec<Option<f64>> {
    let c = arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Float64).unwrap();
    let c = c.as_primitive::<Float64Type>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i)))
        .collect()
}

fn ints(b: &RecordBatch, col: &str) -> Vec<i64> {
    let c = arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Int64).unwrap();
    c.as_primitive::<Int64Type>().values().to_vec()
}

const PRODUCTS_V1: &str = r#"[
  {"id": "P1", "title": "Desk Lamp", "category": "home", "price": 10.00, "updated_at": "2026-01-01T00:00:00Z"},
  {"id": "P2", "title": "Mug", "category": "kitchen", "price": 5.00, "updated_at": "2026-01-01T00:00:00Z"}
]"#;

/// P1's price changes on 10 January; P2 is re-sent unchanged (no new version).
const PRODUCTS_V2: &str = r#"[
  {"id": "P1", "title": "Desk Lamp", "category": "home", "price": 12.00, "updated_at": "2026-01-10T00:00:00Z"},
  {"id": "P2", "title": "Mug", "category": "kitchen", "price": 5.00, "updated_at": "2026-01-10T00:00:00Z"}
]"#;

const CUSTOMERS_V1: &str = "customer_id,email,country,city,updated_at
C1,ada.lovelace@example.com,Spain,Madrid,2026-01-01T00:00:00Z
C2,bob@example.org,Italy,Rome,2026-01-01T00:00:00Z
";

/// C1 moves to France on 8 January.
const CUSTOMERS_V2: &str = "customer_id,email,country,city,updated_at
C1,ada.lovelace@example.com,France,Paris,2026-01-08T00:00:00Z
";

/// T1 (before both changes) has no amount: its revenue comes from the catalog price valid then.
const SALES: &str = "transaction_id,customer_id,product_id,quantity,amount,transaction_date
T1,C1,P1,2,,2026-01-05T10:00:00Z
T2,C1,P1,1,,2026-01-12T09:30:00Z
T3,C2,P2,3,15.00,2026-01-12T18:45:00Z
";

async fn changing_lake() -> Lake {
    let lake = Lake::new();
    lake.land("products", "products_v1.json", PRODUCTS_V1).await;
    lake.land("products", "products_v2.json", PRODUCTS_V2).await;
    lake.land("customers", "customers_v1.csv", CUSTOMERS_V1)
        .await;
    lake.land("customers", "customers_v2.csv", CUSTOMERS_V2)
        .await;
    lake.land("transactions", "sales.csv", SALES).await;
    lake
}

#[tokio::test]
async fn a_price_change_opens_a_new_product_version() {
    let lake = changing_lake().await;
    let (engine, _) = lake.build("2026-01-12").await;
    let d = rows(
        &engine,
        "SELECT product_sk, product_id, version, price, valid_from, valid_to, is_current
         FROM dim_product ORDER BY product_id, version",
    )
    .await;
    assert_eq!(
        text(&d, "product_sk"),
        [
            Some("P1:1".into()),
            Some("P1:2".into()),
            Some("P2:1".into())
        ]
    );
    assert_eq!(floats(&d, "price"), [Some(10.0), Some(12.0), Some(5.0)]);
    assert_eq!(
        text(&d, "is_current"),
        [
            Some("false".into()),
            Some("true".into()),
            Some("true".into())
        ]
    );
    let valid_to = text(&d, "valid_to");
    assert!(
        valid_to[0].as_deref().unwrap().starts_with("2026-01-10"),
        "{valid_to:?}"
    );
    assert_eq!(valid_to[1], None);
}

#[tokio::test]
async fn a_customer_move_opens_a_new_customer_version() {
    let lake = changing_lake().await;
    let (engine, _) = lake.build("2026-01-12").await;
    let d = rows(
        &engine,
        "SELECT customer_sk, country, city, is_current FROM dim_customer
         WHERE customer_id = 'C1' ORDER BY version",
    )
    .await;
    assert_eq!(
        text(&d, "customer_sk"),
        [Some("C1:1".into()), Some("C1:2".into())]
    );
    assert_eq!(
        text(&d, "country"),
        [Some("Spain".into()), Some("France".into())]
    );
    assert_eq!(
        text(&d, "city"),
        [Some("Madrid".into()), Some("Paris".into())]
    );
}

#[tokio::test]
async fn a_sale_before_a_change_joins_the_old_versions() {
    let lake = changing_lake().await;
    let (engine, _) = lake.build("2026-01-12").await;
    let f = rows(
        &engine,
        "SELECT transaction_id, product_sk, customer_sk, revenue, revenue_source, weekday, hour
         FROM fact_sales ORDER BY transaction_id",
    )
    .await;
    assert_eq!(
        text(&f, "product_sk"),
        [
            Some("P1:1".into()),
            Some("P1:2".into()),
            Some("P2:1".into())
        ]
    );
    assert_eq!(
        text(&f, "customer_sk"),
        [
            Some("C1:1".into()),
            Some("C1:2".into()),
            Some("C2:1".into())
        ]
    );
    // 2 × 10.00 at the old price, 1 × 12.00 at the new one, the given amount.
    assert_eq!(floats(&f, "revenue"), [Some(20.0), Some(12.0), Some(15.0)]);
    assert_eq!(
        text(&f, "revenue_source"),
        [
            Some("catalog".into()),
            Some("catalog".into()),
            Some("amount".into())
        ]
    );
    // 5 January 2026 was a Monday; 12 January too.
    assert_eq!(ints(&f, "weekday"), [1, 1, 1]);
    assert_eq!(ints(&f, "hour"), [10, 9, 18]);
    // The country of a sale is the country the buyer lived in then.
    let by_country = rows(
        &engine,
        "SELECT c.country, SUM(f.revenue) AS revenue FROM fact_sales f
         JOIN dim_customer c ON c.customer_sk = f.customer_sk GROUP BY c.country ORDER BY c.country",
    )
    .await;
    assert_eq!(
        text(&by_country, "country"),
        [
            Some("France".into()),
            Some("Italy".into()),
            Some("Spain".into())
        ]
    );
    assert_eq!(
        floats(&by_country, "revenue"),
        [Some(12.0), Some(15.0), Some(20.0)]
    );
}

#[tokio::test]
async fn customer_pii_is_masked_in_gold() {
    let lake = changing_lake().await;
    let (engine, _) = lake.build("2026-01-12").await;
    let d = rows(&engine, "SELECT * FROM dim_customer ORDER BY customer_sk").await;
    assert!(d.column_by_name("email").is_none());
    assert!(d.column_by_name("phone").is_none());
    assert_eq!(
        text(&d, "email_masked")[0].as_deref(),
        Some("a***@example.com")
    );
    for (key, body) in snapshot(lake.store.as_ref()).await {
        if key.starts_with("gold/") {
            let hay = String::from_utf8_lossy(&body);
            assert!(!hay.contains("ada.lovelace"), "{key} holds a clear email");
        }
    }
}

#[tokio::test]
async fn aggregates_and_ltv_follow_the_facts() {
    let lake = changing_lake().await;
    let (engine, built) = lake.build("2026-01-12").await;
    assert_eq!(built.sale_days.first(), Some(&day("2026-01-05")));
    let daily = rows(
        &engine,
        "SELECT dt, revenue, transactions, unique_customers FROM agg_daily_sales ORDER BY dt",
    )
    .await;
    assert_eq!(
        text(&daily, "dt"),
        [Some("2026-01-05".into()), Some("2026-01-12".into())]
    );
    assert_eq!(floats(&daily, "revenue"), [Some(20.0), Some(27.0)]);
    assert_eq!(ints(&daily, "unique_customers"), [1, 2]);
    let cat = rows(
        &engine,
        "SELECT category, revenue FROM agg_category_daily WHERE dt = DATE '2026-01-12' ORDER BY category",
    )
    .await;
    assert_eq!(
        text(&cat, "category"),
        [Some("home".into()), Some("kitchen".into())]
    );
    let ltv = rows(
        &engine,
        "SELECT customer_id, orders, revenue, recency_days, segment FROM customer_ltv ORDER BY customer_id",
    )
    .await;
    assert_eq!(ints(&ltv, "orders"), [2, 1]);
    assert_eq!(floats(&ltv, "revenue"), [Some(32.0), Some(15.0)]);
    assert_eq!(ints(&ltv, "recency_days"), [0, 0]);
    assert!(text(&ltv, "segment").iter().all(Option::is_some));
    let dates = rows(
        &engine,
        "SELECT MIN(calendar_date) AS a, MAX(calendar_date) AS b, COUNT(*) AS n FROM dim_date",
    )
    .await;
    assert_eq!(ints(&dates, "n"), [8]);
}

/// Every gold table's rows, in a fixed order, as text.
async fn gold_rows(engine: &Engine) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in TABLES {
        let r = engine
            .query(t.name, &format!("SELECT * FROM {}", t.name))
            .await
            .unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&r.batches)
            .unwrap()
            .to_string();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        out.push((t.name.to_string(), lines.join("\n")));
    }
    out
}

#[tokio::test]
async fn rebuilding_a_date_commits_a_new_version_with_the_same_rows() {
    let lake = changing_lake().await;
    let (first_engine, first) = lake.build("2026-01-12").await;
    let before = gold_rows(&first_engine).await;
    let (second_engine, second) = lake.build("2026-01-12").await;
    assert_eq!(before, gold_rows(&second_engine).await);
    // Silver did not change: the dimensions are kept, every other table is one commit.
    assert_eq!(second.kept, ["dim_product", "dim_customer"]);
    for t in TABLES {
        let commits = if second.kept.iter().any(|k| k == t.name) {
            0
        } else {
            1
        };
        assert_eq!(
            second.versions[t.name],
            first.versions[t.name] + commits,
            "{}: one commit per table and build, none for a kept dimension",
            t.name
        );
    }
}

#[tokio::test]
async fn a_dimension_is_rebuilt_when_its_silver_table_changes_and_kept_otherwise() {
    let lake = changing_lake().await;
    let (_, first) = lake.build("2026-01-12").await;
    assert!(first.kept.is_empty(), "{:?}", first.kept);
    // A new product snapshot: dim_product is rebuilt with the new version, dim_customer kept.
    lake.land(
        "products",
        "products_v3.json",
        r#"[{"id": "P2", "title": "Mug", "category": "kitchen", "price": 6.00, "updated_at": "2026-01-12T00:00:00Z"}]"#,
    )
    .await;
    let (engine, second) = lake.build("2026-01-12").await;
    assert_eq!(second.kept, ["dim_customer"]);
    assert_eq!(
        second.versions["dim_product"],
        first.versions["dim_product"] + 1
    );
    let p = rows(
        &engine,
        "SELECT price FROM dim_product WHERE product_id = 'P2' AND is_current",
    )
    .await;
    assert_eq!(floats(&p, "price"), [Some(6.0)]);
    // The kept dimension is still what the facts join: every sale has its customer version.
    let f = rows(
        &engine,
        "SELECT COUNT(*) AS n FROM fact_sales WHERE customer_sk IS NULL",
    )
    .await;
    assert_eq!(ints(&f, "n"), [0]);
}

#[test]
fn the_inputs_of_a_table_change_with_the_silver_version_and_with_the_sql() {
    let a = inputs_fingerprint("silver/products", Some(3), "SELECT 1");
    assert_eq!(
        a,
        inputs_fingerprint("silver/products", Some(3), "SELECT 1")
    );
    assert_ne!(
        a,
        inputs_fingerprint("silver/products", Some(4), "SELECT 1")
    );
    assert_ne!(
        a,
        inputs_fingerprint("silver/products", Some(3), "SELECT 2")
    );
    assert_ne!(
        a,
        inputs_fingerprint("silver/customers", Some(3), "SELECT 1")
    );
    assert_ne!(a, inputs_fingerprint("silver/products", None, "SELECT 1"));
}

#[tokio::test]
async fn late_rows_inside_the_lookback_are_picked_up_by_the_next_run() {
    let lake = changing_lake().await;
    lake.build("2026-01-12").await;
    // A row for 11 January arrives after that day's build; the run of the 13th picks it up.
    lake.land(
        "transactions",
        "late.csv",
        "transaction_id,customer_id,product_id,quantity,amount,transaction_date\nT9,C2,P2,1,5.00,2026-01-11T12:00:00Z\n",
    )
    .await;
    let (engine, built) = lake.build("2026-01-13").await;
    assert!(built.sale_days.contains(&day("2026-01-11")));
    let d = rows(
        &engine,
        "SELECT revenue FROM agg_daily_sales WHERE dt = DATE '2026-01-11'",
    )
    .await;
    assert_eq!(floats(&d, "revenue"), [Some(5.0)]);
    // 5 January is outside the window and already built: it is not rebuilt.
    assert!(!built.sale_days.contains(&day("2026-01-05")));
}

#[tokio::test]
async fn duplicates_across_files_count_once_and_refunds_are_not_sales() {
    let lake = changing_lake().await;
    lake.land(
        "transactions",
        "again.csv",
        "transaction_id,customer_id,product_id,quantity,amount,status,transaction_date\nT3,C2,P2,3,15.00,completed,2026-01-12T18:45:00Z\nT4,C2,P2,1,5.00,refunded,2026-01-12T19:00:00Z\n",
    )
    .await;
    let (engine, _) = lake.build("2026-01-12").await;
    let f = rows(
        &engine,
        "SELECT transaction_id, status FROM fact_sales WHERE dt = DATE '2026-01-12' ORDER BY transaction_id",
    )
    .await;
    assert_eq!(
        text(&f, "transaction_id"),
        [Some("T2".into()), Some("T3".into())]
    );
    // The latest ingestion of T3 wins.
    assert_eq!(text(&f, "status")[1].as_deref(), Some("completed"));
}

#[test]
fn dim_date_numbers_weekdays_from_monday() {
    let b = dim_date(day("2026-01-03"), day("2026-01-05")).unwrap();
    assert_eq!(ints(&b, "iso_weekday"), [6, 7, 1]);
    assert_eq!(
        text(&b, "is_weekend"),
        [
            Some("true".into()),
            Some("true".into()),
            Some("false".into())
        ]
    );
    assert_eq!(ints(&b, "date_key"), [20260103, 20260104, 20260105]);
}

/// The built-in transactions contract as a user edits it for an export of order lines: a
/// composite key, the export's column names as aliases, a new `pii` column with a mask and one
/// without. No code changes.
fn order_lines_contract() -> String {
    let builtin = include_str!("../../contracts/transactions.toml");
    let edited = builtin
        .replace(
            "primary_key = [\"transaction_id\"]",
            "primary_key = [\"transaction_id\", \"line_number\"]",
        )
        .replace(
            "[[columns]]\nname = \"customer_id\"",
            "[[columns]]\nname = \"line_number\"\ntype = \"integer\"\nrequired = true\naliases = [\"order_item_id\"]\n\n[[columns]]\nname = \"buyer_email\"\ntype = \"string\"\nclassification = \"pii\"\nmask = \"email\"\n\n[[columns]]\nname = \"buyer_phone\"\ntype = \"string\"\nclassification = \"pii\"\n\n[[columns]]\nname = \"customer_id\"",
        );
    assert_ne!(edited, builtin);
    edited
}

/// Three orders: O1 with two lines, O2 with three lines of which one is cancelled (US spelling),
/// O3 cancelled in capitals. Line 2 of O1 is sent again, corrected, in a later file.
const ORDER_LINES: &str = "order_id,order_item_id,customer_id,product_id,quantity,unit_price,status,transaction_date,buyer_email,buyer_phone
O1,1,C1,P1,1,10.00,delivered,2026-01-12T10:00:00Z,ada@example.com,+34 600 111 222
O1,2,C1,P2,2,5.00,delivered,2026-01-12T10:00:00Z,ada@example.com,+34 600 111 222
O2,1,C2,P1,1,10.00,shipped,2026-01-12T11:00:00Z,bob@example.org,+39 300 333 444
O2,2,C2,P2,1,5.00,canceled,2026-01-12T11:00:00Z,bob@example.org,+39 300 333 444
O2,3,C2,P2,3,5.00,Returned,2026-01-12T11:00:00Z,bob@example.org,+39 300 333 444
O3,1,C1,P1,4,10.00,CANCELLED,2026-01-12T12:00:00Z,ada@example.com,+34 600 111 222
";

const ORDER_LINES_CORRECTION: &str = "order_id,order_item_id,customer_id,product_id,quantity,unit_price,status,transaction_date,buyer_email,buyer_phone
O1,2,C1,P2,3,5.00,delivered,2026-01-12T10:00:00Z,ada@example.com,+34 600 111 222
";

async fn order_lines_lake() -> Lake {
    let lake = Lake::with_user_contracts(&[&order_lines_contract()]);
    lake.land("products", "products_v1.json", PRODUCTS_V1).await;
    lake.land("customers", "customers_v1.csv", CUSTOMERS_V1)
        .await;
    lake.land("transactions", "orders.csv", ORDER_LINES).await;
    lake.land("transactions", "orders_fix.csv", ORDER_LINES_CORRECTION)
        .await;
    lake
}

#[tokio::test]
async fn every_line_of_an_order_is_a_fact_on_a_composite_key() {
    let lake = order_lines_lake().await;
    let (engine, _) = lake.build("2026-01-12").await;
    let f = rows(
        &engine,
        "SELECT transaction_id, line_number, order_key, quantity, revenue FROM fact_sales
         ORDER BY transaction_id, line_number",
    )
    .await;
    // O1's two lines (line 2 as corrected later), O2's one line that still counts.
    assert_eq!(
        text(&f, "transaction_id"),
        [Some("O1".into()), Some("O1".into()), Some("O2".into())]
    );
    assert_eq!(ints(&f, "line_number"), [1, 2, 1]);
    assert_eq!(ints(&f, "quantity"), [1, 3, 1]);
    assert_eq!(floats(&f, "revenue"), [Some(10.0), Some(15.0), Some(10.0)]);
}

#[tokio::test]
async fn orders_count_once_and_every_spelling_of_cancelled_is_left_out() {
    let lake = order_lines_lake().await;
    let (engine, _) = lake.build("2026-01-12").await;
    let d = rows(
        &engine,
        "SELECT revenue, transactions, sale_lines, average_order_value FROM agg_daily_sales",
    )
    .await;
    assert_eq!(floats(&d, "revenue"), [Some(35.0)]);
    assert_eq!(ints(&d, "transactions"), [2]);
    assert_eq!(ints(&d, "sale_lines"), [3]);
    assert_eq!(floats(&d, "average_order_value"), [Some(17.5)]);
    let ltv = rows(
        &engine,
        "SELECT customer_id, orders, revenue FROM customer_ltv ORDER BY customer_id",
    )
    .await;
    assert_eq!(ints(&ltv, "orders"), [1, 1]);
    assert_eq!(floats(&ltv, "revenue"), [Some(25.0), Some(10.0)]);
}

#[tokio::test]
async fn a_pii_column_a_user_adds_is_masked_or_omitted_as_its_contract_says() {
    let lake = order_lines_lake().await;
    let (engine, _) = lake.build("2026-01-12").await;
    let f = rows(
        &engine,
        "SELECT * FROM fact_sales ORDER BY transaction_id, line_number",
    )
    .await;
    assert!(f.column_by_name("buyer_email").is_none());
    assert!(f.column_by_name("buyer_phone").is_none());
    assert_eq!(
        text(&f, "buyer_email_masked")[2].as_deref(),
        Some("b***@example.org")
    );
    for (key, body) in snapshot(lake.store.as_ref()).await {
        if key.starts_with("gold/") {
            let hay = String::from_utf8_lossy(&body);
            for clear in [
                "ada@example.com",
                "bob@example.org",
                "600 111 222",
                "300 333 444",
            ] {
                assert!(!hay.contains(clear), "{key} holds {clear:?} in clear");
            }
        }
    }
}

#[tokio::test]
async fn customer_names_become_initials_per_the_contract_mask() {
    let lake = Lake::new();
    lake.land(
        "customers",
        "customers.csv",
        "customer_id,name,email,phone,country\nC1,Ana María López,ana@example.com,+34 600,Spain\nC2,,x@example.com,,Italy\n",
    )
    .await;
    lake.land("transactions", "sales.csv", SALES).await;
    let (engine, _) = lake.build("2026-01-12").await;
    let d = rows(&engine, "SELECT * FROM dim_customer ORDER BY customer_id").await;
    assert_eq!(text(&d, "name_initials"), [Some("AML".into()), None]);
    assert!(d.column_by_name("name").is_none());
    assert!(d.column_by_name("phone").is_none());
    assert!(d.column_by_name("phone_masked").is_none());
    let ltv = rows(&engine, "SELECT * FROM customer_ltv ORDER BY customer_id").await;
    assert_eq!(
        text(&ltv, "email_masked"),
        [
            Some("a***@example.com".into()),
            Some("x***@example.com".into())
        ]
    );
}

/// A transactions contract that keeps every version of a sale (an export that re-sends each
/// order as its status changes): silver holds both versions of T3, and gold's facts hold the
/// latest ingestion only, so the table's rows are never summed twice.
#[tokio::test]
async fn a_sales_contract_that_keeps_versions_counts_the_latest_version_of_each_key_once() {
    let builtin = include_str!("../../contracts/transactions.toml");
    let versioned = builtin.replacen(
        "primary_key = [\"transaction_id\"]",
        "primary_key = [\"transaction_id\"]\nkeep_versions = true",
        1,
    );
    assert_ne!(versioned, builtin);
    let lake = Lake::with_user_contracts(&[&versioned]);
    lake.land("products", "products_v1.json", PRODUCTS_V1).await;
    lake.land("customers", "customers_v1.csv", CUSTOMERS_V1)
        .await;
    lake.land(
        "transactions",
        "first.csv",
        "transaction_id,customer_id,product_id,quantity,amount,status,transaction_date\nT3,C2,P2,3,15.00,pending,2026-01-12T18:45:00Z\nT5,C1,P1,1,10.00,completed,2026-01-12T19:00:00Z\n",
    )
    .await;
    lake.land(
        "transactions",
        "second.csv",
        "transaction_id,customer_id,product_id,quantity,amount,status,transaction_date\nT3,C2,P2,4,20.00,completed,2026-01-12T18:45:00Z\n",
    )
    .await;
    let (engine, _) = lake.build("2026-01-12").await;
    let silver = rows(
        &engine,
        "SELECT COUNT(*) AS n FROM transactions WHERE transaction_id = 'T3'",
    )
    .await;
    assert_eq!(ints(&silver, "n"), [2], "silver keeps both versions");
    let f = rows(
        &engine,
        "SELECT transaction_id, quantity, status FROM fact_sales ORDER BY transaction_id",
    )
    .await;
    assert_eq!(
        text(&f, "transaction_id"),
        [Some("T3".into()), Some("T5".into())]
    );
    assert_eq!(ints(&f, "quantity"), [4, 1]);
    let d = rows(&engine, "SELECT revenue, sale_lines FROM agg_daily_sales").await;
    assert_eq!(floats(&d, "revenue"), [Some(30.0)]);
    assert_eq!(ints(&d, "sale_lines"), [2]);
}
