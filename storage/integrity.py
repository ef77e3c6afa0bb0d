"""Whether a database file can be read at all, checked before Lotse opens it for real, so that
a damaged file is one clear line and is left exactly as it is."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path


def readable(path: Path, whole: bool) -> bool:
    """Whether SQLite can read the database's list of tables (`whole`: every page, SQLite's
    quick_check). Read without touching anything (immutable: no lock, no -wal or -shm made),
    and a failure read twice more a moment later, so that a page read while another process
    (`lotse run` beside `purge`) wrote it is not taken for damage."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    for attempt in range(3):
        time.sleep(0.2 * attempt)
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                if not whole:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
                    return True
                if conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]:
                    return True
        except sqlite3.DatabaseError:
            continue
    return False
