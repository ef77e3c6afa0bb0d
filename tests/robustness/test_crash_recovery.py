"""Crash recovery: a Lotse process killed with SIGKILL at random moments, again and again.

Scripted conversations (half of them confirm an anonymous report) go through one stream into
tests/robustness/crash_harness.py, pipelined so that the process is always in the middle of
something when the kill comes. Unacknowledged messages are sent again after the restart with
their event ids, as a platform redelivers them. After every kill:

- each conversation's stored state is the one after its last acknowledged message, or after the
  one in flight when the kill came between its commit and its acknowledgement;
- reports.db is intact and holds no report without its answers, and every report whose
  confirmation was acknowledged is there or waits in the outbox.

At the end every conversation is where the pure engine says it must be, and there are exactly as
many reports as conversations that said yes: none lost and none doubled. A report goes into
state.db's outbox in its turn's commit and on to reports.db after it (storage/report_outbox.py);
a kill in between leaves it in the outbox (counted after every kill), and the next start
delivers it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.engine.conversation import Report, Said, Start, State, state_from_json
from bot.engine.turn import step
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore

from ..helpers import NOW, ROOT, random_script
from . import figures
from .crash_harness import SECRET, START
from .fuzz import SHIPPED

pytestmark = pytest.mark.robustness

CONVERSATIONS = figures.scaled(40, 1_000)
KILLS = figures.scaled(6, 120)


@dataclass
class Conversation:
    name: str
    texts: list[str]
    states: list[State | None] = field(default_factory=list)
    """The state after 0, 1, 2 … messages, from the pure engine."""
    reports: int = 0
    report_steps: set[int] = field(default_factory=set)
    """The numbers of messages after which a report was confirmed."""


def _conversations(count: int) -> list[Conversation]:
    """Every other conversation goes straight to the report, half of those say yes."""
    out = []
    for i in range(count):
        flow = "report" if i % 2 else SHIPPED.default_flow
        script = random_script(SHIPPED, 7000 + i, max_turns=200, flow=flow,
                               report="ja" if i % 4 in (1, 2) else "nein",
                               text=f"Zeugin Müller {i} 😀")
        conv = Conversation(f"c{i:04d}", [f"{START}{flow}", *script])
        state = step(SHIPPED, None, Start(flow=flow), NOW).state
        conv.states.append(None)
        conv.states.append(state)
        for said in script:
            turn = step(SHIPPED, state, Said(said), NOW)
            made = sum(isinstance(o, Report) for o in turn.outputs)
            conv.reports += made
            if made:
                conv.report_steps.add(len(conv.states))
            state = turn.state
            conv.states.append(state)
        out.append(conv)
    return out


def _interleaved(conversations: list[Conversation], rng: random.Random) -> list[tuple[str, int]]:
    """(conversation, index) in a random interleaving that keeps each conversation's order."""
    pending = {c.name: 0 for c in conversations}
    lengths = {c.name: len(c.texts) for c in conversations}
    order = []
    names = list(pending)
    while names:
        name = rng.choice(names)
        order.append((name, pending[name]))
        pending[name] += 1
        if pending[name] == lengths[name]:
            names.remove(name)
    return order


class Incarnation:
    """One run of the harness process, fed everything still unacknowledged."""

    def __init__(self, data: Path, lines: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.robustness.crash_harness", str(data), NOW.isoformat()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=ROOT)
        self.acks: queue.Queue[str] = queue.Queue()
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.writer = threading.Thread(target=self._write, args=(lines,), daemon=True)
        self.reader.start()
        self.writer.start()

    def finish(self, timeout: float) -> str:
        """Wait for the process to end; every acknowledgement read, every pipe closed."""
        self.proc.wait(timeout)
        self.reader.join(30)
        self.writer.join(30)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        err = self.proc.stderr.read()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        return err

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("ack\t"):
                self.acks.put(line.rstrip("\n").split("\t", 2)[2])

    def _write(self, lines: list[str]) -> None:
        assert self.proc.stdin is not None
        try:
            for line in lines:
                self.proc.stdin.write(line)
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass  # killed while we were still writing

    def acked(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.acks.get_nowait())
            except queue.Empty:
                return out


def _stored_states(data: Path, conversations: list[Conversation]
                   ) -> tuple[dict[str, str | None], int]:
    """Read as the next start reads them: through the store, which unseals them; and how many
    reports wait in the outbox."""
    hasher = KeyHasher(SECRET)
    store = StateStore(data / "state.db")
    try:
        rows = {c.name: store.load(hasher(ConversationKey("crash", c.name)))
                for c in conversations}
        waiting = store.outbox()
    finally:
        store.close()
    assert all(text is not None for _, text in waiting), "an outbox row lost its key"
    return ({name: "absent" if row is None else row.state for name, row in rows.items()},
            len(waiting))


def _check_reports_db(data: Path) -> int:
    db = sqlite3.connect(data / "reports.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        without = db.execute("SELECT count(*) FROM reports r WHERE NOT EXISTS (SELECT 1 FROM "
                             "report_answers a WHERE a.report_id = r.id)").fetchone()[0]
        assert without == 0, "a report without its answers: half written"
        return int(db.execute("SELECT count(*) FROM reports").fetchone()[0])
    finally:
        db.close()


def _decode(text: str | None) -> State | None:
    return None if text is None else state_from_json(text)


def test_killed_at_random_moments_every_conversation_resumes_and_every_report_is_stored_once(
        tmp_path: Path) -> None:
    rng = random.Random(2026)
    conversations = _conversations(CONVERSATIONS)
    by_name = {c.name: c for c in conversations}
    stream = _interleaved(conversations, rng)
    acked: set[str] = set()
    data = tmp_path / "data"
    data.mkdir()
    kills = resumed_in_flight = left_in_outbox = 0
    started = time.monotonic()
    while True:
        remaining = [(name, i) for name, i in stream if f"{name}-{i}" not in acked]
        if not remaining:
            break
        lines = [f"{name}\t{name}-{i}\t{by_name[name].texts[i]}\n" for name, i in remaining]
        life = Incarnation(data, lines)
        assert life.ready.wait(60), "the harness did not start"
        if kills < KILLS:
            # Most kills while a turn is running: pipelined input keeps the process busy. Within
            # 50 ms of its start: on uvloop, 150 ms let it get through the whole stream in
            # fewer than 120 lives.
            time.sleep(rng.uniform(0.0, 0.05))
            life.proc.send_signal(signal.SIGKILL)
            life.finish(30)
            kills += 1
        else:
            err = life.finish(600)
            assert life.proc.returncode == 0, err[-3000:]
        acked.update(life.acked())
        counts = {name: 0 for name in by_name}
        for name, i in stream:
            if f"{name}-{i}" in acked:
                counts[name] = max(counts[name], i + 1)
        states, waiting = _stored_states(data, conversations)
        left_in_outbox += waiting
        for name, text in states.items():
            conv, done = by_name[name], counts[name]
            if text == "absent":
                assert done == 0 or conv.states[done] is None, name
                continue
            stored = _decode(text)
            if stored == conv.states[done]:
                continue
            assert done < len(conv.states) - 1 and stored == conv.states[done + 1], (
                f"{name}: after {done} answered messages the stored state is neither that "
                "step nor the next")
            resumed_in_flight += 1
        # Every report of an acknowledged turn is in reports.db or waits in the outbox.
        told = sum(step <= counts[c.name] for c in conversations for step in c.report_steps)
        assert _check_reports_db(data) + waiting >= told, "a report the user was told of is gone"
    expected_reports = sum(c.reports for c in conversations)
    stored_reports = _check_reports_db(data)
    assert stored_reports <= expected_reports, "a report was doubled"
    assert stored_reports == expected_reports, "a report was lost"
    states, waiting = _stored_states(data, conversations)
    assert waiting == 0, "a report is still in the outbox after a clean stop"
    for name, text in states.items():
        final = by_name[name].states[-1]
        assert (None if text == "absent" else _decode(text)) == final, name
    figures.count("crash: kills survived", kills)
    figures.count("crash: conversations resumed", len(conversations))
    figures.count("crash: messages delivered", len(stream))
    figures.count("crash: turns committed but unacknowledged at a kill", resumed_in_flight)
    figures.count("crash: reports stored once", stored_reports)
    figures.count("crash: reports lost", expected_reports - stored_reports)
    figures.count("crash: reports left in the outbox by a kill", left_in_outbox)
    figures.at_least("crash: run time (s)", time.monotonic() - started)
