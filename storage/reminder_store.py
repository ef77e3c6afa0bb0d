"""Opt-in reminders, in the conversation-state database: only what delivery needs.

A row holds the channel, the address (a Telegram chat, a Matrix room), the due time, which
reminder ("employee.deadline") and the language — nothing about the incident; its conversation is
the keyed hash of `conversations`, so `forget` can erase them. The address is sealed with a key of
its own in state.keys (issue #26, item 6), as conversation state is: no platform id is in
state.db in the clear, and erasing a reminder overwrites its key, so older copies of the row are
noise. (Not the conversation's key: a reminder outlives its conversation.)

Delivery is claim, send, done: a claim is committed before sending, so two schedulers never send
the same reminder; a claim older than `STALE_CLAIM` seconds is from a process that died while
sending, and is tried again.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storage.state_store import StateStore

STALE_CLAIM = 600
OVERDUE_LIMIT = 30 * 86400
"""A reminder that could not be delivered for 30 days (its channel gone) is dropped by purge."""

@dataclass(frozen=True, slots=True)
class StoredReminder:
    id: str
    conversation: str
    channel: str
    address: str
    due_at: int
    kind: str
    lang: str


class ReminderStore:
    """Reminders on the state store's connection (which creates their table): a reminder set in
    a turn is committed with that turn, never without it."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._conn = store.connection
        self._seal_old()

    def add(self, conversation: str, channel: str, address: str, due_at: int, kind: str,
            lang: str) -> None:
        """Set one reminder, replacing one of the same kind for this conversation; durable with
        the next commit of the state store."""
        reminder_id = secrets.token_hex(8)
        slot, sealed = self._store.seal_apart(address, _owner(reminder_id))
        self._retire(self._conn.execute(
            "SELECT key_slot FROM reminders WHERE conversation = ? AND kind = ?",
            (conversation, kind)))
        self._store.defer("DELETE FROM reminders WHERE conversation = ? AND kind = ?",
                          (conversation, kind))
        self._store.defer(
            "INSERT INTO reminders (id, conversation, channel, address, due_at, kind, lang, "
            "key_slot) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (reminder_id, conversation, channel, sealed, due_at, kind, lang, slot))

    def of(self, conversation: str) -> list[StoredReminder]:
        return self._opened(self._conn.execute(
            "SELECT id, conversation, channel, address, due_at, kind, lang, key_slot "
            "FROM reminders WHERE conversation = ? ORDER BY due_at", (conversation,)).fetchall())

    def cancel(self, conversation: str) -> None:
        """Erase every reminder of this conversation; durable with the next commit, which also
        overwrites their keys."""
        self._retire(self._conn.execute(
            "SELECT key_slot FROM reminders WHERE conversation = ?", (conversation,)))
        self._store.defer("DELETE FROM reminders WHERE conversation = ?", (conversation,))

    def due(self, now: int, limit: int = 100) -> list[StoredReminder]:
        """Reminders due by `now` that nobody is delivering, oldest first. One whose key is lost
        (a power cut) can reach nobody: it is dropped."""
        rows = self._conn.execute(
            "SELECT id, conversation, channel, address, due_at, kind, lang, key_slot "
            "FROM reminders WHERE due_at <= ? AND (claimed_at IS NULL OR claimed_at < ?) "
            "ORDER BY due_at LIMIT ?",
            (now, now - STALE_CLAIM, limit)).fetchall()
        found = self._opened(rows)
        readable = {r.id for r in found}
        for row in rows:
            if row[0] not in readable:
                self.done(row[0])
        return found

    def claim(self, reminder_id: str, now: int) -> bool:
        """Take a reminder for delivery; False when another delivery has it (or it is gone).
        Committed at once, so the claim holds across processes."""
        claimed = self._store.write(lambda conn: conn.execute(
            "UPDATE reminders SET claimed_at = ? WHERE id = ? "
            "AND (claimed_at IS NULL OR claimed_at < ?)",
            (now, reminder_id, now - STALE_CLAIM)).rowcount)
        return claimed == 1

    def release(self, reminder_id: str) -> None:
        """Sending failed: the reminder is due again at the next round."""
        self._store.write(lambda conn: conn.execute(
            "UPDATE reminders SET claimed_at = NULL WHERE id = ?", (reminder_id,)))

    def done(self, reminder_id: str) -> None:
        """Delivered: erased at once, its key overwritten."""
        self._erase(lambda conn: conn.execute(
            "DELETE FROM reminders WHERE id = ? RETURNING key_slot", (reminder_id,)))

    def purge(self, now: int) -> int:
        """Erase reminders overdue for longer than OVERDUE_LIMIT (their channel is gone)."""
        return self._erase(lambda conn: conn.execute(
            "DELETE FROM reminders WHERE due_at < ? RETURNING key_slot", (now - OVERDUE_LIMIT,)))

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM reminders").fetchone()[0])

    def _opened(self, rows: list[Any]) -> list[StoredReminder]:
        """The rows with their addresses unsealed; rows whose key is gone are left out."""
        found = []
        for rid, conversation, channel, sealed, due_at, kind, lang, slot in rows:
            address = self._store.open_apart(slot, sealed, _owner(str(rid)))
            if address is not None:
                found.append(StoredReminder(rid, conversation, channel, address, due_at, kind,
                                            lang))
        return found

    def _retire(self, slots: sqlite3.Cursor) -> None:
        """The keys of these committed rows go once the next commit deleted them."""
        for (slot,) in slots.fetchall():
            self._store.retire_apart(slot)

    def _erase(self, delete: Callable[[sqlite3.Connection], sqlite3.Cursor]) -> int:
        """Run `delete` (a DELETE … RETURNING key_slot) in a write of its own and overwrite the
        keys of the rows it deleted; how many."""
        slots = self._store.write(lambda conn: [r[0] for r in delete(conn).fetchall()])
        for slot in slots:
            self._store.retire_apart(slot, now=True)
        return len(slots)

    def _seal_old(self) -> None:
        """Seal the addresses a Lotse before issue #26 kept in the clear, and cut the WAL that
        held them (their old bytes are zeroed: `secure_delete`)."""
        old = self._conn.execute(
            "SELECT id, address FROM reminders WHERE key_slot IS NULL").fetchall()
        if not old:
            return
        sealed = [(*self._store.seal_apart(str(address), _owner(str(rid)), with_commit=False),
                   rid) for rid, address in old]
        self._store.sync_keys()
        self._store.write(lambda conn: conn.executemany(
            "UPDATE reminders SET key_slot = ?, address = ? WHERE id = ?", sealed))
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the next checkpoint cuts it
            self._store.checkpoint()


def _owner(reminder_id: str) -> str:
    """What a reminder's sealed address is bound to, so that it opens only in its own row."""
    return f"reminder {reminder_id}"
