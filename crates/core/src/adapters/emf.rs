//! CloudWatch Embedded Metric Format: metrics as one JSON log line each, which CloudWatch Logs
//! turns into metrics without any API call (the Lambda functions write them to stdout).
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::ports::{MetricSet, Metrics};

/// Renders one metric set as an EMF line (without the trailing newline).
pub fn emf_line(namespace: &str, set: &MetricSet, timestamp_millis: i64) -> String {
    let mut root = Map::new();
    let dimension_names: Vec<Value> = set
        .dimensions
        .iter()
        .map(|(k, _)| Value::String(k.clone()))
        .collect();
    let metrics: Vec<Value> = set
        .values
        .iter()
        .map(|(name, _, unit)| json!({ "Name": name, "Unit": format!("{unit:?}") }))
        .collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimension_names],
                "Metrics": metrics,
            }]
        }),
    );
    for (k, v) in &set.dimensions {
        root.insert(k.clone(), Value::String(v.clone()));
    }
    for (name, value, _) in &set.values {
        root.insert(name.clone(), json!(value));
    }
    Value::Object(root).to_string()
}

/// Writes EMF lines to a writer (stdout in Lambda).
pub struct EmfMetrics {
    namespace: String,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfMetrics")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl EmfMetrics {
    /// EMF lines under `namespace`, written to `out`.
    pub fn new(namespace: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        Self {
            namespace: namespace.into(),
            out: Mutex::new(out),
        }
    }

    /// EMF lines to standard output.
    pub fn stdout(namespace: impl Into<String>) -> Self {
        Self::new(namespace, Box::new(std::io::stdout()))
    }
}

impl Metrics for EmfMetrics {
    fn emit(&self, set: &MetricSet) {
        let line = emf_line(&self.namespace, set, chrono::Utc::now().timestamp_millis());
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "could not write an EMF metric line");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Unit;

    #[test]
    fn renders_the_emf_envelope_with_dimensions_and_values() {
        let set = MetricSet {
            dimensions: vec![("Dataset".into(), "transactions".into())],
            values: vec![
                ("RowsIn".into(), 10.0, Unit::Count),
                ("DurationMs".into(), 5.5, Unit::Milliseconds),
            ],
        };
        let line = emf_line("ShopFlow", &set, 1_700_000_000_000);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "ShopFlow");
        assert_eq!(cw["Dimensions"][0][0], "Dataset");
        assert_eq!(cw["Metrics"][0]["Name"], "RowsIn");
        assert_eq!(cw["Metrics"][1]["Unit"], "Milliseconds");
        assert_eq!(v["Dataset"], "transactions");
        assert_eq!(v["RowsIn"], 10.0);
    }
}
