"""The writer process: the service over `WriterStore` behaves as over `StateStore`, with the
writes done by a second process, and survives that process dying."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.conversation import Document, Said, Start
from bot.flowmodel import Bundle
from bot.keys import ConversationKey, KeyHasher
from bot.service import ConversationService
from storage import WriterStore
from storage.reminder_store import ReminderStore
from storage.state_writer import WriterStopped

from .helpers import NOW, ROOT, SECRET, Clock, bundle_of, on_disk, random_script
from .test_documents import PROTOCOL, TYPED
from .test_service import expected_end_state, stored_state

STAMP = int(NOW.timestamp())


def writer_service(bundle: Bundle, path: Path, clock: Clock | None = None
                   ) -> ConversationService:
    return ConversationService(bundle, WriterStore(path), KeyHasher(SECRET), clock or Clock())


def writer_of(svc: ConversationService) -> WriterStore:
    assert isinstance(svc.store, WriterStore)
    return svc.store


async def test_two_hundred_conversations_through_the_writer_and_a_restart(
        shipped: Bundle, tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    scripts = {i: random_script(shipped, 300 + i)[:14] for i in range(200)}
    keys = {i: ConversationKey("test", f"w{i}") for i in scripts}
    first = writer_service(shipped, path)

    async def talk(svc: ConversationService, i: int, texts: list[str], start: int) -> None:
        for n, text in enumerate(texts, start):
            await svc.handle(keys[i], Said(text), f"{i}-{n}")
            await asyncio.sleep(0)

    await asyncio.gather(*(first.handle(keys[i], Start(), f"{i}-start") for i in scripts))
    await asyncio.gather(*(talk(first, i, s[:7], 0) for i, s in scripts.items()))
    first.store.close()
    second = writer_service(shipped, path)  # a new process, reading what the first committed
    for i, script in scripts.items():
        assert stored_state(second, keys[i]) == expected_end_state(shipped, script[:7])
    await asyncio.gather(*(talk(second, i, s[7:], 7) for i, s in scripts.items()))
    for i, script in scripts.items():
        assert stored_state(second, keys[i]) == expected_end_state(shipped, script)
    second.store.close()


async def test_a_row_on_its_way_reads_as_written_and_never_in_the_clear(tmp_path: Path) -> None:
    store = WriterStore(tmp_path / "state.db")
    store.save("k", '"Kanarienvogel im Flur"', "a b", STAMP, STAMP + 60)
    pending = store.load("k")
    assert pending is not None and pending.state == '"Kanarienvogel im Flur"'
    committing = store.commit_async()
    assert committing is not None and store.load("k") == pending  # still on its way
    await committing
    assert store.load("k") == pending  # now read from the file, opened with its key
    raw = on_disk(tmp_path)
    assert b"Kanarienvogel" not in raw
    store.close()


async def test_a_killed_writer_fails_the_turns_waiting_for_it_then_a_new_one_takes_over(
        shipped: Bundle, tmp_path: Path) -> None:
    svc = writer_service(shipped, tmp_path / "state.db")
    key = ConversationKey("test", "anna")
    await svc.handle(key, Start())
    await svc.handle(key, Said("nein"))
    committed = stored_state(svc, key)
    writer = writer_of(svc)
    assert writer._process is not None
    # Killed while the turn waits for it. (Killed before, the bot may notice first and start a
    # new writer for the turn, as it should: which comes first depends on the event loop.)
    os.kill(writer._process.pid, signal.SIGSTOP)
    turn = asyncio.create_task(svc.handle(key, Said("1"), "lost"))
    for _ in range(500):
        if writer._calls:  # the turn's batch is with the writer
            break
        await asyncio.sleep(0.01)
    os.kill(writer._process.pid, signal.SIGKILL)
    with pytest.raises(WriterStopped):
        await turn  # not committed: the user is not told
    assert stored_state(svc, key) == committed
    again = await svc.handle(key, Said("1"), "lost")  # delivered again: handled now
    now = stored_state(svc, key)
    assert again and now != committed
    writer.close()
    reopened = writer_service(shipped, tmp_path / "state.db")
    assert stored_state(reopened, key) == now
    reopened.store.close()


async def test_a_reminder_set_in_a_turn_goes_with_the_turn(tmp_path: Path) -> None:
    store = WriterStore(tmp_path / "state.db")
    reminders = ReminderStore(store)
    store.save("k", '"x"', "", STAMP, STAMP + 60)
    reminders.add("k", "telegram", "42", STAMP + 3600, "employee.deadline", "de")
    store.rollback()  # the turn failed before it was handed over: neither is kept
    store.save("k", '"y"', "", STAMP, STAMP + 60)
    reminders.add("k", "telegram", "42", STAMP + 3600, "employee.deadline", "de")
    store.commit()
    assert [r.kind for r in reminders.of("k")] == ["employee.deadline"]
    [due] = reminders.due(STAMP + 3600)
    assert reminders.claim(due.id, STAMP + 3600)  # written by this process, beside the writer
    assert not reminders.claim(due.id, STAMP + 3601)
    store.close()


async def test_purge_and_forget_through_the_writer(shipped: Bundle, tmp_path: Path) -> None:
    clock = Clock()
    svc = writer_service(shipped, tmp_path / "state.db", clock)
    key, other = ConversationKey("test", "erika"), ConversationKey("test", "old")
    await svc.handle(key, Start())
    await svc.handle(other, Start())
    clock.now = NOW + dt.timedelta(days=2)
    await svc.handle(key, Said("nein"))
    assert svc.purge_expired() == 1  # the one idle for two days
    assert svc.store.count() == 1
    await svc.handle(key, Said("/forget"))
    assert svc.store.count() == 0
    svc.store.close()


async def test_the_protocol_document_erases_its_key_in_the_writer(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, PROTOCOL)
    svc = ConversationService(bundle, WriterStore(tmp_path / "data" / "state.db"),
                              KeyHasher(SECRET), lambda: NOW)
    key = ConversationKey("test", "employee")
    await svc.handle(key, Start(flow="protocol"))
    for text in ["gestern", *TYPED[:3]]:
        await svc.handle(key, Said(text))
    slot = svc.store.db.execute("SELECT key_slot FROM conversations").fetchone()[0]
    outputs = await svc.handle(key, Said(TYPED[3]))
    assert any(isinstance(o, Document) for o in outputs)
    keys = (tmp_path / "data" / "state.keys").read_bytes()
    assert keys[slot * 32:(slot + 1) * 32] == bytes(32)  # the old versions are unreadable
    raw = on_disk(tmp_path / "data")
    assert all(text.encode() not in raw for text in TYPED)
    svc.store.close()


def test_the_writer_ignores_ctrl_c_and_ends_when_the_bot_closes_it(tmp_path: Path) -> None:
    store = WriterStore(tmp_path / "state.db")
    process = store._process
    assert process is not None
    process.send_signal(signal.SIGINT)  # as Ctrl-C in a terminal, or a service manager's
    process.send_signal(signal.SIGTERM)  # stop, reaches the whole process group
    store.save("k", '"x"', "", STAMP, STAMP + 60)
    store.commit()
    store.close()
    assert process.returncode == 0
    again = WriterStore(tmp_path / "state.db")
    assert again.load("k") is not None
    again.close()


def test_a_writer_that_cannot_open_the_database_says_why(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OSError):
        WriterStore(tmp_path / "file" / "state.db")
    with pytest.raises(ValueError, match="synchronous"):
        WriterStore(tmp_path / "state.db", "SOMETIMES")


def test_a_killed_bot_leaves_no_writer_behind_and_what_it_committed(tmp_path: Path) -> None:
    script = f"""
import os, signal
from pathlib import Path
from storage import WriterStore
store = WriterStore(Path({str(tmp_path / "state.db")!r}))
store.save("kept", '"committed"', "", {STAMP}, {STAMP + 60})
store.commit()
store.save("open", '"never committed"', "", {STAMP}, {STAMP + 60})
print(store._process.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    bot = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert bot.returncode == -signal.SIGKILL
    writer = int(bot.stdout.split()[0])
    for _ in range(100):  # the writer sees its pipe close and ends
        if not Path(f"/proc/{writer}").exists() or "Z" in state_of(writer):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the writer outlived the bot")
    store = WriterStore(tmp_path / "state.db")
    kept = store.load("kept")
    assert kept is not None and kept.state == '"committed"'
    assert store.load("open") is None
    store.close()


def state_of(pid: int) -> str:
    """The process state letter from /proc (Z: exited, waiting for its parent to read it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_the_writer_gets_a_core_of_its_own_and_keeps_it_when_restarted(tmp_path: Path) -> None:
    cores = os.sched_getaffinity(0)
    if len(cores) < 2:
        pytest.skip("one processor core: nothing to give the writer")
    store = WriterStore(tmp_path / "state.db", own_core=True)
    try:
        assert store._process is not None
        assert os.sched_getaffinity(store._process.pid) == {max(cores)}
        assert os.sched_getaffinity(0) == cores - {max(cores)}
        os.kill(store._process.pid, signal.SIGKILL)
        store._process.wait()
        store.save("k", '"x"', "", STAMP, STAMP + 60)
        with pytest.raises(WriterStopped):
            store.commit()  # the dead writer's pipe
        store.commit()  # a new writer, on the same core
        assert os.sched_getaffinity(store._process.pid) == {max(cores)}  # type: ignore
        store.close()
        assert os.sched_getaffinity(0) == cores  # given back
    finally:
        os.sched_setaffinity(0, cores)
