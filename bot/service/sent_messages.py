"""The ids of the messages a chat shows of a conversation, kept so that `forget` can delete them
after a restart too (issue #26, item 11).

A channel reads them once for a chat it meets after a start (`of`), writes them after each turn
that sent something (`keep`) and erases them once it has deleted the messages (`erase`); it
remembers them in memory in between. Stored per conversation, sealed (storage/sent_store.py),
bounded: the most recent `limit` ids per chat, of at most `ADDRESSES` chats per conversation.
Keeping them must never cost a reply: a write that fails is logged and the turn goes on.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence

from bot.service.keys import ConversationKey, KeyHasher
from storage.sent_store import SentStore
from storage.state_store import StateStore

log = logging.getLogger(__name__)

LIMIT = 500
"""Ids kept per chat: a long conversation with a document has about 80."""
ADDRESSES = 4
"""Chats kept per conversation (a Matrix user may talk to Lotse in more than one room)."""


class SentMessages:
    def __init__(self, store: StateStore, hasher: KeyHasher, limit: int = LIMIT) -> None:
        self._store = SentStore(store)
        self._hasher = hasher
        self.limit = limit

    def _all(self, hashed: str) -> dict[str, list[str]]:
        try:
            text = self._store.load(hashed)
            data = json.loads(text) if text else {}
        except (sqlite3.Error, ValueError) as err:
            log.warning("the ids of sent messages could not be read (%s)", type(err).__name__)
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): [str(i) for i in v] for k, v in data.items() if isinstance(v, list)}

    def of(self, key: ConversationKey, address: str) -> list[str]:
        """The ids kept for this conversation in this chat, oldest first."""
        return self._all(self._hasher(key)).get(address, [])

    def keep(self, key: ConversationKey, address: str, ids: Sequence[str]) -> None:
        """Keep these ids (all the chat shows of the conversation) in place of the ones kept."""
        hashed = self._hasher(key)
        kept = self._all(hashed)
        kept.pop(address, None)
        kept[address] = list(ids)[-self.limit:]
        while len(kept) > ADDRESSES:
            kept.pop(next(iter(kept)))
        try:
            self._store.save(hashed, json.dumps(kept, separators=(",", ":")))
        except sqlite3.Error as err:
            log.warning("the ids of sent messages could not be kept (%s)", type(err).__name__)

    def erase(self, key: ConversationKey) -> None:
        """Forget every id kept for this conversation (its messages were deleted)."""
        try:
            self._store.erase(self._hasher(key))
        except sqlite3.Error as err:  # the key is overwritten already: nothing is readable
            log.warning("the ids of sent messages could not be erased (%s)", type(err).__name__)
