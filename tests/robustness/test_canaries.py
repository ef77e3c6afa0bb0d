"""Privacy canaries: planted strings never reach reports.db, the logs, or state after `forget`.

Canaries go everywhere a person's data can enter: the platform user id, the event ids, every
typed answer (names, places, the words said), in German and English conversations through every
flow, many of them with a confirmed report. Everything Lotse logs is captured at DEBUG.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from bot.engine.conversation import Document, Said, Start
from bot.flows.model import Ask, Checklist, Input, ReportStep
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from storage.report_store import ReportStore

from ..helpers import NOW, SECRET, on_disk
from . import figures
from .fuzz import SHIPPED

pytestmark = pytest.mark.robustness

CONVERSATIONS = figures.scaled(60, 600)


def _found(raw: bytes, canaries: list[str]) -> list[str]:
    return [c for c in canaries if c.encode() in raw or c.encode("utf-16-le") in raw]


async def test_planted_strings_never_reach_reports_logs_or_forgotten_state(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    reports = ReportStore(tmp_path / "reports.db")
    store = StateStore(tmp_path / "state.db")
    svc = ConversationService(SHIPPED, store, KeyHasher(SECRET), lambda: NOW, reports=reports)
    rng = random.Random(6)
    canaries: list[str] = []
    keys = []
    documents = 0
    for i in range(CONVERSATIONS):
        user = f"KanarienNutzer{i:04d}x"
        typed = f"Kanarienvogel{i:04d} Frau Zilpzalp sagte: ich finde dich"
        canaries += [user, f"Kanarienvogel{i:04d}", f"KanarienEvent{i:04d}"]
        key = ConversationKey(rng.choice(["telegram", "matrix", "web"]), user)
        keys.append(key)
        flow = ("report", "protocol", "employee", "supervisor")[i % 4]
        lang = "de" if i % 3 else "en"
        outputs = await svc.handle(key, Start(lang, flow), f"KanarienEvent{i:04d}-0")
        for n in range(1, 200):
            known = svc._load(svc.hasher(key))
            if known is None or known.state is None:
                break
            here = SHIPPED.flows[known.state.here.flow].nodes[known.state.here.node]
            if isinstance(here, Ask):
                choice = here.choices[rng.randrange(len(here.choices))]
                said = choice.label[lang] if rng.random() < 0.5 else typed
            elif isinstance(here, Input):
                said = ("heute" if lang == "de" else "today") if here.kind == "date" else typed
            elif isinstance(here, ReportStep):
                said = "ja" if rng.random() < 0.7 else typed
            elif isinstance(here, Checklist):
                said = rng.choice(["1", "fertig", typed])
            else:
                said = typed
            outputs = await svc.handle(key, Said(said), f"KanarienEvent{i:04d}-{n}")
            documents += sum(isinstance(o, Document) for o in outputs)
        if i % 5 == 0:  # some forget in the middle of it all
            await svc.handle(key, Said("vergessen" if lang == "de" else "forget"))
    assert reports.count() > 5 and documents > 5
    # Reports: the files as they are now, WAL included, and again once closed.
    found = _found(on_disk(tmp_path, "reports.db"), canaries)
    reports.close()
    found += _found(on_disk(tmp_path, "reports.db"), canaries)
    # Logs: every record of every logger, message and arguments.
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    found += [c for c in canaries if c in logged]
    # State after forget: everyone forgets now; nothing of theirs may remain, WAL included.
    for key in keys:
        await svc.handle(key, Said("forget"))
    assert store.count() == 0
    found += _found(on_disk(tmp_path, "state.db"), canaries)
    store.close()
    found += _found(on_disk(tmp_path, "state.db"), canaries)
    figures.count("canaries: planted", len(canaries))
    figures.count("canaries: found", len(found))
    figures.count("canaries: log records scanned", len(caplog.records))
    assert not found, sorted(set(found))[:20]
