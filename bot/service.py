"""The conversation service: the async layer between channels and the pure engine.

One lock per conversation, so two messages arriving at once are handled in order; the state is
loaded before and saved after every turn, so a restart loses nothing; idle conversations expire;
an event delivered twice is handled once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.conversation import Ended, Event, Output, State, state_from_json, state_to_json
from bot.engine import step
from bot.flowmodel import Bundle
from bot.keys import ConversationKey, KeyHasher
from storage import StateStore

SEEN_LIMIT = 32
"""How many recent event ids each conversation remembers to spot duplicates."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _KeyedLocks:
    """One asyncio.Lock per key, dropped again when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class ConversationService:
    def __init__(self, bundle: Bundle, store: StateStore, hasher: KeyHasher,
                 clock: Callable[[], dt.datetime] = utc_now,
                 idle: dt.timedelta = dt.timedelta(hours=24)) -> None:
        self.bundle = bundle
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.idle = idle
        self.locks = _KeyedLocks()

    async def handle(self, key: ConversationKey, event: Event,
                     event_id: str | None = None) -> tuple[Output, ...]:
        """Run one turn; returns what to send. A duplicate event id returns nothing."""
        hashed = self.hasher(key)
        async with self.locks.hold(hashed):
            now = self.clock()
            stored = self.store.load(hashed)
            state: State | None = None
            seen: list[str] = []
            if stored is not None and now.timestamp() - stored.updated_at <= self.idle.total_seconds():
                seen = json.loads(stored.seen) if stored.seen else []
                state = _decode(stored.state)
            digest = self.hasher.event(event_id) if event_id else None
            if digest is not None:
                if digest in seen:
                    return ()
                seen = [*seen, digest][-SEEN_LIMIT:]
            turn = step(self.bundle, state, event, now)
            erased = any(isinstance(o, Ended) and o.erased for o in turn.outputs)
            if erased or (turn.state is None and not seen):
                self.store.delete(hashed)
            else:
                encoded = state_to_json(turn.state) if turn.state is not None else None
                self.store.save(hashed, encoded, json.dumps(seen, separators=(",", ":")),
                                int(now.timestamp()))
            return turn.outputs

    async def has_conversation(self, key: ConversationKey) -> bool:
        """True when a conversation is waiting to be resumed (not ended, not expired)."""
        stored = self.store.load(self.hasher(key))
        if stored is None or stored.state is None:
            return False
        return self.clock().timestamp() - stored.updated_at <= self.idle.total_seconds()

    def purge_idle(self) -> int:
        """Erase every conversation idle for longer than the configured time."""
        return self.store.purge_idle(int((self.clock() - self.idle).timestamp()))


def _decode(text: str | None) -> State | None:
    if text is None:
        return None
    try:
        return state_from_json(text)
    except (ValueError, KeyError, TypeError, IndexError):
        return None  # an unreadable state starts afresh rather than crash the conversation
