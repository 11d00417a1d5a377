//! `shopflow run`: the daily workflow runs the states of `statemachine/pipeline.asl.json` in
//! the order the definition gives them, and a changed definition changes the run.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::{manifests, ok, shopflow, workspace_root};

const DAY: &str = "2026-11-20";

/// A lake whose `landing/` holds a generated data set that landed on [`DAY`] and is not
/// processed yet; returns the lake and how many files landed.
fn pending_lake(dir: &Path) -> (PathBuf, usize) {
    let generated = dir.join("generated");
    let lake = dir.join("lake");
    ok(&[
        "generate",
        "--out",
        generated.to_str().unwrap(),
        "--end-date",
        DAY,
        "--days",
        "30",
        "--customers",
        "150",
        "--products",
        "60",
        "--transactions",
        "800",
        "--seed",
        "11",
    ]);
    // Noon UTC on DAY.
    let landed_at = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp() as u64,
        );
    let mut landed = 0;
    for entry in std::fs::read_dir(&generated).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let dataset = ["transactions", "products", "customers", "clickstream"]
            .into_iter()
            .find(|d| name.starts_with(d));
        let Some(dataset) = dataset else { continue };
        let dest = lake.join("landing").join(dataset).join(&name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&path, &dest).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&dest)
            .unwrap()
            .set_modified(landed_at)
            .unwrap();
        landed += 1;
    }
    assert!(landed >= 4, "the generator writes every dataset");
    (lake, landed)
}

/// The numbered state lines of `shopflow run`'s output, in order.
fn visited(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.next()?.parse::<usize>().ok()?;
            words.next().map(str::to_string)
        })
        .collect()
}

/// The states of a definition in the order a run that meets no error and no tripped Choice
/// visits them: from `StartAt`, following `Next` and each Choice's `Default`. Read here from the
/// JSON, independently of the interpreter.
fn main_path(definition: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = definition["StartAt"].as_str().map(str::to_string);
    while let Some(name) = current {
        let state = &definition["States"][&name];
        current = state["Next"]
            .as_str()
            .or(state["Default"].as_str())
            .map(str::to_string);
        out.push(name);
    }
    out
}

fn definition() -> Value {
    serde_json::from_slice(
        &std::fs::read(workspace_root().join("statemachine/pipeline.asl.json")).unwrap(),
    )
    .unwrap()
}

fn run(lake: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--lake", lake.to_str().unwrap(), "--date", DAY];
    args.extend_from_slice(extra);
    shopflow(&args)
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The notifications written into the lake, as `(kind, subject, body)`.
fn notifications(lake: &Path) -> Vec<(String, String, String)> {
    let dir = lake.join("_notifications");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let n: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let s = |k: &str| n[k].as_str().unwrap().to_string();
            (s("kind"), s("subject"), s("body"))
        })
        .collect()
}

fn report_dir(lake: &Path) -> PathBuf {
    lake.join(format!("reports/daily/date={DAY}"))
}

#[test]
fn run_executes_the_states_in_the_order_the_definition_gives_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, landed) = pending_lake(dir.path());
    let out = run(&lake, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected = main_path(&definition());
    assert_eq!(
        expected,
        [
            "SetDefaults",
            "ApplyDefaults",
            "ListPending",
            "TransformAll",
            "Summarize",
            "QualityGate",
            "Report",
            "Maintain",
            "NotifySuccess",
            "Done"
        ]
    );
    assert_eq!(visited(&stdout), expected, "{stdout}");
    assert!(
        stdout.contains(&format!("{landed} item(s): {landed} succeeded, 0 failed")),
        "{stdout}"
    );
    assert!(stdout.contains("outcome: succeeded"), "{stdout}");

    // Every landed file was transformed, and the report of the day exists.
    assert_eq!(manifests(&lake).len(), landed);
    for file in ["report.json", "report.html"] {
        assert!(report_dir(&lake).join(file).is_file(), "{file}\n{stdout}");
    }
    // The report generator's own summary (and its alerts, if any), as the deployed function
    // publishes them, then the state machine's message last.
    let sent = notifications(&lake);
    assert!(
        sent.iter().any(|(kind, subject, body)| kind == "summary"
            && subject.starts_with(&format!("ShopFlow daily report {DAY}"))
            && body.contains(&lake.join("reports/daily").display().to_string())),
        "{sent:?}"
    );
    let (kind, subject, body) = sent.last().unwrap();
    assert_eq!(kind, "summary");
    assert!(subject.contains("succeeded"), "{subject}");
    assert!(
        body.contains(DAY) && body.contains(&format!("{landed} pending file(s) transformed")),
        "{body}"
    );

    // Again: nothing is pending any more, the same states run, nothing is transformed twice.
    let again = run(&lake, &[]);
    assert!(again.status.success(), "{}", text(&again));
    let stdout = String::from_utf8(again.stdout).unwrap();
    assert_eq!(visited(&stdout), expected, "{stdout}");
    assert!(stdout.contains("0 item(s)"), "{stdout}");
    assert_eq!(manifests(&lake).len(), landed);
}

#[test]
fn swapping_two_steps_of_the_definition_swaps_them_in_the_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, landed) = pending_lake(dir.path());
    // Summarize before TransformAll.
    let mut def = definition();
    def["States"]["ListPending"]["Next"] = json!("Summarize");
    def["States"]["Summarize"]["Next"] = json!("TransformAll");
    def["States"]["TransformAll"]["Next"] = json!("QualityGate");
    let path = dir.path().join("swapped.asl.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&def).unwrap()).unwrap();

    let out = run(&lake, &["--definition", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got = visited(&stdout);
    assert_eq!(got, main_path(&def), "{stdout}");
    assert_ne!(got, main_path(&definition()));
    let at = |name: &str| got.iter().position(|s| s == name).unwrap();
    assert!(at("Summarize") < at("TransformAll"), "{got:?}");
    // The summary was taken before anything was transformed.
    assert!(
        stdout.contains(&format!(
            "{landed} file(s) landed, {landed} still pending, 0 rows read"
        )),
        "{stdout}"
    );
    assert!(report_dir(&lake).join("report.html").is_file());
}

#[test]
fn removing_the_report_step_from_the_definition_removes_it_from_the_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, landed) = pending_lake(dir.path());
    let mut def = definition();
    let states = def["States"].as_object_mut().unwrap();
    // The report, and the table maintenance that follows it.
    states.remove("Report").unwrap();
    states.remove("Maintain").unwrap();
    states["QualityGate"]["Default"] = json!("NotifySuccess");
    // The success message no longer has a report to name.
    let notify = states["NotifySuccess"]["Parameters"]
        .as_object_mut()
        .unwrap();
    notify.remove("Message.$").unwrap();
    notify.insert(
        "Message".into(),
        json!("The daily pipeline ran without a report."),
    );
    let path = dir.path().join("no-report.asl.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&def).unwrap()).unwrap();

    let out = run(&lake, &["--definition", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got = visited(&stdout);
    assert_eq!(got, main_path(&def), "{stdout}");
    assert!(!got.iter().any(|s| s == "Report"), "{got:?}");
    assert_eq!(got.len() + 2, main_path(&definition()).len());
    // The files were still transformed, but no report was built.
    assert_eq!(manifests(&lake).len(), landed);
    assert!(!report_dir(&lake).exists(), "{stdout}");
    assert!(!lake.join("gold").exists());
}

#[test]
fn a_tripped_quality_gate_takes_the_failure_path_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, landed) = pending_lake(dir.path());
    let out = run(&lake, &["--max-rejected-pct", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let got = visited(&stdout);
    assert_eq!(
        got,
        [
            "SetDefaults",
            "ApplyDefaults",
            "ListPending",
            "TransformAll",
            "Summarize",
            "QualityGate",
            "NotifyQualityFailure",
            "QualityGateFailed"
        ],
        "{stdout}"
    );
    // One line says why (log lines, if any, are warnings).
    let stderr = String::from_utf8(out.stderr).unwrap();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with("error: the workflow ended in QualityGateFailed"),
        "{stderr}"
    );
    // The data was transformed and the quarantine holds the rejected rows; no report.
    assert_eq!(manifests(&lake).len(), landed);
    assert!(lake.join("quarantine").is_dir());
    assert!(!report_dir(&lake).exists());
    let sent = notifications(&lake);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (kind, subject, body) = &sent[0];
    assert_eq!(kind, "alert");
    assert!(subject.contains("quality gate"), "{subject}");
    assert!(body.contains("(threshold 0"), "{body}");
}

#[test]
fn a_failing_step_is_caught_and_notified_with_its_error_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, _) = pending_lake(dir.path());
    // A definition whose report step asks for a date that is not one.
    let mut def = definition();
    def["States"]["Report"]["Parameters"]["Payload"] = json!({ "date": "yesterday-ish" });
    let path = dir.path().join("bad-report.asl.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&def).unwrap()).unwrap();
    let out = run(&lake, &["--definition", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got = visited(&stdout);
    assert_eq!(
        got[got.len() - 3..],
        ["Report", "NotifyFailure", "PipelineFailed"],
        "{stdout}"
    );
    // Invalid input is not retried.
    let report_line = stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("Report"))
        .unwrap();
    assert!(
        report_line.contains("caught ShopFlow.InvalidInput"),
        "{report_line}"
    );
    assert!(!report_line.contains("attempts"), "{report_line}");
    let sent = notifications(&lake);
    let (kind, _, body) = sent.last().unwrap();
    assert_eq!(kind, "alert");
    assert!(
        body.contains("Error: ShopFlow.InvalidInput") && body.contains("yesterday-ish"),
        "{body}"
    );
}

#[test]
fn a_definition_naming_a_missing_state_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut def = definition();
    def["States"]["Summarize"]["Next"] = json!("QualityGat");
    let path = dir.path().join("typo.asl.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&def).unwrap()).unwrap();
    let lake = dir.path().join("lake");
    let out = run(&lake, &["--definition", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("QualityGat"), "{stderr}");
    assert!(out.stdout.is_empty());
}
