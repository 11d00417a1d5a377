//! The local lake: a directory with the filesystem store and ledger, and the commands' work.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};

use shopflow_core::adapters::local::{FsLedger, FsObjectStore, LogMetrics};
use shopflow_core::contract::ContractSet;
use shopflow_core::generate::{self, GenerateConfig, GenerationReport};
use shopflow_core::ingest::{IngestOutcome, Ingestor, new_run_id};
use shopflow_core::layer::keys;
use shopflow_core::ports::ObjectStore;
use shopflow_core::report::{self, ReportOptions, ReportOutput};
use shopflow_core::tables::{self, DeltaLake, MaintainReport};
use shopflow_core::transform;
use shopflow_core::validate::ReferenceSets;

use crate::summary;
use crate::{Limits, SizeArgs};

/// A lake directory opened with local adapters.
pub struct Lake {
    root: PathBuf,
    store: Arc<FsObjectStore>,
    tables: DeltaLake,
    ingestor: Ingestor,
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<40} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

impl Lake {
    /// Opens (creating) the lake at `root`.
    pub fn open(root: &Path, contracts: ContractSet, limits: &Limits) -> anyhow::Result<Self> {
        let store = Arc::new(
            FsObjectStore::new(root)
                .with_context(|| format!("opening the lake at {}", root.display()))?,
        );
        let ledger = Arc::new(
            FsLedger::new(root.join("_state").join("ledger")).context("opening the ledger")?,
        );
        let work = root.join(".tmp");
        let tables = DeltaLake::with_options(store.clone(), limits.table_options());
        let ingestor = Ingestor::new(
            store.clone(),
            Arc::new(tables.clone()),
            ledger,
            Arc::new(LogMetrics),
            Arc::new(contracts),
            limits.ingest_options(work),
        );
        Ok(Self {
            root: root.to_path_buf(),
            store,
            tables,
            ingestor,
        })
    }

    /// The file behind a key.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The contracts in force (built-in, plus `--contracts`).
    pub fn contracts(&self) -> &ContractSet {
        self.ingestor.contracts()
    }

    /// The lake directory as an object store: a key is a path under the lake's root.
    pub fn store(&self) -> &FsObjectStore {
        &self.store
    }

    /// The lake's silver, quarantine and gold tables, on the same store, with the table
    /// options of the command's limits.
    pub fn tables(&self) -> &DeltaLake {
        &self.tables
    }

    /// Copies files into landing/ (unless an identical object is there) and returns their keys,
    /// in the order datasets must be processed.
    async fn land(&self, paths: &[PathBuf], dataset: Option<&str>) -> anyhow::Result<Vec<String>> {
        let contracts = self.ingestor.contracts();
        if let Some(d) = dataset {
            contracts.get(d)?;
        }
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                    .with_context(|| format!("reading {}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_file()
                            && !p
                                .file_name()
                                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    })
                    .collect();
                entries.sort();
                files.extend(entries);
            } else if p.is_file() {
                files.push(p.clone());
            } else {
                bail!("{} does not exist", p.display());
            }
        }
        // Where each file lands. Two different files landing under one key would overwrite
        // each other before either is processed (two folders' `orders.csv`, or `a b.csv` and
        // `a_b.csv`): that is refused before anything is copied.
        let mut planned: BTreeMap<String, (String, PathBuf, String)> = BTreeMap::new();
        let mut collisions: Vec<String> = Vec::new();
        let mut order_of_keys = Vec::new();
        let mut skipped = Vec::new();
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().replace(' ', "_"))
                .context("a file without a name")?;
            let ds = match dataset {
                Some(d) => d.to_string(),
                None => match contracts.dataset_for_file(&name) {
                    Some(d) => d.to_string(),
                    None => {
                        skipped.push(name);
                        continue;
                    }
                },
            };
            let key = keys::landing(&ds, &name);
            let etag = FsObjectStore::file_etag(&f)?;
            match planned.get(&key) {
                Some((_, first, first_etag)) if *first_etag != etag => collisions.push(format!(
                    "{} and {} both land as {key}",
                    first.display(),
                    f.display()
                )),
                Some(_) => {} // the same bytes twice: landed once
                None => {
                    order_of_keys.push(key.clone());
                    planned.insert(key, (ds, f, etag));
                }
            }
        }
        if !collisions.is_empty() {
            bail!(
                "{} file name collision(s), nothing was copied: {}. A landing key is one object (a later file under the same name replaces the earlier one's rows), so rename one of each pair, or ingest them in separate runs if the later one is meant to replace the earlier",
                collisions.len(),
                collisions.join("; ")
            );
        }
        let mut landed: Vec<(String, String)> = Vec::new();
        for key in order_of_keys {
            let Some((ds, f, etag)) = planned.remove(&key) else {
                continue;
            };
            let same = match self.store.head(&key).await? {
                Some(existing) => existing.etag.as_deref() == Some(etag.as_str()),
                None => false,
            };
            if !same {
                self.store
                    .upload(&key, &f)
                    .await
                    .with_context(|| format!("copying {} into the lake", f.display()))?;
            }
            landed.push((ds, key));
        }
        if !skipped.is_empty() {
            eprintln!(
                "warning: skipped {} file(s) whose name matches no dataset ({}); name them after a dataset or pass --dataset",
                skipped.len(),
                skipped.join(", ")
            );
        }
        if landed.is_empty() {
            bail!("nothing to ingest: no file matches a dataset");
        }
        let order = contracts.dependency_order();
        landed.sort_by_key(|(ds, key)| {
            (
                order.iter().position(|o| o == ds).unwrap_or(usize::MAX),
                key.clone(),
            )
        });
        Ok(landed.into_iter().map(|(_, k)| k).collect())
    }

    /// Lands and processes files.
    pub async fn ingest_paths(
        &self,
        paths: &[PathBuf],
        dataset: Option<&str>,
    ) -> anyhow::Result<Vec<IngestOutcome>> {
        let keys = self.land(paths, dataset).await?;
        self.process(&keys).await
    }

    /// Processes landing keys in order.
    pub async fn process(&self, keys: &[String]) -> anyhow::Result<Vec<IngestOutcome>> {
        self.run(keys, false).await
    }

    async fn run(&self, keys: &[String], replay: bool) -> anyhow::Result<Vec<IngestOutcome>> {
        let run_id = new_run_id();
        let bar = progress(keys.len() as u64, "ingesting");
        let mut out = Vec::new();
        for key in keys {
            bar.set_message(key.clone());
            // A file replaced while it was being claimed is taken again, as its new version.
            let mut attempt = 0;
            let outcome = loop {
                attempt += 1;
                let outcome = if replay {
                    self.ingestor.replay_object(key, &run_id).await
                } else {
                    self.ingestor.ingest_object(key, &run_id).await
                };
                match outcome {
                    Err(e @ shopflow_core::ingest::IngestError::Changed { .. }) if attempt < 3 => {
                        eprintln!("warning: {e}; trying again");
                    }
                    other => break other,
                }
            }
            .with_context(|| format!("ingesting {key}"))?;
            out.push(outcome);
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(out)
    }

    /// Processes keys again whatever the ledger says, keeping their first ingest date.
    pub async fn replay(&self, keys: &[String]) -> anyhow::Result<Vec<IngestOutcome>> {
        self.run(keys, true).await
    }

    /// Compacts and vacuums the lake's tables (every table, or one dataset's silver and
    /// quarantine tables), emitting each table's figures as metrics.
    pub async fn maintain(
        &self,
        dataset: Option<&str>,
        retention: chrono::Duration,
    ) -> anyhow::Result<Vec<MaintainReport>> {
        let tables = match dataset {
            Some(d) => {
                self.contracts().get(d)?;
                Some(vec![tables::silver_table(d), tables::quarantine_table(d)])
            }
            None => None,
        };
        self.tables
            .maintain_all(tables, retention, &LogMetrics)
            .await
            .context("maintaining the lake's tables")
    }

    /// Builds gold and the report for `date` (default: the latest day silver has sales
    /// for), written as JSON, CSV and HTML under `reports/daily/date=D/`.
    pub async fn report(
        &self,
        date: Option<chrono::NaiveDate>,
        options: &ReportOptions,
    ) -> anyhow::Result<ReportOutput> {
        Ok(report::build_daily(&self.tables, date, self.ingestor.contracts(), options).await?)
    }

    /// The gold build [`Lake::report`] would run for `date` (default: the latest day with
    /// sales), built nothing.
    pub async fn gold_plan(
        &self,
        date: Option<chrono::NaiveDate>,
        options: &ReportOptions,
    ) -> anyhow::Result<shopflow_core::gold::GoldPlan> {
        let date = match date {
            Some(d) => d,
            None => shopflow_core::gold::latest_sale_day(&self.tables)
                .await?
                .ok_or(report::ReportError::NoSales)?,
        };
        Ok(
            shopflow_core::gold::plan(&self.tables, self.ingestor.contracts(), date, options.gold)
                .await?,
        )
    }
}

fn config(sizes: &SizeArgs) -> GenerateConfig {
    let end = sizes.end_date.unwrap_or_else(|| Utc::now().date_naive());
    GenerateConfig {
        customers: sizes.customers,
        products: sizes.products,
        transactions: sizes.transactions,
        seed: sizes.seed,
        defect_rate: sizes.defect_rate,
        days: sizes.days,
        ..GenerateConfig::new(end)
    }
}

/// `shopflow generate`: writes the landing files of `sizes` into `out`, with a spinner
/// while it runs.
pub fn generate(out: &Path, sizes: &SizeArgs) -> anyhow::Result<GenerationReport> {
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("generating {} transactions", sizes.transactions));
    bar.enable_steady_tick(Duration::from_millis(120));
    let report = generate::generate(&config(sizes), out)
        .with_context(|| format!("generating data into {}", out.display()));
    bar.finish_and_clear();
    report
}

/// `shopflow demo`: generates data into a scratch directory, ingests it into the lake at
/// `root`, builds gold and the report for the latest day with sales, and prints a summary.
pub async fn demo(
    root: &Path,
    contracts: ContractSet,
    sizes: &SizeArgs,
    limits: &Limits,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let lake = Lake::open(root, contracts, limits)?;
    let input = tempfile::tempdir().context("creating a scratch directory")?;
    let generation = generate(input.path(), sizes)?;
    let report_path = input.path().join(generate::REPORT_FILE);
    let body = std::fs::read(&report_path)
        .with_context(|| format!("reading {}", report_path.display()))?;
    lake.store()
        .put("_demo/generation_report.json", body)
        .await?;
    std::fs::remove_file(&report_path)
        .with_context(|| format!("removing {}", report_path.display()))?;
    let outcomes = lake
        .ingest_paths(&[input.path().to_path_buf()], None)
        .await?;
    let built = lake.report(None, &ReportOptions::default()).await?;
    let layers = layer_counts(lake.store()).await?;
    summary::print_demo(&generation, &outcomes, &layers, &built.report);
    println!();
    println!("lake:      {}", root.display());
    println!("report:    {}", lake.path_of(&built.report_key).display());
    println!("dashboard: {}", lake.path_of(&built.html_key).display());
    println!("done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Objects and bytes per top-level layer.
pub async fn layer_counts(store: &FsObjectStore) -> anyhow::Result<BTreeMap<String, (u64, u64)>> {
    let mut out = BTreeMap::new();
    for layer in [
        "landing",
        "bronze",
        "silver",
        "quarantine",
        "gold",
        "reports",
        "manifests",
    ] {
        let objects = store.list(&format!("{layer}/")).await?;
        out.insert(
            layer.to_string(),
            (objects.len() as u64, objects.iter().map(|o| o.size).sum()),
        );
    }
    Ok(out)
}

/// `shopflow validate`: checks `file` against `dataset`'s contract, with the lake's
/// silver values for reference rules when `lake` is given. With `strict`, a rejected row,
/// an unreadable file or a whole-file verdict makes the exit status 1.
pub async fn validate(
    contracts: &ContractSet,
    dataset: &str,
    lake: Option<&Path>,
    file: &Path,
    json: bool,
    strict: bool,
    limits: &Limits,
) -> anyhow::Result<ExitCode> {
    let contract = contracts.get(dataset)?;
    let references = match lake {
        Some(root) => {
            let lake = Lake::open(root, contracts.clone(), limits)?;
            lake.ingestor.load_references(contract).await?
        }
        None => ReferenceSets::default(),
    };
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = transform::check_file(input, &name, contract, references, 3)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        summary::print_quality(&report);
    }
    let bad = report.unreadable.is_some()
        || report.file_verdict.is_some()
        || report.counts.rows_rejected > 0;
    Ok(if strict && bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
