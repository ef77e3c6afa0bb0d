"""The ids of a conversation's chat messages, kept so that `forget` can delete them after a restart.

A Telegram chat or a Matrix room shows the conversation as long as its messages are there; `forget`
deletes them, and for that Lotse needs their ids, also after a restart (issue #26, item 11). One
row per conversation (its keyed hash), the ids sealed with a key record of its own in
`state.keys` and bound to the row: nothing of them is in the clear, and erasing the row overwrites
the key, so every older version SQLite left behind is noise. A key of its own, not the
conversation state's: that one is overwritten the moment `forget` starts (before the channel can
read the ids), renewed when a document is handed over, and gone once a flow ended.

The row goes when the channel has deleted the messages (`erase`), and with its conversation when
that expires (`purge_orphans`, run by `StateStore.purge_expired`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING

import sqlite_utils

if TYPE_CHECKING:
    from storage.state_keys import StateKeys
    from storage.state_store import StateStore


def create_table(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE sent_messages (conversation TEXT PRIMARY KEY, "
               "key_slot INTEGER NOT NULL, sealed BLOB NOT NULL)")



def _owner(conversation: str) -> str:
    """What a row's seal is bound to, so that it opens only in its own row."""
    return f"sent {conversation}"


class SentStore:
    """The sealed message ids, on the state store's connection and key file. Each write is a
    transaction of its own: the ids are known only after the turn's commit, once sent."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._keys: StateKeys = store.keys

    def _row(self, conversation: str) -> tuple[int, bytes] | None:
        row = self._store.connection.execute(
            "SELECT key_slot, sealed FROM sent_messages WHERE conversation = ?",
            (conversation,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def load(self, conversation: str) -> str | None:
        """The text last saved for this conversation; None when there is none, or its key was
        erased (by `lotse purge` in another process, or lost in a power cut)."""
        row = self._row(conversation)
        return None if row is None else self._keys.open(row[0], row[1], _owner(conversation))

    def save(self, texts: Mapping[str, str]) -> None:
        """Replace these conversations' texts in one transaction, each sealed with its row's key
        (a new one for a new row)."""
        if not texts:
            return
        slots = self._slots(list(texts))
        fresh: list[int] = []
        retired: list[int] = []
        rows = []
        for conversation, text in texts.items():
            slot = slots.get(conversation)
            if slot is None or not self._keys.usable(slot):
                if slot is not None:
                    retired.append(slot)  # erased meanwhile (`lotse purge` beside Lotse)
                slot = self._keys.new()
                fresh.append(slot)
            rows.append((conversation, slot, self._keys.seal(slot, text, _owner(conversation))))
        try:
            self._store.write(lambda conn: conn.executemany(
                "INSERT INTO sent_messages (conversation, key_slot, sealed) VALUES (?, ?, ?) "
                "ON CONFLICT(conversation) DO UPDATE SET key_slot = excluded.key_slot, "
                "sealed = excluded.sealed", rows))
        except BaseException:
            for slot in fresh:  # sealed nothing that was kept
                self._keys.erase(slot)
            raise
        for slot in retired:
            self._keys.erase(slot)

    def _slots(self, conversations: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for conversation in conversations:
            row = self._store.connection.execute(
                "SELECT key_slot FROM sent_messages WHERE conversation = ?",
                (conversation,)).fetchone()
            if row is not None:
                found[conversation] = int(row[0])
        return found

    def erase(self, conversation: str) -> None:
        """Delete the row and overwrite its key: what it held is unreadable from now on,
        wherever SQLite left older versions of it. The key goes first: on a full disk too."""
        row = self._row(conversation)
        if row is None:
            return
        self._keys.burn(row[0])
        self._store.write(lambda conn: conn.execute(
            "DELETE FROM sent_messages WHERE conversation = ?", (conversation,)))
        self._keys.erase(row[0])


def purge_orphans(conn: sqlite3.Connection, keys: StateKeys) -> list[int]:
    """Delete the rows whose conversation is gone (expired, or forgotten with the channel
    stopped before it deleted the messages), in the caller's write; their keys are overwritten
    at once, and the caller erases the returned records once the write is committed."""
    slots = [r[0] for r in conn.execute(
        "SELECT key_slot FROM sent_messages WHERE conversation NOT IN "
        "(SELECT key FROM conversations)")]
    for slot in slots:
        keys.burn(slot)
    conn.execute("DELETE FROM sent_messages WHERE conversation NOT IN "
                 "(SELECT key FROM conversations)")
    return slots
