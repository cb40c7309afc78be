//! Command-line arguments (clap derive): one subcommand per verb.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// tickvault: columnar storage for market data (bars and ticks).
#[derive(Debug, Parser)]
#[command(name = "tickvault", version, about)]
pub struct Cli {
    /// Store directory.
    #[arg(
        long,
        global = true,
        env = "TICKVAULT_DB",
        default_value = "tickvault-data"
    )]
    pub db: PathBuf,
    /// Print JSON Lines (each object has a `type` field) instead of human output.
    #[arg(long, global = true)]
    pub json: bool,
    /// When this command creates the store: keep every tick that shares a timestamp, in arrival
    /// order (for exchanges that stamp whole seconds, such as CZCE). Default: the last one wins,
    /// as in vn.py.
    #[arg(long, global = true)]
    pub keep_same_time_ticks: bool,
    /// Progress bars on stderr, which must be a terminal: `auto` unless --json, `always` even
    /// with --json, `never`.
    #[arg(long, global = true, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// A style with a `{rate}` key: whole units per second, with thousands separators.
fn with_rate(style: indicatif::ProgressStyle) -> indicatif::ProgressStyle {
    style.with_key(
        "rate",
        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", indicatif::HumanCount(state.per_sec() as u64));
        },
    )
}

/// When to draw progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    /// When stderr is a terminal and output is not JSON.
    Auto,
    /// Whenever stderr is a terminal.
    Always,
    /// Never.
    Never,
}

impl Cli {
    /// A counter of `unit`s with their rate, for work of unknown size (hidden as the bars are).
    pub fn progress_counter(&self, what: &str, unit: &str) -> indicatif::ProgressBar {
        let bar = self.progress_bar(0, unit);
        if bar.is_hidden() {
            return bar;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {what}: {{human_pos}} {unit} ({{rate}} {unit}/s)"
        )) {
            bar.set_style(with_rate(style));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    }

    /// A progress bar over bytes, fed by the library's progress reports (whose stage becomes
    /// its message); hidden unless `--progress` asks for one.
    pub fn byte_progress(&self) -> indicatif::ProgressBar {
        let bar = self.progress_bar(0, "B");
        if bar.is_hidden() {
            return bar;
        }
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    }

    /// A progress bar over `total` units, hidden unless `--progress` asks for one.
    pub fn progress_bar(&self, total: u64, unit: &str) -> indicatif::ProgressBar {
        use std::io::IsTerminal;
        let show = match self.progress {
            Progress::Never => false,
            Progress::Always => std::io::stderr().is_terminal(),
            Progress::Auto => !self.json && std::io::stderr().is_terminal(),
        };
        if !show {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(total);
        let template = format!(
            "{{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{rate}} {unit}/s, {{eta}} left)"
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(with_rate(style.progress_chars("=> ")));
        }
        bar
    }
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a store, write generated bars and ticks, load them back, print overview and timings.
    Demo(DemoArgs),
    /// Totals of the store: series, rows, segments, bytes.
    Info,
    /// One line per stored series: count, first and last time.
    Overview(OverviewArgs),
    /// Import a file (CSV, JSON, JSON Lines, Parquet or Excel) into one series, or into the series its symbol/exchange/interval columns name.
    Import(ImportArgs),
    /// Export one series to a CSV file.
    Export(ExportArgs),
    /// Print the rows of one series (CSV, or JSON Lines with --json).
    Load(LoadArgs),
    /// Delete a whole series.
    Delete(DeleteArgs),
    /// Record rows from stdin as stream saves, printing `ack N` after each durable commit.
    Record(RecordArgs),
    /// Write every memtable into segments.
    Flush,
    /// Merge runs of small adjacent segments into large ones.
    Compact(CompactArgs),
    /// Back up the store into a backup repository (incremental: unchanged segments are shared).
    Backup(BackupArgs),
    /// List the backups of a repository.
    Backups(BackupsArgs),
    /// Restore a backup into a new directory (verified first).
    Restore(RestoreArgs),
    /// Check every checksum and invariant of a store or a backup; exit 1 on any problem.
    Verify(VerifyArgs),
    /// Copy every series (or those selected) from one store to another (tickvault, sqlite:PATH, vnpy).
    Migrate(MigrateArgs),
    /// Compare two stores series by series (counts, ranges, a hash of every row); exit 1 on a difference.
    Compare(CompareArgs),
    /// Bring a target store up to date with a source: what it lacks after its last time per series.
    Sync(SyncArgs),
    /// Run one workload on tickvault and on SQLite with vn.py's schema, and compare.
    Bench(BenchArgs),
    /// Show the physical layout of a segment file: blocks, codecs, sizes, checksums.
    Inspect(InspectArgs),
    /// Statistics of one bar series over a range: count, first and last, open, high, low, close, sums.
    Stats(StatsArgs),
}

/// Options of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The series.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// The range.
    #[command(flatten)]
    pub range: RangeArgs,
}

/// Options of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The segment file (`data/<series>/<id>.seg` in a store).
    pub segment: PathBuf,
}

/// Options of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Rows of the workload.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: usize,
    /// Five-level ticks instead of one-minute bars.
    #[arg(long)]
    pub ticks: bool,
    /// The baseline: `sqlite` (a fresh file per run, vn.py's schema), or a PostgreSQL or MySQL
    /// URL (its `TVBENCH*` series are deleted before each run; nothing else is touched).
    #[arg(long, default_value = "sqlite")]
    pub against: String,
    /// Runs of each measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Series for the overview latency line.
    #[arg(long, default_value_t = 2_000)]
    pub overview_series: usize,
    /// A file of real bars (any format `import` reads; naive times in UTC), whose bytes per bar
    /// are measured too: in tickvault, in the baseline, and as the Parquet file (zstd) that
    /// `export` writes.
    #[arg(long)]
    pub sample: Option<std::path::PathBuf>,
}

/// Options of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Source URL.
    #[arg(long)]
    pub from: String,
    /// Target URL.
    #[arg(long)]
    pub to: String,
    /// Replace each target series with the source's instead of copying only what is new.
    #[arg(long)]
    pub full: bool,
    /// Re-read this much before the target's last time, to pick up late corrections (e.g. 1h, 2d).
    #[arg(long, default_value = "0s")]
    pub overlap: String,
    /// Rows read and written at a time (bounds memory).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_rows: u64,
    /// Only symbols matching this pattern.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Zone of naive datetimes in SQL databases.
    #[arg(long)]
    pub sql_tz: Option<String>,
}

/// Options of `migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Source URL: a tickvault path, sqlite:PATH, postgresql://..., mysql://..., or vnpy[:DIR].
    #[arg(long)]
    pub from: String,
    /// Target URL.
    #[arg(long)]
    pub to: String,
    /// Only bars.
    #[arg(long, conflicts_with = "ticks")]
    pub bars: bool,
    /// Only ticks.
    #[arg(long)]
    pub ticks: bool,
    /// Only symbols matching this pattern (`*` and `?`).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Compare the two stores afterwards.
    #[arg(long)]
    pub verify: bool,
    /// Rows read and written at a time (bounds memory).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_rows: u64,
    /// Zone of naive datetimes in SQL databases (default: vn.py's database.timezone, else the system's).
    #[arg(long)]
    pub sql_tz: Option<String>,
}

/// Options of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// One store URL.
    pub left: String,
    /// The other store URL.
    pub right: String,
    /// Only bars.
    #[arg(long, conflicts_with = "ticks")]
    pub bars: bool,
    /// Only ticks.
    #[arg(long)]
    pub ticks: bool,
    /// Only symbols matching this pattern.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Zone of naive datetimes in SQL databases.
    #[arg(long)]
    pub sql_tz: Option<String>,
}

/// Options of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup repository (created if missing).
    pub dest: PathBuf,
    /// Afterwards, keep only the newest N backups (and any kept by --keep-within).
    #[arg(long)]
    pub keep_last: Option<usize>,
    /// Afterwards, keep only backups younger than this (e.g. 7d, 12h; and any kept by --keep-last).
    #[arg(long)]
    pub keep_within: Option<String>,
}

/// Options of `backups`.
#[derive(Debug, Args)]
pub struct BackupsArgs {
    /// The backup repository.
    pub dest: PathBuf,
}

/// Options of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup (a directory inside a repository).
    pub backup: PathBuf,
    /// Where to restore it.
    #[arg(long)]
    pub to: PathBuf,
    /// Replace an existing store at --to (it is moved aside, not deleted).
    #[arg(long)]
    pub force: bool,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The store or backup (default: --db).
    pub path: Option<PathBuf>,
    /// Also decode every block.
    #[arg(long)]
    pub deep: bool,
}

/// Options of `compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Only series of this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
}

/// Input formats of `record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    /// One JSON object per line, with vn.py's field names.
    Jsonl,
    /// CSV with a header line, as `import` reads.
    Csv,
}

/// Options of `record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The series.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// Input format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: RecordFormat,
    /// WAL sync policy: every-commit, interval:MS or none.
    #[arg(long, default_value = "every-commit")]
    pub sync: String,
    /// Rows per commit.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Flush into segments after every this many rows, so that readers in other processes see
    /// them (0: only by memtable size and age, and at the end).
    #[arg(long, default_value_t = 0)]
    pub flush_every: u64,
    /// Zone of naive times in the input (IANA name; default the system's).
    #[arg(long)]
    pub tz: Option<String>,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of one-minute bars to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub bars: usize,
    /// Number of five-level ticks to generate.
    #[arg(long, default_value_t = 200_000)]
    pub ticks: usize,
}

/// Options of `overview`.
#[derive(Debug, Args)]
pub struct OverviewArgs {
    /// Only bar series.
    #[arg(long, conflicts_with = "ticks")]
    pub bars: bool,
    /// Only tick series.
    #[arg(long)]
    pub ticks: bool,
    /// Only symbols matching this pattern (`*` and `?`).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Zone of printed times (IANA name; default the system's).
    #[arg(long)]
    pub tz: Option<String>,
}

/// Which series: symbol, exchange, and interval or ticks.
#[derive(Debug, Args)]
pub struct SeriesArgs {
    /// Instrument code.
    #[arg(long)]
    pub symbol: String,
    /// Exchange code (vn.py's, e.g. SHFE, CFFEX, SSE, SMART).
    #[arg(long)]
    pub exchange: String,
    /// Bar interval: 1m, 1h, d or w.
    #[arg(long, required_unless_present = "ticks", conflicts_with = "ticks")]
    pub interval: Option<String>,
    /// The tick series instead of bars.
    #[arg(long)]
    pub ticks: bool,
}

/// The series an import writes: these options, completed row by row by the file's `symbol`,
/// `exchange`, `interval` or `vt_symbol` (`SYMBOL.EXCHANGE`) columns, so one file can hold
/// many series. An option given wins over the file's column.
#[derive(Debug, Args)]
pub struct ImportSeriesArgs {
    /// Instrument code (default: the file's symbol column).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Exchange code, vn.py's, e.g. SHFE, SSE, SMART (default: the file's exchange column).
    #[arg(long)]
    pub exchange: Option<String>,
    /// Bar interval: 1m, 1h, d or w (default: the file's interval column).
    #[arg(long, conflicts_with = "ticks")]
    pub interval: Option<String>,
    /// The file holds ticks, not bars.
    #[arg(long)]
    pub ticks: bool,
}

/// Options of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: CSV with a header, a JSON array of objects, JSON Lines, Parquet or Excel.
    pub file: PathBuf,
    /// The file's format (default: from its extension: .csv, .json, .jsonl, .parquet, .xlsx).
    #[arg(long, value_enum)]
    pub format: Option<crate::table::FileFormat>,
    /// The series (or the file's own series columns).
    #[command(flatten)]
    pub series: ImportSeriesArgs,
    /// Zone of naive times in the file (IANA name; default the system's).
    #[arg(long)]
    pub tz: Option<String>,
    /// Times are integers since 1970-01-01 UTC in this unit.
    #[arg(long, value_enum, conflicts_with = "datetime_format")]
    pub epoch: Option<crate::time::Epoch>,
    /// Times are text in this strftime format, e.g. "%Y%m%d %H:%M:%S" (naive ones in --tz;
    /// %z for an offset). Default: ISO 8601.
    #[arg(long)]
    pub datetime_format: Option<String>,
    /// Fields under other column names: FIELD=COLUMN pairs, e.g. "open=Open,datetime=Date".
    #[arg(long)]
    pub map: Option<String>,
    /// The file's column names, in order, for a CSV file without a header line.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// A row that cannot be read: `abort` the import (nothing is written), or `skip` it.
    #[arg(long, value_enum, default_value_t = crate::table::OnError::Abort)]
    pub on_error: crate::table::OnError,
    /// Write skipped rows' line numbers and errors here (CSV).
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Rows that look wrong (high below low, negative volume, NaN or infinite prices, a repeated
    /// time) are errors, not warnings.
    #[arg(long)]
    pub strict: bool,
}

/// A time range.
#[derive(Debug, Args)]
pub struct RangeArgs {
    /// First time (inclusive): ISO 8601 with an offset, or naive in --tz, or a date.
    #[arg(long)]
    pub start: Option<String>,
    /// Last time (inclusive).
    #[arg(long)]
    pub end: Option<String>,
    /// Zone of printed times and of naive --start/--end (IANA name; default the system's).
    #[arg(long)]
    pub tz: Option<String>,
}

/// Options of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write: .csv (vn.py Data Manager columns), .json, .jsonl or .parquet; with
    /// --all, a directory that gets one file per series.
    pub file: PathBuf,
    /// The file's format (default: from its extension; with --all, csv).
    #[arg(long, value_enum)]
    pub format: Option<crate::table::FileFormat>,
    /// Every series (or those --symbol/--exchange/--interval/--ticks select, `*` and `?` in
    /// --symbol), in parallel, one file each.
    #[arg(long)]
    pub all: bool,
    /// Instrument code (a pattern with --all).
    #[arg(long, required_unless_present = "all")]
    pub symbol: Option<String>,
    /// Exchange code.
    #[arg(long, required_unless_present = "all")]
    pub exchange: Option<String>,
    /// Bar interval: 1m, 1h, d or w.
    #[arg(long, conflicts_with = "ticks")]
    pub interval: Option<String>,
    /// The tick series instead of bars.
    #[arg(long)]
    pub ticks: bool,
    /// The range.
    #[command(flatten)]
    pub range: RangeArgs,
}

/// Options of `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The series.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// The range.
    #[command(flatten)]
    pub range: RangeArgs,
    /// Only these columns, in this order (CSV names: datetime, open, close, last_price...).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// At most this many rows (the first ones).
    #[arg(long)]
    pub limit: Option<u64>,
    /// How to print rows (default csv; jsonl with --json; table aligns columns).
    #[arg(long, value_enum)]
    pub format: Option<LoadFormat>,
}

/// How `load` prints rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadFormat {
    /// CSV with a header.
    Csv,
    /// JSON Lines with a `type` field.
    Jsonl,
    /// An aligned table (rows are collected before printing).
    Table,
}

/// Options of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The series.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// Only rows in this range (both ends inclusive; without --start/--end, the whole series).
    #[command(flatten)]
    pub range: RangeArgs,
    /// Do not ask for confirmation on a terminal.
    #[arg(long)]
    pub yes: bool,
}
