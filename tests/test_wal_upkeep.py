"""The WAL under steady load: the background checkpoint prepares, the store's own connection
finishes between two batches, and the WAL starts over instead of growing until SQLite
checkpoints inside a commit (storage/state_store.py, `_Checkpointer`)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from bot.conversation import Start
from bot.flowmodel import Bundle
from bot.keys import ConversationKey, KeyHasher
from bot.service import ConversationService
from storage import StateStore
from storage.state_store import wants_upkeep

from .helpers import SECRET


def wal_generation(path: Path) -> bytes:
    """The salt in the WAL header: SQLite draws a new one each time the WAL starts over."""
    return path.with_name(path.name + "-wal").read_bytes()[16:24]


def commit_rows(store: StateStore, round_: int) -> None:
    for i in range(20):
        store.save(f"conversation-{i}", f"state {round_} " + "x" * 400, "", round_, round_ + 60)
    store.commit()


def background_round(path: Path) -> None:
    """What the checkpointer thread does, from a connection of its own."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    conn.close()


@pytest.mark.parametrize("upkeep", [True, False])
def test_upkeep_folds_what_the_background_rounds_left_and_the_wal_starts_over(
        tmp_path: Path, upkeep: bool) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path, checkpoint_every=3600)  # its thread stays out of the way
    assert store._checkpointer is not None
    try:
        commit_rows(store, 0)
        background_round(path)
        commit_rows(store, 1)  # after the round: under load, a batch always comes in between
        store._checkpointer.due.set()  # as the thread does when turns came in during its rounds
        generation = wal_generation(path)
        if upkeep:
            store.upkeep()
        commit_rows(store, 2)
        # Without upkeep the WAL is appended to until a round happens to find no commit in
        # its way, which under steady load it never does.
        assert (wal_generation(path) != generation) is upkeep
    finally:
        store.close()


def test_the_background_rounds_ask_for_upkeep_only_while_turns_come_in(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db", checkpoint_every=0.02, upkeep_bytes=0)
    checkpointer = store._checkpointer
    assert checkpointer is not None
    try:
        commit_rows(store, 0)
        time.sleep(0.2)
        checkpointer.due.clear()
        time.sleep(0.3)  # a dozen rounds with nothing committed: they fold the WAL themselves
        assert not checkpointer.due.is_set()
        deadline, round_ = time.monotonic() + 10, 1
        while not checkpointer.due.is_set() and time.monotonic() < deadline:
            commit_rows(store, round_)  # back to back, as under steady load
            round_ += 1
        assert checkpointer.due.is_set()
    finally:
        store.close()


def test_a_small_wal_is_left_to_grow_until_it_is_worth_holding_the_loop_for(
        tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    wal = path.with_name("state.db-wal")
    threshold = 4 << 20
    store = StateStore(path, checkpoint_every=0.005, upkeep_bytes=threshold)
    checkpointer = store._checkpointer
    assert checkpointer is not None
    try:
        deadline, round_ = time.monotonic() + 20, 0
        while not checkpointer.due.is_set() and time.monotonic() < deadline:
            commit_rows(store, round_)  # back to back, as under steady load: many rounds
            round_ += 1  # find commits in their way, and none asks before the WAL is large
        assert checkpointer.due.is_set()
        assert threshold <= wal.stat().st_size < 2 * threshold
    finally:
        store.close()


@pytest.mark.parametrize(("first", "last", "wanted"), [
    ((900, 900), (1200, 1100), True),  # turns came in during the rounds, the WAL is large
    ((900, 900), (900, 900), False),  # no turns: the rounds folded it all themselves
    ((900, 800), (900, 850), True),  # no new frames, but the rounds could not fold them all
    ((90, 90), (120, 110), False),  # turns came in, but the WAL is still small
    ((-1, -1), (1200, 1100), False),  # SQLite was busy: the next rounds tell
    ((900, 900), (-1, -1), False),
])
def test_upkeep_is_wanted_only_for_a_large_wal_the_rounds_could_not_finish(
        first: tuple[int, int], last: tuple[int, int], wanted: bool) -> None:
    assert wants_upkeep(first, last, upkeep_frames=500) is wanted


def test_upkeep_without_prepared_rounds_does_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path, checkpoint_every=3600)  # its first round is an hour away
    try:
        commit_rows(store, 0)
        generation = wal_generation(path)
        size = path.with_name("state.db-wal").stat().st_size
        store.upkeep()
        commit_rows(store, 1)
        assert wal_generation(path) == generation
        assert path.with_name("state.db-wal").stat().st_size > size  # appended to
    finally:
        store.close()


class Watched(StateStore):
    """Counts the replies handed out before each upkeep."""

    def __init__(self) -> None:
        super().__init__(None)
        self.replied = 0
        self.replied_at_upkeep: list[int] = []

    def upkeep(self) -> bool:
        self.replied_at_upkeep.append(self.replied)
        return False


async def test_upkeep_waits_until_the_batch_has_its_replies(shipped: Bundle) -> None:
    store = Watched()
    service = ConversationService(shipped, store, KeyHasher(SECRET))

    async def talk(i: int) -> None:
        await service.handle(ConversationKey("test", f"user-{i}"), Start(), f"event-{i}")
        store.replied += 1

    await asyncio.gather(*(talk(i) for i in range(5)))  # five turns, one group commit
    await asyncio.sleep(0)
    assert store.replied_at_upkeep == [5]
