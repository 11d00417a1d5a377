//! Schema drift between a source's files: additive changes are accepted and reported,
//! incompatible ones quarantine the file once with a reason, nothing is silently coerced.

use crate::support::{memory_ingestor, processed, table_rows};
use shopflow_core::ingest::ManifestStatus;
use shopflow_core::ports::ObjectStore;

const BASE: &str = "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n\
T1,C1,P1,2,2.50,2026-11-20T10:00:00Z\nT2,C2,P2,1,4.00,2026-11-20T11:00:00Z\n";

#[tokio::test]
async fn additive_drift_is_accepted_and_reported_and_incompatible_drift_quarantines_once() {
    let (store, _, ingestor) = memory_ingestor();
    let files = [
        ("base.csv", BASE.to_string()),
        (
            "added.csv",
            "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date,coupon_code\n\
             T3,C1,P1,2,2.50,2026-11-20T10:00:00Z,XMAS\n"
                .to_string(),
        ),
        (
            "dropped_optional.csv",
            "transaction_id,customer_id,product_id,quantity,transaction_date\n\
             T4,C1,P1,2,2026-11-20T10:00:00Z\n"
                .to_string(),
        ),
        (
            "reordered.csv",
            "transaction_date,quantity,unit_price,product_id,customer_id,transaction_id\n\
             2026-11-20T12:00:00Z,5,1.00,P1,C1,T5\n"
                .to_string(),
        ),
        (
            "dropped_required.csv",
            "transaction_id,customer_id,quantity,unit_price,transaction_date\n\
             T6,C1,2,2.50,2026-11-20T10:00:00Z\n"
                .to_string(),
        ),
        (
            "changed_type.csv",
            "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n\
             T7,C1,P1,two,2.50,2026-11-20T10:00:00Z\nT8,C1,P1,three,2.50,2026-11-20T10:00:00Z\n"
                .to_string(),
        ),
    ];
    let mut manifests = std::collections::BTreeMap::new();
    for (name, body) in &files {
        let key = format!("landing/transactions/{name}");
        store.put(&key, body.clone().into_bytes()).await.unwrap();
        let m = processed(ingestor.ingest_object(&key, "drift").await.unwrap());
        assert!(m.reconciles(), "{name}");
        manifests.insert(*name, m);
    }
    let added = &manifests["added.csv"];
    assert_eq!(added.status, ManifestStatus::Processed);
    assert!(
        added.schema.unknown_fields.contains("coupon_code"),
        "reported"
    );
    let dropped = &manifests["dropped_optional.csv"];
    assert_eq!(dropped.rows_silver, 1);
    assert!(dropped.schema.missing_optional.contains("unit_price"));
    assert_eq!(manifests["reordered.csv"].rows_silver, 1);

    let required = &manifests["dropped_required.csv"];
    assert_eq!(required.status, ManifestStatus::FileQuarantined);
    let reason = required.file_quarantine_reason.as_deref().unwrap();
    assert!(reason.contains("product_id"), "{reason}");
    let typed = &manifests["changed_type.csv"];
    assert_eq!(
        typed.status,
        ManifestStatus::FileQuarantined,
        "no row coerced into silver"
    );
    assert_eq!(
        typed
            .rejected_by_rule
            .get("transactions.file.max_reject_share")
            .copied(),
        Some(2),
        "{:?}",
        typed.rejected_by_rule
    );
    let why = typed.file_quarantine_reason.as_deref().unwrap();
    assert!(why.contains("transactions.quantity.type (2)"), "{why}");
    // One reason document per incompatible file: one alert each, not one per row.
    let reasons: Vec<_> = store
        .list("quarantine/transactions/_files/")
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.key.ends_with("reason.json"))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");

    // Silver holds the compatible files' rows only, each value as written.
    let rows: usize = table_rows(store.clone(), "silver/transactions", None)
        .await
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 2 + 1 + 1 + 1);
    let t7 = table_rows(
        store.clone(),
        "silver/transactions",
        Some("transaction_id IN ('T6', 'T7', 'T8')"),
    )
    .await;
    assert_eq!(t7.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
}
