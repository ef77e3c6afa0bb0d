"""Conversation state: one row per conversation, keyed by a keyed hash, in its own SQLite file.

The row holds only what the engine needs to go on (position, answers, undo steps) plus the hashed
ids of recent platform events for de-duplication. Writes are held back until the service
commits all turns that finished together (group commit): one transaction, one WAL write for
many turns. Each call is one short statement, so the async service calls it on the event loop
(measured in bench/engine.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from storage.migrations import Migration, apply
from storage.reminder_store import create_reminders


def _create_conversations(db: sqlite_utils.Database) -> None:
    table = db.table("conversations")
    table.create(
        {"key": str, "state": str, "seen": str, "updated_at": int},
        pk="key",
        not_null={"key", "updated_at"},
    )
    table.create_index(["updated_at"])


def _add_expiry(db: sqlite_utils.Database) -> None:
    """Each conversation carries its own expiry: a supervisor's checklist outlives a chat."""
    table = db.table("conversations")
    table.add_column("expires_at", int)
    db.execute("UPDATE conversations SET expires_at = updated_at + 86400")
    table.create_index(["expires_at"])


def _drop_activity_index(db: sqlite_utils.Database) -> None:
    """Nothing searches by the last activity (expiry has its own column): the index only cost
    every turn a second index update."""
    db.execute("DROP INDEX IF EXISTS idx_conversations_updated_at")


MIGRATIONS: list[Migration] = [
    (1, "conversations", _create_conversations),
    (2, "conversation expiry", _add_expiry),
    (3, "reminders", create_reminders),
    (4, "no index on last activity", _drop_activity_index),
]

T = TypeVar("T")

SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
SAFETY_CHECKPOINT_PAGES = 10_000
"""SQLite's own checkpoint, only if the background one falls behind (about 40 MB of WAL)."""
TRUNCATE_ATTEMPTS = 20


class _Checkpointer(threading.Thread):
    """Folds the WAL into the database from a thread of its own, on its own connection.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold and stalls
    that turn for tens of milliseconds; here it runs beside the turns (sqlite3 releases the GIL
    while it does I/O), and a PASSIVE checkpoint never blocks a writer.
    """

    def __init__(self, path: Path, interval: float) -> None:
        super().__init__(name="lotse-wal-checkpoint", daemon=True)
        self._path = path
        self._interval = interval
        self._halt = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(str(self._path), isolation_level=None)
        try:
            while not self._halt.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy or locked: the next round tries again
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join()


@dataclass(frozen=True, slots=True)
class StoredConversation:
    state: str | None
    """The engine state as JSON; None once the conversation ended (only `seen` is kept)."""
    seen: str
    expires_at: int


class StateStore:
    """The conversation-state database. `path=None` keeps it in memory (tests).

    `synchronous` is SQLite's: NORMAL (the default) makes every committed turn survive a crash
    of the process; FULL also survives a power cut, at the cost of a disk sync per commit.
    """

    def __init__(self, path: Path | None, synchronous: str = "NORMAL",
                 checkpoint_every: float = 0.5) -> None:
        mode = synchronous.upper()
        if mode not in SYNC_MODES:
            raise ValueError(f"unknown synchronous mode {synchronous!r}; use NORMAL or FULL")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every statement is its own transaction unless one is opened explicitly.
        conn = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None,
                               check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        if path is not None:
            self.db.enable_wal()
        self.path = path
        self.db.execute(f"PRAGMA synchronous = {mode}")
        # Erased rows are overwritten with zeros, not left in free space (many builds default
        # to this; some do not).
        self.db.execute("PRAGMA secure_delete = ON")
        apply(self.db, MIGRATIONS)
        self._conn = conn
        self._saves: dict[str, tuple[str | None, str, int, int] | None] = {}
        self._deferred: list[Callable[[sqlite3.Connection], object]] = []
        self._checkpointer: _Checkpointer | None = None
        if path is not None and checkpoint_every > 0:
            self.db.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_CHECKPOINT_PAGES}")
            self._checkpointer = _Checkpointer(path, checkpoint_every)
            self._checkpointer.start()

    def load(self, key: str) -> StoredConversation | None:
        if key in self._saves:  # written in this batch, not yet committed
            pending = self._saves[key]
            return None if pending is None else StoredConversation(pending[0], pending[1],
                                                                   pending[3])
        row = self._conn.execute(
            "SELECT state, seen, expires_at FROM conversations WHERE key = ?", (key,)
        ).fetchone()
        return StoredConversation(row[0], row[1] or "", row[2]) if row else None

    @property
    def connection(self) -> sqlite3.Connection:
        """For reading the other tables of this database (reminders); writes go through
        `defer` or `write`, which share the store's transactions."""
        return self._conn

    def save(self, key: str, state: str | None, seen: str, updated_at: int,
             expires_at: int) -> None:
        """Write one conversation; durable after the next `commit()` (which writes it)."""
        self._saves[key] = (state, seen, updated_at, expires_at)

    def delete(self, key: str) -> None:
        """Erase one conversation with the next `commit()`."""
        self._saves[key] = None

    def defer(self, change: Callable[[sqlite3.Connection], object]) -> None:
        """A write to another table, run in the next `commit()`'s transaction, after the
        conversations: a reminder set in a turn is kept with that turn, never without it."""
        self._deferred.append(change)

    def commit(self) -> None:
        """Make every write since the last commit durable, all with one WAL write."""
        self._write_pending()
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """Run `change` in a transaction of its own and commit it at once: for writes outside a
        turn, such as claiming a reminder for delivery. Turns' rows waiting for their group
        commit are not part of it."""
        self._begin()
        try:
            result = change(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")  # only this change: the turns' rows stay pending
            raise
        return result

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")

    def _write_pending(self) -> None:
        """The rows held back since the last commit, conversations in two statements: SQLite's
        code and pages stay in the processor's cache for the whole batch, where a statement per
        turn met them cold after each turn's Python work (bench/engine.py: about 25 % more
        turns a second)."""
        if self._saves:
            saves, self._saves = self._saves, {}
            self._begin()
            rows = [(key, *row) for key, row in saves.items() if row is not None]
            gone = [(key,) for key, row in saves.items() if row is None]
            if rows:
                self._conn.executemany(
                    "INSERT INTO conversations (key, state, seen, updated_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET state = "
                    "excluded.state, seen = excluded.seen, updated_at = excluded.updated_at, "
                    "expires_at = excluded.expires_at", rows)
            if gone:
                self._conn.executemany("DELETE FROM conversations WHERE key = ?", gone)
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            self._begin()
            for change in deferred:
                change(self._conn)

    def rollback(self) -> None:
        """Drop every write not yet committed."""
        self._saves.clear()
        self._deferred.clear()
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def purge_expired(self, now: int) -> int:
        """Erase conversations whose expiry (epoch seconds) has passed; returns how many."""
        return self.write(lambda conn: conn.execute(
            "DELETE FROM conversations WHERE expires_at < ?", (now,)).rowcount)

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file and cut it to zero bytes, or raise.

        Used after typed text was erased, so that no older version of a row stays in the WAL.
        SQLite answers busy (first column 1) instead of raising when the background checkpoint
        or a reader is in the way, and the WAL is then left as it was: so try again.
        """
        if self.path is None:
            return
        for attempt in range(TRUNCATE_ATTEMPTS):
            if not self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                return
            time.sleep(0.001 * (attempt + 1))
        raise sqlite3.OperationalError("the WAL could not be truncated: the database stays busy")

    def close(self) -> None:
        """Close; a write whose turn never finished (no commit) is rolled back, not half kept."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.rollback()
        self.checkpoint()
        self._conn.close()
