"""Conversation state: one row per conversation, keyed by a keyed hash, in its own SQLite file.

The row holds only what the engine needs to go on (position, answers, undo steps) plus the hashed
ids of recent platform events for de-duplication. The state is sealed with the conversation's
own key from `state_keys` (next to the database, `state.keys`): erasing typed text, or the whole
conversation, overwrites that key, and every older version of the row becomes unreadable where
it lingers (the WAL, free pages) without the WAL being emptied for it.

Writes are held back until the service commits all turns that finished together (group
commit): one transaction, one WAL write for many turns. Each call is one short statement, so the
async service calls it on the event loop (measured in bench/engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from storage.migrations import Migration, apply
from storage.reminder_store import create_reminders
from storage.state_keys import KeyReader, StateKeys


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


def _add_key_slots(db: sqlite_utils.Database) -> None:
    """The record in `state.keys` of the key that seals a row's state."""
    db.table("conversations").add_column("key_slot", int)


def _drop_activity_index(db: sqlite_utils.Database) -> None:
    """Nothing searches by the last activity (expiry has its own column): the index only cost
    every turn a second index update."""
    db.execute("DROP INDEX IF EXISTS idx_conversations_updated_at")


def _drop_expiry_index(db: sqlite_utils.Database) -> None:
    """Expired conversations are purged at the start and by `lotse purge`, which can scan the
    table; the index cost every turn an index update: a sixth of the store's work per turn
    (valgrind) and a second page in the WAL."""
    db.execute("DROP INDEX IF EXISTS idx_conversations_expires_at")


MIGRATIONS: list[Migration] = [
    (1, "conversations", _create_conversations),
    (2, "conversation expiry", _add_expiry),
    (3, "reminders", create_reminders),
    (4, "no index on last activity", _drop_activity_index),
    (5, "sealed states", _add_key_slots),
    (6, "no index on expiry", _drop_expiry_index),
]

T = TypeVar("T")
log = logging.getLogger(__name__)

SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
PAGE_SIZE = 1024
"""Bytes per database page. A turn rewrites the page that holds its row, and a row is about
600 bytes: with SQLite's 4 KB default every turn wrote 4 KB to the WAL and folded it back again.
1 KB pages cut the WAL to about a third, and with no index on expiry the store's work per turn
by 31 % (valgrind); a longer row continues on an overflow page."""
SAFETY_CHECKPOINT_BYTES = 40 << 20
"""SQLite's own checkpoint, only if the WAL reaches this size all the same (upkeep failing,
a reader in the way)."""
UPKEEP_BYTES = 16 << 20
"""The WAL is started over (`StateStore.upkeep`, which holds the event loop for 2-3 ms) only once
it holds this much: every few seconds at 5,000 turns/s instead of twice a second, so fewer turns
wait behind it. The background rounds fold it meanwhile. Under full load it grows on for up to
a round (16-25 MB), and the file keeps its largest size."""
TRUNCATE_ATTEMPTS = 20


class _Checkpointer(threading.Thread):
    """Folds the WAL into the database from a thread of its own, on its own connection.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold and stalls
    that turn for tens of milliseconds; here it runs beside the turns (sqlite3 releases the GIL
    while it does I/O), and a PASSIVE checkpoint never blocks a writer.

    Under steady load that alone never finishes: turns commit while it syncs, so the WAL is
    never wholly folded back, never starts over, and grows until SQLite's own checkpoint runs
    inside a commit after all (5-15 ms each; at the 10,000-page threshold SQLite had before
    SAFETY_CHECKPOINT_BYTES, every second or so at 5,000 turns/s: most of the slowest 1 % of
    turns in bench/engine.py). So when turns were committed during its rounds and
    the WAL has reached UPKEEP_BYTES, it sets `due`, and the store's own connection folds the
    last few frames between two batches (`StateStore.upkeep`), where no commit can come in
    between: that checkpoint completes, in 2-3 ms, and the next commit starts the WAL from the
    beginning. Without such turns its rounds fold the whole WAL themselves.
    """

    ROUNDS = 2
    """The second round folds what the turns wrote during the first, which leaves less for
    `upkeep` to do while it holds the event loop."""

    def __init__(self, path: Path, interval: float, upkeep_frames: int) -> None:
        super().__init__(name="lotse-wal-checkpoint", daemon=True)
        self._path = path
        self._interval = interval
        self._upkeep_frames = upkeep_frames
        self._halt = threading.Event()
        self.due = threading.Event()
        """Turns were committed during the last rounds, and the WAL has `upkeep_frames`: the
        writing connection is to finish the fold (`StateStore.upkeep`)."""

    def run(self) -> None:
        conn = sqlite3.connect(str(self._path), isolation_level=None)
        try:
            while not self._halt.wait(self._interval):
                try:
                    frames = [conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1:]
                              for _ in range(self.ROUNDS)]
                except sqlite3.Error:
                    continue  # busy or locked: the next round tries again
                if wants_upkeep(frames[0], frames[-1], self._upkeep_frames):
                    self.due.set()
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join()


def wants_upkeep(first: tuple[int, int], last: tuple[int, int], upkeep_frames: int) -> bool:
    """Whether the writing connection is to finish the fold, from what the first and the last
    of a checkpointer's rounds report: (frames in the WAL, frames folded), -1 where SQLite was
    busy. Only when turns were committed during the rounds (with none, the WAL is wholly folded
    already, and upkeep would only sync again), and only once the WAL holds `upkeep_frames`:
    while it is smaller it may grow (UPKEEP_BYTES)."""
    (before, _), (frames, folded) = first, last
    if before < 0 or frames < 0:
        return False  # a round found SQLite busy: the next ones tell
    return (frames != before or folded != frames) and frames >= upkeep_frames


def unseal(keys: StateKeys | KeyReader, key: str, sealed: bytes | str | None,
           slot: int | None) -> str | None:
    """A stored state's text; None when its key was erased or lost (the conversation starts
    afresh, as with any unreadable state)."""
    if isinstance(sealed, str):
        return sealed  # written in the clear, before states were sealed
    if sealed is None or slot is None:
        return None
    return keys.open(slot, sealed, key)


def in_transaction(conn: sqlite3.Connection, change: Callable[[sqlite3.Connection], T],
                   immediate: bool = False) -> T:
    """Run `change` in a transaction and commit it at once, or roll it back and raise.
    `immediate`: take the write lock at the start (a connection beside another writer)."""
    if immediate:
        conn.execute("BEGIN IMMEDIATE")
    elif not conn.in_transaction:
        conn.execute("BEGIN")
    try:
        result = change(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result


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
                 checkpoint_every: float = 0.5, upkeep_bytes: int = UPKEEP_BYTES) -> None:
        mode = synchronous.upper()
        if mode not in SYNC_MODES:
            raise ValueError(f"unknown synchronous mode {synchronous!r}; use NORMAL or FULL")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every statement is its own transaction unless one is opened explicitly.
        conn = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None,
                               check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new database: before its first page
        if path is not None:
            self.db.enable_wal()
        self.path = path
        self.db.execute(f"PRAGMA synchronous = {mode}")
        # Erased rows are overwritten with zeros, not left in free space (many builds default
        # to this; some do not).
        self.db.execute("PRAGMA secure_delete = ON")
        apply(self.db, MIGRATIONS)
        self._conn = conn
        self._full = mode in ("FULL", "EXTRA")
        self._saves: dict[str, tuple[bytes | None, str, int, int, int | None] | None] = {}
        self._deferred: list[tuple[str, Sequence[object]]] = []
        self._keys = StateKeys(None if path is None else path.with_suffix(".keys"))
        self._slots: dict[str, int | None] = {}
        """The key record of each conversation seen since the start (None: no state kept)."""
        self._rekey: set[str] = set()
        self._retired: list[int] = []
        """Key records to overwrite once the rows that left them are committed."""
        self._fresh: list[int] = []
        """Key records taken since the last commit (overwritten again if it fails)."""
        if self._keys.alone:
            self._settle()
        self._seal_plain_rows()
        if self._keys.alone:
            self._use_small_pages()  # after sealing: a VACUUM copies the rows through temp files
        self._checkpointer: _Checkpointer | None = None
        if path is not None and checkpoint_every > 0:
            page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
            pages = SAFETY_CHECKPOINT_BYTES // page_size
            self.db.execute(f"PRAGMA wal_autocheckpoint = {pages}")
            self._checkpointer = _Checkpointer(path, checkpoint_every, upkeep_bytes // page_size)
            self._checkpointer.start()

    def load(self, key: str) -> StoredConversation | None:
        if key in self._saves:  # written in this batch, not yet committed
            pending = self._saves[key]
            if pending is None:
                return None
            return StoredConversation(unseal(self._keys, key, pending[0], pending[4]),
                                      pending[1], pending[3])
        row = self._conn.execute(
            "SELECT state, seen, expires_at, key_slot FROM conversations WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            self._slots[key] = None
            return None
        self._slots[key] = row[3]
        return StoredConversation(unseal(self._keys, key, row[0], row[3]), row[1] or "", row[2])

    def _slot(self, key: str) -> int | None:
        if key not in self._slots:
            row = self._conn.execute("SELECT key_slot FROM conversations WHERE key = ?",
                                     (key,)).fetchone()
            self._slots[key] = row[0] if row else None
        return self._slots[key]

    @property
    def connection(self) -> sqlite3.Connection:
        """For reading the other tables of this database (reminders); writes go through
        `defer` or `write`, which share the store's transactions."""
        return self._conn

    def save(self, key: str, state: str | None, seen: str, updated_at: int,
             expires_at: int) -> None:
        """Write one conversation; durable after the next `commit()` (which writes it)."""
        slot = self._slot(key)
        if state is None:
            self._retire(key, slot)
            self._saves[key] = (None, seen, updated_at, expires_at, None)
            return
        if slot is None or key in self._rekey or not self._keys.usable(slot):
            self._retire(key, slot)
            slot = self._slots[key] = self._keys.new()
            self._fresh.append(slot)
        self._saves[key] = (self._keys.seal(slot, state, key), seen, updated_at, expires_at,
                            slot)

    def rekey(self, key: str) -> None:
        """Seal this conversation's next state with a new key and overwrite the old key once that
        state is committed: for typed text just erased from the state, whose older versions
        must not stay readable anywhere."""
        self._rekey.add(key)

    def delete(self, key: str) -> None:
        """Erase one conversation with the next `commit()`."""
        self._retire(key, self._slot(key))
        self._saves[key] = None

    def _retire(self, key: str, slot: int | None) -> None:
        self._rekey.discard(key)
        self._slots[key] = None
        if slot is not None:
            self._retired.append(slot)

    def defer(self, sql: str, params: Sequence[object]) -> None:
        """A write to another table, run in the next `commit()`'s transaction, after the
        conversations: a reminder set in a turn is kept with that turn, never without it.
        (A statement, not a function: it may have to travel to the writer process.)"""
        self._deferred.append((sql, params))

    def commit(self) -> None:
        """Make every write since the last commit durable, all with one WAL write; then
        overwrite the keys the committed rows no longer use."""
        self._write_pending()
        if self._full:
            self._keys.sync()  # a new key must not be lost in a power cut while its row is not
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._fresh.clear()
        retired, self._retired = self._retired, []
        for slot in retired:
            self._keys.erase(slot)

    def commit_async(self, scrub: bool = False) -> asyncio.Future[None] | None:
        """The group commit's way in: here the commit is done when this returns (None); the
        writer process's store returns a future instead. `scrub`: also empty the WAL (a
        conversation was forgotten). A failed commit keeps nothing of the batch."""
        try:
            self.commit()
            if scrub:
                self.checkpoint()
        except BaseException:
            self.rollback()
            raise
        return None

    def upkeep(self) -> bool:
        """Finish the background checkpoint, if its rounds are done: fold the frames they left
        behind, from this connection, between two batches, so that nothing is committed
        meanwhile and the whole WAL is folded (see `_Checkpointer`). The service calls this once
        the replies of a batch are out; without it the WAL only grows until SQLite checkpoints
        inside a commit. Returns whether there was anything to do (bench/engine.py times
        those calls)."""
        checkpointer = self._checkpointer
        if checkpointer is None or not checkpointer.due.is_set() or self._conn.in_transaction:
            return False
        checkpointer.due.clear()
        with contextlib.suppress(sqlite3.Error):  # busy: the next round tries again
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return True

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """Run `change` in a transaction of its own and commit it at once: for writes outside a
        turn, such as claiming a reminder for delivery. Turns' rows waiting for their group
        commit are not part of it."""
        return in_transaction(self._conn, change)  # the turns' rows stay pending either way

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
                    "INSERT INTO conversations (key, state, seen, updated_at, expires_at, "
                    "key_slot) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "state = excluded.state, seen = excluded.seen, updated_at = "
                    "excluded.updated_at, expires_at = excluded.expires_at, key_slot = "
                    "excluded.key_slot", rows)
            if gone:
                self._conn.executemany("DELETE FROM conversations WHERE key = ?", gone)
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            self._begin()
            for deferred_sql, params in deferred:
                self._conn.execute(deferred_sql, params)

    def rollback(self) -> None:
        """Drop every write not yet committed."""
        self._saves.clear()
        self._deferred.clear()
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
        for slot in self._fresh:  # sealed nothing that was kept
            self._keys.erase(slot)
        self._fresh.clear()
        self._retired.clear()  # still in use by the rows as committed
        self._rekey.clear()
        self._slots.clear()

    def purge_expired(self, now: int) -> int:
        """Erase conversations whose expiry (epoch seconds) has passed; returns how many."""
        def purge(conn: sqlite3.Connection) -> tuple[int, list[int]]:
            slots = [r[0] for r in conn.execute(
                "SELECT key_slot FROM conversations WHERE expires_at < ? AND key_slot IS NOT "
                "NULL", (now,))]
            return conn.execute("DELETE FROM conversations WHERE expires_at < ?",
                                (now,)).rowcount, slots

        count, slots = self.write(purge)
        for slot in slots:
            self._keys.erase(slot)
        # Read again when needed; the rows waiting for their commit keep what they were given.
        self._slots = {k: row[4] if row else None for k, row in self._saves.items()}
        return count

    def _settle(self) -> None:
        """Alone with the database, no turn is half written anywhere: a key no row refers to
        sealed only versions that are gone, or a turn a kill cut short; overwrite it (a crash
        or a power cut between a commit and the overwrite of the key it retired)."""
        used = {r[0] for r in self._conn.execute(
            "SELECT key_slot FROM conversations WHERE key_slot IS NOT NULL")}
        stale = self._keys.kept() - used
        for slot in stale:
            self._keys.erase(slot)
        if stale:
            self._keys.sync()

    def _use_small_pages(self) -> None:
        """A database made with larger pages is rebuilt with `PAGE_SIZE` once (SQLite changes the
        page size of a WAL database only by a VACUUM outside WAL mode). Only while no other
        connection has the file open, which SQLite checks: otherwise it stays as it is, which
        works the same, and the next start tries again."""
        if self.path is None or \
                self._conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE:
            return
        mode = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        try:
            if self._conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] != "delete":
                return  # another connection has it open
            self._conn.execute("PRAGMA synchronous = FULL")  # the rebuild survives a power cut
            self._conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            self._conn.execute("VACUUM")
        except sqlite3.OperationalError as err:
            log.warning("state database keeps its page size for now: %s", err)
        finally:
            self._conn.execute(f"PRAGMA synchronous = {mode}")
            self.db.enable_wal()

    def _seal_plain_rows(self) -> None:
        """States stored in the clear (before they were sealed) are sealed once, and the WAL that
        held them emptied."""
        plain = self._conn.execute(
            "SELECT key, state, coalesce(seen, ''), updated_at, expires_at FROM conversations "
            "WHERE key_slot IS NULL AND state IS NOT NULL").fetchall()
        if not plain:
            return
        for key, state, seen, updated_at, expires_at in plain:
            self._slots[key] = None
            self.save(key, state if isinstance(state, str) else None, seen, updated_at,
                      expires_at)
        self.commit()
        self.checkpoint()

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
        self._keys.close()
