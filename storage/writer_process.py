"""The writer process: a `StateStore` driven by the messages of a `WriterStore` (see
storage/state_writer.py). Started as `python -m storage.writer_process PATH SYNC EVERY`; it ends
when its input closes."""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from storage.pipe_messages import frame, read_message
from storage.state_store import StateStore

LOCK_WAIT = 30.0
"""Seconds a new writer waits for the one before it to finish (its last batch, a checkpoint)."""


def _answer(stream: BinaryIO, ok: bool, value: Any) -> None:
    try:
        data = frame((ok, value))
    except Exception:  # an error that cannot travel: its text can
        data = frame((False, OSError(str(value))))
    stream.write(data)
    stream.flush()


def _apply(store: StateStore, ops: list[tuple[Any, ...]], scrub: bool) -> None:
    for op in ops:
        kind = op[0]
        if kind == "save":
            store.save(*op[1:])
        elif kind == "delete":
            store.delete(op[1])
        elif kind == "rekey":
            store.rekey(op[1])
        elif kind == "sql":
            store.defer(*op[1:])
    store.commit_async(scrub)


def _sole_writer(path: Path) -> int:
    """Wait until no other writer process serves this database, and hold it for this one.

    After a crash of the bot, its writer may still be committing its last batch while the bot
    restarts; the new writer must not read key records the old one is about to overwrite. A
    lock file held for the writer's lifetime (the kernel lets go when the process ends)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".writer"), os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise OSError(f"another writer process still holds {path.name}: is a second "
                              "Lotse running on this data folder?") from None
            time.sleep(0.05)


def serve(path: Path, synchronous: str, checkpoint_every: float,
          inbox: BinaryIO, outbox: BinaryIO) -> None:
    """Apply the messages from `inbox` to a `StateStore` until the pipe closes; answer each."""
    try:
        _sole_writer(path)
        store = StateStore(path, synchronous, checkpoint_every)
    except Exception as err:
        read_message(inbox)
        _answer(outbox, False, err)
        return
    closing = False
    try:
        while (message := read_message(inbox)) is not None:
            kind = message[0]
            try:
                result: Any = None
                if kind == "batch":
                    _apply(store, message[1], message[2])
                elif kind == "purge":
                    result = store.purge_expired(message[1])
                elif kind == "checkpoint":
                    store.checkpoint()
                elif kind == "close":
                    closing = True
                    break
            except Exception as err:
                store.rollback()
                _answer(outbox, False, err)
                continue
            _answer(outbox, True, result)
            if kind == "batch":
                store.upkeep()  # once the bot has its answer (see StateStore.upkeep)
    finally:
        store.close()
    if closing:
        _answer(outbox, True, None)


def main() -> None:
    # Ctrl-C and a service manager's SIGTERM reach the whole group: the writer stops when the
    # bot closes the pipe, after the turns it was given.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    path, synchronous, every = sys.argv[1:4]
    serve(Path(path), synchronous, float(every), sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
