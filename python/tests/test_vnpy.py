"""vnpy_tickvault against vnpy_sqlite: the same operations on both adapters give the same results,
except for vnpy_sqlite's documented defects, which vnpy_tickvault must not have; and the CTA
backtester trades the same on both."""

import copy
import importlib.util
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

# Only look for the packages here: importing vnpy_sqlite reads vn.py's settings, which
# vnpy_env must fill first.
for package in ("vnpy", "vnpy_sqlite", "vnpy_ctastrategy"):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed (see python/requirements-test.txt)", allow_module_level=True)

import vnpy_env  # noqa: E402,F401  (settings before vnpy.trader.database)
from spy import spy_bars  # noqa: E402
from vnpy.trader.constant import Exchange, Interval  # noqa: E402
from vnpy.trader.database import DB_TZ  # noqa: E402
from vnpy.trader.object import BarData, TickData  # noqa: E402

import vnpy_sqlite  # noqa: E402
import vnpy_tickvault  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SQLITE = vnpy_sqlite.Database()
OURS = vnpy_tickvault.Database()

BAR_FIELDS = ["symbol", "exchange", "datetime", "interval", "volume", "turnover", "open_interest",
              "open_price", "high_price", "low_price", "close_price", "gateway_name", "vt_symbol",
              "extra"]


def rows(objs, fields):
    return [tuple(getattr(o, f) for f in fields) for o in objs]


def both_save_bars(bars, stream=False):
    SQLITE.save_bar_data(copy.deepcopy(bars), stream)
    OURS.save_bar_data(bars, stream)


def ticks(symbol, n, start):
    out = []
    for i in range(n):
        t = TickData(symbol=symbol, exchange=Exchange.SHFE, gateway_name="CTP",
                     datetime=start + timedelta(milliseconds=500 * i), name="螺纹钢2610",
                     volume=float(i), turnover=i * 3517.0, open_interest=1e5, last_price=3517.0 + i,
                     last_volume=1.0, limit_up=3800.0, limit_down=3200.0, open_price=3500.0,
                     high_price=3600.0, low_price=3400.0, pre_close=3510.0,
                     localtime=(start + timedelta(milliseconds=500 * i + 7)).replace(tzinfo=None))
        for level in range(1, 6):
            setattr(t, f"bid_price_{level}", 3517.0 - level)
            setattr(t, f"ask_price_{level}", 3517.0 + level)
            setattr(t, f"bid_volume_{level}", float(10 * level))
            setattr(t, f"ask_volume_{level}", float(20 * level))
        out.append(t)
    return out


def test_bars_load_delete_and_overview_as_vnpy_sqlite():
    bars = spy_bars()
    both_save_bars(bars)
    # The backtester's naive bounds, in the database zone.
    start, end = datetime(2011, 1, 4, 22, 30), datetime(2011, 1, 6, 2, 0)
    a = SQLITE.load_bar_data("SPY", Exchange.ARCA, Interval.MINUTE, start, end)
    b = OURS.load_bar_data("SPY", Exchange.ARCA, Interval.MINUTE, start, end)
    assert len(a) > 100
    assert rows(a, BAR_FIELDS) == rows(b, BAR_FIELDS)
    assert all(x.datetime.tzinfo is not None and x.datetime.utcoffset() == timedelta(hours=8) for x in b)
    assert [type(x) for x in b] == [BarData] * len(b)
    (oa,), (ob,) = SQLITE.get_bar_overview(), OURS.get_bar_overview()
    assert (oa.symbol, oa.exchange, oa.interval, oa.count) == (ob.symbol, ob.exchange, ob.interval, ob.count)
    assert oa.start.replace(tzinfo=DB_TZ) == ob.start and oa.end.replace(tzinfo=DB_TZ) == ob.end
    assert SQLITE.delete_bar_data("SPY", Exchange.ARCA, Interval.MINUTE) == len(bars)
    assert OURS.delete_bar_data("SPY", Exchange.ARCA, Interval.MINUTE) == len(bars)
    assert SQLITE.get_bar_overview() == [] and OURS.get_bar_overview() == []


def test_ticks_load_as_vnpy_sqlite():
    fields = [f for f in TickData.__dataclass_fields__] + ["vt_symbol"]
    start = datetime(2026, 1, 5, 21, 0, tzinfo=DB_TZ)
    data = ticks("rb2610", 2000, start)
    SQLITE.save_tick_data(copy.deepcopy(data))
    OURS.save_tick_data(data)
    lo, hi = datetime(2026, 1, 5, 21, 1), datetime(2026, 1, 5, 21, 2, 30)
    a = SQLITE.load_tick_data("rb2610", Exchange.SHFE, lo, hi)
    b = OURS.load_tick_data("rb2610", Exchange.SHFE, lo, hi)
    assert len(a) == 181
    assert rows(a, fields) == rows(b, fields)
    (oa,), (ob,) = SQLITE.get_tick_overview(), OURS.get_tick_overview()
    assert (oa.count, oa.start.replace(tzinfo=DB_TZ), oa.end.replace(tzinfo=DB_TZ)) == (ob.count, ob.start, ob.end)
    assert SQLITE.delete_tick_data("rb2610", Exchange.SHFE) == OURS.delete_tick_data("rb2610", Exchange.SHFE) == 2000


def bar(symbol, t, close=1.0):
    return BarData(symbol=symbol, exchange=Exchange.SSE, interval=Interval.DAILY, datetime=t,
                   close_price=close, gateway_name="T")


def overview(db, symbol):
    return [(o.count, o.start.replace(tzinfo=DB_TZ), o.end.replace(tzinfo=DB_TZ))
            for o in db.get_bar_overview() if o.symbol == symbol]


def test_overviews_are_exact_where_vnpy_sqlite_drifts():
    day = timedelta(days=1)
    t0 = datetime(2024, 1, 2, tzinfo=DB_TZ)
    first = [bar("DRIFT", t0 + i * day) for i in range(10)]
    both_save_bars(first, stream=True)
    both_save_bars([bar("DRIFT", t0 + i * day, 2.0) for i in range(10)], stream=True)  # replaces
    both_save_bars([bar("DRIFT", t0 - day)], stream=True)  # an earlier bar
    assert overview(SQLITE, "DRIFT")[0][0] > 11  # vnpy_sqlite counts replaced rows again
    assert overview(OURS, "DRIFT") == [(11, t0 - day, t0 + 9 * day)]
    # A batch that mixes symbols: vnpy_sqlite only updates the first symbol's overview.
    both_save_bars([bar("MIX1", t0), bar("MIX2", t0), bar("MIX2", t0 + day)])
    assert overview(SQLITE, "MIX2") == []
    assert overview(OURS, "MIX1") == [(1, t0, t0)]
    assert overview(OURS, "MIX2") == [(2, t0, t0 + day)]


def test_inputs_are_never_mutated():
    t = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)
    bars = [bar("MUT", t)]
    SQLITE.save_bar_data(bars)
    assert bars[0].exchange == "SSE"  # vnpy_sqlite replaced the enum with its value...
    bars = [bar("MUT", t)]
    OURS.save_bar_data(bars)
    assert bars[0].exchange is Exchange.SSE and bars[0].datetime == t and bars[0].datetime.tzinfo is timezone.utc
    assert bars[0].gateway_name == "T" and bars[0].vt_symbol == "MUT.SSE"


def test_aware_bounds_are_exact_and_naive_ones_are_database_wall_clock():
    t = datetime(2024, 5, 6, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
    both_save_bars([bar("AWARE", t)])
    # An aware start exactly at the bar: vnpy_sqlite compares text and drops it.
    assert SQLITE.load_bar_data("AWARE", Exchange.SSE, Interval.DAILY, t, t + timedelta(hours=1)) == []
    (got,) = OURS.load_bar_data("AWARE", Exchange.SSE, Interval.DAILY, t, t + timedelta(hours=1))
    assert got.datetime == t
    (got,) = OURS.load_bar_data("AWARE", Exchange.SSE, Interval.DAILY, datetime(2024, 5, 6, 9), datetime(2024, 5, 6, 9))
    assert got.datetime == t


def test_loads_do_not_shift_with_the_process_time_zone():
    t = datetime(2024, 6, 3, 1, 0, tzinfo=timezone.utc)
    both_save_bars([bar("SHIFT", t)])
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        (a,) = SQLITE.load_bar_data("SHIFT", Exchange.SSE, Interval.DAILY, t - timedelta(days=1), t + timedelta(days=1))
        (b,) = OURS.load_bar_data("SHIFT", Exchange.SSE, Interval.DAILY, t - timedelta(days=1), t + timedelta(days=1))
    finally:
        os.environ["TZ"] = old or ""
        time.tzset()
    assert a.datetime != t  # vnpy_sqlite reads its naive text in the process zone
    assert b.datetime == t


def test_two_instants_of_a_fall_back_hour_stay_two_rows():
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    first = datetime(2024, 11, 3, 1, 30, tzinfo=ny, fold=0)
    second = datetime(2024, 11, 3, 1, 30, tzinfo=ny, fold=1)
    OURS.save_bar_data([bar("FOLD", first, 1.0), bar("FOLD", second, 2.0)])
    got = OURS.load_bar_data("FOLD", Exchange.SSE, Interval.DAILY, first, second)
    # (PEP 495: aware datetimes in a fold never compare equal across zones; compare instants.)
    assert [(x.datetime.timestamp(), x.close_price) for x in got] == [
        (first.timestamp(), 1.0),
        (second.timestamp(), 2.0),
    ]
    assert second.timestamp() - first.timestamp() == 3600


def backtest(adapter):
    env = dict(os.environ, VNPY_DATABASE=adapter, TZ=vnpy_env.TZ)
    env["PYTHONPATH"] = HERE + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, os.path.join(HERE, "backtest_spy.py")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_the_cta_backtester_trades_the_same_on_both_adapters():
    a, b = backtest("sqlite"), backtest("tickvault")
    assert a[0] == b[0] == {"bars": 14180}
    assert len(a) > 20
    assert a == b
