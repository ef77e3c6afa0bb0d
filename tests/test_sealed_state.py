"""Stored states are sealed with a key per conversation; erasing text overwrites the key.

Typed text never reaches the database files in the clear, and once a document is handed over (or
the conversation erased) the key that sealed the older versions of its row is zeros on disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.engine.conversation import Document, Question, Said, Start
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from storage.state_keys import KEY_BYTES, StateKeys

from .helpers import NOW, bundle_of, on_disk
from .test_documents import PROTOCOL, TYPED

KEY = ConversationKey("test", "employee")
STAMP = int(NOW.timestamp())


def protocol_service(tmp_path: Path) -> ConversationService:
    store = StateStore(tmp_path / "data" / "state.db")
    return ConversationService(bundle_of(tmp_path, PROTOCOL), store, KeyHasher(b"k" * 32),
                               lambda: NOW)


async def halfway(tmp_path: Path) -> ConversationService:
    """A protocol with three answers typed, all kept in the stored state."""
    svc = protocol_service(tmp_path)
    await svc.handle(KEY, Start(flow="protocol"))
    for text in ["gestern", *TYPED[:3]]:
        await svc.handle(KEY, Said(text))
    return svc


def row(store: StateStore) -> tuple[bytes, int]:
    sealed, slot = store.db.execute("SELECT state, key_slot FROM conversations").fetchone()
    return bytes(sealed), slot


def killed(store: StateStore) -> None:
    """The process dies: no rollback, no overwrite, nothing tidied."""
    store._conn.close()
    store._keys.close()


def key_record(tmp_path: Path, slot: int) -> bytes:
    data = (tmp_path / "data" / "state.keys").read_bytes()
    return data[slot * KEY_BYTES:(slot + 1) * KEY_BYTES]


async def test_typed_text_is_never_in_a_file_in_the_clear(tmp_path: Path) -> None:
    svc = await halfway(tmp_path)
    raw = on_disk(tmp_path / "data")  # in the middle of the protocol: all three answers are kept
    assert all(text.encode() not in raw for text in TYPED)
    svc.store.close()
    reopened = protocol_service(tmp_path)
    outputs = await reopened.handle(KEY, Said("Gefühl-Kanarienvogel"))
    document = next(o for o in outputs if isinstance(o, Document))
    assert ("Was gesagt wurde", "Worte-Kanarienvogel-Öl") in document.fields  # after a restart
    reopened.store.close()


async def test_after_the_document_its_key_is_zeros_and_old_versions_unreadable(
        tmp_path: Path) -> None:
    svc = await halfway(tmp_path)
    before, old_slot = row(svc.store)
    assert key_record(tmp_path, old_slot) != bytes(KEY_BYTES)
    await svc.handle(KEY, Said(TYPED[3]))  # the document is handed over
    assert key_record(tmp_path, old_slot) == bytes(KEY_BYTES)
    keys = StateKeys(tmp_path / "data" / "state.keys")
    assert keys.open(old_slot, before, svc.hasher(KEY)) is None  # wherever a copy lingers
    keys.close()
    svc.store.close()


async def test_a_lost_key_file_starts_the_conversation_afresh(tmp_path: Path) -> None:
    svc = protocol_service(tmp_path)
    await svc.handle(KEY, Start(flow="protocol"))
    await svc.handle(KEY, Said("gestern"))
    svc.store.close()
    (tmp_path / "data" / "state.keys").unlink()  # a power cut before the key reached the disk
    reopened = protocol_service(tmp_path)
    outputs = await reopened.handle(KEY, Said("hallo"))
    assert any(isinstance(o, Question) for o in outputs)  # a fresh start, no crash
    reopened.store.close()


def test_a_key_left_by_a_crash_is_overwritten_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "data" / "state.db"
    store = StateStore(path)
    store.save("k", '{"l":"de","f":"a:b"}', "", STAMP, STAMP + 60)
    store.commit()
    _, first = row(store)
    store.rekey("k")
    store.save("k", '{"l":"de","f":"a:c"}', "", STAMP, STAMP + 60)
    store._keys.erase = lambda slot: None  # type: ignore[method-assign]  # dies right here
    store.commit()
    assert key_record(tmp_path, first) != bytes(KEY_BYTES)
    killed(store)
    again = StateStore(path)
    assert key_record(tmp_path, first) == bytes(KEY_BYTES)
    loaded = again.load("k")
    assert loaded is not None and loaded.state == '{"l":"de","f":"a:c"}'
    again.close()


def test_a_key_taken_by_a_turn_a_kill_cut_short_is_overwritten_at_the_next_start(
        tmp_path: Path) -> None:
    path = tmp_path / "data" / "state.db"
    store = StateStore(path)
    store.save("k", '"never committed"', "", STAMP, STAMP + 60)
    [slot] = store._keys.kept()
    killed(store)  # before the commit
    StateStore(path).close()
    assert key_record(tmp_path, slot) == bytes(KEY_BYTES)


def test_a_second_store_beside_a_running_one_leaves_its_keys_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    running = StateStore(path)
    running.save("k", '"waiting for its commit"', "", STAMP, STAMP + 60)
    purge = StateStore(path)  # `lotse purge` from cron, beside the bot
    purge.close()
    running.commit()
    assert running.load("k").state == '"waiting for its commit"'  # type: ignore[union-attr]
    running.close()
    assert StateStore(path).load("k").state == '"waiting for its commit"'  # type: ignore


def test_a_conversation_purged_beside_the_bot_is_sealed_with_a_new_key_when_it_returns(
        tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    running = StateStore(path)
    running.save("k", '"before"', "", STAMP, STAMP + 60)
    running.commit()
    purge = StateStore(path)  # `lotse purge` from cron, beside the bot
    assert purge.purge_expired(STAMP + 3600) == 1
    purge.close()
    running.save("k", '"after"', "", STAMP + 3600, STAMP + 7200)  # the person writes again
    running.commit()
    running.close()
    assert StateStore(path).load("k").state == '"after"'  # type: ignore[union-attr]


def test_two_stores_on_one_file_never_share_a_key(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first, second = StateStore(path), StateStore(path)
    for n in range(5):
        first.save(f"a{n}", f'"first {n}"', "", STAMP, STAMP + 60)
        second.save(f"b{n}", f'"second {n}"', "", STAMP, STAMP + 60)
    first.commit()
    second.commit()
    slots = [r[0] for r in first.db.execute("SELECT key_slot FROM conversations")]
    assert len(set(slots)) == 10
    third = StateStore(path)
    assert {third.load(f"a{n}").state for n in range(5)} == {  # type: ignore[union-attr]
        f'"first {n}"' for n in range(5)}
    for store in (first, second, third):
        store.close()


def test_expired_and_failed_writes_leave_no_key(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path)
    store.save("old", '"x"', "", STAMP, STAMP + 60)
    store.commit()
    store.save("never", '"y"', "", STAMP, STAMP + 60)
    store.rollback()  # the disk was full: nothing of it kept, its key neither
    assert store.purge_expired(STAMP + 3600) == 1
    assert (tmp_path / "state.keys").read_bytes().strip(b"\0") == b""
    store.close()


def test_a_changed_row_reads_as_no_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.save("k", '"x"', "", STAMP, STAMP + 60)
    store.commit()
    store.db.execute("UPDATE conversations SET state = zeroblob(40)")
    loaded = store.load("k")
    assert loaded is not None and loaded.state is None
    store.close()


def test_the_in_memory_store_seals_too() -> None:
    store = StateStore(None)
    store.save("k", '"x"', "", STAMP, STAMP + 60)
    store.commit()
    sealed = store.db.execute("SELECT state FROM conversations").fetchone()[0]
    assert isinstance(sealed, bytes) and len(sealed) == 12 + 3 + 16  # nonce, text, tag
    assert store.load("k").state == '"x"'  # type: ignore[union-attr]


def disk_full() -> None:
    raise sqlite3.OperationalError("database or disk is full")


async def test_a_document_on_a_full_disk_still_leaves_the_old_key_zeros(tmp_path: Path) -> None:
    """Issue #26, item 10. The handover's commit fails: the old key is overwritten all the same
    (first, in place), so the typed answers in every version of the row are noise. The price,
    chosen: the turn fails, the document is not given, and the conversation begins afresh."""
    svc = await halfway(tmp_path)
    before, old_slot = row(svc.store)
    svc.store.commit = disk_full  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):
        await svc.handle(KEY, Said(TYPED[3]))  # the document would be handed over
    assert key_record(tmp_path, old_slot) == bytes(KEY_BYTES)
    assert row(svc.store) == (before, old_slot)  # the row as committed, and unreadable
    keys = StateKeys(tmp_path / "data" / "state.keys")
    assert keys.open(old_slot, before, svc.hasher(KEY)) is None
    keys.close()
    assert svc.write_failed_at is not None
    del svc.store.commit  # space again
    outputs = await svc.handle(KEY, Said("hallo"))
    assert not any(isinstance(o, Document) for o in outputs)
    assert all(text not in repr(outputs) for text in TYPED)
    assert svc.write_failed_at is None
    svc.store.close()


def test_a_key_burnt_by_a_failed_erasure_is_never_shared(tmp_path: Path) -> None:
    """The forget's commit failed, so its row still names a key record of zeros: neither this
    process nor the next start hands that record to another conversation meanwhile."""
    path = tmp_path / "data" / "state.db"
    store = StateStore(path)
    store.save("a", '"typed by a"', "", STAMP, STAMP + 60)
    store.commit()
    _, burnt = row(store)
    store.erase_key("a")
    store.delete("a")
    with pytest.raises(sqlite3.OperationalError):
        disk_full()  # as `commit()` would on a full disk, and then:
    store.rollback()
    assert store.load("a").state is None  # type: ignore[union-attr]
    store.save("b", '"typed by b"', "", STAMP, STAMP + 60)
    store.commit()
    killed(store)
    again = StateStore(path)
    assert key_record(tmp_path, burnt) == bytes(KEY_BYTES)
    again.save("c", '"typed by c"', "", STAMP, STAMP + 60)
    again.save("a", '"a again"', "", STAMP, STAMP + 60)
    again.commit()
    slots = dict(again.db.execute("SELECT key, key_slot FROM conversations").fetchall())
    assert burnt not in slots.values() and len(set(slots.values())) == 3
    assert {k: again.load(k).state for k in "abc"} == {  # type: ignore[union-attr]
        "a": '"a again"', "b": '"typed by b"', "c": '"typed by c"'}
    again.close()
