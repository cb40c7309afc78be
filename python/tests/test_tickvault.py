"""The `tickvault` Python package: columnar saves and loads, formats, scans, series, errors."""

import datetime as dt
import threading

import numpy as np
import pytest

import tickvault

MIN = 60_000_000_000


def bars(n, start=0):
    t = (np.arange(n, dtype=np.int64) + start) * MIN
    return {
        "datetime": t,
        "open_price": np.arange(n) * 0.5 + 100.0,
        "high_price": np.arange(n) * 0.5 + 101.0,
        "low_price": np.arange(n) * 0.5 + 99.0,
        "close_price": np.arange(n) * 0.5 + 100.25,
        "volume": np.arange(n, dtype=np.float64),
    }


@pytest.fixture
def store(tmp_path):
    return tickvault.open(tmp_path / "db")


def test_bars_round_trip_exactly_with_nan_negative_zero_and_old_times(store):
    cols = {
        "datetime": np.array(["1969-07-20T20:17:40", "1970-01-01T00:00:00.000000001", "2200-01-01T00:00:00.5"],
                             dtype="datetime64[ns]"),
        "open_price": np.array([np.nan, -0.0, 1e300]),
        "close_price": np.array([np.inf, 3517.4, -1.5]),
    }
    store.save_bars("螺纹/钢 'x'", "SHFE", "1m", cols)
    got = store.load_bars("螺纹/钢 'x'", "SHFE", "1m")
    assert got["datetime"].dtype == np.dtype("datetime64[ns]")
    assert (got["datetime"] == cols["datetime"]).all()
    assert np.isnan(got["open_price"][0])
    assert np.signbit(got["open_price"][1]) and got["open_price"][1] == 0.0
    assert got["open_price"][2] == 1e300
    assert list(got["close_price"]) == [np.inf, 3517.4, -1.5]
    # Columns not given are zeros, as vn.py's defaults.
    assert list(got["volume"]) == [0.0, 0.0, 0.0]


def test_loads_are_inclusive_and_bounds_take_every_time_form(store):
    store.save_bars("SPY", "ARCA", "1m", bars(10))
    t3 = np.datetime64(3 * MIN, "ns")
    forms = [
        (3 * MIN, 5 * MIN),
        (t3, t3 + np.timedelta64(2, "m")),
        ("1970-01-01T00:03:00+00:00", "1970-01-01T00:05:00Z"),
        (dt.datetime(1970, 1, 1, 0, 3, tzinfo=dt.timezone.utc), dt.datetime(1970, 1, 1, 0, 5, tzinfo=dt.timezone.utc)),
        (dt.datetime(1970, 1, 1, 0, 3), dt.datetime(1970, 1, 1, 0, 5)),  # naive: UTC by default
    ]
    for start, end in forms:
        got = store.load_bars("SPY", "ARCA", "1m", start, end)
        assert list(got["volume"]) == [3.0, 4.0, 5.0], (start, end)
    # Naive bounds in a zone: 08:03 in Shanghai is 00:03 UTC.
    got = store.load_bars("SPY", "ARCA", "1m", dt.datetime(1970, 1, 1, 8, 3), dt.datetime(1970, 1, 1, 8, 3),
                          tz="Asia/Shanghai")
    assert list(got["volume"]) == [3.0]
    assert store.load_bars("SPY", "ARCA", "1m", 5 * MIN, 3 * MIN)["datetime"].size == 0


def test_pandas_and_arrow_in_and_out(store):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame(bars(4))
    frame["datetime"] = pd.to_datetime(frame["datetime"], unit="ns").dt.tz_localize("Asia/Shanghai")
    store.save_bars("A", "SSE", "d", frame)
    out = store.load_bars("A", "SSE", "d", format="pandas", tz="Asia/Shanghai")
    assert list(out["datetime"]) == list(frame["datetime"])
    assert list(out["close_price"]) == [100.25, 100.75, 101.25, 101.75]
    table = store.load_bars("A", "SSE", "d", format="arrow")
    assert table.schema.field("datetime").type == pa.timestamp("ns", tz="UTC")
    store.save_bars("B", "SSE", "d", table)
    assert store.load_bars("B", "SSE", "d", format="arrow").equals(table)


def test_ticks_keep_names_levels_and_missing_local_times(store):
    n = 3
    cols = {
        "datetime": np.array([0, 500_000_000, 1_000_000_000], dtype=np.int64),
        "localtime": np.array(["NaT", "1970-01-01T00:00:00.6", "NaT"], dtype="datetime64[ns]"),
        "name": ["沪深300", "沪深300", "IF"],
        "last_price": [4000.2, 4000.4, 4000.6],
        "ask_volume_5": np.arange(n, dtype=np.float64),
    }
    store.save_ticks("IF2612", "CFFEX", cols)
    got = store.load_ticks("IF2612", "CFFEX")
    assert got["name"] == ["沪深300", "沪深300", "IF"]
    assert np.isnat(got["localtime"][0]) and np.isnat(got["localtime"][2])
    assert got["localtime"][1] == np.datetime64("1970-01-01T00:00:00.6", "ns")
    assert list(got["ask_volume_5"]) == [0.0, 1.0, 2.0]
    assert list(got["last_price"]) == [4000.2, 4000.4, 4000.6]


def test_scan_yields_every_row_once_in_order_in_bounded_batches(store):
    n = 20_000
    store.save_bars("S", "SSE", "1m", bars(n))
    batches = list(store.scan_bars("S", "SSE", "1m", batch_rows=4096))
    assert len(batches) > 2
    assert all(b["datetime"].size <= 4096 + 2048 for b in batches)
    volume = np.concatenate([b["volume"] for b in batches])
    assert (volume == np.arange(n)).all()
    part = list(store.scan_bars("S", "SSE", "1m", 100 * MIN, 199 * MIN, batch_rows=10))
    assert np.concatenate([b["volume"] for b in part]).tolist() == list(range(100, 200))


def test_stream_saves_overview_delete_flush_compact_backup_verify(store, tmp_path):
    for i in range(5):
        store.save_bars("R", "SHFE", "1m", bars(10, start=10 * i), stream=True)
    store.save_bars("R", "SHFE", "1m", bars(10), stream=True)  # replaces, does not add
    (ov,) = store.bar_overview()
    assert (ov["symbol"], ov["exchange"], ov["interval"], ov["count"]) == ("R", "SHFE", "1m", 50)
    assert ov["end"] == np.datetime64(49 * MIN, "ns")
    store.flush()
    store.compact()
    info = store.backup(tmp_path / "backups")
    assert info["rows"] == 50
    assert store.verify(deep=True) == []
    assert store.delete_bars("R", "SHFE", "1m") == 50
    assert store.bar_overview() == []


def test_errors_are_python_exceptions_with_the_engines_message(store, tmp_path):
    with pytest.raises(ValueError, match="unknown exchange"):
        store.load_bars("X", "MOON", "1m")
    with pytest.raises(ValueError, match="unknown interval"):
        store.load_bars("X", "SSE", "2m")
    with pytest.raises(KeyError, match="datetime"):
        store.save_bars("X", "SSE", "1m", {"close_price": [1.0]})
    with pytest.raises(ValueError, match="close_price has 1 rows but datetime has 2"):
        store.save_bars("X", "SSE", "1m", {"datetime": np.array([0, 1]), "close_price": np.array([1.0])})
    with pytest.raises(tickvault.LockedError):
        tickvault.open(store.path)
    ro = tickvault.open(store.path, read_only=True)
    with pytest.raises(tickvault.TickvaultError, match="read-only"):
        ro.save_bars("X", "SSE", "1m", bars(1))
    with pytest.raises(tickvault.TickvaultError):
        tickvault.open(tmp_path / "missing", create_if_missing=False)
    assert issubclass(tickvault.CorruptionError, tickvault.TickvaultError)


def test_a_corrupt_segment_raises_corruption_error(tmp_path):
    path = tmp_path / "db"
    s = tickvault.open(path)
    s.save_bars("C", "SSE", "1m", bars(100))
    del s
    segment = next(p for p in path.rglob("*") if p.is_file() and p.suffix == ".seg")
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    s = tickvault.open(path, read_only=True)
    with pytest.raises(tickvault.CorruptionError, match=segment.name):
        s.load_bars("C", "SSE", "1m")


def test_the_gil_is_released_while_the_engine_loads(store):
    import time

    store.save_bars("G", "SSE", "1m", bars(2_000_000))
    stamps = []
    done = threading.Event()

    def count():
        while not done.is_set():
            stamps.append(time.perf_counter())

    t = threading.Thread(target=count)
    t.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    store.load_bars("G", "SSE", "1m")
    t1 = time.perf_counter()
    done.set()
    t.join()
    # The other Python thread ran in the middle of the load: the engine did not hold the GIL.
    lo, hi = t0 + (t1 - t0) * 0.25, t0 + (t1 - t0) * 0.75
    assert any(lo < s < hi for s in stamps), (t1 - t0)


def test_range_statistics_of_bars_and_ticks(store):
    store.save_bars("ST", "SSE", "1m", bars(5000))
    n = 5000
    st = store.bar_stats("ST", "SSE", "1m")
    assert st["count"] == n
    assert st["first"] == np.datetime64(0, "ns")
    assert st["last"] == np.datetime64((n - 1) * MIN, "ns")
    assert (st["open"], st["high"], st["low"], st["close"]) == (100.0, (n - 1) * 0.5 + 101.0, 99.0, (n - 1) * 0.5 + 100.25)
    assert st["volume"] == float(sum(range(n)))
    assert st["mean_close"] == (sum(i * 0.5 + 100.25 for i in range(n))) / n
    # A range that cuts blocks, with datetime bounds.
    st = store.bar_stats("ST", "SSE", "1m", np.datetime64(10 * MIN, "ns"), np.datetime64(19 * MIN, "ns"))
    assert (st["count"], st["open"], st["close"], st["volume"]) == (10, 105.0, 109.75, float(sum(range(10, 20))))
    assert store.bar_stats("ST", "SSE", "1m", np.datetime64(-5, "ns"), np.datetime64(-1, "ns")) == {
        "count": 0, "first": None, "last": None}
    store.save_ticks("TK", "SHFE", {"datetime": np.array([1, 2, 3], dtype=np.int64),
                                     "last_price": np.array([3.0, 5.0, 4.0]),
                                     "last_volume": np.array([1.0, 2.0, 3.0])})
    st = store.tick_stats("TK", "SHFE")
    assert (st["count"], st["open"], st["high"], st["low"], st["close"], st["volume"]) == (3, 3.0, 5.0, 3.0, 4.0, 6.0)


def test_a_repeated_load_hits_the_block_cache_and_a_zero_cache_keeps_nothing(tmp_path):
    for size, cached in ((1 << 20, True), (0, False)):
        store = tickvault.open(tmp_path / f"db{size}", block_cache_bytes=size)
        store.save_bars("rb", "SHFE", "1m", bars(3_000))
        first = store.load_bars("rb", "SHFE", "1m")
        second = store.load_bars("rb", "SHFE", "1m")
        assert (first["close_price"] == second["close_price"]).all()
        assert second["close_price"][2_999] == 2_999 * 0.5 + 100.25
        info = store.info()
        assert info["block_cache_capacity"] == size
        if cached:
            # 3,000 bars are 2 blocks of 8 columns: decoded once, copied once.
            assert (info["block_cache_misses"], info["block_cache_hits"]) == (16, 16)
            assert 0 < info["block_cache_bytes"] <= size
        else:
            assert (info["block_cache_misses"], info["block_cache_hits"]) == (0, 0)
            assert info["block_cache_bytes"] == 0
