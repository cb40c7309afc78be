"""Runs vnpy_ctastrategy's BacktestingEngine with DoubleMaStrategy on the real SPY bars through
the adapter named by VNPY_DATABASE (sqlite or tickvault); prints the trades as JSON lines."""

import json
import sys
from datetime import datetime

import vnpy_env  # noqa: F401  (settings first)
from spy import spy_bars
from vnpy.trader.database import get_database
from vnpy_ctastrategy.backtesting import BacktestingEngine
from vnpy_ctastrategy.strategies.double_ma_strategy import DoubleMaStrategy

db = get_database()
assert type(db).__module__.startswith("vnpy_" + vnpy_env.SETTINGS["database.name"]), type(db)
db.save_bar_data(spy_bars())

engine = BacktestingEngine()
engine.output = lambda msg: None
engine.set_parameters(vt_symbol="SPY.ARCA", interval="1m", start=datetime(2011, 1, 3),
                      end=datetime(2011, 2, 2), rate=0.0001, slippage=0.01, size=1,
                      pricetick=0.01, capital=100_000)
engine.add_strategy(DoubleMaStrategy, {"fast_window": 10, "slow_window": 30})
engine.load_data()
engine.run_backtesting()
print(json.dumps({"bars": len(engine.history_data)}))
for t in engine.trades.values():
    print(json.dumps({"time": t.datetime.isoformat(), "direction": t.direction.value,
                      "offset": t.offset.value, "price": t.price, "volume": t.volume}))
sys.stdout.flush()
