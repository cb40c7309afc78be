"""The real SPY minute bars in ../shared/data/real/ as vn.py BarData."""

import csv
import os
from datetime import datetime

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.database import DB_TZ
from vnpy.trader.object import BarData

HERE = os.path.dirname(os.path.abspath(__file__))
CSV = os.path.join(HERE, "..", "..", "..", "shared", "data", "real", "SPY.ARCA_1m_2011-01.csv")


def spy_bars(limit=None):
    out = []
    with open(CSV, newline="") as f:
        for row in csv.DictReader(f):
            out.append(BarData(
                symbol="SPY", exchange=Exchange.ARCA, interval=Interval.MINUTE,
                datetime=datetime.fromisoformat(row["datetime"]).astimezone(DB_TZ),
                open_price=float(row["open"]), high_price=float(row["high"]),
                low_price=float(row["low"]), close_price=float(row["close"]),
                volume=float(row["volume"]), turnover=float(row["turnover"]),
                open_interest=float(row["open_interest"]), gateway_name="CSV"))
            if limit and len(out) >= limit:
                break
    return out
