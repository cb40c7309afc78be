//! The block cache: repeated loads are served from it with the same rows as decoding gives, a
//! write never leaves a stale row behind it, and a large load passes it by.

use tickvault::{
    sample, BarColumns, BarData, Columns, Database, Engine, Exchange, Interval, SeriesKey,
    TickColumns, Timestamp,
};
use tickvault_tests::bar;

const MIN: Interval = Interval::Minute;

fn key() -> SeriesKey {
    SeriesKey::bar("rb", Exchange::SHFE, MIN).unwrap()
}

/// A writer on `dir`'s store with blocks of `block_rows` and a block cache of `cache` bytes.
fn writer(dir: &tempfile::TempDir, block_rows: usize, cache: usize) -> Engine {
    Engine::builder(dir.path().join("db"))
        .block_rows(block_rows)
        .block_cache_bytes(cache)
        .open()
        .unwrap()
}

/// 10,000 bars in blocks of 256 (40 blocks), minute apart from time 0.
fn store(dir: &tempfile::TempDir, cache: usize) -> Engine {
    let db = writer(dir, 256, cache);
    let rows: Vec<BarData> = (0..10_000)
        .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, 3000.0 + i as f64))
        .collect();
    db.save_bar_data(&rows, false).unwrap();
    db
}

fn load(db: &Engine, from: i64, to: i64) -> BarColumns {
    db.load_columns(&key(), Timestamp::from_secs(from), Timestamp::from_secs(to))
        .unwrap()
}

#[test]
fn a_repeated_load_is_served_from_the_cache_with_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir, 16 << 20);
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = store(&plain_dir, 0);
    // Whole, cut at both ends (inside blocks), one row, and a range past the end.
    let ranges = [
        (0, 600_000),
        (61 * 60, 3_001 * 60),
        (7_777 * 60, 7_777 * 60),
    ];
    for (from, to) in ranges {
        let first = load(&db, from, to);
        let misses = db.block_cache_stats().misses;
        assert!(misses > 0);
        let second = load(&db, from, to);
        let stats = db.block_cache_stats();
        assert_eq!(
            stats.misses, misses,
            "{from}..{to}: the second load decoded nothing"
        );
        assert!(stats.hits > 0);
        assert_eq!(first, second);
        assert_eq!(first, load(&plain, from, to), "{from}..{to}");
    }
    let cut = load(&db, 61 * 60, 3_001 * 60);
    assert_eq!(cut.len(), 2_941);
    assert_eq!(cut.close_price[0], 3061.0);
    assert_eq!(cut.close_price[2_940], 6001.0);
    // Rows and columns loads share the cache, and so do the reused-buffer loads.
    let hits = db.block_cache_stats().hits;
    let rows = db
        .load_bar_data("rb", Exchange::SHFE, MIN, Timestamp::MIN, Timestamp::MAX)
        .unwrap();
    assert_eq!(rows.len(), 10_000);
    assert_eq!(rows[9_999].close_price, 12_999.0);
    let mut into = BarColumns::default();
    db.load_columns_into(&key(), Timestamp::MIN, Timestamp::MAX, &mut into)
        .unwrap();
    assert_eq!(into, load(&plain, 0, 600_000));
    let stats = db.block_cache_stats();
    // 40 blocks of 8 columns, twice.
    assert_eq!(stats.hits - hits, 2 * 40 * 8);
    assert_eq!(stats.entries, 40 * 8);
    assert!(stats.bytes > 10_000 * 8 * 8 && stats.bytes <= stats.capacity);
    assert_eq!(plain.block_cache_stats().entries, 0);
    assert_eq!(plain.block_cache_stats().hits, 0);
}

#[test]
fn writes_never_leave_a_stale_row_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = store(&dir, 16 << 20);
    assert_eq!(load(&db, 0, 600_000).close_price[5_000], 8000.0);
    // A bulk save over stored rows rewrites their segment under a new id.
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 5_000 * 60, 1.5)], false)
        .unwrap();
    assert_eq!(load(&db, 0, 600_000).close_price[5_000], 1.5);
    // A stream save lies over the segments in the memtable.
    db.save_bar_data(&[bar("rb", Exchange::SHFE, MIN, 5_001 * 60, 2.5)], true)
        .unwrap();
    let all = load(&db, 0, 600_000);
    assert_eq!((all.close_price[5_000], all.close_price[5_001]), (1.5, 2.5));
    db.flush().unwrap();
    db.compact().unwrap();
    let all = load(&db, 0, 600_000);
    assert_eq!((all.close_price[5_000], all.close_price[5_001]), (1.5, 2.5));
    // Deleted and saved again with other prices.
    assert_eq!(
        db.delete_bar_data("rb", Exchange::SHFE, MIN).unwrap(),
        10_000
    );
    assert!(load(&db, 0, 600_000).is_empty());
    let again: Vec<BarData> = (0..10_000)
        .map(|i| bar("rb", Exchange::SHFE, MIN, i * 60, -(i as f64)))
        .collect();
    db.save_bar_data(&again, false).unwrap();
    let all = load(&db, 0, 600_000);
    assert_eq!(all.len(), 10_000);
    assert!(all
        .close_price
        .iter()
        .enumerate()
        .all(|(i, c)| *c == -(i as f64)));
}

#[test]
fn a_load_larger_than_a_quarter_of_the_cache_copies_from_it_but_does_not_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    // 10,000 bars of 8 columns decode to 640,000 bytes: more than a quarter of 2 MiB.
    let db = store(&dir, 2 << 20);
    load(&db, 0, 600_000);
    load(&db, 0, 600_000);
    let stats = db.block_cache_stats();
    assert_eq!(
        (stats.entries, stats.hits, stats.misses),
        (0, 0, 2 * 40 * 8)
    );
    // A day fits: it fills the cache, and a second load of it hits. Its last block is cut: the
    // times that cut it come from the cache too.
    load(&db, 0, 1_439 * 60);
    let filled = db.block_cache_stats();
    assert_eq!(filled.entries, 6 * 8, "1,440 bars in blocks of 256");
    load(&db, 0, 1_439 * 60);
    assert_eq!(db.block_cache_stats().hits, filled.hits + 6 * 8);
    assert_eq!(db.block_cache_stats().misses, filled.misses);
    // The large load copies the cached block columns but keeps nothing more.
    let all = load(&db, 0, 600_000);
    assert_eq!(all.close_price[1_000], 4000.0);
    let after = db.block_cache_stats();
    assert_eq!(after.entries, filled.entries);
    assert_eq!(after.hits, filled.hits + 2 * 6 * 8);
}

#[test]
fn a_small_cache_stays_within_its_capacity_and_ticks_are_cached_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = writer(&dir, 256, 8 << 20);
    let ticks = sample::ticks(3_000, 7, "螺纹钢");
    let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    db.save_columns(&key, &ticks, false).unwrap();
    let day = |db: &Engine| -> TickColumns {
        db.load_columns(&key, Timestamp::MIN, Timestamp::MAX)
            .unwrap()
    };
    let first = day(&db);
    assert_eq!(first, ticks);
    assert_eq!(day(&db), ticks);
    let stats = db.block_cache_stats();
    assert!(stats.hits > 0 && stats.bytes <= stats.capacity, "{stats:?}");
    // Many different bar ranges through the small cache: it evicts, never grows past capacity.
    let bars = sample::bars(200_000, 3);
    let bkey = key_bars();
    db.save_columns(&bkey, &bars, false).unwrap();
    for day in 0..100 {
        let from = bars.datetime[day * 2_000];
        let to = bars.datetime[day * 2_000 + 1_999];
        let got: BarColumns = db.load_columns(&bkey, from, to).unwrap();
        assert_eq!(got.len(), 2_000);
        assert_eq!(
            got.close_price[..],
            bars.close_price[day * 2_000..][..2_000]
        );
        let stats = db.block_cache_stats();
        assert!(stats.bytes <= stats.capacity, "{stats:?}");
    }
    assert_eq!(day(&db), ticks);
}

fn key_bars() -> SeriesKey {
    SeriesKey::bar("IF9999", Exchange::CFFEX, MIN).unwrap()
}

#[test]
fn rows_loads_built_straight_from_the_cache_match_decoded_rows() {
    let ticks = sample::ticks(3_000, 9, "螺纹钢");
    let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    let open = |dir: &tempfile::TempDir, cache: usize| {
        let db = writer(dir, 256, cache);
        db.save_columns(&key, &ticks, false).unwrap();
        db
    };
    let (dir, plain_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (db, plain) = (open(&dir, 16 << 20), open(&plain_dir, 0));
    // Rows 100..=2899: 12 blocks of 256 (the last of 184), the first and last cut.
    let (from, to) = (ticks.datetime[100], ticks.datetime[2_899]);
    let rows = |db: &Engine| {
        db.load_tick_data("rb2610", Exchange::SHFE, from, to)
            .unwrap()
    };
    let expect = rows(&plain);
    assert_eq!(expect.len(), 2_800);
    assert_eq!(expect[0], ticks.row(100, &key));
    assert_eq!(rows(&db), expect);
    let filled = db.block_cache_stats();
    assert_eq!(filled.entries, 12 * 34);
    // The second load comes from the cache: every column of every block a hit (the cut
    // blocks' times through the cut), nothing decoded.
    let again = rows(&db);
    let stats = db.block_cache_stats();
    assert_eq!(again, expect);
    assert_eq!(again[2_799].name, ticks.name[2_899]);
    assert_eq!(again[1].localtime, ticks.localtime[101]);
    assert_eq!(stats.hits - filled.hits, 12 * 34);
    assert_eq!(stats.misses, filled.misses);
}

#[test]
fn tick_rows_loads_built_on_all_cores_match_the_saved_rows() {
    // 40,000 ticks: loads of 16,384 rows or more build tick rows in parallel, in parts that
    // start and end inside blocks and inside the 64-row tiles.
    let ticks = sample::ticks(40_000, 12, "螺纹钢");
    let key = SeriesKey::tick("rb2610", Exchange::SHFE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = writer(&dir, 1_000, 64 << 20);
    db.save_columns(&key, &ticks, false).unwrap();
    let plain = Engine::builder(dir.path().join("db"))
        .read_only(true)
        .block_cache_bytes(0)
        .open()
        .unwrap();
    let (a, b) = (333, 39_000);
    let expect: Vec<_> = (a..=b).map(|i| ticks.row(i, &key)).collect();
    let rows = |db: &Engine| {
        db.load_tick_data(
            "rb2610",
            Exchange::SHFE,
            ticks.datetime[a],
            ticks.datetime[b],
        )
        .unwrap()
    };
    assert_eq!(rows(&plain), expect);
    assert_eq!(rows(&db), expect);
    let filled = db.block_cache_stats();
    let again = rows(&db);
    assert_eq!(again, expect);
    assert_eq!(again[20_000].bid_volume_3, ticks.bid_volume_3[20_333]);
    assert_eq!(again[38_667].name, ticks.name[39_000]);
    // The second load is served from the cache, nothing decoded: 40 blocks of 34 columns,
    // and again for a block split between two parts (parts of 8,192 rows or more: at most 3
    // splits; how many, rayon decides as the threads steal work).
    let stats = db.block_cache_stats();
    let hits = stats.hits - filled.hits;
    assert!((40 * 34..=43 * 34).contains(&hits), "{hits} hits");
    assert_eq!(hits % 34, 0);
    assert_eq!(stats.misses, filled.misses);
}
