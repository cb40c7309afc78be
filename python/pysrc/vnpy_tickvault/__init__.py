"""vn.py database adapter backed by tickvault.

Put ``"database.name": "tickvault"`` in vn.py's ``vt_setting.json``; ``database.database`` names the
store directory (relative to vn.py's trader folder; vn.py's default ``database.db`` becomes
``tickvault``), and ``database.timezone`` the zone of naive datetimes, as for vnpy_sqlite.
"""

from .database import Database

__all__ = ["Database"]
