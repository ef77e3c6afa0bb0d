"""What a channel remembers per chat (a lock, message ids for `forget`), for the most recent
chats only: a bot that meets many people must not keep that forever."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar


class Locked(Protocol):
    lock: asyncio.Lock
    """Held while a turn of this chat runs: such a chat is not dropped."""


K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Locked)


class Recent(Generic[K, V]):
    """Per-key memory made on first use, at most `limit`, least recently used dropped first.
    A chat whose turn is running is never dropped, so two of its turns never hold two locks."""

    def __init__(self, make: Callable[[], V], limit: int) -> None:
        self._make = make
        self._limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()

    def __getitem__(self, key: K) -> V:
        memory = self._items.get(key)
        if memory is None:
            memory = self._items[key] = self._make()
            while len(self._items) > self._limit:
                oldest, old = next(iter(self._items.items()))
                if old.lock.locked():
                    break
                del self._items[oldest]
        self._items.move_to_end(key)
        return memory

    def pop(self, key: K) -> None:
        self._items.pop(key, None)
