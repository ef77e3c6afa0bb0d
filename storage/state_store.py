"""Conversation state: one row per conversation, keyed by a keyed hash, in its own SQLite file.

A row holds what the engine needs to go on (position, answers, undo steps) and the hashed ids of
recent platform events (de-duplication), sealed with the conversation's own key (`state_keys`),
so that erasing overwrites the key and every older version of the row becomes unreadable. A
turn's writes are held until `commit()` writes them in one transaction: kept whole or not at all.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from storage import sent_store
from storage.migrations import Migration, apply
from storage.private_file import private_database
from storage.state_keys import StateKeys


def _create_tables(db: sqlite_utils.Database) -> None:
    """The conversations, each with its own expiry (a supervisor's checklist outlives a chat) and
    the `state.keys` record that seals it, and the reminders (storage/reminder_store.py)."""
    db.table("conversations").create(
        {"key": str, "state": bytes, "seen": str, "updated_at": int, "expires_at": int,
         "key_slot": int},
        pk="key",
        not_null={"key", "updated_at"},
    )
    reminders = db.table("reminders")
    reminders.create(
        {"id": str, "conversation": str, "channel": str, "address": str, "due_at": int,
         "kind": str, "lang": str, "claimed_at": int},
        pk="id",
        not_null={"id", "conversation", "channel", "address", "due_at", "kind", "lang"},
    )
    reminders.create_index(["due_at"])
    reminders.create_index(["conversation"])


def _create_outbox(db: sqlite_utils.Database) -> None:
    """Reports on their way to reports.db (storage/report_outbox.py): each sealed with a key of
    its own, and the key record is the row's only name (no report id, nothing in the clear)."""
    db.execute("CREATE TABLE outbox (key_slot INTEGER PRIMARY KEY, sealed BLOB NOT NULL)")


def _seal_reminders(db: sqlite_utils.Database) -> None:
    """A reminder's address (a Telegram chat id, a Matrix room) is sealed with a key of its own,
    named here (issue #26, item 6); rows from before are sealed at the next start
    (storage/reminder_store.py)."""
    db.execute("ALTER TABLE reminders ADD COLUMN key_slot INTEGER")


MIGRATIONS: list[Migration] = [(1, "conversations and reminders", _create_tables),
                               (2, "report outbox", _create_outbox),
                               (3, "sent message ids", sent_store.create_table),
                               (4, "sealed reminder addresses", _seal_reminders)]

T = TypeVar("T")

SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
TRUNCATE_ATTEMPTS = 20

_Row = tuple[bytes | None, str, int, int, int | None]
"""A conversation waiting for its commit: sealed state, seen, updated_at, expires_at, key slot."""


@dataclass(frozen=True, slots=True)
class StoredConversation:
    state: str | None
    """The engine state as JSON; None once the conversation ended (only `seen` is kept)."""
    seen: str
    expires_at: int


SLOTS_KEPT = 10_000


class StateStore:
    """The conversation-state database; `path=None` keeps it in memory (tests). `synchronous` is
    SQLite's: with NORMAL a committed turn survives a crash of the process, with FULL (a disk
    sync per commit) also a power cut."""

    def __init__(self, path: Path | None, synchronous: str = "NORMAL") -> None:
        mode = synchronous.upper()
        if mode not in SYNC_MODES:
            raise ValueError(f"unknown synchronous mode {synchronous!r}; use NORMAL or FULL")
        if path is not None:
            private_database(path)  # 0600, and so are its -wal and -shm
        # Autocommit: every statement is its own transaction unless one is opened explicitly.
        conn = sqlite3.connect(":memory:" if path is None else str(path), isolation_level=None,
                               check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        if path is not None:
            self.db.enable_wal()
        self.path = path
        self.db.execute(f"PRAGMA synchronous = {mode}")
        # Erased rows are zeroed, not left in free space (not every build's default).
        self.db.execute("PRAGMA secure_delete = ON")
        apply(self.db, MIGRATIONS)
        self._conn = conn
        self._full = mode in ("FULL", "EXTRA")
        self._keys = StateKeys(None if path is None else path.with_suffix(".keys"))
        self._rows: dict[str, _Row | None] = {}
        """Conversations saved (None: deleted) since the last commit."""
        self._slots: dict[str, int | None] = {}
        """The committed key record of up to SLOTS_KEPT recent conversations, so that saving a
        conversation just loaded reads no row again."""
        self._deferred: list[tuple[str, Sequence[object]]] = []
        self._rekey: set[str] = set()
        self._retired: list[int] = []
        """Key records to overwrite once the rows that left them are committed."""
        self._fresh: list[int] = []
        """Key records taken since the last commit (overwritten again if it fails)."""
        if self._keys.alone:
            self._settle()

    def load(self, key: str) -> StoredConversation | None:
        """The conversation as last saved: since the last commit, or else as stored."""
        if key in self._rows:
            pending = self._rows[key]
            if pending is None:
                return None
            sealed, seen, _, expires_at, slot = pending
        else:
            row = self._conn.execute(
                "SELECT state, seen, expires_at, key_slot FROM conversations WHERE key = ?",
                (key,)).fetchone()
            if row is None:
                return None
            sealed, seen, expires_at, slot = row
            self._note_slot(key, slot)
        # A state whose key was erased or lost reads as none: the conversation starts afresh.
        state = None if sealed is None or slot is None else self._keys.open(slot, sealed, key)
        return StoredConversation(state, seen or "", expires_at)

    def _slot(self, key: str) -> int | None:
        """The key record that seals this conversation's state, if any."""
        if key in self._rows:
            pending = self._rows[key]
            return pending[4] if pending is not None else None
        if key not in self._slots:
            row = self._conn.execute("SELECT key_slot FROM conversations WHERE key = ?",
                                     (key,)).fetchone()
            self._note_slot(key, row[0] if row else None)
        return self._slots[key]

    def _note_slot(self, key: str, slot: int | None) -> None:
        if len(self._slots) >= SLOTS_KEPT:
            self._slots.clear()
        self._slots[key] = slot

    @property
    def keys(self) -> StateKeys:
        """The key records, for the tables that seal rows with keys of their own."""
        return self._keys

    @property
    def connection(self) -> sqlite3.Connection:
        """For reading the other tables of this database (reminders); writes go through
        `defer` or `write`."""
        return self._conn

    def save(self, key: str, state: str | None, seen: str, updated_at: int,
             expires_at: int) -> None:
        """Write one conversation with the next `commit()`."""
        slot = self._slot(key)
        if state is None:
            self._retire(key, slot)
            self._rows[key] = (None, seen, updated_at, expires_at, None)
            return
        if slot is None or key in self._rekey or not self._keys.usable(slot):
            self._retire(key, slot)
            slot = self._keys.new()
            self._fresh.append(slot)
        self._rows[key] = (self._keys.seal(slot, state, key), seen, updated_at, expires_at,
                           slot)

    def rekey(self, key: str) -> None:
        """Seal this conversation's next state with a new key, and overwrite the old one once that
        is committed: typed text just erased must not stay readable in older versions."""
        self._rekey.add(key)

    def erase_key(self, key: str) -> None:
        """Overwrite this conversation's key record now, before and whatever the next commit
        (issue #26, item 10): an overwrite in place needs no new space, so on a full disk too
        its stored state reads as none from here on, though the row stays until a commit."""
        slot = self._slot(key)
        if slot is not None:
            self._keys.burn(slot)

    def delete(self, key: str) -> None:
        """Erase one conversation with the next `commit()`."""
        self._retire(key, self._slot(key))
        self._rows[key] = None

    def _retire(self, key: str, slot: int | None) -> None:
        self._rekey.discard(key)
        if slot is not None:
            self._retired.append(slot)

    def defer(self, sql: str, params: Sequence[object]) -> None:
        """A write to another table, run in the next `commit()`'s transaction, after the
        conversations: a reminder set in a turn is kept with that turn, never without it."""
        self._deferred.append((sql, params))

    def post(self, text: str) -> None:
        """Keep `text` in the outbox with the next `commit()`, sealed with a new key of its own:
        a report confirmed in a turn is kept with that turn, never without it."""
        slot = self._keys.new()
        self._fresh.append(slot)
        self._deferred.append(("INSERT INTO outbox (key_slot, sealed) VALUES (?, ?)",
                               (slot, self._keys.seal(slot, text, _outbox_owner(slot)))))

    def seal_apart(self, text: str, owner: str, with_commit: bool = True) -> tuple[int, bytes]:
        """`text` sealed with a new key of its own, bound to `owner`, and that key's record: for
        a row that outlives its conversation's key (a reminder's address). The row must name the
        record and be written with the next `commit()` (a rollback erases the key), or, without
        `with_commit`, at once by the caller (a key no row names goes at the next tidy-up)."""
        slot = self._keys.new()
        if with_commit:
            self._fresh.append(slot)
        return slot, self._keys.seal(slot, text, owner)

    def open_apart(self, slot: int | None, sealed: object, owner: str) -> str | None:
        """What `seal_apart` sealed; None when its key is erased or lost."""
        if slot is None or not isinstance(sealed, bytes):
            return None
        return self._keys.open(slot, sealed, owner)

    def retire_apart(self, slot: int | None, now: bool = False) -> None:
        """Overwrite a `seal_apart` key: `now` (its row is deleted already), or once the next
        `commit()` has deleted its row."""
        if slot is None:
            return
        if now:
            self._keys.erase(slot)
        else:
            self._retired.append(slot)

    def sync_keys(self) -> None:
        """Keys written outside a commit survive a power cut (with synchronous FULL)."""
        if self._full:
            self._keys.sync()

    def outbox(self) -> list[tuple[int, str | None]]:
        """What the committed outbox holds: each row's key record and text (None: its key was
        lost in a power cut, so the row can only be dropped)."""
        rows = self._conn.execute("SELECT key_slot, sealed FROM outbox ORDER BY key_slot")
        return [(slot, self._keys.open(slot, sealed, _outbox_owner(slot)))
                for slot, sealed in rows.fetchall()]

    def delivered(self, slot: int) -> None:
        """Delete an outbox row at once and overwrite its key: its bytes, wherever SQLite left
        them, are noise from now on (`checkpoint()` then clears the WAL)."""
        self.write(lambda conn: conn.execute("DELETE FROM outbox WHERE key_slot = ?", (slot,)))
        self._keys.erase(slot)

    def commit(self) -> None:
        """Write what was saved and deferred in one transaction, then overwrite the keys that
        committed rows no longer use. On failure nothing is written, and the writes wait for
        `rollback()` or a retry."""
        if self._full:
            self._keys.sync()  # a new key must not be lost in a power cut while its row is not
        self.write(self._write_pending)
        for key, row in self._rows.items():
            self._note_slot(key, row[4] if row is not None else None)
        self._rows.clear()
        self._deferred.clear()
        self._fresh.clear()
        retired, self._retired = self._retired, []
        for slot in retired:
            self._keys.erase(slot)

    def _write_pending(self, conn: sqlite3.Connection) -> None:
        for key, row in self._rows.items():
            if row is None:
                conn.execute("DELETE FROM conversations WHERE key = ?", (key,))
            else:
                conn.execute(
                    "INSERT INTO conversations (key, state, seen, updated_at, expires_at, "
                    "key_slot) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "state = excluded.state, seen = excluded.seen, updated_at = "
                    "excluded.updated_at, expires_at = excluded.expires_at, key_slot = "
                    "excluded.key_slot", (key, *row))
        for deferred_sql, params in self._deferred:
            conn.execute(deferred_sql, params)

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """Run `change` in a transaction of its own and commit it, or roll it back and raise:
        for writes outside a turn, such as claiming a reminder for delivery."""
        self._conn.execute("BEGIN")
        try:
            result = change(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # SQLite may have rolled back on its own (disk full)
                self._conn.execute("ROLLBACK")
            raise
        return result

    def rollback(self) -> None:
        """Drop every write not yet committed."""
        self._rows.clear()
        self._deferred.clear()
        for slot in self._fresh:  # sealed nothing that was kept
            self._keys.erase(slot)
        self._fresh.clear()
        self._retired.clear()  # still in use by the rows as committed
        self._rekey.clear()

    def purge_expired(self, now: int) -> int:
        """Erase conversations whose expiry (epoch seconds) has passed; returns how many."""
        def purge(conn: sqlite3.Connection) -> tuple[int, list[int]]:
            slots = [r[0] for r in conn.execute(
                "SELECT key_slot FROM conversations WHERE expires_at < ? AND key_slot IS NOT "
                "NULL", (now,))]
            count = conn.execute("DELETE FROM conversations WHERE expires_at < ?",
                                 (now,)).rowcount
            # Their message ids go with them (storage/sent_store.py).
            return count, slots + sent_store.purge_orphans(conn, self._keys)

        count, slots = self.write(purge)
        self._slots.clear()
        for slot in slots:
            self._keys.erase(slot)
        return count

    def _settle(self) -> None:
        """Alone with the database no turn is half written, so a key no row refers to (a turn a
        kill cut short, a crash between a commit and the erasure it retired) can be overwritten."""
        used = {r[0] for r in self._conn.execute(
            "SELECT key_slot FROM conversations WHERE key_slot IS NOT NULL "
            "UNION SELECT key_slot FROM outbox UNION SELECT key_slot FROM sent_messages "
            "UNION SELECT key_slot FROM reminders WHERE key_slot IS NOT NULL")}
        self._keys.hold(used)  # burnt by `erase_key`, its row not yet deleted
        stale = self._keys.kept() - used
        for slot in stale:
            self._keys.erase(slot)
        if stale:
            self._keys.sync()

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def checkpoint(self) -> None:
        """Fold the WAL into the database file and cut it to zero bytes, or raise: after an erasure,
        no older version of a row stays in the WAL. A reader in the way (`lotse purge`, a backup)
        makes SQLite answer busy (first column 1) and leave the WAL as it was: so try again."""
        if self.path is None:
            return
        for attempt in range(TRUNCATE_ATTEMPTS):
            if not self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]:
                return
            time.sleep(0.001 * (attempt + 1))
        raise sqlite3.OperationalError("the WAL could not be truncated: the database stays busy")

    def close(self) -> None:
        """Close; writes not committed are dropped, not half kept."""
        self.rollback()
        self.checkpoint()
        self._conn.close()
        self._keys.close()


def _outbox_owner(slot: int) -> str:
    """What an outbox row's seal is bound to, so that it opens only in its own row."""
    return f"outbox {slot}"
