"""Numbered schema migrations, each applied once, each in its own transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import sqlite_utils

Migration = tuple[int, str, Callable[[sqlite_utils.Database], None]]


def apply(db: sqlite_utils.Database, migrations: Sequence[Migration]) -> list[int]:
    """Apply the migrations not yet applied; returns their numbers. Safe to call on every start."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations "
        "(number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT number FROM _migrations").fetchall()}
    applied = []
    for number, name, migrate in sorted(migrations, key=lambda m: m[0]):
        if number in done:
            continue
        with db.atomic():
            migrate(db)
            db.execute("INSERT INTO _migrations (number, name, applied_at) VALUES (?, ?, ?)",
                       [number, name, int(time.time())])
        applied.append(number)
    return applied
