"""tickvault: columnar storage for market data (bars and ticks), embedded in your process.

>>> import tickvault
>>> store = tickvault.open("tickvault-data")
>>> cols = store.load_bars("SPY", "ARCA", "1m")          # {"datetime": datetime64[ns], ...}
>>> df = store.load_bars("SPY", "ARCA", "1m", format="pandas")
>>> for batch in store.scan_ticks("rb2610", "SHFE", batch_rows=500_000):
...     ...                                              # bounded memory, decoded ahead

Exchanges and intervals are vn.py's strings ("SHFE", "1m", "d", ...) or vn.py's enums. Times are
`datetime` (naive ones are read in `tz`, default UTC), `numpy.datetime64`, ISO strings, or
integers of nanoseconds since the epoch. Columns come back as numpy arrays that own the engine's
decoded buffers. The GIL is released while the engine works.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any, Iterator, Mapping, Optional, Union

import numpy as np

from . import _tickvault
from ._tickvault import CorruptionError, LockedError, TickvaultError

__all__ = [
    "open",
    "Store",
    "TickvaultError",
    "CorruptionError",
    "LockedError",
    "EXCHANGES",
]

EXCHANGES = tuple(_tickvault.EXCHANGES)

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)

TimeLike = Union[None, int, str, _dt.datetime, _dt.date, np.datetime64]


def _zone(tz: Optional[str]) -> _dt.tzinfo:
    if tz is None or tz == "UTC":
        return _dt.timezone.utc
    try:
        from zoneinfo import ZoneInfo
    except ImportError:  # Python 3.8
        from backports.zoneinfo import ZoneInfo  # type: ignore
    return ZoneInfo(tz)


def _ns(t: TimeLike, tz: Optional[str] = None) -> Optional[int]:
    """Nanoseconds since the epoch of a time bound; naive times are wall clock in `tz`."""
    if t is None:
        return None
    if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
        return int(t)
    if isinstance(t, np.datetime64):
        return int(t.astype("datetime64[ns]").astype(np.int64))
    if isinstance(t, str):
        t = _dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    if isinstance(t, _dt.date) and not isinstance(t, _dt.datetime):
        t = _dt.datetime(t.year, t.month, t.day)
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=_zone(tz))
        extra = getattr(t, "nanosecond", 0)  # pandas.Timestamp keeps nanoseconds
        return (t - _EPOCH) // _dt.timedelta(microseconds=1) * 1000 + extra
    raise TypeError(f"cannot read {t!r} as a time")


def _name(x: Any) -> str:
    """vn.py enums give their value; strings are taken as they are."""
    return getattr(x, "value", x)


def _columns(data: Any) -> dict:
    """A dict of arrays from a dict, a pandas DataFrame or a pyarrow Table."""
    if isinstance(data, Mapping):
        items = data.items()
    elif hasattr(data, "column_names") and hasattr(data, "column"):  # pyarrow.Table
        items = ((n, data.column(n).to_numpy()) for n in data.column_names)
    elif hasattr(data, "columns") and hasattr(data, "__getitem__"):  # pandas.DataFrame
        frame = data
        if "datetime" not in frame.columns and getattr(frame.index, "name", None) == "datetime":
            frame = frame.reset_index()
        items = ((n, frame[n]) for n in frame.columns)
    else:
        raise TypeError("columns must be a dict of arrays, a pandas DataFrame or a pyarrow Table")
    out = {}
    for name, values in items:
        if name == "name":
            out[name] = [str(v) for v in values]
            continue
        dtype = getattr(values, "dtype", None)
        if dtype is not None and getattr(dtype, "tz", None) is not None:  # tz-aware pandas
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        arr = np.asarray(values)
        if arr.dtype.kind == "M":
            arr = arr.astype("datetime64[ns]")
        elif name in ("datetime", "localtime") and arr.dtype.kind == "O":
            arr = np.array([_ns(v) if v is not None else np.iinfo(np.int64).min for v in arr], dtype=np.int64)
        out[name] = arr
    return out


def _format(cols: dict, fmt: str, tz: Optional[str]) -> Any:
    if fmt == "numpy":
        return cols
    if fmt == "pandas":
        import pandas as pd

        frame = pd.DataFrame(cols)
        for c in ("datetime", "localtime"):
            if c in frame:
                frame[c] = frame[c].dt.tz_localize("UTC")
                if tz:
                    frame[c] = frame[c].dt.tz_convert(tz)
        return frame
    if fmt == "arrow":
        import pyarrow as pa

        unit = pa.timestamp("ns", tz=tz or "UTC")
        arrays = {}
        for name, values in cols.items():
            if name in ("datetime", "localtime"):
                ints = values.view(np.int64)
                mask = ints == np.iinfo(np.int64).min
                arrays[name] = pa.array(ints, type=pa.int64(), mask=mask).cast(unit)
            else:
                arrays[name] = pa.array(values)
        return pa.table(arrays)
    raise ValueError(f"unknown format {fmt!r} (numpy, pandas or arrow)")


class Store:
    """An open tickvault store. Use `tickvault.open(path)`."""

    def __init__(self, native: "_tickvault.Store") -> None:
        self._native = native

    @property
    def path(self) -> str:
        return os.fspath(self._native.path)

    def __repr__(self) -> str:
        return f"tickvault.Store({self.path!r})"

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._native.info()["read_only"]:
            self.flush()

    # Saves.
    def save_bars(self, symbol: str, exchange: Any, interval: Any, data: Any, stream: bool = False) -> None:
        """Saves columns (dict of arrays, DataFrame or Table; `datetime` required) into one bar
        series; rows at times already stored replace them."""
        self._native.save_bars(symbol, _name(exchange), _name(interval), _columns(data), stream)

    def save_ticks(self, symbol: str, exchange: Any, data: Any, stream: bool = False) -> None:
        """Saves tick columns into one series."""
        self._native.save_ticks(symbol, _name(exchange), _columns(data), stream)

    # Loads.
    def load_bars(self, symbol: str, exchange: Any, interval: Any, start: TimeLike = None,
                  end: TimeLike = None, *, tz: Optional[str] = None, format: str = "numpy") -> Any:
        """Bars with start <= datetime <= end (both inclusive; None for an open end)."""
        cols = self._native.load_bars(symbol, _name(exchange), _name(interval), _ns(start, tz), _ns(end, tz))
        return _format(cols, format, tz)

    def load_ticks(self, symbol: str, exchange: Any, start: TimeLike = None, end: TimeLike = None,
                   *, tz: Optional[str] = None, format: str = "numpy") -> Any:
        """Ticks with start <= datetime <= end."""
        cols = self._native.load_ticks(symbol, _name(exchange), _ns(start, tz), _ns(end, tz))
        return _format(cols, format, tz)

    def scan_bars(self, symbol: str, exchange: Any, interval: Any, start: TimeLike = None,
                  end: TimeLike = None, *, batch_rows: int = 1_000_000, tz: Optional[str] = None,
                  format: str = "numpy") -> Iterator[Any]:
        """Batches of at most `batch_rows` bars; the next batch decodes in the background."""
        it = self._native.scan_bars(symbol, _name(exchange), _name(interval), _ns(start, tz), _ns(end, tz), batch_rows)
        return (_format(c, format, tz) for c in it)

    def scan_ticks(self, symbol: str, exchange: Any, start: TimeLike = None, end: TimeLike = None,
                   *, batch_rows: int = 1_000_000, tz: Optional[str] = None,
                   format: str = "numpy") -> Iterator[Any]:
        """Batches of at most `batch_rows` ticks; the next batch decodes in the background."""
        it = self._native.scan_ticks(symbol, _name(exchange), _ns(start, tz), _ns(end, tz), batch_rows)
        return (_format(c, format, tz) for c in it)

    # Statistics.
    def bar_stats(self, symbol: str, exchange: Any, interval: Any, start: TimeLike = None,
                  end: TimeLike = None, *, tz: Optional[str] = None) -> dict:
        """{count, first, last, open, high, low, close, volume, turnover, mean_close} of the bars
        in [start, end]; whole blocks come from their footer statistics."""
        d = self._native.bar_stats(symbol, _name(exchange), _name(interval), _ns(start, tz), _ns(end, tz))
        return _stats(d)

    def tick_stats(self, symbol: str, exchange: Any, start: TimeLike = None, end: TimeLike = None,
                   *, tz: Optional[str] = None) -> dict:
        """Like bar_stats, over last_price (all four prices) and last_volume."""
        return _stats(self._native.tick_stats(symbol, _name(exchange), _ns(start, tz), _ns(end, tz)))

    # Series.
    def delete_bars(self, symbol: str, exchange: Any, interval: Any) -> int:
        """Deletes a bar series; returns how many rows it held."""
        return self._native.delete_bars(symbol, _name(exchange), _name(interval))

    def delete_ticks(self, symbol: str, exchange: Any) -> int:
        """Deletes a tick series; returns how many rows it held."""
        return self._native.delete_ticks(symbol, _name(exchange))

    def bar_overview(self) -> list:
        """[{symbol, exchange, interval, count, start, end}] of every bar series (exact; times UTC)."""
        return [
            {"symbol": s, "exchange": e, "interval": i, "count": n,
             "start": np.datetime64(a, "ns"), "end": np.datetime64(b, "ns")}
            for s, e, i, n, a, b in self._native.bar_overview()
        ]

    def tick_overview(self) -> list:
        """[{symbol, exchange, count, start, end}] of every tick series."""
        return [
            {"symbol": s, "exchange": e, "count": n,
             "start": np.datetime64(a, "ns"), "end": np.datetime64(b, "ns")}
            for s, e, n, a, b in self._native.tick_overview()
        ]

    # Maintenance.
    def flush(self) -> None:
        """Writes rows saved with stream=True from memory into segments."""
        self._native.flush()

    def compact(self) -> dict:
        """Merges runs of small segments."""
        a, b, rows = self._native.compact()
        return {"segments_in": a, "segments_out": b, "rows": rows}

    def backup(self, repo: Union[str, os.PathLike]) -> dict:
        """An incremental backup into a repository directory."""
        name, segments, rows, size = self._native.backup(os.fspath(repo))
        return {"name": name, "segments": segments, "rows": rows, "bytes": size}

    def verify(self, deep: bool = False) -> list:
        """Every problem found (empty when the store is sound)."""
        return self._native.verify(deep)

    def info(self) -> dict:
        """Totals of the store."""
        return self._native.info()


def _stats(d: dict) -> dict:
    for k in ("first", "last"):
        if d[k] is not None:
            d[k] = np.datetime64(d[k], "ns")
    return d


def open(path: Union[str, os.PathLike], *, read_only: bool = False, wal_sync: str = "every-commit",
         keep_same_time_ticks: bool = False, create_if_missing: bool = True,
         block_cache_bytes: int = 64 << 20) -> Store:
    """Opens (creating when missing) the store at `path`.

    wal_sync: "every-commit" (stream saves are durable when they return), "interval:MS" or "none".
    block_cache_bytes: decoded blocks kept for loads that repeat (0: none); a load of more than a
    quarter of it passes the cache by.
    """
    return Store(_tickvault.Store(os.fspath(path), read_only=read_only, wal_sync=wal_sync,
                                  keep_same_time_ticks=keep_same_time_ticks,
                                  create_if_missing=create_if_missing,
                                  block_cache_bytes=block_cache_bytes))
