//! `shopflow`: ShopFlow's whole pipeline on a local lake directory, on the same core code the
//! Lambda functions run, with local adapters (the filesystem instead of S3, a file ledger
//! instead of DynamoDB, log lines instead of CloudWatch metrics).
//!
//! Commands: `demo`, `generate`, `ingest`, `replay`, `validate`, `report`, `query`, `run`, `catalog`.
//! Exit status 0 on success; otherwise one line on standard error saying why, and status 1 (2
//! for bad usage).

mod lake;
mod query;
mod run;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use shopflow_core::contract::ContractSet;
use shopflow_core::gold::GoldOptions;
use shopflow_core::ingest::IngestOptions;
use shopflow_core::report::ReportOptions;
use shopflow_core::tables::TableOptions;
use shopflow_core::tables::chunks::CommitBounds;

/// ShopFlow: validated, query-ready e-commerce data and a daily report, on your laptop.
#[derive(Debug, Parser)]
#[command(name = "shopflow", version, about, long_about = None)]
struct Cli {
    /// More log output on standard error (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// A directory of contract files (*.toml) that replace or add to the built-in ones.
    #[arg(long, global = true, value_name = "DIR", env = "SHOPFLOW_CONTRACTS")]
    contracts: Option<PathBuf>,
    #[command(flatten)]
    limits: Limits,
    #[command(subcommand)]
    command: Command,
}

/// How much of one landing object the pipeline holds in memory at once (docs/configuration.md).
/// Lower values bound memory more tightly for more work: more MERGE commits, more spills.
#[derive(Debug, Args, Clone)]
pub struct Limits {
    /// Event days one silver MERGE may write (a file with more is committed in chunks).
    #[arg(long, global = true, value_name = "N", default_value_t = TableOptions::default().commit_bounds.max_partitions)]
    merge_max_days: usize,
    /// Rows one silver MERGE may write (a file with more is committed in chunks).
    #[arg(long, global = true, value_name = "N", default_value_t = TableOptions::default().commit_bounds.max_rows)]
    merge_max_rows: u64,
    /// Event days a silver append (a file of keys the table lacks) writes at once; a file with
    /// more is written in windows of this many days and still committed once.
    #[arg(long, global = true, value_name = "N", default_value_t = TableOptions::default().append_window_days)]
    append_window_days: usize,
    /// Business keys of one file held in memory before they spill to sorted runs on disk.
    #[arg(long, global = true, value_name = "N", default_value_t = IngestOptions::default().key_memory_entries)]
    key_memory_entries: usize,
    /// MiB the spilled keys' Bloom filters may hold in memory; past it a file with more keys
    /// keeps that much and reads more blocks of its run files instead.
    #[arg(long, global = true, value_name = "MIB", default_value_t = IngestOptions::default().key_filter_bytes >> 20)]
    key_filter_mib: usize,
    /// Files a silver or quarantine partition a write touched may hold before it is rewritten
    /// into one (auto-compaction, ADR 0013); 0 turns it off.
    #[arg(long, global = true, value_name = "N", default_value_t = TableOptions::default().compact_files)]
    compact_files: usize,
}

impl Limits {
    /// The table settings these limits give.
    pub fn table_options(&self) -> TableOptions {
        TableOptions {
            commit_bounds: CommitBounds {
                max_partitions: self.merge_max_days.max(1),
                max_rows: self.merge_max_rows.max(1),
            },
            compact_files: self.compact_files,
            append_window_days: self.append_window_days.max(1),
            ..TableOptions::default()
        }
    }

    /// The ingestion settings these limits give, with work files under `work_dir`.
    pub fn ingest_options(&self, work_dir: PathBuf) -> IngestOptions {
        IngestOptions {
            work_dir: Some(work_dir),
            key_memory_entries: self.key_memory_entries.max(1),
            key_filter_bytes: self.key_filter_mib.max(1) << 20,
            ..IngestOptions::default()
        }
    }
}

#[derive(Debug, Args, Clone)]
struct SizeArgs {
    /// Customer profiles to generate.
    #[arg(long, default_value_t = 1_000)]
    customers: usize,
    /// Products to generate.
    #[arg(long, default_value_t = 500)]
    products: usize,
    /// Sale lines to generate.
    #[arg(long, default_value_t = 5_000)]
    transactions: usize,
    /// Share of rows given a deliberate defect (0 to 0.5).
    #[arg(long, default_value_t = 0.02)]
    defect_rate: f64,
    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Last day of generated activity (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    end_date: Option<NaiveDate>,
    /// Days of activity ending on --end-date.
    #[arg(long, default_value_t = 90)]
    days: u32,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate realistic data, ingest it, build gold and the report, print a summary.
    Demo {
        /// The lake directory (created when missing).
        #[arg(long, default_value = "shopflow-lake")]
        lake: PathBuf,
        #[command(flatten)]
        sizes: SizeArgs,
    },
    /// Write realistic landing files (with recorded defects) into a directory.
    Generate {
        /// Output directory (created when missing): the landing files and
        /// `generation_report.json` go there.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        sizes: SizeArgs,
    },
    /// Copy files into the lake's landing/ and process them, as a drop into S3 would.
    Ingest {
        /// The lake directory (created when missing).
        #[arg(long, default_value = "shopflow-lake")]
        lake: PathBuf,
        /// The dataset of every file given (default: from each file's name).
        #[arg(long)]
        dataset: Option<String>,
        /// Files or directories to ingest.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Process a landing object again, even if the ledger says it was done.
    Replay {
        /// The lake directory (created when missing).
        #[arg(long, default_value = "shopflow-lake")]
        lake: PathBuf,
        /// Landing keys (landing/{dataset}/{file}).
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Check a file against its contract and print a data-quality report; writes nothing.
    Validate {
        /// The contract (dataset) to check against.
        #[arg(long)]
        contract: String,
        /// Check references against this lake's silver tables.
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Exit with status 1 when any row is rejected or the file is unreadable.
        #[arg(long)]
        strict: bool,
        /// The file to check: CSV, JSON or JSON lines, gzipped or not.
        file: PathBuf,
    },
    /// Build gold and the daily report for a date (default: the latest day with sales).
    Report {
        /// The lake directory (created when missing).
        #[arg(long, default_value = "shopflow-lake")]
        lake: PathBuf,
        /// The day to report on.
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<NaiveDate>,
        /// Print the gold build's plan as JSON (the days it rebuilds and each table's SQL, in
        /// order) and build nothing: the same SQL can then be run by another engine.
        #[arg(long)]
        print_sql: bool,
        #[command(flatten)]
        options: ReportArgs,
    },
    /// Run SQL over the lake: every dataset that has a contract (transactions, products,
    /// customers, clickstream, and any added with --contracts) and every gold table (dim_*,
    /// fact_sales, agg_*, funnel_daily, customer_ltv) is registered by name; `dt` is the
    /// partition date.
    Query {
        /// The lake directory (created when missing).
        #[arg(long, default_value = "shopflow-lake")]
        lake: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = query::Format::Table)]
        format: query::Format,
        /// Read the tables as they were: a table version (every table at that version; tables
        /// without one are left out), an RFC 3339 time, or a date (its end, UTC).
        #[arg(long, value_name = "VERSION|TIME")]
        as_of: Option<shopflow_core::tables::AsOf>,
        /// The SQL statement, or `@file.sql` to read it from a file.
        sql: String,
    },
    /// Compact the lake's tables (OPTIMIZE small files into files of the target size) and
    /// delete the data files no version within the retention still references (VACUUM).
    Maintain {
        /// The lake directory (created when missing).
        #[arg(long, default_value = "shopflow-lake")]
        lake: PathBuf,
        /// Only this dataset's silver and quarantine tables (default: every table).
        #[arg(long)]
        dataset: Option<String>,
        /// Keep files a version from the last HOURS still references (time travel and running
        /// queries read them). Below 168 (7 days) needs --force.
        #[arg(long, value_name = "HOURS", default_value_t = 168)]
        retention_hours: u32,
        /// Allow a retention below 7 days.
        #[arg(long)]
        force: bool,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the table catalog (every silver and gold table with its Glue columns) derived from
    /// the contracts in force, as the JSON Terraform's Glue tables read.
    Catalog {
        /// Write the document to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Run the daily workflow from the state machine definition Step Functions runs
    /// (statemachine/pipeline.asl.json): the day's pending landing files → transform → quality
    /// gate → report → notification (files in <lake>/_notifications/). Exit status 1 when the
    /// workflow ends in failure.
    Run {
        /// The lake directory (created when missing).
        #[arg(long, default_value = "shopflow-lake")]
        lake: PathBuf,
        /// The day (default: yesterday, UTC). Its landing files are those last modified on it.
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<NaiveDate>,
        /// Quality gate: stop before the report when more than this percentage of the day's
        /// rows was rejected (default: the definition's, 5).
        #[arg(long, value_name = "PCT")]
        max_rejected_pct: Option<f64>,
        /// Run this state machine definition (ASL JSON) instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        definition: Option<PathBuf>,
        #[command(flatten)]
        options: ReportArgs,
    },
}

#[derive(Debug, Args, Clone, Copy)]
struct ReportArgs {
    /// Days before the report date whose gold partitions are rebuilt (late-arriving rows).
    #[arg(long, default_value_t = 3)]
    lookback_days: u32,
    /// Flag a KPI that moves more than this percentage against its trailing 7-day average.
    #[arg(long, default_value_t = 50.0)]
    anomaly_threshold_pct: f64,
}

impl ReportArgs {
    fn options(self) -> ReportOptions {
        ReportOptions {
            gold: GoldOptions {
                lookback_days: self.lookback_days,
            },
            anomaly_threshold_pct: self.anomaly_threshold_pct,
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHOPFLOW_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(shopflow_core::default_log_filter(level))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let retention = shopflow_core::memory::bound_heap_retention();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    tracing::debug!(?retention, "allocator retention");
    // One thread runs the pipeline; one more takes the blocking file I/O that object_store and
    // tokio::fs hand off. glibc gives each thread that allocates its own arena and keeps what is
    // freed there: with the default pool (up to 512 threads) a 2M-row ingest peaked at
    // 330–580 MiB RSS from run to run over a 120–170 MiB heap; with one blocking thread it
    // peaks at 265–300 MiB, at the same speed (docs/adr/0011-bounded-merge-memory.md).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_contracts(dir: Option<&PathBuf>) -> anyhow::Result<ContractSet> {
    Ok(match dir {
        Some(d) => ContractSet::load_dir(d)
            .with_context(|| format!("loading contracts from {}", d.display()))?,
        None => ContractSet::defaults().context("loading the built-in contracts")?,
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let contracts = load_contracts(cli.contracts.as_ref())?;
    match cli.command {
        Command::Demo { lake, sizes } => lake::demo(&lake, contracts, &sizes, &cli.limits).await,
        Command::Catalog { out } => {
            let catalog = shopflow_core::catalog::derive(&contracts)
                .await
                .context("deriving the catalog from the contracts")?;
            let mut text = serde_json::to_string_pretty(&catalog)?;
            text.push('\n');
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate { out, sizes } => {
            let report = lake::generate(&out, &sizes)?;
            summary::print_generation(&out, &report);
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            lake,
            dataset,
            paths,
        } => {
            let lake = lake::Lake::open(&lake, contracts, &cli.limits)?;
            let results = lake.ingest_paths(&paths, dataset.as_deref()).await?;
            summary::print_ingest(&results);
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { lake, keys } => {
            let lake = lake::Lake::open(&lake, contracts, &cli.limits)?;
            let results = lake.replay(&keys).await?;
            summary::print_ingest(&results);
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            contract,
            lake,
            json,
            strict,
            file,
        } => {
            lake::validate(
                &contracts,
                &contract,
                lake.as_deref(),
                &file,
                json,
                strict,
                &cli.limits,
            )
            .await
        }
        Command::Report {
            lake,
            date,
            print_sql,
            options,
        } => {
            let lake = lake::Lake::open(&lake, contracts, &cli.limits)?;
            if print_sql {
                let plan = lake.gold_plan(date, &options.options()).await?;
                println!("{}", serde_json::to_string_pretty(&plan)?);
                return Ok(ExitCode::SUCCESS);
            }
            let out = lake.report(date, &options.options()).await?;
            summary::print_report(&out.report);
            println!("report:    {}", lake.path_of(&out.report_key).display());
            println!("dashboard: {}", lake.path_of(&out.html_key).display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            lake,
            format,
            as_of,
            sql,
        } => {
            let lake = lake::Lake::open(&lake, contracts, &cli.limits)?;
            query::run(lake.tables(), lake.contracts(), &sql, format, as_of).await
        }
        Command::Maintain {
            lake,
            dataset,
            retention_hours,
            force,
            json,
        } => {
            if retention_hours < 168 && !force {
                anyhow::bail!(
                    "--retention-hours {retention_hours} is below 7 days: files a running query or a time-travel read still needs could be deleted; add --force if no reader needs them"
                );
            }
            let lake = lake::Lake::open(&lake, contracts, &cli.limits)?;
            let reports = lake
                .maintain(
                    dataset.as_deref(),
                    chrono::Duration::hours(i64::from(retention_hours)),
                )
                .await?;
            summary::print_maintain(&reports, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            lake,
            date,
            max_rejected_pct,
            definition,
            options,
        } => {
            let args = run::RunArgs {
                date,
                max_rejected_pct,
                definition,
                report: options.options(),
            };
            run::run(&lake, contracts, &args, &cli.limits).await
        }
    }
}
