"""Opt-in reminders, in the conversation-state database: only what delivery needs.

A row holds the channel, the address (a Telegram chat, a Matrix room), the due time, which
reminder ("employee.deadline") and the language — nothing about the incident; its conversation is
the keyed hash of `conversations`, so `forget` can erase them. Delivery is claim, send, done: a
claim is committed before sending, so two schedulers never send the same reminder; a claim older
than `STALE_CLAIM` seconds is from a process that died while sending, and is tried again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

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

    def add(self, conversation: str, channel: str, address: str, due_at: int, kind: str,
            lang: str) -> None:
        """Set one reminder, replacing one of the same kind for this conversation; durable with
        the next commit of the state store."""
        row = (secrets.token_hex(8), conversation, channel, address, due_at, kind, lang)
        self._store.defer("DELETE FROM reminders WHERE conversation = ? AND kind = ?",
                          (conversation, kind))
        self._store.defer(
            "INSERT INTO reminders (id, conversation, channel, address, due_at, kind, lang) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def of(self, conversation: str) -> list[StoredReminder]:
        rows = self._conn.execute(
            "SELECT id, conversation, channel, address, due_at, kind, lang FROM reminders "
            "WHERE conversation = ? ORDER BY due_at", (conversation,)).fetchall()
        return [StoredReminder(*row) for row in rows]

    def cancel(self, conversation: str) -> None:
        """Erase every reminder of this conversation; durable with the next commit."""
        self._store.defer("DELETE FROM reminders WHERE conversation = ?", (conversation,))

    def due(self, now: int, limit: int = 100) -> list[StoredReminder]:
        """Reminders due by `now` that nobody is delivering, oldest first."""
        rows = self._conn.execute(
            "SELECT id, conversation, channel, address, due_at, kind, lang FROM reminders "
            "WHERE due_at <= ? AND (claimed_at IS NULL OR claimed_at < ?) "
            "ORDER BY due_at LIMIT ?", (now, now - STALE_CLAIM, limit)).fetchall()
        return [StoredReminder(*row) for row in rows]

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
        """Delivered: erased at once."""
        self._store.write(lambda conn: conn.execute(
            "DELETE FROM reminders WHERE id = ?", (reminder_id,)))

    def purge(self, now: int) -> int:
        """Erase reminders overdue for longer than OVERDUE_LIMIT (their channel is gone)."""
        return self._store.write(lambda conn: conn.execute(
            "DELETE FROM reminders WHERE due_at < ?", (now - OVERDUE_LIMIT,)).rowcount)

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM reminders").fetchone()[0])
