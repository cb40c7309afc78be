//! What vn.py's SQL databases share, written once: the tables and columns, turning columns into
//! cells of naive wall-clock datetimes and back, and the `Database` trait over any backend that can
//! upsert, select, delete and summarise rows of those tables.
//!
//! A backend only moves cells; everything about time zones, precision, vn.py's NULL levels and
//! reporting a bad row by table and id lives here, so SQLite, PostgreSQL and MySQL behave alike.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;
use tickvault::codec::{ColumnMut, ColumnRef, ColumnType};
use tickvault::{
    BarColumns, BarData, BarOverview, Columns, Database, Error, Exchange, Interval, Result,
    SeriesKey, TickColumns, TickData, TickOverview, Timestamp,
};

use crate::time;

/// One value of a SQL row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A float (or an integer read as one).
    F64(f64),
    /// Text; SQLite's datetimes arrive as text too.
    Text(String),
    /// A naive wall-clock datetime.
    Time(NaiveDateTime),
}

/// Which vn.py tables a kind of row lives in.
#[derive(Debug)]
pub struct Table {
    /// The data table.
    pub data: &'static str,
    /// The overview table.
    pub overview: &'static str,
    /// Bars (keyed by interval too) or ticks.
    pub bars: bool,
}

/// vn.py's bar tables.
pub const BARS: Table = Table {
    data: "dbbardata",
    overview: "dbbaroverview",
    bars: true,
};
/// vn.py's tick tables.
pub const TICKS: Table = Table {
    data: "dbtickdata",
    overview: "dbtickoverview",
    bars: false,
};

impl Table {
    /// The columns that name a series: symbol, exchange and, for bars, interval.
    pub fn key_names(&self) -> &'static [&'static str] {
        if self.bars {
            &["symbol", "exchange", "interval"]
        } else {
            &["symbol", "exchange"]
        }
    }

    /// The key columns' values for `key`.
    pub fn key_cells(&self, key: &SeriesKey) -> Vec<Cell> {
        let mut v = vec![
            Cell::Text(key.symbol().to_string()),
            Cell::Text(key.exchange().to_string()),
        ];
        if self.bars {
            v.push(Cell::Text(key.interval().to_string()));
        }
        v
    }

    /// The stored columns after the key, `datetime` first, in vn.py's names.
    pub fn value_names(&self) -> Vec<&'static str> {
        let schema = if self.bars {
            BarColumns::schema()
        } else {
            TickColumns::schema()
        };
        schema.iter().map(|s| s.name).collect()
    }

    /// The value columns with their kinds, in `value_names` order.
    pub fn value_kinds(&self) -> Vec<(&'static str, Kind)> {
        let schema = if self.bars {
            BarColumns::schema()
        } else {
            TickColumns::schema()
        };
        schema
            .iter()
            .map(|s| {
                let kind = match s.ty {
                    ColumnType::I64 => Kind::Time,
                    ColumnType::F64 => Kind::Float,
                    ColumnType::Str => Kind::Text,
                };
                (s.name, kind)
            })
            .collect()
    }

    /// The column definitions of the data table after `id`, in a dialect: `q` quotes a name,
    /// `time` and `float` are the types of datetimes and numbers; NOT NULL as vn.py has it.
    pub fn data_ddl(&self, q: &dyn Fn(&str) -> String, time: &str, float: &str) -> String {
        let mut cols: Vec<String> = self
            .key_names()
            .iter()
            .map(|n| format!("{} VARCHAR(255) NOT NULL", q(n)))
            .collect();
        for (name, kind) in self.value_kinds() {
            let ty = match kind {
                Kind::Time => time,
                Kind::Float => float,
                Kind::Text => "VARCHAR(255)",
            };
            let null = if self.nullable(name) { "" } else { " NOT NULL" };
            cols.push(format!("{} {ty}{null}", q(name)));
        }
        cols.join(", ")
    }

    /// The column definitions of the overview table after `id`.
    pub fn overview_ddl(&self, q: &dyn Fn(&str) -> String, time: &str) -> String {
        let mut cols: Vec<String> = self
            .key_names()
            .iter()
            .map(|n| format!("{} VARCHAR(255) NOT NULL", q(n)))
            .collect();
        cols.push(format!("{} INTEGER NOT NULL", q("count")));
        cols.push(format!("{} {time} NOT NULL", q("start")));
        cols.push(format!("{} {time} NOT NULL", q("end")));
        cols.join(", ")
    }

    /// The unique key of the data table: key columns and datetime.
    pub fn unique_names(&self) -> Vec<&'static str> {
        let mut v = self.key_names().to_vec();
        v.push("datetime");
        v
    }

    /// Every column a write gives: key columns, then value columns.
    pub fn all_names(&self) -> Vec<&'static str> {
        let mut v = self.key_names().to_vec();
        v.extend(self.value_names());
        v
    }

    /// Whether vn.py's schema lets `column` be NULL (ticks' levels 2-5 and localtime).
    pub fn nullable(&self, column: &str) -> bool {
        column == "localtime"
            || ((column.starts_with("bid_") || column.starts_with("ask_"))
                && !column.ends_with("_1"))
    }
}

/// How a SQL dialect spells identifiers and numbered parameters.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// The identifier quote.
    pub quote: char,
    /// The text of parameter `i` (1-based).
    pub param: fn(usize) -> String,
}

/// SQLite: `"name"`, `?1`.
pub const SQLITE: Dialect = Dialect {
    quote: '"',
    param: |i| format!("?{i}"),
};
/// PostgreSQL: `"name"`, `$1`.
pub const POSTGRES: Dialect = Dialect {
    quote: '"',
    param: |i| format!("${i}"),
};
/// MySQL and MariaDB: `` `name` ``, `?`.
pub const MYSQL: Dialect = Dialect {
    quote: '`',
    param: |_| "?".to_string(),
};

impl Dialect {
    /// A quoted identifier.
    pub fn q(&self, name: &str) -> String {
        format!("{0}{name}{0}", self.quote)
    }

    /// Quoted identifiers, comma-separated.
    pub fn list(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| self.q(n))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `key1 = param1 AND ...` over a table's key columns.
    pub fn key_filter(&self, table: &Table) -> String {
        table
            .key_names()
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{}={}", self.q(n), (self.param)(i + 1)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// What a value column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A datetime.
    Time,
    /// A float.
    Float,
    /// Text.
    Text,
}

/// How finely a backend's datetime columns keep time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Microseconds (SQLite text, PostgreSQL TIMESTAMP).
    Micros,
    /// Milliseconds (vn.py's MySQL ticks, DATETIME(3)).
    Millis,
    /// Whole seconds (vn.py's MySQL bars, DATETIME).
    Seconds,
}

impl Precision {
    fn truncate(self, t: NaiveDateTime) -> NaiveDateTime {
        let ns = t.nanosecond();
        let keep = match self {
            Precision::Micros => ns / 1_000 * 1_000,
            Precision::Millis => ns / 1_000_000 * 1_000_000,
            Precision::Seconds => 0,
        };
        t.with_nanosecond(keep).unwrap_or(t)
    }
}

/// Naive datetimes in one zone, as vn.py stores them.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The zone of the naive datetimes (`--sql-tz`).
    pub tz: Tz,
}

impl Clock {
    /// The naive wall-clock time of an instant (nanoseconds kept; backends truncate).
    pub fn naive(&self, t: Timestamp) -> NaiveDateTime {
        DateTime::from_timestamp_nanos(t.as_ns())
            .with_timezone(&self.tz)
            .naive_local()
    }

    /// The naive time to store for `t`, refusing one that DST makes ambiguous: vn.py would store
    /// two instants of the fall-back hour under one key and lose a row, or read it back shifted.
    pub fn store(
        &self,
        t: Timestamp,
        precision: Precision,
        what: &dyn Fn() -> String,
    ) -> Result<NaiveDateTime> {
        let naive = precision.truncate(self.naive(t));
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(_) => Ok(naive),
            _ => Err(Error::InvalidArgument(format!(
                "{}: {} is {naive} in {}, a wall-clock time that daylight saving repeats; \
                 vn.py's naive datetimes cannot tell the two apart (store it with --sql-tz UTC)",
                what(),
                time::format(t, self.tz),
                self.tz
            ))),
        }
    }

    /// The instant of a stored naive time; an error names the table and row id.
    pub fn instant(&self, naive: NaiveDateTime) -> std::result::Result<Timestamp, String> {
        time::from_naive(naive, self.tz).map_err(|e| e.to_string())
    }
}

/// vn.py's datetime text (SQLite): microseconds only when nonzero.
pub fn datetime_text(t: NaiveDateTime) -> String {
    let us = t.nanosecond() / 1000;
    if us == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        format!("{}.{us:06}", t.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// Reads vn.py's datetime text.
pub fn parse_datetime_text(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()
}

/// The rows of one series' columns as cells, in `Table::all_names` order.
pub struct RowCells<'a> {
    key: Vec<Cell>,
    refs: Vec<ColumnRef<'a>>,
    names: Vec<&'static str>,
    finite_only: bool,
    len: usize,
    clock: Clock,
    precision: Precision,
    series: String,
}

impl std::fmt::Debug for RowCells<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCells")
            .field("series", &self.series)
            .field("len", &self.len)
            .finish()
    }
}

impl<'a> RowCells<'a> {
    /// Rows of `cols`, a series of `table`, with datetimes in `clock` kept to `precision`.
    pub fn new<C: Columns>(
        table: &Table,
        key: &SeriesKey,
        cols: &'a C,
        clock: Clock,
        precision: Precision,
        finite_only: bool,
    ) -> RowCells<'a> {
        RowCells {
            key: table.key_cells(key),
            refs: cols.refs(),
            names: table.value_names(),
            finite_only,
            len: cols.len(),
            clock,
            precision,
            series: key.to_string(),
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Row `i`'s cells, into `out` (cleared first).
    pub fn row(&self, i: usize, out: &mut Vec<Cell>) -> Result<()> {
        out.clear();
        out.extend(self.key.iter().cloned());
        for (c, col) in self.refs.iter().enumerate() {
            out.push(match col {
                ColumnRef::Time(v) => Cell::Time(self.time(v[i])?),
                ColumnRef::OptTime(v) => match v[i] {
                    Some(t) => Cell::Time(self.time(t)?),
                    None => Cell::Null,
                },
                ColumnRef::F64(v) if self.finite_only && !v[i].is_finite() => {
                    return Err(Error::InvalidArgument(format!(
                        "series {} at {}: {} is {}, which this database cannot store",
                        self.series,
                        self.times()
                            .get(i)
                            .map(|t| self.clock.naive(*t).to_string())
                            .unwrap_or_default(),
                        self.names[c],
                        v[i]
                    )))
                }
                ColumnRef::F64(v) => Cell::F64(v[i]),
                ColumnRef::Str(v) => Cell::Text(v[i].to_string()),
            });
        }
        Ok(())
    }

    fn times(&self) -> &[Timestamp] {
        match self.refs.first() {
            Some(ColumnRef::Time(v)) => v,
            _ => &[],
        }
    }

    fn time(&self, t: Timestamp) -> Result<NaiveDateTime> {
        self.clock
            .store(t, self.precision, &|| format!("series {}", self.series))
    }
}

/// Where and how a backend failed, for messages: a backend error becomes an I/O error naming
/// the (password-free) place.
pub fn backend_err(place: &str, e: impl std::fmt::Display) -> Error {
    Error::io(place, std::io::Error::other(e.to_string()))
}

/// A connection that runs a statement given as text (for BEGIN, COMMIT and ROLLBACK).
pub trait Exec {
    /// Runs `sql`.
    fn run_sql(&mut self, sql: &str) -> std::result::Result<(), String>;
}

/// A connection and whether a transaction that spans several calls (`begin` .. `end`) is open.
#[derive(Debug)]
pub struct Session<C> {
    /// The connection.
    pub conn: C,
    in_tx: bool,
}

impl<C: Exec> Session<C> {
    /// A session with no transaction open.
    pub fn new(conn: C) -> Session<C> {
        Session { conn, in_tx: false }
    }

    /// Runs `f` in a transaction of its own, or in the one `begin` opened.
    pub fn transaction<T>(
        &mut self,
        place: &str,
        f: impl FnOnce(&mut C) -> Result<T>,
    ) -> Result<T> {
        if self.in_tx {
            return f(&mut self.conn);
        }
        self.conn
            .run_sql("BEGIN")
            .map_err(|e| backend_err(place, e))?;
        match f(&mut self.conn) {
            Ok(v) => {
                self.conn
                    .run_sql("COMMIT")
                    .map_err(|e| backend_err(place, e))?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.run_sql("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Opens a transaction spanning the calls until `end`.
    pub fn begin(&mut self, place: &str) -> Result<()> {
        self.conn
            .run_sql("BEGIN")
            .map_err(|e| backend_err(place, e))?;
        self.in_tx = true;
        Ok(())
    }

    /// Commits or rolls back the transaction `begin` opened.
    pub fn end(&mut self, place: &str, commit: bool) -> Result<()> {
        self.in_tx = false;
        self.conn
            .run_sql(if commit { "COMMIT" } else { "ROLLBACK" })
            .map_err(|e| backend_err(place, e))
    }
}

/// One series of a data table, summarised by the database.
#[derive(Debug)]
pub struct Summary {
    /// The smallest row id of the series, to name it in errors.
    pub id: i64,
    /// Symbol, exchange and (bars) interval as stored.
    pub key: Vec<String>,
    /// Rows.
    pub count: i64,
    /// First and last datetime.
    pub first: Cell,
    /// See `first`.
    pub last: Cell,
}

/// What a SQL database does for the shared code.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Where the data lives, for messages; never holds a password.
    fn place(&self) -> &str;
    /// The zone of naive datetimes.
    fn clock(&self) -> Clock;
    /// Whether NaN and infinities can be stored (MySQL's DOUBLE cannot, SQLite turns NaN into
    /// NULL).
    fn stores_non_finite(&self) -> bool {
        true
    }
    /// How finely the table keeps datetimes.
    fn precision(&self, table: &Table) -> Precision;
    /// Inserts or replaces (on the table's unique key, last row wins) every row, then rewrites
    /// the series' overview row from its data, in one transaction.
    fn upsert(&self, table: &Table, key: &SeriesKey, rows: &RowCells<'_>) -> Result<()>;
    /// Calls `sink(id, cells)` for each row of the series with `start <= datetime <= end`, in
    /// datetime order; cells in `Table::value_names` order.
    fn select(
        &self,
        table: &Table,
        key: &SeriesKey,
        start: NaiveDateTime,
        end: NaiveDateTime,
        sink: &mut dyn FnMut(i64, Vec<Cell>) -> Result<()>,
    ) -> Result<()>;
    /// Opens a transaction that spans the following calls until `end`: a series copied in many
    /// windows then lands whole or not at all.
    fn begin(&self) -> Result<()>;
    /// Commits (`commit`) or rolls back the transaction `begin` opened.
    fn end(&self, commit: bool) -> Result<()>;
    /// Deletes a series' rows and its overview row; returns how many rows.
    fn delete(&self, table: &Table, key: &SeriesKey) -> Result<u64>;
    /// Every series of the data table (not of vn.py's overview tables, which drift).
    fn summaries(&self, table: &Table) -> Result<Vec<Summary>>;
}

fn bad(place: &str, table: &Table, id: i64, what: &str) -> Error {
    Error::corruption(
        place,
        id.max(0) as u64,
        format!("{} row id {id}: {what}", table.data),
    )
}

fn cell_time<B: Backend + ?Sized>(
    b: &B,
    table: &Table,
    id: i64,
    name: &str,
    cell: &Cell,
) -> Result<Timestamp> {
    let naive = match cell {
        Cell::Time(t) => *t,
        Cell::Text(s) => parse_datetime_text(s).ok_or_else(|| {
            bad(
                b.place(),
                table,
                id,
                &format!("{name} {s:?} is not a datetime in vn.py's format"),
            )
        })?,
        other => {
            return Err(bad(
                b.place(),
                table,
                id,
                &format!("{name} is {other:?}, not a datetime"),
            ))
        }
    };
    b.clock()
        .instant(naive)
        .map_err(|e| bad(b.place(), table, id, &format!("{name}: {e}")))
}

/// Fills columns from a backend's rows, a chunk at a time, so a load holds cells for at most a
/// few thousand rows beside the columns.
struct Decoder<'b, B: Backend + ?Sized, C: Columns> {
    backend: &'b B,
    table: &'b Table,
    names: Vec<&'static str>,
    pending: Vec<(i64, Vec<Cell>)>,
    out: C,
    start: Timestamp,
    end: Timestamp,
}

const CHUNK: usize = 4096;

impl<B: Backend + ?Sized, C: Columns> Decoder<'_, B, C> {
    fn push(&mut self, id: i64, cells: Vec<Cell>) -> Result<()> {
        if cells.len() != self.names.len() {
            return Err(bad(
                self.backend.place(),
                self.table,
                id,
                &format!("{} columns, expected {}", cells.len(), self.names.len()),
            ));
        }
        self.pending.push((id, cells));
        if self.pending.len() >= CHUNK {
            self.drain()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<()> {
        let mut chunk = C::default();
        chunk.resize(self.pending.len());
        let (b, table, place) = (self.backend, self.table, self.backend.place());
        for (c, col) in chunk.muts().into_iter().enumerate() {
            let name = self.names[c];
            let rows = self.pending.iter().map(|(id, cells)| (*id, &cells[c]));
            match col {
                ColumnMut::Time(v) => {
                    for (slot, (id, cell)) in v.iter_mut().zip(rows) {
                        *slot = cell_time(b, table, id, name, cell)?;
                    }
                }
                ColumnMut::OptTime(v) => {
                    for (slot, (id, cell)) in v.iter_mut().zip(rows) {
                        *slot = match cell {
                            Cell::Null => None,
                            c => Some(cell_time(b, table, id, name, c)?),
                        };
                    }
                }
                ColumnMut::F64(v) => {
                    for (slot, (id, cell)) in v.iter_mut().zip(rows) {
                        *slot = match cell {
                            Cell::F64(x) => *x,
                            // Levels 2-5 are NULLable in vn.py's schema: vn.py reads them as 0.
                            Cell::Null if table.nullable(name) => 0.0,
                            other => {
                                return Err(bad(
                                    place,
                                    table,
                                    id,
                                    &format!("{name} is {other:?}, not a number"),
                                ))
                            }
                        };
                    }
                }
                ColumnMut::Str(v) => {
                    for (slot, (id, cell)) in v.iter_mut().zip(rows) {
                        let Cell::Text(t) = cell else {
                            return Err(bad(
                                place,
                                table,
                                id,
                                &format!("{name} is {cell:?}, not text"),
                            ));
                        };
                        *slot = tickvault::SmolStr::from(t.as_str());
                    }
                }
            }
        }
        self.pending.clear();
        // Stored times are truncated to the backend's precision: keep exactly the asked range.
        let times = chunk.datetimes();
        let lo = times.partition_point(|t| *t < self.start);
        let hi = times.partition_point(|t| *t <= self.end);
        self.out.extend_from(&chunk, lo..hi.max(lo));
        Ok(())
    }
}

/// Loads `[start, end]` of a series into columns.
pub fn load<B: Backend + ?Sized, C: Columns>(
    b: &B,
    table: &Table,
    key: &SeriesKey,
    start: Timestamp,
    end: Timestamp,
) -> Result<C> {
    if start > end {
        return Ok(C::default());
    }
    let clock = b.clock();
    let precision = b.precision(table);
    // Truncating both bounds keeps every stored row that can lie in the range; the decoder drops
    // the few that fall outside it once their instants are known.
    let (lo, hi) = (
        precision.truncate(clock.naive(start)),
        precision.truncate(clock.naive(end)),
    );
    let mut dec = Decoder {
        backend: b,
        table,
        names: table.value_names(),
        pending: Vec::new(),
        out: C::default(),
        start,
        end,
    };
    // Around a DST fall-back the wall clock runs backwards, so `lo` may exceed `hi` while the
    // instants do not: then ask for everything between them the other way round.
    let (qlo, qhi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    b.select(table, key, qlo, qhi, &mut |id, cells| dec.push(id, cells))?;
    dec.drain()?;
    Ok(dec.out)
}

fn group<R, C: Columns<Row = R>>(
    rows: &[R],
    key_of: impl Fn(&R) -> Result<SeriesKey>,
) -> Result<Vec<(SeriesKey, C)>> {
    let mut groups: Vec<(SeriesKey, C)> = Vec::new();
    for r in rows {
        let key = key_of(r)?;
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => c.push_row(r),
            None => {
                let mut c = C::default();
                c.push_row(r);
                groups.push((key, c));
            }
        }
    }
    Ok(groups)
}

fn save<B: Backend + ?Sized, C: Columns>(
    b: &B,
    table: &Table,
    key: &SeriesKey,
    cols: &C,
) -> Result<()> {
    let rows = RowCells::new(
        table,
        key,
        cols,
        b.clock(),
        b.precision(table),
        !b.stores_non_finite(),
    );
    if rows.is_empty() {
        return Ok(());
    }
    // A row refused on the way (a repeated wall-clock time, a NaN for MySQL) fails the upsert's
    // transaction: nothing of the batch is written.
    b.upsert(table, key, &rows)
}

/// (key strings, exchange, interval, count, first, last) of every series.
type Series = (String, Exchange, Interval, u64, Timestamp, Timestamp);

fn overview<B: Backend + ?Sized>(b: &B, table: &Table) -> Result<Vec<Series>> {
    let mut out = Vec::new();
    for s in b.summaries(table)? {
        let place = b.place();
        let get = |i: usize| s.key.get(i).cloned().unwrap_or_default();
        let (symbol, exchange) = (get(0), get(1));
        let interval = if table.bars { get(2) } else { "tick".into() };
        let exchange: Exchange = exchange.parse().map_err(|_| {
            bad(
                place,
                table,
                s.id,
                &format!("unknown exchange {exchange:?}"),
            )
        })?;
        let interval: Interval = interval.parse().map_err(|_| {
            bad(
                place,
                table,
                s.id,
                &format!("unknown interval {interval:?}"),
            )
        })?;
        out.push((
            symbol,
            exchange,
            interval,
            s.count.max(0) as u64,
            cell_time(b, table, s.id, "datetime", &s.first)?,
            cell_time(b, table, s.id, "datetime", &s.last)?,
        ));
    }
    Ok(out)
}

/// Any backend as a `Database`.
#[derive(Debug)]
pub struct SqlStore<B: Backend> {
    backend: B,
}

impl<B: Backend> SqlStore<B> {
    /// Wraps a backend.
    pub fn new(backend: B) -> SqlStore<B> {
        SqlStore { backend }
    }
}

impl<B: Backend> SqlStore<B> {
    /// Runs `f` in one transaction: every write it makes commits together, or none does.
    pub fn atomic<T>(
        &self,
        f: impl FnOnce(&dyn Database) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.backend.begin()?;
        match f(self) {
            Ok(v) => {
                self.backend.end(true)?;
                Ok(v)
            }
            Err(e) => {
                // The connection may be gone: the server rolls back then, and the error that
                // matters is `e`.
                let _ = self.backend.end(false);
                Err(e)
            }
        }
    }
}

impl<B: Backend> Database for SqlStore<B> {
    fn save_bar_data(&self, bars: &[BarData], _stream: bool) -> Result<()> {
        for (key, cols) in
            group::<_, BarColumns>(bars, |b| SeriesKey::bar(&b.symbol, b.exchange, b.interval))?
        {
            save(&self.backend, &BARS, &key, &cols)?;
        }
        Ok(())
    }

    fn save_tick_data(&self, ticks: &[TickData], _stream: bool) -> Result<()> {
        for (key, cols) in
            group::<_, TickColumns>(ticks, |t| SeriesKey::tick(&t.symbol, t.exchange))?
        {
            save(&self.backend, &TICKS, &key, &cols)?;
        }
        Ok(())
    }

    fn load_bar_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        interval: Interval,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<BarData>> {
        let key = SeriesKey::bar(symbol, exchange, interval)?;
        let cols: BarColumns = load(&self.backend, &BARS, &key, start, end)?;
        Ok(cols.to_rows(&key))
    }

    fn load_tick_data(
        &self,
        symbol: &str,
        exchange: Exchange,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<TickData>> {
        let key = SeriesKey::tick(symbol, exchange)?;
        let cols: TickColumns = load(&self.backend, &TICKS, &key, start, end)?;
        Ok(cols.to_rows(&key))
    }

    fn delete_bar_data(&self, symbol: &str, exchange: Exchange, interval: Interval) -> Result<u64> {
        self.backend
            .delete(&BARS, &SeriesKey::bar(symbol, exchange, interval)?)
    }

    fn delete_tick_data(&self, symbol: &str, exchange: Exchange) -> Result<u64> {
        self.backend
            .delete(&TICKS, &SeriesKey::tick(symbol, exchange)?)
    }

    fn get_bar_overview(&self) -> Result<Vec<BarOverview>> {
        Ok(overview(&self.backend, &BARS)?
            .into_iter()
            .map(|(s, exchange, interval, count, start, end)| BarOverview {
                symbol: s.into(),
                exchange,
                interval,
                count,
                start,
                end,
            })
            .collect())
    }

    fn get_tick_overview(&self) -> Result<Vec<TickOverview>> {
        Ok(overview(&self.backend, &TICKS)?
            .into_iter()
            .map(|(s, exchange, _, count, start, end)| TickOverview {
                symbol: s.into(),
                exchange,
                count,
                start,
                end,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_truncates_toward_the_past() {
        let t =
            NaiveDateTime::parse_from_str("2024-01-02 09:00:01.123456789", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap();
        assert_eq!(
            datetime_text(Precision::Micros.truncate(t)),
            "2024-01-02 09:00:01.123456"
        );
        assert_eq!(
            datetime_text(Precision::Millis.truncate(t)),
            "2024-01-02 09:00:01.123000"
        );
        assert_eq!(
            datetime_text(Precision::Seconds.truncate(t)),
            "2024-01-02 09:00:01"
        );
    }

    #[test]
    fn the_fall_back_hour_is_refused_not_shifted() {
        let clock = Clock {
            tz: "America/New_York".parse().unwrap(),
        };
        // 2024-11-03 05:30 UTC is 01:30 EDT, a wall-clock time that happens again at 06:30 UTC.
        let t = Timestamp::from_secs(1_730_611_800);
        let err = clock
            .store(t, Precision::Micros, &|| "series X".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("2024-11-03 01:30:00"), "{err}");
        assert!(err.contains("series X"), "{err}");
        // An hour earlier is unambiguous.
        let ok = clock
            .store(t.add_ns(-3_600_000_000_000), Precision::Micros, &|| {
                String::new()
            })
            .unwrap();
        assert_eq!(datetime_text(ok), "2024-11-03 00:30:00");
    }

    #[test]
    fn nullable_columns_are_vnpys() {
        assert!(TICKS.nullable("bid_price_2"));
        assert!(TICKS.nullable("localtime"));
        assert!(!TICKS.nullable("bid_price_1"));
        assert!(!TICKS.nullable("last_price"));
    }
}
