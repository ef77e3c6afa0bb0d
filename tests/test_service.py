"""The conversation service: concurrency, duplicates, restarts, expiry, privacy of the keys."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from bot.engine.conversation import (
    ChecklistView,
    Ended,
    Question,
    Resume,
    Said,
    Start,
    State,
    state_from_json,
)
from bot.engine.turn import step
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher, load_secret
from storage import StateStore

from .helpers import NOW, SECRET, Clock, on_disk, random_script


def service(bundle: Bundle, path: Path | None = None, clock: Clock | None = None
            ) -> ConversationService:
    return ConversationService(bundle, StateStore(path), KeyHasher(SECRET), clock or Clock())


def expected_end_state(bundle: Bundle, script: list[str]) -> State | None:
    state = step(bundle, None, Start(), NOW).state
    for text in script:
        state = step(bundle, state, Said(text), NOW).state
    return state


def stored_state(svc: ConversationService, key: ConversationKey) -> State | None:
    row = svc.store.load(svc.hasher(key))
    return state_from_json(row.state) if row and row.state else None


async def test_a_thousand_interleaved_conversations_with_duplicates(shipped: Bundle) -> None:
    svc = service(shipped)
    scripts = {i: random_script(shipped, i)[:12] for i in range(1000)}
    keys = {i: ConversationKey("test", f"user-{i}") for i in scripts}

    async def talk(i: int) -> int:
        duplicates = 0
        await svc.handle(keys[i], Start(), f"{i}-start")
        for n, text in enumerate(scripts[i]):
            event_id = f"{i}-{n}"
            first, second = await asyncio.gather(svc.handle(keys[i], Said(text), event_id),
                                                 svc.handle(keys[i], Said(text), event_id))
            assert first and second == ()
            duplicates += 1
            await asyncio.sleep(0)  # let the other conversations interleave
        return duplicates

    counts = await asyncio.gather(*(talk(i) for i in scripts))
    assert sum(counts) == sum(len(s) for s in scripts.values())
    for i, script in scripts.items():
        assert stored_state(svc, keys[i]) == expected_end_state(shipped, script)
    assert len(svc.locks) == 0  # no lock left behind


async def test_two_messages_at_once_are_handled_in_order(shipped: Bundle) -> None:
    svc = service(shipped)
    key = ConversationKey("test", "anna")
    await svc.handle(key, Start())
    script = random_script(shipped, 7)[:6]
    results = await asyncio.gather(*(svc.handle(key, Said(t)) for t in script))
    assert all(results)
    assert stored_state(svc, key) == expected_end_state(shipped, script)


async def test_a_restart_in_the_middle_loses_nothing(shipped: Bundle, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    scripts = {i: random_script(shipped, 100 + i)[:10] for i in range(50)}
    keys = {i: ConversationKey("test", f"u{i}") for i in scripts}
    first = service(shipped, path)
    for i, script in scripts.items():
        await first.handle(keys[i], Start())
        for text in script[:5]:
            await first.handle(keys[i], Said(text))
    first.store.close()
    second = service(shipped, path)
    for i, script in scripts.items():
        assert await second.has_conversation(keys[i]) == (
            expected_end_state(shipped, script[:5]) is not None)
        for text in script[5:]:
            await second.handle(keys[i], Said(text))
        assert stored_state(second, keys[i]) == expected_end_state(shipped, script)


async def test_resume_after_restart_shows_where_we_were(shipped: Bundle, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    key = ConversationKey("console", "anna")
    first = service(shipped, path)
    await first.handle(key, Start())
    before = await first.handle(key, Said("nein"))
    first.store.close()
    outputs = await service(shipped, path).handle(key, Resume())
    question = [o for o in outputs if isinstance(o, Question)][-1]
    assert question == [o for o in before if isinstance(o, Question)][-1]


async def test_idle_conversations_expire(shipped: Bundle) -> None:
    clock = Clock()
    svc = service(shipped, clock=clock)
    key = ConversationKey("test", "bob")
    await svc.handle(key, Start())
    await svc.handle(key, Said("nein"))
    clock.now = NOW + dt.timedelta(hours=23)
    assert await svc.has_conversation(key)
    clock.now = NOW + dt.timedelta(hours=48)
    assert not await svc.has_conversation(key)
    assert svc.purge_expired() == 1 and svc.store.count() == 0


async def test_forget_erases_the_row_at_once(shipped: Bundle) -> None:
    svc = service(shipped)
    key = ConversationKey("test", "carla")
    await svc.handle(key, Start())
    await svc.handle(key, Said("nein"))
    assert svc.store.count() == 1
    outputs = await svc.handle(key, Said("vergessen"))
    assert Ended(erased=True) in outputs and svc.store.count() == 0


async def test_stored_keys_are_keyed_hashes_not_user_ids(shipped: Bundle,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    svc = service(shipped, path)
    key = ConversationKey("telegram", "user-4711-canary")
    await svc.handle(key, Start(), "event-canary-99")
    await svc.handle(key, Said("nein"), "event-canary-100")
    svc.store.close()
    raw = on_disk(tmp_path)
    assert b"4711" not in raw and b"canary" not in raw
    rows = sqlite3.connect(path).execute("SELECT key FROM conversations").fetchall()
    assert rows == [(KeyHasher(SECRET)(key),)]
    assert KeyHasher(b"another secret, 32 bytes long!!!")(key) != rows[0][0]


def test_secret_is_created_once_private_and_reused(tmp_path: Path) -> None:
    first = load_secret(tmp_path, environ={})
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path, environ={}) == first
    assert load_secret(tmp_path, environ={"LOTSE_SECRET": "from-the-environment"}) == (
        b"from-the-environment")


async def test_an_unreadable_stored_state_starts_afresh(shipped: Bundle) -> None:
    svc = service(shipped)
    key = ConversationKey("test", "dora")
    svc.store.save(svc.hasher(key), "{not json", "", int(NOW.timestamp()),
                   int(NOW.timestamp()) + 3600)
    outputs = await svc.handle(key, Said("hallo"))
    assert any(isinstance(o, Question) for o in outputs)


KEPT_CHECKLIST = """
flow: checklist
version: 1
title: {de: Liste, en: List}
keep_days: 30
start: tick
nodes:
  tick:
    checklist: {de: Liste, en: List}
    items:
      - id: a
        text: {de: Erstens, en: First}
      - id: b
        text: {de: Zweitens, en: Second}
    next: done
  done:
    end: true
"""


async def test_a_flow_may_keep_its_conversations_longer(tmp_path: Path) -> None:
    from .helpers import bundle_of

    bundle = bundle_of(tmp_path, KEPT_CHECKLIST)
    clock = Clock()
    path = tmp_path / "state.db"
    svc = service(bundle, path, clock)
    key = ConversationKey("test", "supervisor")
    await svc.handle(key, Start(flow="checklist"))
    await svc.handle(key, Said("2"))
    svc.store.close()
    clock.now = NOW + dt.timedelta(days=20)
    later = service(bundle, path, clock)
    assert later.purge_expired() == 0
    outputs = await later.handle(key, Resume())
    view = next(o for o in outputs if isinstance(o, ChecklistView))
    assert [t.done for t in view.items] == [False, True]  # the tick survived restart and days
    clock.now = NOW + dt.timedelta(days=51)
    assert later.purge_expired() == 1


def test_a_new_state_database_is_in_wal_mode_with_no_index_but_the_key(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations'")}
    assert indexes <= {"sqlite_autoindex_conversations_1"}  # the key's own
    store.close()


async def test_forget_leaves_nothing_in_the_database_or_its_wal(shipped: Bundle,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    svc = service(shipped, path)
    key = ConversationKey("test", "erika")
    await svc.handle(key, Start(flow="protocol"))
    await svc.handle(key, Said("heute"))
    await svc.handle(key, Said("Kanarienvogel-Ort 17"))
    await svc.handle(key, Said("vergessen"))
    wal = path.with_name("state.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # emptied before the reply came
    raw = on_disk(tmp_path, "state")
    assert b"Kanarienvogel" not in raw
    svc.store.close()



def disk_full() -> None:
    raise sqlite3.OperationalError("database or disk is full")


async def test_forget_on_a_full_disk_still_leaves_the_typed_text_unreadable(
        shipped: Bundle, tmp_path: Path) -> None:
    """Issue #26, item 10: the commit of `vergessen` fails (a full disk), but the key record
    was overwritten first, in place: the row left behind reads as nothing, now and later."""
    path = tmp_path / "state.db"
    svc = service(shipped, path)
    key = ConversationKey("test", "erika")
    await svc.handle(key, Start(flow="protocol"))
    await svc.handle(key, Said("heute"))
    await svc.handle(key, Said("Kanarienvogel-Ort 17"))
    hashed = svc.hasher(key)
    assert "Kanarienvogel" in svc.store.load(hashed).state  # type: ignore[union-attr,operator]
    svc.store.commit = disk_full  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):  # the turn fails: what stays readable?
        await svc.handle(key, Said("vergessen"))
    assert svc.store.count() == 1  # the row is still there, sealed with a key of zeros
    beside = StateStore(path)  # another process reading the files with the keys
    row = beside.load(hashed)
    assert row is not None and row.state is None
    beside.close()
    assert b"Kanarienvogel" not in on_disk(tmp_path, "state")  # database, WAL and keys
    assert svc.write_failed_at is not None
    assert not await svc.has_conversation(key)
    with contextlib.suppress(sqlite3.OperationalError):  # still full: a retry fails too, or
        assert "Kanarienvogel" not in repr(await svc.handle(key, Resume()))  # starts afresh
    svc.store.close()
    again = service(shipped, path)  # a restart, with space again
    assert not await again.has_conversation(key)
    assert "Kanarienvogel" not in repr(await again.handle(key, Resume()))
    await again.handle(key, Said("vergessen"))
    assert again.store.count() == 0 and again.write_failed_at is None
    again.store.close()
