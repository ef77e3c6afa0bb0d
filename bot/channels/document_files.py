"""A document's files for a channel, built by one render worker that every channel shares.

Laying out a PDF takes about 0.15 s of CPU. On the event loop it would hold every conversation
on every channel; in a thread per document, six people printing in a loop held the GIL in turn
and a normal turn took 150 ms instead of 2 ms (bench/documents_load.py). So documents are
rendered one at a time, in one worker process (its own GIL, at most one CPU spent on PDFs), and
those waiting are served round robin by whom they are for (`who`: a client address's keyed
hash, a conversation): one client printing in a loop waits behind its own documents, not
others'. The worker is started on the first document, as most chats make none, and ends after
`WORKER_IDLE` without one (its memory, about 100 MB, returns); where no process can be started,
one worker thread does the same work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple

from bot.engine.conversation import Document

log = logging.getLogger(__name__)


class RenderedFile(NamedTuple):
    """A file as `bot.documents.files.DocumentFile` has it, as plain data: receiving it does
    not import fpdf2 into the main process."""

    filename: str
    data: bytes
    mime: str


class RenderBusy(Exception):
    """More of one client's documents wait already than it may have waiting."""


class FairGate:
    """`slots` holders at once; whoever waits is let in round robin by key, so a key with many
    waiting delays another key's one by a single turn, not by all of its own."""

    def __init__(self, slots: int = 1) -> None:
        self._slots = self._free = slots
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def idle(self) -> bool:
        return self._free == self._slots

    def waiting(self, key: str) -> int:
        return len(self._queues.get(key, ()))

    @contextlib.asynccontextmanager
    async def slot(self, key: str, most_waiting: int | None = None) -> AsyncIterator[None]:
        """Hold a slot; `RenderBusy` at once if `key` has `most_waiting` waiting already."""
        await self._acquire(key, most_waiting)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, key: str, most_waiting: int | None) -> None:
        if self._free > 0 and not self._queues:
            self._free -= 1
            return
        if most_waiting is not None and self.waiting(key) >= most_waiting:
            raise RenderBusy
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, deque()).append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # the slot was handed over just now: pass it on
            else:
                queue = self._queues.get(key)
                if queue is not None and future in queue:
                    queue.remove(future)
                    if not queue:
                        del self._queues[key]
            raise

    def _release(self) -> None:
        while self._queues:
            key, queue = next(iter(self._queues.items()))
            future = queue.popleft()
            if queue:
                self._queues.move_to_end(key)  # its next one after everyone else's
            else:
                del self._queues[key]
            if not future.done() and not future.get_loop().is_closed():
                future.set_result(None)
                return
        self._free += 1


RENDERS = FairGate(1)
"""The one render slot of this process, for every channel."""
WORKER_IDLE = 600.0
"""Seconds without a document after which the worker process ends; the next document starts a
new one (about 0.7 s)."""
_worker: Executor | None = None
_retiring: asyncio.TimerHandle | None = None


async def document_files(document: Document, who: str = "", most_waiting: int | None = None,
                         ) -> tuple[RenderedFile, RenderedFile]:
    """The PDF and the text file, in memory, rendered by the shared worker in turn. `who`
    shares the worker fairly; `most_waiting`: refuse (`RenderBusy`) rather than queue when
    that many of `who`'s documents wait already."""
    global _retiring
    loop = asyncio.get_running_loop()
    if _retiring is not None:
        _retiring.cancel()
    _retiring = loop.call_later(WORKER_IDLE, _retire)
    async with RENDERS.slot(who, most_waiting):
        try:
            return await loop.run_in_executor(_render_worker(), _build, document)
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one
            log.warning("the document worker stopped; starting a new one")
            _render_worker(renew=True)
        try:
            return await loop.run_in_executor(_render_worker(), _build, document)
        except BrokenProcessPool:  # it cannot start here at all (see _render_worker)
            return await loop.run_in_executor(_render_worker(thread=True), _build, document)


def _retire() -> None:
    """`WORKER_IDLE` after the last document was asked for: end the worker, if idle."""
    global _worker, _retiring
    _retiring = None
    if not RENDERS.idle:  # documents have waited that long: ask again later
        _retiring = asyncio.get_running_loop().call_later(WORKER_IDLE, _retire)
    elif isinstance(_worker, ProcessPoolExecutor):
        _worker.shutdown(wait=False)
        _worker = None


def _render_worker(renew: bool = False, thread: bool = False) -> Executor:
    """The worker: a process, started by "spawn" (nothing of this process's memory is
    copied into it; it imports the `lotse` script, which starts nothing when imported).
    A thread where no process can start, or a started one dies at once."""
    global _worker
    if renew:
        _worker = None
    if thread and not isinstance(_worker, ThreadPoolExecutor):
        log.warning("no document worker process can run here: documents are rendered in a "
                    "thread (turns wait longer while a document is made)")
        _worker = None
    if _worker is None and not thread:
        try:
            _worker = ProcessPoolExecutor(max_workers=1, initializer=_quiet,
                                          mp_context=multiprocessing.get_context("spawn"))
        except (OSError, NotImplementedError, ImportError) as err:
            log.warning("documents are rendered in a thread: no worker process (%s)", err)
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lotse-documents")
    return _worker


def _quiet() -> None:
    """In the worker: Ctrl-C is for the main process, which ends the worker itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _build(document: Document) -> tuple[RenderedFile, RenderedFile]:
    from bot.documents.files import document_files as build

    pdf, txt = build(document)
    return (RenderedFile(pdf.filename, pdf.data, pdf.mime),
            RenderedFile(txt.filename, txt.data, txt.mime))
