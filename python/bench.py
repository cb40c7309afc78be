"""vnpy_tickvault against vnpy_sqlite, in one process, alternating, medians.

    python python/bench.py [--rows 1000000] [--repeat 3] [--skip-ticks]

Measures, for N generated bars and N five-level ticks: saves through each adapter, loads into vn.py
objects (`load_bar_data`, `load_tick_data`), tickvault's columnar loads into numpy, and the CTA
backtester's `load_data()` over all the bars. Needs the tickvault wheel, vnpy, vnpy_sqlite and
vnpy_ctastrategy (python/requirements-*.txt). Prints a table and the ratios.
"""

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta

ROOT = tempfile.mkdtemp(prefix="tickvault-bench-")
os.makedirs(os.path.join(ROOT, ".vntrader"))
os.chdir(ROOT)

from vnpy.trader.setting import SETTINGS  # noqa: E402

SETTINGS["database.timezone"] = "Asia/Shanghai"
SETTINGS["database.database"] = "database.db"
os.environ["TZ"] = "Asia/Shanghai"
time.tzset()

import vnpy.trader.database as vdb  # noqa: E402
import vnpy_sqlite  # noqa: E402
import vnpy_tickvault  # noqa: E402
from vnpy.trader.constant import Exchange, Interval  # noqa: E402
from vnpy.trader.object import BarData, TickData  # noqa: E402

DB_TZ = vdb.DB_TZ


def gen_bars(n):
    t0 = datetime(2020, 1, 2, 9, 0, tzinfo=DB_TZ)
    out = []
    for i in range(n):
        p = 3500.0 + (i % 997) * 0.5
        out.append(BarData(symbol="rb9999", exchange=Exchange.SHFE, interval=Interval.MINUTE,
                           datetime=t0 + timedelta(minutes=i), open_price=p, high_price=p + 2,
                           low_price=p - 2, close_price=p + 1, volume=float(i % 5000),
                           turnover=p * 10, open_interest=1e5 + i, gateway_name="BENCH"))
    return out


def gen_ticks(n):
    t0 = datetime(2020, 1, 2, 9, 0, tzinfo=DB_TZ)
    out = []
    for i in range(n):
        p = 3500.0 + (i % 997) * 0.5
        t = TickData(symbol="rb9999", exchange=Exchange.SHFE, gateway_name="BENCH",
                     datetime=t0 + timedelta(milliseconds=500 * i), name="螺纹钢", volume=float(i),
                     turnover=p * i, open_interest=1e5, last_price=p, last_volume=1.0,
                     limit_up=3800.0, limit_down=3200.0, open_price=3500.0, high_price=3600.0,
                     low_price=3400.0, pre_close=3510.0)
        for level in range(1, 6):
            setattr(t, f"bid_price_{level}", p - level)
            setattr(t, f"ask_price_{level}", p + level)
            setattr(t, f"bid_volume_{level}", float(10 * level))
            setattr(t, f"ask_volume_{level}", float(20 * level))
        out.append(t)
    return out


def timed(f):
    gc.collect()
    t = time.perf_counter()
    result = f()
    return time.perf_counter() - t, result


def median_pair(repeat, ours, theirs):
    a, b = [], []
    for _ in range(repeat):  # alternating, so drift hits both
        a.append(timed(ours)[0])
        b.append(timed(theirs)[0])
    return statistics.median(a), statistics.median(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-ticks", action="store_true")
    args = ap.parse_args()
    n = args.rows
    ours, sqlite = vnpy_tickvault.Database(), vnpy_sqlite.Database()
    store = ours.store
    lines = []

    def line(name, t_ours, t_sqlite, rows):
        lines.append((name, rows / t_ours, rows / t_sqlite))

    bars = gen_bars(n)
    t_o, _ = timed(lambda: ours.save_bar_data(bars))
    t_s, _ = timed(lambda: sqlite.save_bar_data(gen_bars(n)))  # vnpy_sqlite rewrites its input
    line("save_bar_data", t_o, t_s, n)
    del bars
    lo, hi = datetime(2019, 1, 1), datetime(2030, 1, 1)
    args_bar = ("rb9999", Exchange.SHFE, Interval.MINUTE, lo, hi)
    assert len(ours.load_bar_data(*args_bar)) == n
    a, b = median_pair(args.repeat, lambda: ours.load_bar_data(*args_bar), lambda: sqlite.load_bar_data(*args_bar))
    line("load_bar_data -> BarData", a, b, n)
    a, _ = median_pair(args.repeat, lambda: store.load_bars("rb9999", "SHFE", "1m"), lambda: None)
    lines.append(("load_bars -> numpy (tickvault) vs load_bar_data (sqlite)", n / a, n / b))
    # The CTA backtester's load_data over every bar, through each adapter.
    from vnpy_ctastrategy import backtesting

    def backtest_load(db):
        vdb.database = db
        backtesting.load_bar_data.cache_clear()
        engine = backtesting.BacktestingEngine()
        engine.output = lambda msg: None
        engine.set_parameters(vt_symbol="rb9999.SHFE", interval="1m", start=lo, end=hi, rate=0,
                              slippage=0, size=10, pricetick=1, capital=1_000_000)
        engine.load_data()
        assert len(engine.history_data) == n, len(engine.history_data)

    a, b = median_pair(args.repeat, lambda: backtest_load(ours), lambda: backtest_load(sqlite))
    line("BacktestingEngine.load_data()", a, b, n)

    if not args.skip_ticks:
        ticks = gen_ticks(n)
        t_o, _ = timed(lambda: ours.save_tick_data(ticks))
        del ticks
        t_s, _ = timed(lambda: sqlite.save_tick_data(gen_ticks(n)))
        line("save_tick_data", t_o, t_s, n)
        args_tick = ("rb9999", Exchange.SHFE, lo, hi)
        a, b = median_pair(args.repeat, lambda: ours.load_tick_data(*args_tick), lambda: sqlite.load_tick_data(*args_tick))
        line("load_tick_data -> TickData", a, b, n)
        a, _ = median_pair(args.repeat, lambda: store.load_ticks("rb9999", "SHFE"), lambda: None)
        lines.append(("load_ticks -> numpy (tickvault) vs load_tick_data (sqlite)", n / a, n / b))

    print(f"{'workload':58} {'tickvault':>14} {'vnpy_sqlite':>14} {'ratio':>8}")
    for name, ours_rate, sqlite_rate in lines:
        print(f"{name:58} {ours_rate:>12,.0f}/s {sqlite_rate:>12,.0f}/s {ours_rate / sqlite_rate:>7.1f}x")
    print(json.dumps({"rows": n, "lines": lines}), file=sys.stderr)


if __name__ == "__main__":
    main()
