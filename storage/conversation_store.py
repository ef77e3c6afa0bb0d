"""What the conversation service needs of a state store: kept in this process (`StateStore`)
or written by a process of its own (`WriterStore`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import sqlite_utils

from storage.state_store import StoredConversation

T = TypeVar("T")


class ConversationStore(Protocol):
    path: Path | None
    db: sqlite_utils.Database

    @property
    def connection(self) -> sqlite3.Connection: ...

    def load(self, key: str) -> StoredConversation | None: ...

    def save(self, key: str, state: str | None, seen: str, updated_at: int,
             expires_at: int) -> None: ...

    def rekey(self, key: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def defer(self, sql: str, params: Sequence[object]) -> None: ...

    def commit(self) -> None: ...

    def commit_async(self, scrub: bool = False) -> asyncio.Future[None] | None: ...

    def upkeep(self) -> bool: ...

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T: ...

    def rollback(self) -> None: ...

    def purge_expired(self, now: int) -> int: ...

    def count(self) -> int: ...

    def checkpoint(self) -> None: ...

    def close(self) -> None: ...
