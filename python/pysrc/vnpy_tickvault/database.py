"""`Database`: vn.py's `BaseDatabase` over a tickvault store.

Behaves as vnpy_sqlite except where vnpy_sqlite is wrong:
- overviews are exact whatever the `stream` flag, batch order or mix of symbols in a batch;
- loads do not depend on the process time zone, and aware and naive bounds are both exact
  (naive ones are wall clock in `database.timezone`, as the backtester passes them);
- two instants of a DST fall-back hour are two rows (vnpy_sqlite's naive keys merge them);
- the objects passed to `save_*` are never modified;
- ticks that share a timestamp replace each other unless the store keeps them
  (`tickvault.open(..., keep_same_time_ticks=True)` at creation, for CZCE).
Rows come back as vn.py objects built natively; tick `localtime` is naive wall clock in the
database zone, as vnpy_sqlite returns it.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import List

import tickvault
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.database import DB_TZ, BarOverview, BaseDatabase, TickOverview
from vnpy.trader.object import BarData, TickData
from vnpy.trader.setting import SETTINGS
from vnpy.trader.utility import get_file_path


def _zone_name() -> str:
    return getattr(DB_TZ, "key", None) or str(SETTINGS.get("database.timezone") or "UTC")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@contextmanager
def _no_gc():
    """Pauses Python's cyclic GC while a load builds objects: they form no cycles, and a
    collection per 700 new containers would otherwise rescan the growing list (most of the
    time of a million-row load)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _aware(ns: int) -> datetime:
    return (_EPOCH + timedelta(microseconds=ns // 1000)).astimezone(DB_TZ)


class Database(BaseDatabase):
    """A tickvault store as vn.py's database; constructed with no arguments from SETTINGS."""

    def __init__(self) -> None:
        name = SETTINGS.get("database.database") or ""
        if not name or name == "database.db":
            name = "tickvault"  # vn.py's default names its SQLite file, not a store directory
        self.path: str = str(get_file_path(name))
        self.tz: str = _zone_name()
        self.store: tickvault.Store = tickvault.open(self.path)
        self._native = self.store._native

    def _bound(self, t: datetime) -> int:
        return tickvault._ns(t, self.tz)

    def save_bar_data(self, bars: List[BarData], stream: bool = False) -> bool:
        self._native.save_bar_objects(bars, self.tz, stream)
        return True

    def save_tick_data(self, ticks: List[TickData], stream: bool = False) -> bool:
        self._native.save_tick_objects(ticks, self.tz, stream)
        return True

    def load_bar_data(self, symbol: str, exchange: Exchange, interval: Interval,
                      start: datetime, end: datetime) -> List[BarData]:
        with _no_gc():
            return self._native.load_bar_objects(
                symbol, exchange.value, interval.value, self._bound(start), self._bound(end),
                (BarData, exchange, interval, DB_TZ), self.tz)

    def load_tick_data(self, symbol: str, exchange: Exchange, start: datetime,
                       end: datetime) -> List[TickData]:
        with _no_gc():
            return self._native.load_tick_objects(
                symbol, exchange.value, self._bound(start), self._bound(end),
                (TickData, exchange, None, DB_TZ), self.tz)

    def delete_bar_data(self, symbol: str, exchange: Exchange, interval: Interval) -> int:
        return self._native.delete_bars(symbol, exchange.value, interval.value)

    def delete_tick_data(self, symbol: str, exchange: Exchange) -> int:
        return self._native.delete_ticks(symbol, exchange.value)

    def get_bar_overview(self) -> List[BarOverview]:
        return [
            BarOverview(symbol=s, exchange=Exchange(e), interval=Interval(i), count=n,
                        start=_aware(a), end=_aware(b))
            for s, e, i, n, a, b in self._native.bar_overview()
        ]

    def get_tick_overview(self) -> List[TickOverview]:
        return [
            TickOverview(symbol=s, exchange=Exchange(e), count=n, start=_aware(a), end=_aware(b))
            for s, e, n, a, b in self._native.tick_overview()
        ]
