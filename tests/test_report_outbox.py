"""Exactly-once reports (#26, item 9): the outbox in state.db between a turn's commit and
reports.db, and that it leaves nothing readable once a report is delivered."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.engine.conversation import Said, Start
from bot.flows.model import Bundle
from bot.service import conversations
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore, report_outbox
from storage.report_store import ReportStore, StoredReport
from storage.state_keys import KEY_BYTES

from .helpers import NOW, SECRET, on_disk
from .test_reports import REPORT_ANSWERS

KEY = ConversationKey("test", "anna")
ANSWERS = (("area", "citizen_services"), ("channel", "phone"), ("kind", "threat"),
           ("motive", "political"), ("motive", "racist"), ("origin", "external"),
           ("police_informed", "planned"), ("supervisor_knows", "yes"),
           ("threat_level", "level_2"))
PLAIN = [b"report_month", b"citizen_services", b"police_informed", b"level_2", b"2026-11"]
"""What an outbox row would show in the clear: its field names and the report's values."""


def start(bundle: Bundle, folder: Path) -> ConversationService:
    """A Lotse start on the data folder: the stores opened, the service made (which delivers)."""
    return ConversationService(bundle, StateStore(folder / "state.db"), KeyHasher(SECRET),
                               lambda: NOW, reports=ReportStore(folder / "reports.db"))


async def confirm_without_delivery(svc: ConversationService,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The report flow up to "ja", and the process stops right after the turn's commit: the
    report is in the outbox, never handed on to reports.db."""
    await svc.handle(KEY, Start(flow="report"))
    for n, text in enumerate(REPORT_ANSWERS):
        await svc.handle(KEY, Said(text), f"m{n}")
    with monkeypatch.context() as patch:
        patch.setattr(conversations.report_outbox, "deliver", lambda store, reports: 0)
        outputs = await svc.handle(KEY, Said("ja"), "confirm")
    assert any("anonym gespeichert" in getattr(o, "text", "") for o in outputs)


def stop(svc: ConversationService) -> None:
    svc.store.close()
    assert svc.reports is not None
    svc.reports.close()


def outbox_slots(folder: Path) -> list[tuple[int, bytes]]:
    db = sqlite3.connect(folder / "state.db")
    try:
        return db.execute("SELECT key_slot, sealed FROM outbox").fetchall()
    finally:
        db.close()


def key_record(folder: Path, slot: int) -> bytes:
    return (folder / "state.keys").read_bytes()[slot * KEY_BYTES:(slot + 1) * KEY_BYTES]


async def test_a_report_committed_but_not_delivered_is_stored_once_at_the_next_start(
        shipped: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = start(shipped, tmp_path)
    await confirm_without_delivery(svc, monkeypatch)
    assert svc.reports is not None and svc.reports.count() == 0
    waiting = svc.store.outbox()
    assert len(waiting) == 1 and waiting[0][1] is not None
    report_id = json.loads(waiting[0][1])["id"]
    # Waiting, it is sealed: nothing of it in the clear, not even its id.
    raw = on_disk(tmp_path, "state")
    assert not [p for p in [*PLAIN, report_id.encode()] if p in raw]
    stop(svc)
    [(slot, sealed)] = outbox_slots(tmp_path)
    assert key_record(tmp_path, slot) != bytes(KEY_BYTES)

    svc = start(shipped, tmp_path)  # the next start delivers it
    assert svc.reports is not None
    assert [r.answers for r in svc.reports.reports()] == [ANSWERS]
    assert svc.store.outbox() == []
    # Delivered, nothing of it is readable, the process still running: the row is gone (zeroed,
    # the WAL cut), its key overwritten, its id and answers nowhere in state.db, WAL or keys.
    assert key_record(tmp_path, slot) == bytes(KEY_BYTES)
    raw = on_disk(tmp_path, "state")
    assert not [p for p in [*PLAIN, report_id.encode(), sealed] if p in raw]
    assert await svc.handle(KEY, Said("ja"), "confirm") == ()  # the platform delivers it again
    stop(svc)
    svc = start(shipped, tmp_path)  # and another start finds nothing more to deliver
    assert svc.reports is not None and svc.reports.count() == 1
    stored_id = svc.reports.db.execute("SELECT id FROM reports").fetchone()[0]
    assert stored_id == report_id  # the id it waited under: a second add would be ignored
    assert outbox_slots(tmp_path) == []
    assert key_record(tmp_path, slot) == bytes(KEY_BYTES)
    raw = on_disk(tmp_path, "state")
    assert not [p for p in [*PLAIN, report_id.encode(), sealed] if p in raw]
    stop(svc)
    raw = on_disk(tmp_path, "state")
    assert not [p for p in [*PLAIN, report_id.encode(), sealed] if p in raw]


async def test_a_kill_after_the_add_and_before_the_delete_does_not_double_it(
        shipped: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = start(shipped, tmp_path)
    await confirm_without_delivery(svc, monkeypatch)
    stop(svc)
    with monkeypatch.context() as patch:
        def killed(store: StateStore, slot: int) -> None:
            raise KeyboardInterrupt  # the process dies before the row is deleted

        patch.setattr(StateStore, "delivered", killed)
        with pytest.raises(KeyboardInterrupt):
            start(shipped, tmp_path)
    assert len(outbox_slots(tmp_path)) == 1
    svc = start(shipped, tmp_path)
    assert svc.reports is not None and svc.reports.count() == 1
    assert svc.store.outbox() == []
    stop(svc)


async def test_every_report_is_stored_once_with_the_outbox_empty_after_each_turn(
        shipped: Bundle, tmp_path: Path) -> None:
    svc = start(shipped, tmp_path)
    for user in ("anna", "ben", "cem"):
        key = ConversationKey("test", user)
        await svc.handle(key, Start(flow="report"))
        for n, text in enumerate([*REPORT_ANSWERS, "ja"]):
            await svc.handle(key, Said(text), f"{user}-{n}")
        assert svc.store.outbox() == []
    assert svc.reports is not None and svc.reports.count() == 3
    stop(svc)


def test_an_outbox_row_goes_with_its_commit_or_not_at_all() -> None:
    store, reports = StateStore(None), ReportStore(None)
    report = StoredReport("2026-11", None, "report", 1, (("kind", "threat"),))
    report_outbox.post(store, report)
    store.rollback()  # the turn's batch failed: the row never existed, its key is gone
    assert store.outbox() == [] and report_outbox.deliver(store, reports) == 0
    report_outbox.post(store, report)
    store.commit()
    assert report_outbox.deliver(store, reports) == 1
    assert report_outbox.deliver(store, reports) == 0
    assert reports.reports() == [report]
    with pytest.raises(ValueError):  # refused before anything is written, as reports.db would
        report_outbox.post(store, StoredReport("2026-11", None, "report", 1,
                                               (("kind", "Frau Müller"),)))
    store.commit()
    assert store.outbox() == []
