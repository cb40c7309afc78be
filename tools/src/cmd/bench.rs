//! `bench`: the same workload through the `Database` trait on tickvault and on a baseline (SQLite
//! with vn.py's schema), in one run, alternating, reporting medians and the ratio per line.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;
use tickvault::{
    sample, BarColumns, BarData, Columns, Database, Engine, Exchange, Interval, SeriesKey,
    SeriesKind, TickData, Timestamp,
};

use crate::bridge::{self, Store};
use crate::cli::{BenchArgs, Cli};
use crate::{pq, table, time};

/// Every series the benchmark writes has a symbol starting with this, so that on a server it can
/// delete exactly its own rows before each run.
const PREFIX: &str = "TVBENCH";

/// The store tickvault is measured against: a fresh SQLite file per run (vn.py's schema), or a
/// PostgreSQL or MySQL database whose `TVBENCH*` series are deleted before each run.
struct Baseline {
    /// `sqlite` or a server URL.
    against: String,
    /// Its name in the table.
    name: String,
}

impl Baseline {
    fn new(against: &str) -> Result<Baseline> {
        let name = if against == "sqlite" {
            "SQLite".to_string()
        } else if against.starts_with("postgresql://") || against.starts_with("postgres://") {
            "PostgreSQL".to_string()
        } else if against.starts_with("mysql://") {
            "MySQL".to_string()
        } else {
            bail!("--against takes sqlite, a postgresql:// URL or a mysql:// URL");
        };
        Ok(Baseline {
            against: against.to_string(),
            name,
        })
    }

    /// The URL of run `fresh`.
    fn url(&self, work: &Path, fresh: usize) -> String {
        if self.against == "sqlite" {
            format!("sqlite:{}", work.join(format!("sq{fresh}.db")).display())
        } else {
            self.against.clone()
        }
    }

    /// Opens run `fresh`'s store, empty of benchmark series.
    fn open(&self, work: &Path, fresh: usize) -> Result<Store> {
        let store = bridge::open(&self.url(work, fresh), Some("UTC"), true)?;
        let db = store.db();
        for o in db.get_bar_overview()? {
            if o.symbol.starts_with(PREFIX) {
                db.delete_bar_data(&o.symbol, o.exchange, o.interval)?;
            }
        }
        for o in db.get_tick_overview()? {
            if o.symbol.starts_with(PREFIX) {
                db.delete_tick_data(&o.symbol, o.exchange)?;
            }
        }
        Ok(store)
    }

    /// Bytes per row on disk, for a SQLite file.
    fn bytes(&self, work: &Path, fresh: usize) -> Option<u64> {
        (self.against == "sqlite")
            .then(|| std::fs::metadata(work.join(format!("sq{fresh}.db"))).map_or(0, |m| m.len()))
    }
}

/// Rows of one kind, ready for either store.
enum Data {
    Bars(Vec<BarData>),
    Ticks(Vec<TickData>),
}

impl Data {
    fn save(&self, db: &dyn Database, range: std::ops::Range<usize>, stream: bool) -> Result<()> {
        match self {
            Data::Bars(v) => db.save_bar_data(&v[range], stream)?,
            Data::Ticks(v) => db.save_tick_data(&v[range], stream)?,
        }
        Ok(())
    }

    fn time(&self, i: usize) -> Timestamp {
        match self {
            Data::Bars(v) => v[i].datetime,
            Data::Ticks(v) => v[i].datetime,
        }
    }

    fn load(&self, db: &dyn Database, start: Timestamp, end: Timestamp) -> Result<usize> {
        Ok(match self {
            Data::Bars(v) => db
                .load_bar_data(&v[0].symbol, v[0].exchange, v[0].interval, start, end)?
                .len(),
            Data::Ticks(v) => db
                .load_tick_data(&v[0].symbol, v[0].exchange, start, end)?
                .len(),
        })
    }

    /// The row `i` as a single-row save for writer thread `w`.
    fn one(&self, i: usize, w: usize) -> Data {
        match self {
            Data::Bars(v) => {
                let mut b = v[i].clone();
                b.symbol = format!("{PREFIX}W{w}").into();
                Data::Bars(vec![b])
            }
            Data::Ticks(v) => {
                let mut t = v[i].clone();
                t.symbol = format!("{PREFIX}W{w}").into();
                Data::Ticks(vec![t])
            }
        }
    }
}

struct Line {
    what: String,
    unit: &'static str,
    ours: f64,
    theirs: Option<f64>,
    /// Whether smaller is better (sizes, latencies).
    lower_is_better: bool,
    /// What `theirs` measured, when it is not the baseline store.
    other: Option<&'static str>,
}

impl Line {
    /// A line comparing tickvault with the baseline store.
    fn new(
        what: impl Into<String>,
        unit: &'static str,
        ours: f64,
        theirs: Option<f64>,
        lower_is_better: bool,
    ) -> Line {
        Line {
            what: what.into(),
            unit,
            ours,
            theirs,
            lower_is_better,
            other: None,
        }
    }
}

/// How long one run of a load line repeats its load: long enough that a one-day load is timed
/// over thousands of loads, not as one load of a few microseconds that starts with cold caches.
const LOAD_RUN: std::time::Duration = std::time::Duration::from_millis(200);

/// Rows per second of `load` (which returns the rows it loaded), run back to back for
/// [`LOAD_RUN`] (at least once): all rows over all the time.
fn rows_per_sec(mut load: impl FnMut() -> Result<usize>) -> Result<f64> {
    let t = Instant::now();
    let mut rows = 0;
    loop {
        rows += load()?;
        let spent = t.elapsed();
        if spent >= LOAD_RUN {
            return Ok(rows as f64 / spent.as_secs_f64());
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_bytes(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

pub fn run(cli: &Cli, a: &BenchArgs) -> Result<()> {
    let baseline = Baseline::new(&a.against)?;
    if a.sample.is_some() && a.ticks {
        bail!("--sample takes a file of bars: not with --ticks");
    }
    let sample = a.sample.as_deref().map(read_sample).transpose()?;
    let work = tempfile::tempdir()?;
    let n = a.rows.max(1000);
    let data = if a.ticks {
        let cols = sample::ticks(n, 11, "螺纹钢2610");
        let key = SeriesKey::tick(&format!("{PREFIX}rb2610"), Exchange::SHFE)?;
        Data::Ticks(cols.to_rows(&key))
    } else {
        let cols = sample::bars(n, 11);
        let key = SeriesKey::bar(
            &format!("{PREFIX}IF9999"),
            Exchange::CFFEX,
            Interval::Minute,
        )?;
        Data::Bars(cols.to_rows(&key))
    };
    let kind = if a.ticks { "ticks" } else { "bars" };
    let repeat = a.repeat.max(1);
    let mut lines = Vec::new();
    let mut fresh = 0usize;
    let mut new_stores = || -> Result<(Engine, Store, std::path::PathBuf, usize)> {
        fresh += 1;
        let tv = work.path().join(format!("tv{fresh}"));
        Ok((
            Engine::open(&tv)?,
            baseline.open(work.path(), fresh)?,
            tv,
            fresh,
        ))
    };

    // Saves by batch size (small batches on a prefix: 200 commits each).
    let mut saved_all_bytes = 0u64;
    for batch in [100usize, 1_000, 10_000, n] {
        let rows = (batch * 200).min(n);
        for stream in [false, true] {
            if stream && batch == n {
                continue;
            }
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for _ in 0..repeat {
                let (tv, sq, tv_path, _) = new_stores()?;
                for (db, out) in [(&tv as &dyn Database, &mut ours), (sq.db(), &mut theirs)] {
                    let start = Instant::now();
                    for lo in (0..rows).step_by(batch) {
                        data.save(db, lo..(lo + batch).min(rows), stream)?;
                    }
                    out.push(rows as f64 / start.elapsed().as_secs_f64());
                }
                if batch == n {
                    saved_all_bytes = dir_bytes(&tv_path);
                }
            }
            let label = if batch == n {
                "all".to_string()
            } else {
                batch.to_string()
            };
            lines.push(Line::new(
                format!(
                    "save {kind}, batches of {label}{}",
                    if stream { ", stream" } else { "" }
                ),
                "rows/s",
                median(ours),
                Some(median(theirs)),
                false,
            ));
        }
    }

    // The disk's ceiling over the bulk save of everything: the bytes it left on disk, written
    // and fsynced as one file (a save also syncs its directory and the manifest).
    let bytes = vec![0x5a_u8; usize::try_from(saved_all_bytes)?];
    let ceiling = (0..repeat)
        .map(|i| -> Result<f64> {
            let path = work.path().join(format!("ceiling{i}"));
            let start = Instant::now();
            let mut f = std::fs::File::create(&path)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            let rate = n as f64 / start.elapsed().as_secs_f64();
            std::fs::remove_file(&path)?;
            Ok(rate)
        })
        .collect::<Result<Vec<f64>>>()?;
    lines.push(Line::new(
        format!("  disk ceiling: {saved_all_bytes} B written, fsynced"),
        "rows/s",
        median(ceiling),
        lines.last().and_then(|l| l.theirs),
        false,
    ));

    // Loads by range size, from stores holding everything.
    let (tv, sq, tv_path, run) = new_stores()?;
    data.save(&tv, 0..n, false)?;
    data.save(sq.db(), 0..n, false)?;
    let per_day = if a.ticks { 28_800 } else { 240 };
    for (label, len) in [
        ("one day", per_day),
        ("one month", per_day * 21),
        ("one year", per_day * 250),
        ("everything", n),
    ] {
        let len = len.min(n);
        let mid = (n - len) / 2;
        let (start, end) = (data.time(mid), data.time(mid + len - 1));
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            for (db, out) in [(&tv as &dyn Database, &mut ours), (sq.db(), &mut theirs)] {
                out.push(rows_per_sec(|| data.load(db, start, end))?);
            }
        }
        lines.push(Line::new(
            format!("load {kind} into rows, {label} ({len} rows)"),
            "rows/s",
            median(ours),
            Some(median(theirs)),
            false,
        ));
        if matches!(data, Data::Bars(_)) {
            let key = SeriesKey::bar(
                &format!("{PREFIX}IF9999"),
                Exchange::CFFEX,
                Interval::Minute,
            )?;
            let cols = (0..repeat)
                .map(|_| {
                    rows_per_sec(|| {
                        let c: tickvault::BarColumns = tv.load_columns(&key, start, end)?;
                        Ok(c.len())
                    })
                })
                .collect::<Result<Vec<f64>>>()?;
            lines.push(Line::new(
                format!("load {kind} into columns, {label}"),
                "rows/s",
                median(cols),
                None,
                false,
            ));
        }
    }
    lines.push(Line::new(
        format!("bytes on disk per {}", &kind[..kind.len() - 1]),
        "B",
        dir_bytes(&tv_path) as f64 / n as f64,
        baseline
            .bytes(work.path(), run)
            .map(|b| b as f64 / n as f64),
        true,
    ));
    drop((tv, sq));
    if let Some(cols) = &sample {
        let (tv, sq, tv_path, run) = new_stores()?;
        lines.extend(sample_sizes(
            cols,
            &tv,
            &tv_path,
            &sq,
            &baseline,
            work.path(),
            run,
        )?);
    }

    // Concurrent durable single-row commits, each writer its own series; then again with a
    // reader loading one day of another series beside them all the while.
    let day = (data.time(0), data.time(per_day.min(n) - 1));
    for threads in [1usize, 2, 4, 8] {
        let per = 200usize;
        // [alone, beside the reader, the reader's rows] for tickvault, then for the baseline.
        let mut runs: [[Vec<f64>; 3]; 2] = Default::default();
        for _ in 0..repeat {
            for reader in [false, true] {
                // Stores open with the default sync policy: every commit is fsynced (group
                // commit).
                let (tv, sq, _, run) = new_stores()?;
                data.save(&tv, 0..per_day.min(n), false)?;
                data.save(sq.db(), 0..per_day.min(n), false)?;
                drop(sq);
                let url = baseline.url(work.path(), run);
                let ours =
                    commits_beside_reader(threads, per, &data, reader.then_some(day), &|f| f(&tv));
                // Each writer and the reader its own connection, as each vn.py process would
                // have.
                let theirs =
                    commits_beside_reader(threads, per, &data, reader.then_some(day), &|f| {
                        if let Ok(db) = bridge::open(&url, Some("UTC"), true) {
                            f(db.db());
                        }
                    });
                for (side, (commits, read)) in runs.iter_mut().zip([ours, theirs]) {
                    side[usize::from(reader)].push(commits);
                    if reader {
                        side[2].push(read);
                    }
                }
            }
        }
        let [ours, theirs] = runs;
        let whats = [
            (
                format!("durable single-row commits, {threads} writer threads"),
                "commits/s",
            ),
            ("  the same, a reader beside them".to_string(), "commits/s"),
            (
                "  the reader's one-day loads, into rows".to_string(),
                "rows/s",
            ),
        ];
        for ((what, unit), (o, t)) in whats.into_iter().zip(ours.into_iter().zip(theirs)) {
            lines.push(Line::new(what, unit, median(o), Some(median(t)), false));
        }
    }

    // Overview latency with many series.
    let series = a.overview_series.max(1);
    let (tv, sq, _, _) = new_stores()?;
    let many: Vec<BarData> = (0..series)
        .map(|i| {
            BarData::new(
                &format!("{PREFIX}S{i}"),
                Exchange::SSE,
                Interval::Daily,
                Timestamp::from_secs(86_400),
            )
        })
        .collect();
    tv.save_bar_data(&many, false)?;
    sq.db().save_bar_data(&many, false)?;
    let time_it = |db: &dyn Database| -> Result<f64> {
        let t = Instant::now();
        let n = db.get_bar_overview()?.len();
        if n != series {
            bail!("overview has {n} series, {series} expected");
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..repeat.max(5) {
        ours.push(time_it(&tv)?);
        theirs.push(time_it(sq.db())?);
    }
    lines.push(Line::new(
        format!("overview of {series} series"),
        "ms",
        median(ours),
        Some(median(theirs)),
        true,
    ));

    // Leave a server as it was found (a SQLite baseline is a file in the temporary directory).
    drop((tv, sq));
    if baseline.against != "sqlite" {
        baseline.open(work.path(), fresh)?;
    }
    print(cli, &lines, n, kind, repeat, &baseline.name);
    if let (Some(file), false, false) = (&a.sample, cli.json, a.ticks) {
        println!("\nsample: {} (series {PREFIX}SAMPLE)", file.display());
    }
    Ok(())
}

/// Hands a database to the function it is given (a shared handle, or a connection of its own).
type WithDb<'a> = dyn Fn(&mut dyn FnMut(&dyn Database)) + Sync + 'a;

/// `threads` writers, each committing `per` single rows of its own series durably (`stream`),
/// and, given a `day` (saved before), one reader loading its rows again and again until the
/// writers are done, each on a database `with_db` hands it: acknowledged commits per second,
/// and rows the reader loaded per second. A failed commit or load counts nothing.
fn commits_beside_reader(
    threads: usize,
    per: usize,
    data: &Data,
    day: Option<(Timestamp, Timestamp)>,
    with_db: &WithDb<'_>,
) -> (f64, f64) {
    let done = &AtomicBool::new(false);
    let t = Instant::now();
    std::thread::scope(|s| {
        let reader = day.map(|(start, end)| {
            s.spawn(move || {
                let mut rows = 0usize;
                with_db(&mut |db| {
                    while !done.load(Ordering::Relaxed) {
                        rows += data.load(db, start, end).unwrap_or(0);
                    }
                });
                (rows, t.elapsed().as_secs_f64())
            })
        });
        let writers: Vec<_> = (0..threads)
            .map(|w| {
                s.spawn(move || {
                    let mut acknowledged = 0usize;
                    with_db(&mut |db| {
                        for i in 0..per {
                            let saved = data.one(i, w).save(db, 0..1, true);
                            acknowledged += usize::from(saved.is_ok());
                        }
                    });
                    acknowledged
                })
            })
            .collect();
        let commits: usize = writers.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        let secs = t.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        let (rows, read_secs) = reader.map_or((0, 1.0), |r| r.join().unwrap_or((0, 1.0)));
        (commits as f64 / secs, rows as f64 / read_secs)
    })
}

/// The series the `--sample` bars are saved as.
fn sample_key() -> Result<SeriesKey> {
    Ok(SeriesKey::bar(
        &format!("{PREFIX}SAMPLE"),
        Exchange::LOCAL,
        Interval::Minute,
    )?)
}

/// The bars of `file` (any format `import` reads, naive times in UTC), as one series.
fn read_sample(file: &Path) -> Result<BarColumns> {
    let key = sample_key()?;
    let route = table::Route {
        kind: SeriesKind::Bar,
        symbol: Some(key.symbol().to_string()),
        exchange: Some(key.exchange()),
        interval: Some(key.interval()),
    };
    let mut checker = table::Checker::new(route, table::OnError::Abort, false, None)?;
    let mut cols = BarColumns::default();
    table::read_batches::<BarColumns>(
        file,
        &time::ReadOptions::iso(chrono_tz::UTC),
        table::FileFormat::of(file, None)?,
        &mut checker,
        &mut |_, batch: BarColumns| {
            cols.extend_from(&batch, 0..batch.len());
            Ok(())
        },
    )
    .with_context(|| format!("--sample {}", file.display()))?;
    checker.finish()?;
    if cols.is_empty() {
        bail!("--sample {}: no bars", file.display());
    }
    Ok(cols)
}

/// Bytes per bar of the sample bars `cols`, saved through the `Database` trait in the empty
/// stores `tv` (at `tv_path`) and `sq`, and written as Parquet with zstd (the file
/// `tickvault export` writes, series columns included).
fn sample_sizes(
    cols: &BarColumns,
    tv: &Engine,
    tv_path: &Path,
    sq: &Store,
    baseline: &Baseline,
    work: &Path,
    run: usize,
) -> Result<Vec<Line>> {
    let key = sample_key()?;
    let n = cols.len();
    let rows = cols.to_rows(&key);
    tv.save_bar_data(&rows, false)?;
    sq.db().save_bar_data(&rows, false)?;
    let parquet = work.join(format!("sample{run}.parquet"));
    let mut w = pq::Writer::new::<BarColumns>(std::fs::File::create(&parquet)?, &key)?;
    w.write(cols)?;
    w.finish()?.sync_all()?;
    let ours = dir_bytes(tv_path) as f64 / n as f64;
    Ok(vec![
        Line::new(
            format!("bytes on disk per bar, sample of {n} real bars"),
            "B",
            ours,
            baseline.bytes(work, run).map(|b| b as f64 / n as f64),
            true,
        ),
        Line {
            other: Some("Parquet"),
            ..Line::new(
                "bytes per bar, real sample, as Parquet with zstd",
                "B",
                ours,
                Some(std::fs::metadata(&parquet)?.len() as f64 / n as f64),
                true,
            )
        },
    ])
}

fn print(cli: &Cli, lines: &[Line], n: usize, kind: &str, repeat: usize, baseline: &str) {
    let ratio = |l: &Line| {
        l.theirs.filter(|t| *t > 0.0 && l.ours > 0.0).map(|t| {
            if l.lower_is_better {
                t / l.ours
            } else {
                l.ours / t
            }
        })
    };
    if cli.json {
        for l in lines {
            println!(
                "{}",
                json!({"type": "bench", "what": l.what, "unit": l.unit, "tickvault": l.ours, "baseline": l.other.unwrap_or(baseline), l.other.unwrap_or(baseline).to_lowercase(): l.theirs, "advantage": ratio(l)})
            );
        }
        return;
    }
    println!(
        "tickvault vs {baseline} (vn.py schema), {n} {kind}, median of {repeat} runs each, alternating; \
         a load's run repeats it for {} ms\n",
        LOAD_RUN.as_millis()
    );
    println!(
        "{:<52} {:>14} {:>14} {:>10}",
        "workload", "tickvault", baseline, "advantage"
    );
    let fmt = |v: f64, unit: &str| match unit {
        "rows/s" | "commits/s" if v >= 1e6 => format!("{:.2} M/s", v / 1e6),
        "rows/s" | "commits/s" => format!("{:.1} k/s", v / 1e3),
        "ms" => format!("{v:.3} ms"),
        _ => format!("{v:.1} {unit}"),
    };
    for l in lines {
        println!(
            "{:<52} {:>14} {:>14} {:>10}",
            l.what,
            fmt(l.ours, l.unit),
            l.theirs.map_or("-".to_string(), |t| fmt(t, l.unit)),
            ratio(l).map_or("-".to_string(), |r| format!("{r:.1}x"))
        );
    }
}
