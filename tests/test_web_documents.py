"""Documents as a load (#26, item 13): each person's pending documents are their own, printing
is rationed per client address and per conversation, and renders take turns.

Over plain HTTP against the real web channel, the real service and real PDFs, with clients at
other loopback addresses (127.0.0.2, 127.0.0.3: not the proxy's 127.0.0.1). The pending store
and the render slot are also checked on their own, where a whole server would only add time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import bot.channels.document_files as renders
from bot.channels.document_files import FairGate, RenderBusy
from bot.channels.web.pending_documents import (
    DOCUMENTS_PER_CONVERSATION,
    DOCUMENTS_PER_SESSION,
    PendingDocuments,
    PendingFile,
)
from bot.engine.conversation import Document
from bot.flows.model import Bundle

from .test_web import TO_THE_COMPANION, bundle, client_from, post, serving, texts

__all__ = ["bundle"]  # the fixture, shared with tests/test_web.py

pytestmark = pytest.mark.asyncio(loop_scope="module")

TO_A_CHECKLIST = TO_THE_COMPANION


async def at_a_checklist(http: aiohttp.ClientSession, site: Any) -> None:
    """A new conversation, at the supervisor's checklist, where "drucken" makes a document."""
    http.cookie_jar.clear()
    status, _ = await post(http, site, "/api/start")
    assert status == 200
    for said in TO_A_CHECKLIST:
        status, _ = await post(http, site, "/api/say", {"text": said})
        assert status == 200


async def print_once(http: aiohttp.ClientSession, site: Any) -> tuple[list[str], str]:
    """Write "drucken": the document's download URLs (none if refused) and the turn's text."""
    status, data = await post(http, site, "/api/say", {"text": "drucken"})
    assert status == 200
    urls = [f["url"] for o in data["outputs"] if o["type"] == "document" for f in o["files"]]
    return urls, texts(data)


async def fetch(http: aiohttp.ClientSession, site: Any, url: str) -> int:
    async with http.get(f"{site.url}{url}") as response:
        await response.read()
        return response.status


async def test_one_client_printing_in_a_loop_cannot_push_out_another_persons_document(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path) as site, client_from("127.0.0.2") as anna, \
            client_from("127.0.0.3") as script:
        site.channel._downloads.limit = 4 * DOCUMENTS_PER_SESSION  # files for everyone
        await at_a_checklist(anna, site)
        annas, _ = await print_once(anna, site)
        for _ in range(3):  # three conversations, each printing until it holds its most
            await at_a_checklist(script, site)
            for _ in range(DOCUMENTS_PER_SESSION):
                urls, _ = await print_once(script, site)
                assert urls
        assert len(site.channel._downloads) == site.channel._downloads.limit
        for url in annas:
            assert await fetch(anna, site, url) == 200


async def test_a_conversation_keeps_its_newest_documents_and_makes_only_so_many(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path, documents_per_address=0) as site, \
            client_from("127.0.0.2") as anna:
        await at_a_checklist(anna, site)
        made = []
        for _ in range(DOCUMENTS_PER_CONVERSATION):
            urls, _ = await print_once(anna, site)
            assert len(urls) == 2
            made.append(urls)
        assert len(site.channel._downloads) == 2 * DOCUMENTS_PER_SESSION
        urls, said = await print_once(anna, site)  # one more, right away: not now
        assert not urls
        assert "noch einmal „drucken“" in said and "110" in said and "112" in said
        for urls in made[:-DOCUMENTS_PER_SESSION]:  # pushed out by her own newer ones
            assert [await fetch(anna, site, url) for url in urls] == [404, 404]
        for urls in made[-DOCUMENTS_PER_SESSION:]:
            assert [await fetch(anna, site, url) for url in urls] == [200, 200]
        later = site.channel.clock() + 600
        site.channel.clock = lambda: later  # ten minutes on: she may print again
        urls, _ = await print_once(anna, site)
        assert urls


async def test_a_client_over_its_allowance_is_told_kindly_and_others_print_on(
        bundle: Bundle, tmp_path: Path) -> None:
    async with serving(bundle, tmp_path, documents_per_address=2) as site, \
            client_from("127.0.0.2") as script, client_from("127.0.0.3") as anna:
        for _ in range(2):  # two conversations from one address: the allowance is the address's
            await at_a_checklist(script, site)
            urls, _ = await print_once(script, site)
            assert urls
        await at_a_checklist(script, site)
        urls, said = await print_once(script, site)
        assert not urls
        assert "sehr viele Dokumente" in said and "110 (Polizei)" in said and "112" in said
        status, data = await post(script, site, "/api/say", {"text": "hilfe"})
        assert status == 200 and texts(data)  # the conversation itself goes on
        await at_a_checklist(anna, site)
        urls, _ = await print_once(anna, site)
        assert [await fetch(anna, site, url) for url in urls] == [200, 200]


def files(name: str) -> list[PendingFile]:
    return [PendingFile(b"%PDF", f"{name}.pdf", "application/pdf"),
            PendingFile(b"text", f"{name}.txt", "text/plain")]


async def test_the_pending_store_drops_from_whoever_holds_the_most() -> None:
    now = [0.0]
    store = PendingDocuments(lambda: now[0], per_session=2, limit=8, ttl=60)
    annas = store.add("anna", "office", files("anna"))
    bens = store.add("ben", "home", files("ben"))
    for n in range(6):  # a client with three sessions, printing on
        store.add(f"script-{n % 3}", "script", files(f"s{n}"))
    assert len(store) == 8
    assert store.take(annas[0], "ben") is None  # never to another session
    pdf = store.take(annas[0], "anna")
    assert pdf is not None and pdf.filename == "anna.pdf"
    assert store.take(annas[0], "anna") is None  # once
    assert store.take(bens[1], "ben") is not None
    store.drop("anna")
    assert store.take(annas[1], "anna") is None
    now[0] = 61.0
    store.add("ben", "home", files("ben-2"))
    assert len(store) == 2  # the rest expired


async def test_renders_take_turns_round_robin_and_a_queue_has_a_bound() -> None:
    gate = FairGate(1)
    order: list[str] = []
    hold = asyncio.Event()

    async def render(who: str, label: str) -> None:
        async with gate.slot(who, most_waiting=3):
            order.append(label)
            if label == "first":
                await hold.wait()

    first = asyncio.create_task(render("script", "first"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(render("script", f"script-{n}")) for n in range(3)]
    waiting.append(asyncio.create_task(render("anna", "anna")))
    await asyncio.sleep(0)
    with pytest.raises(RenderBusy):  # a fourth of the script's would wait: refused
        await render("script", "script-3")
    cancelled = asyncio.create_task(render("ben", "ben"))
    await asyncio.sleep(0)
    cancelled.cancel()
    hold.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "script-0", "anna", "script-1", "script-2"]
    assert gate.waiting("script") == 0
    async with gate.slot("anna"):  # the slot is free again
        pass


FROM_STDIN = """
import asyncio, datetime as dt
import bot.channels.document_files as renders
from bot.engine.conversation import Document

document = Document("Protokoll", "p", (("Ort", "Kassel"),),
                    dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), "de")
pdf, txt = asyncio.run(renders.document_files(document))
print(pdf.data[:4].decode(), type(renders._worker).__name__)
"""


async def test_a_document_is_made_even_where_no_worker_process_can_start() -> None:
    """A program read from stdin cannot be imported again by the worker process, which then
    dies at its start: the document is rendered in a thread instead, and logged so."""
    done = subprocess.run([sys.executable, "-"], input=FROM_STDIN, capture_output=True,
                          text=True, check=True, timeout=120)
    assert done.stdout.split() == ["%PDF", "ThreadPoolExecutor"]
    assert "documents are rendered in a thread" in done.stderr


async def test_the_worker_process_ends_when_idle_and_the_next_document_starts_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Its memory (about 100 MB) returns when no one prints for a while."""
    monkeypatch.setattr(renders, "WORKER_IDLE", 0.2)
    document = Document("Protokoll", "p", (("Ort", "Kassel"),),
                        dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), "de")
    pdf, _ = await renders.document_files(document)
    worker = renders._worker
    assert pdf.data.startswith(b"%PDF") and worker is not None
    async with asyncio.timeout(10):
        while renders._worker is not None:
            await asyncio.sleep(0.05)
    pdf, _ = await renders.document_files(document)
    assert pdf.data.startswith(b"%PDF") and renders._worker not in (None, worker)
