//! A scenario touching every write path, shared by the crash-point and I/O-error sweeps.

use tickvault::{BarColumns, BarData, Columns, Database, Engine, Exchange, Interval, Timestamp};

use crate::{bar, sort_overview, Model};

const MIN: Interval = Interval::Minute;

/// One step of the scenario.
#[derive(Debug)]
pub enum Op {
    Save(Vec<BarData>, bool),
    Flush,
    Delete(&'static str),
    DeleteRange(&'static str, i64, i64),
    Compact,
    /// Batches of one series saved as one staged commit (an import).
    Staged(Vec<Vec<BarData>>),
}

/// Bars of `symbol` for minutes `from..to`.
pub fn rows(symbol: &str, from: i64, to: i64, price: f64) -> Vec<BarData> {
    (from..to)
        .map(|i| bar(symbol, Exchange::SHFE, MIN, i * 60, price + i as f64))
        .collect()
}

/// Bulk saves, merges, stream saves, a flush, a delete, compaction.
pub fn scenario() -> Vec<Op> {
    vec![
        Op::Save(rows("rb", 0, 40, 1.0), false),
        Op::Save(rows("cu", 0, 5, 7.0), false),
        Op::Save(rows("rb", 40, 41, 2.0), true),
        Op::Save(rows("rb", 10, 11, 3.0), true),
        Op::Flush,
        Op::Save(rows("rb", 41, 43, 4.0), true),
        // Overlaps stored segments: flush first, then merge-on-write.
        Op::Save(rows("rb", 35, 45, 5.0), false),
        Op::Delete("cu"),
        Op::Save(rows("rb", 50, 53, 6.0), false),
        Op::Save(rows("rb", 60, 63, 6.0), false),
        // An import: batches merged into stored segments and into each other, one commit.
        Op::Staged(vec![
            rows("rb", 30, 36, 7.0),
            rows("rb", 70, 75, 7.5),
            rows("rb", 33, 34, 8.0),
        ]),
        Op::Compact,
        Op::DeleteRange("rb", 20, 30),
        Op::Save(rows("ag", 0, 2, 8.0), true),
    ]
}

/// A recorder's day: single-row stream saves that flush by memtable size (with a tiny memtable)
/// and leave small segments for the automatic compaction, a late correction by bulk save, and
/// a deleted series.
pub fn recorder_scenario() -> Vec<Op> {
    let mut ops = vec![Op::Save(rows("x", 0, 3, 9.0), false)];
    for m in 0..36 {
        ops.push(Op::Save(rows("rb", m, m + 1, 1.0), true));
        if m == 20 {
            ops.push(Op::Save(rows("rb", 5, 8, 2.0), false));
            ops.push(Op::Delete("x"));
        }
    }
    ops.push(Op::Flush);
    ops
}

/// Applies `op` to the reference model.
pub fn apply(model: &mut Model, op: &Op) {
    match op {
        Op::Save(rows, _) => model.save(rows),
        Op::Delete(symbol) => {
            model.delete(&(symbol.to_string(), Exchange::SHFE, MIN));
        }
        Op::DeleteRange(symbol, from, to) => {
            let (a, b) = (
                Timestamp::from_secs(from * 60),
                Timestamp::from_secs(to * 60),
            );
            if let Some(rows) = model
                .series
                .get_mut(&(symbol.to_string(), Exchange::SHFE, MIN))
            {
                rows.retain(|t, _| *t < a || *t > b);
            }
        }
        Op::Staged(batches) => batches.iter().for_each(|b| model.save(b)),
        Op::Flush | Op::Compact => {}
    }
}

/// Runs `op` on the engine.
pub fn run(db: &Engine, op: &Op) -> tickvault::Result<()> {
    match op {
        Op::Save(rows, stream) => db.save_bar_data(rows, *stream),
        Op::Flush => db.flush(),
        Op::Delete(symbol) => db.delete_bar_data(symbol, Exchange::SHFE, MIN).map(|_| ()),
        Op::Compact => db.compact().map(|_| ()),
        Op::Staged(batches) => {
            let key = tickvault::SeriesKey::bar("rb", Exchange::SHFE, MIN)?;
            db.save_staged::<BarColumns>(&key, |sink| {
                for b in batches {
                    let mut cols = BarColumns::default();
                    b.iter().for_each(|r| cols.push_row(r));
                    sink(cols)?;
                }
                Ok(())
            })
            .map(|_| ())
        }
        Op::DeleteRange(symbol, from, to) => {
            let key = tickvault::SeriesKey::bar(symbol, Exchange::SHFE, MIN)?;
            let (a, b) = (
                Timestamp::from_secs(from * 60),
                Timestamp::from_secs(to * 60),
            );
            db.delete_range(&key, a, b).map(|_| ())
        }
    }
}

/// The engine's state as a model, checking every overview count against the loaded rows.
pub fn state(db: &Engine) -> Model {
    let mut m = Model::default();
    for o in db.get_bar_overview().unwrap() {
        let rows = db
            .load_bar_data(
                &o.symbol,
                o.exchange,
                o.interval,
                Timestamp::MIN,
                Timestamp::MAX,
            )
            .unwrap();
        assert_eq!(rows.len() as u64, o.count, "overview count of {}", o.symbol);
        m.save(&rows);
    }
    m
}

/// Whether two models hold the same rows and overviews.
pub fn same(a: &Model, b: &Model) -> bool {
    let (mut x, mut y) = (a.overview(), b.overview());
    sort_overview(&mut x);
    sort_overview(&mut y);
    x == y && a.series == b.series
}
