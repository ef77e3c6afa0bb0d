"""The ids of the messages a chat shows of a conversation, kept so that `forget` can delete them
after a restart too (issue #26, item 11).

A channel reads them once for a chat it meets after a start (`of`), hands them over after each
turn that sent something (`keep`) and erases them once it has deleted the messages (`erase`); it
remembers them in memory in between. Stored per conversation, sealed (storage/sent_store.py),
bounded: the most recent `limit` ids per chat, of at most `ADDRESSES` chats per conversation.

The turns that hand ids over in the same pass of the event loop share one write, run right after
that pass (as their commits do, `_GroupCommit`), and the last conversations' ids are remembered,
so that keeping costs a turn little (bench/telegram.py). Keeping them must never cost a reply: a
write that fails is logged and the turn goes on.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence

from bot.service.keys import ConversationKey, KeyHasher
from storage.sent_store import SentStore
from storage.state_store import StateStore

log = logging.getLogger(__name__)

LIMIT = 500
"""Ids kept per chat: a long conversation with a document has about 80."""
ADDRESSES = 4
"""Chats kept per conversation (a Matrix user may talk to Lotse in more than one room)."""
REMEMBERED = 1_000
"""Conversations whose ids are remembered, so that keeping new ones need not read them first."""

_Kept = dict[str, list[str]]
"""Per chat (a Telegram chat id, a Matrix room id) the message ids, oldest first."""


def _text(kept: _Kept) -> str:
    """One line per chat: its address, then its ids; neither holds white space."""
    return "\n".join(" ".join([address, *ids]) for address, ids in kept.items())


def _parsed(text: str) -> _Kept:
    kept: _Kept = {}
    for line in text.splitlines():
        address, *ids = line.split(" ")
        if address:
            kept[address] = ids
    return kept


class SentMessages:
    def __init__(self, store: StateStore, hasher: KeyHasher, limit: int = LIMIT) -> None:
        self._store = SentStore(store)
        self._hasher = hasher
        self.limit = limit
        self._recent: OrderedDict[ConversationKey, tuple[str, _Kept]] = OrderedDict()
        """The last conversations' ids, under their keyed hash (made once, not per turn)."""
        self._pending: set[ConversationKey] = set()
        """Conversations whose ids changed since the last write."""
        self._writing: asyncio.Handle | None = None

    def _kept(self, key: ConversationKey) -> _Kept:
        entry = self._recent.get(key)
        if entry is None:
            hashed = self._hasher(key)
            entry = self._recent[key] = (hashed, self._read(hashed))
            while len(self._recent) > REMEMBERED:
                oldest = next(iter(self._recent))
                if oldest in self._pending:
                    break  # dropped once written
                del self._recent[oldest]
        self._recent.move_to_end(key)
        return entry[1]

    def _read(self, hashed: str) -> _Kept:
        try:
            text = self._store.load(hashed)
        except sqlite3.Error as err:
            log.warning("the ids of sent messages could not be read (%s)", type(err).__name__)
            return {}
        return _parsed(text) if text else {}

    def of(self, key: ConversationKey, address: str) -> list[str]:
        """The ids kept for this conversation in this chat, oldest first."""
        return list(self._kept(key).get(address, []))

    def keep(self, key: ConversationKey, address: str, ids: Sequence[str]) -> None:
        """Keep these ids (all the chat shows of the conversation) in place of the ones kept;
        written once this pass of the event loop ends."""
        kept = self._kept(key)
        kept.pop(address, None)
        kept[address] = list(ids)[-self.limit:]
        while len(kept) > ADDRESSES:
            kept.pop(next(iter(kept)))
        self._pending.add(key)
        if self._writing is None:
            self._writing = asyncio.get_running_loop().call_soon(self.write)

    def write(self) -> None:
        """Write the ids handed over since the last write, in one transaction (a channel
        that stops calls it, so that none wait for a loop that ends)."""
        if self._writing is not None:
            self._writing.cancel()
            self._writing = None
        pending, self._pending = self._pending, set()
        entries = [self._recent[key] for key in pending if key in self._recent]
        texts = {hashed: _text(kept) for hashed, kept in entries}
        try:
            self._store.save(texts)
        except sqlite3.Error as err:
            log.warning("the ids of sent messages could not be kept (%s)", type(err).__name__)

    def erase(self, key: ConversationKey) -> None:
        """Forget every id kept for this conversation (its messages were deleted)."""
        self._recent.pop(key, None)
        self._pending.discard(key)
        try:
            self._store.erase(self._hasher(key))
        except sqlite3.Error as err:  # the key is overwritten already: nothing is readable
            log.warning("the ids of sent messages could not be erased (%s)", type(err).__name__)
