"""The state store with its writing done by a process of its own, on the other processor core.

Why: sealing a turn's state and writing it to SQLite (B-tree, WAL pages, the write() calls)
took about a third of the event loop's time per turn, and its code pushed the engine's out of
the processor's caches (bench/engine.py). Here the event loop only hands each group commit's
rows over a pipe; the writer process (storage/writer_process.py) runs the very same
`StateStore` on them and answers when they are committed. A turn's reply still waits for that
answer, so what a user was told is on disk; the next batch is collected meanwhile.

The rows of a batch not yet committed are kept here, so a read sees them (as `StateStore` does
with its own pending rows). A read that misses them opens the row with its own connection and
reads the key from `state.keys`. Writes outside a turn (claiming a reminder) use that connection
too: SQLite lets the two processes take turns.

The writer ends when its pipe closes (this process closing the store, or dying): it ignores
Ctrl-C and SIGTERM, which reach a whole process group, so that the turns still in flight when a
server is stopped are committed, not lost. If it dies, the turns waiting for it fail (as on a
full disk) and the next commit starts a new one.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import select
import sqlite3
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from storage.pipe_messages import LENGTH, frame
from storage.state_keys import KeyReader
from storage.state_store import SYNC_MODES, StoredConversation, in_transaction, unseal

T = TypeVar("T")


class WriterStopped(OSError):
    """The writer process is gone: the turns waiting for it were not committed."""


@dataclass(slots=True)
class _Call:
    """One message sent to the writer, waiting for its answer (answers come in order)."""

    batch: int | None = None
    keys: list[str] = field(default_factory=list)
    """The conversations of a batch, readable from the database once it is answered."""
    future: asyncio.Future[None] | None = None
    done: bool = False
    result: Any = None
    error: BaseException | None = None


@dataclass(slots=True)
class _Pending:
    """A conversation written in a batch not yet committed."""

    batch: int
    row: tuple[str | None, str, int] | None = None
    """(state, seen, expires_at); None: deleted."""


class WriterStore:
    """A `StateStore` whose writes run in a writer process. Same methods, plus the pipelined
    `commit_async`."""

    def __init__(self, path: Path, synchronous: str = "NORMAL",
                 checkpoint_every: float = 0.5, own_core: bool = False) -> None:
        if synchronous.upper() not in SYNC_MODES:
            raise ValueError(f"unknown synchronous mode {synchronous!r}; use NORMAL or FULL")
        self.path: Path | None = path
        self._args = [str(path), synchronous.upper(), str(checkpoint_every)]
        self._ops: list[tuple[Any, ...]] = []
        self._pending: dict[str, _Pending] = {}
        self._calls: deque[_Call] = deque()
        self._batch = 0
        self._batch_keys: list[str] = []
        self._buffer = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._cores = _cores() if own_core else []
        """The cores this process may use, before the writer took one of them."""
        self._start()
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self._conn = conn
        self._keys = KeyReader(path.with_suffix(".keys"))

    # -- the writer process -------------------------------------------------------------

    def _start(self) -> None:
        """Start the writer and wait until its store is open (migrations applied)."""
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root,
                                                          env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "storage.writer_process", *self._args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
        assert self._process.stdout is not None
        os.set_blocking(self._process.stdout.fileno(), False)
        if len(self._cores) > 1:
            # The writer gets a core of its own, this thread (and the threads it starts later)
            # the others. Left to the scheduler, the two often shared one core while the other
            # idled: the writer then waited for the bot's time slice (about 6 ms) on every
            # wake-up (bench/engine.py, open loop at half the throughput: p99 up to 60 ms;
            # with its own core 2-6 ms).
            os.sched_setaffinity(self._process.pid, self._cores[-1:])
            os.sched_setaffinity(0, self._cores[:-1])
        self._buffer.clear()
        try:
            self._wait(self._send(("open",)))
        except BaseException:
            self._stopped()
            raise

    def _send(self, message: tuple[Any, ...], call: _Call | None = None) -> _Call:
        if self._process is None:
            self._start()
        assert self._process is not None and self._process.stdin is not None
        call = call or _Call()
        self._calls.append(call)
        try:
            _write_all(self._process.stdin.fileno(), frame(message))
        except OSError:
            self._stopped()
        return call

    def _wait(self, call: _Call) -> Any:
        """Block until the writer answers `call` (earlier answers are handed out on the way)."""
        while not call.done:
            process = self._process
            if process is None or process.stdout is None:
                break
            select.select([process.stdout.fileno()], [], [], 1.0)
            self._receive()
        if call.error is not None:
            raise call.error
        return call.result

    def _receive(self) -> None:
        """Read what the writer answered so far (the event loop calls this when there is)."""
        process = self._process
        if process is None or process.stdout is None:
            return
        while True:
            try:
                chunk = os.read(process.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                self._stopped()
                return
            self._buffer += chunk
        while len(self._buffer) >= LENGTH.size:
            (size,) = LENGTH.unpack_from(self._buffer)
            if len(self._buffer) < LENGTH.size + size:
                break
            answer = pickle.loads(self._buffer[LENGTH.size:LENGTH.size + size])
            del self._buffer[:LENGTH.size + size]
            self._answered(self._calls.popleft(), *answer)

    def _answered(self, call: _Call, ok: bool, value: Any) -> None:
        call.done = True
        if ok:
            call.result = value
        else:
            call.error = value
        if call.batch is not None:  # committed (readable from the file) or dropped
            self._forget_pending(call.keys, call.batch)
        if call.future is not None and not call.future.done():
            if ok:
                call.future.set_result(None)
            else:
                call.future.set_exception(value)

    def _stopped(self) -> None:
        """The writer is gone (or told to go): everything still waiting for it failed; the
        next write starts a new one."""
        process, self._process = self._process, None
        if process is not None:
            if self._loop is not None and process.stdout is not None \
                    and not self._loop.is_closed():
                self._loop.remove_reader(process.stdout.fileno())
            self._loop = None
            if process.stdin is not None:
                process.stdin.close()  # a writer still alive ends at the closed pipe
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        calls, self._calls = self._calls, deque()
        for call in calls:
            self._answered(call, False, WriterStopped("the state writer process stopped"))

    def _listen(self) -> None:
        """Have the running event loop read the writer's answers as they come."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        assert self._process is not None and self._process.stdout is not None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._process.stdout.fileno())
        loop.add_reader(self._process.stdout.fileno(), self._receive)
        self._loop = loop

    # -- the store's methods --------------------------------------------------------------

    def load(self, key: str) -> StoredConversation | None:
        pending = self._pending.get(key)
        if pending is not None:
            if pending.row is None:
                return None
            return StoredConversation(*pending.row)
        row = self._conn.execute(
            "SELECT state, seen, expires_at, key_slot FROM conversations WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        state, seen, expires_at, slot = row
        return StoredConversation(unseal(self._keys, key, state, slot), seen or "", expires_at)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def save(self, key: str, state: str | None, seen: str, updated_at: int,
             expires_at: int) -> None:
        self._ops.append(("save", key, state, seen, updated_at, expires_at))
        self._pending[key] = _Pending(self._batch, (state, seen, expires_at))
        self._batch_keys.append(key)

    def rekey(self, key: str) -> None:
        self._ops.append(("rekey", key))

    def delete(self, key: str) -> None:
        self._ops.append(("delete", key))
        self._pending[key] = _Pending(self._batch)
        self._batch_keys.append(key)

    def defer(self, sql: str, params: Sequence[object]) -> None:
        self._ops.append(("sql", sql, tuple(params)))

    def commit_async(self, scrub: bool = False) -> asyncio.Future[None] | None:
        """Hand the batch to the writer; the future is done when it is committed."""
        if self._process is None:
            self._start()  # the last one died
        self._listen()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._send_batch(scrub, future)
        return future

    def commit(self) -> None:
        self._wait(self._send_batch(False, None))

    def _send_batch(self, scrub: bool, future: asyncio.Future[None] | None) -> _Call:
        ops, self._ops = self._ops, []
        call = _Call(self._batch, self._batch_keys, future)
        self._batch += 1
        self._batch_keys = []
        return self._send(("batch", ops, scrub), call)

    def upkeep(self) -> bool:
        """Nothing here: the writer process does its upkeep after each batch it answers."""
        return False

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """A change outside a turn, in a transaction of its own on this process's connection."""
        return in_transaction(self._conn, change, immediate=True)

    def rollback(self) -> None:
        """Drop the writes not yet handed to the writer."""
        self._ops.clear()
        self._forget_pending(self._batch_keys, self._batch)
        self._batch_keys = []

    def _forget_pending(self, keys: list[str], batch: int) -> None:
        """Drop what `batch` wrote from the rows read from memory (a later batch's stay)."""
        for key in keys:
            pending = self._pending.get(key)
            if pending is not None and pending.batch == batch:
                del self._pending[key]

    def purge_expired(self, now: int) -> int:
        return int(self._wait(self._send(("purge", now))))

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def checkpoint(self) -> None:
        self._wait(self._send(("checkpoint",)))

    def close(self) -> None:
        """Wait for the batches in flight, drop what was never handed over (as `StateStore`
        does), and let the writer close its store."""
        self.rollback()
        if self._process is not None:
            try:
                self._wait(self._send(("close",)))
            finally:
                self._stopped()
        self._conn.close()
        self._keys.close()
        if len(self._cores) > 1:
            os.sched_setaffinity(0, self._cores)  # the cores are this process's again


def _cores() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
