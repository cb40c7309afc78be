"""Sets up vn.py for a test process: a fresh trader folder as the working directory and the
settings read at import (database zone, adapter). Import this before anything from vnpy."""

import os
import tempfile

TZ = "Asia/Shanghai"
ROOT = tempfile.mkdtemp(prefix="tickvault-vnpy-")
os.makedirs(os.path.join(ROOT, ".vntrader"), exist_ok=True)
os.chdir(ROOT)

from vnpy.trader.setting import SETTINGS  # noqa: E402

SETTINGS["database.timezone"] = TZ
SETTINGS["database.database"] = "database.db"
SETTINGS["database.name"] = os.environ.get("VNPY_DATABASE", "sqlite")
