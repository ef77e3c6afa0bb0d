"""Conversation throughput and latency: 1,000 conversations through the real service and SQLite.

Every turn loads the conversation, runs the engine, and is committed to SQLite before its reply
is released (group commit: turns that finish together share one disk sync).

1. Throughput: 1,000 conversations all talking as fast as they can (closed loop): turns/s.
2. Latency, the target's measure: the 1,000 conversations again for 8 s, each answering every
   reply after a pause drawn at random with a mean of 0.5 s (--think): two answers a second
   from each of 1,000 people, at least twice as fast as anyone reads a reply and taps an answer
   (about 2,000 turns/s). The people are a process of their own (bench/people.py) writing to
   a socket that this process reads as a channel would: each message a task, its number
   written back once the reply is released. Latency runs from a message being written until
   its reply is read, p50/p99. The next message waits for the reply, as in a real
   conversation. Turns then mostly run alone, and a lone turn costs the loop about twice a
   turn in a busy batch (a commit and loop wake-ups of its own, and on this VM work that
   follows a pause runs 1.5-2x slower): the event loop is about half busy.
   Printed beside it, the floor: the same load, just before, on a stand-in that answers at
   once and does nothing: what the socket, the two processes and the machine cost without
   Lotse. Its p99 alone was 0.33-0.45 ms in quiet phases of this VM; with the people still in
   the loop under test it reached 2.2-8.8 ms in slow ones. So a latency p99 is read against
   the floor beside it.
3. Stress: the people write at a steady rate (open loop, default half the measured
   throughput, --rate) to the 1,000 conversations in turn, for 5 s, and their latency. An
   open-loop turn costs the event loop about twice a closed-loop turn, so this rate keeps the
   loop 90-100 % busy, and its tail follows the VM's speed: a reading of the headroom, not the
   target's.
4. Bytes stored per conversation.

Targets on a 2-core machine: >= 10,000 turns/s, p99 <= 2 ms, <= 2 KB per stored conversation.
The p99 is judged as printed, on the latency the people see, a socket round trip between two
processes included; the floor only tells how much of it the machine takes.
The state is written as `lotse run` writes it by default, in the event loop's own thread, or with
--writer by the writer process on a core of its own (setting writer_process, see
storage/state_writer.py).

It prints how the machine ran just before and after (the speed of a small loop, and how often
a busy loop was paused by the host): on this VM both change for minutes at a time, and the
latency tail with them.

It runs on the event loop `lotse run` runs on (bot/eventloop.py: uvloop where installed);
--asyncio runs it on asyncio's own.

Run: python bench/engine.py [--turns N] [--think SECONDS] [--rate TURNS_PER_S]
                            [--sync FULL|NORMAL] [--writer] [--asyncio]

It times the Lotse the interpreter imports: a checkout's or editable install's sources, or an
installed wheel's modules compiled by mypyc (hatch_build.py), which is what users run:

    python3 -m venv /tmp/lotse && /tmp/lotse/bin/pip install .
    /tmp/lotse/bin/python bench/engine.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after an installed Lotse

import bot.engine
from bot import eventloop
from bot.collector import tune_collector
from bot.conversation import Event, Said, Start
from bot.flowmodel import Bundle
from bot.keys import ConversationKey, KeyHasher
from bot.loader import load_bundle
from bot.service import ConversationService
from storage import ConversationStore, StateStore, WriterStore
from tests.helpers import random_script


class Talkers:
    """Each conversation's next event: its script from the start, over and over."""

    def __init__(self, scripts: list[list[str]], name: str = "user") -> None:
        self.scripts = scripts
        self.position = [0] * len(scripts)
        self.keys = [ConversationKey("bench", f"{name}-{i}") for i in range(len(scripts))]

    @classmethod
    def walking(cls, bundle: Bundle, conversations: int, name: str = "user") -> Talkers:
        """Conversations through the bundle's default flow, each on a script of its own."""
        return cls([random_script(bundle, seed) for seed in range(conversations)], name)

    def others(self, name: str) -> Talkers:
        """The same scripts, each from its start, for conversations of another name."""
        return Talkers(self.scripts, name)

    def next_event(self, index: int) -> Event:
        script, position = self.scripts[index], self.position[index]
        self.position[index] = position + 1 if position < len(script) else 0
        return Start() if position == 0 else Said(script[position - 1])


class TimedStore(StateStore):
    """The store with its WAL scrubs and upkeep timed: each holds the event loop while it
    runs."""

    def __init__(self, path: Path, synchronous: str) -> None:
        super().__init__(path, synchronous)
        self.scrubs: list[float] = []
        self.upkeeps: list[float] = []

    def checkpoint(self) -> None:
        started = time.perf_counter()
        super().checkpoint()
        self.scrubs.append(time.perf_counter() - started)

    def upkeep(self) -> bool:
        started = time.perf_counter()
        folded = super().upkeep()
        if folded:  # the calls that found nothing to do cost a flag test
            self.upkeeps.append(time.perf_counter() - started)
        return folded


def _kind() -> str:
    """Whether the engine runs compiled by mypyc or as its Python source."""
    path = Path(bot.engine.__file__ or "")
    return f"{'pure Python' if path.suffix == '.py' else 'compiled by mypyc'} ({path})"


@dataclass(frozen=True)
class Machine:
    """How this VM runs just now. Its speed changes by up to 2x for minutes at a time, and in
    some phases it pauses even a busy loop for milliseconds (the host runs something else):
    every figure here moves with both."""

    speed: float
    """Microseconds for sum(range(1000)), the best of 2,000 (13-14 in fast phases, 20-26 slow)."""
    pauses: int
    """Times a busy loop of one second stopped for more than 0.5 ms."""
    longest: float
    """Its longest pause, in milliseconds."""

    def __str__(self) -> str:
        return (f"sum(range(1000)) in {self.speed:.1f} us; a busy loop paused {self.pauses} "
                f"time(s) over 0.5 ms in 1 s, longest {self.longest:.1f} ms")


def stolen() -> float:
    """Milliseconds of CPU the host has taken from this VM since it booted, over all its cores
    ("steal" in /proc/stat; 0 where the kernel does not count it). Printed for each phase as
    "the host took". It explains some slow runs, not all: in others the VM's cores only ran
    slower for a while, which shows as more event loop CPU per turn."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return 0.0
    return int(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def machine() -> Machine:
    """Read the machine's state, in about 1.1 s."""
    best = float("inf")
    for _ in range(2000):
        started = time.perf_counter()
        sum(range(1000))
        best = min(best, time.perf_counter() - started)
    pauses, longest = 0, 0.0
    last = started = time.perf_counter()
    while last - started < 1.0:
        now = time.perf_counter()
        if now - last > 0.0005:
            pauses, longest = pauses + 1, max(longest, now - last)
        last = now
    return Machine(best * 1e6, pauses, longest * 1000)


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * share))] * 1000


async def throughput(service: ConversationService, talkers: Talkers, turns: int
                     ) -> tuple[float, float]:
    """(turns/s, CPU seconds per turn of the event loop's thread): on a machine shared with
    other work the CPU time is the steadier number."""
    each = turns // len(talkers.keys)
    counter = iter(range(10**9))

    async def talk(index: int) -> None:
        for _ in range(each):
            await service.handle(talkers.keys[index], talkers.next_event(index),
                                 f"t{next(counter)}")

    started, cpu = time.perf_counter(), time.thread_time()
    await asyncio.gather(*(talk(i) for i in range(len(talkers.keys))))
    done = each * len(talkers.keys)
    return done / (time.perf_counter() - started), (time.thread_time() - cpu) / done


@dataclass(frozen=True)
class Timed:
    """Latencies of a phase, and what it cost the event loop."""

    latencies: list[float]
    seconds: float
    cpu: float
    """Seconds of CPU the event loop's thread used."""
    stolen: float
    """Milliseconds the host took from the VM meanwhile."""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def __str__(self) -> str:
        turns = len(self.latencies)
        if not turns:
            return f"no turns in {self.seconds:.1f} s"
        return (f"p50 {statistics.median(self.latencies) * 1000:.3f} ms, "
                f"p99 {percentile(self.latencies, 0.99):.3f} ms, "
                f"max {max(self.latencies) * 1000:.3f} ms ({turns:,} turns, "
                f"{self.rate:,.0f}/s); event loop CPU {self.cpu / turns * 1e6:.1f} us/turn, "
                f"busy {self.cpu / self.seconds:.0%}; the host took {self.stolen:,.0f} ms")


class Handler(Protocol):
    """What the people's messages are handed to: the conversation service, or the floor's
    stand-in."""

    async def handle(self, key: ConversationKey, event: Event, event_id: str) -> object: ...


class NoService:
    """Answers at once and does nothing: the harness and the machine alone."""

    async def handle(self, key: ConversationKey, event: Event, event_id: str) -> None:
        return None


class Turns(asyncio.Protocol):
    """The bench's end of the people's socket, as a channel: each line "conversation number"
    is that conversation's next message, handed to the service as a task of its own, and the
    number goes back once the reply is released. `phase` starts each event id: the numbers
    start again in every phase, and the service drops an id it has seen."""

    def __init__(self, service: Handler, talkers: Talkers, phase: str) -> None:
        self.service, self.talkers, self.phase = service, talkers, phase
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.failure: BaseException | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            conversation, number = line.split()
            task = asyncio.create_task(self._turn(int(conversation), number))
            self._running.add(task)
            task.add_done_callback(self._done)

    async def _turn(self, conversation: int, number: bytes) -> None:
        await self.service.handle(self.talkers.keys[conversation],
                                  self.talkers.next_event(conversation),
                                  f"{self.phase}{number.decode()}")
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(number + b"\n")

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if task.cancelled() or task.exception() is None or self.failure is not None:
            return
        self.failure = task.exception()
        if self._transport is not None:
            self._transport.close()  # the people stop at once instead of waiting for a reply

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def people(service: Handler, talkers: Talkers, phase: str, seconds: float, how: str,
                 value: float) -> Timed:
    """A phase of messages from bench/people.py (`how`: "--think" or "--rate", see there):
    their latencies as the people saw them, and what the phase cost this event loop."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    try:
        with theirs:  # the child's end; ours belongs to the transport from here on
            child = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).with_name("people.py")),
                "--fd", str(theirs.fileno()), "--conversations", str(len(talkers.keys)),
                "--seconds", str(seconds), how, str(value),
                pass_fds=(theirs.fileno(),), stdout=asyncio.subprocess.PIPE)
    except BaseException:
        ours.close()
        raise
    # A child inherits this thread's cores, and with --writer that is all but the writer's
    # last one: the people would take turns with the bot on its core.
    with contextlib.suppress(AttributeError, OSError):  # no sched_setaffinity (macOS)
        os.sched_setaffinity(child.pid, range(os.cpu_count() or 1))
    cpu, steal = time.thread_time(), stolen()
    transport, turns = await loop.create_connection(lambda: Turns(service, talkers, phase),
                                                    sock=ours)
    # Read what they print meanwhile: a pipe holds 64 KB, and their latencies are more.
    telling = asyncio.ensure_future(child.communicate())
    try:
        await asyncio.wait_for(turns.closed, seconds + 60)  # the people close when done
        cpu, steal = time.thread_time() - cpu, stolen() - steal
        told, _ = await asyncio.wait_for(telling, 60)
    except TimeoutError:
        raise RuntimeError("bench/people.py had not finished a minute after the phase"
                           ) from turns.failure
    finally:
        transport.close()
        if child.returncode is None:
            child.kill()
            await child.wait()
        telling.cancel()
    if turns.failure is not None:
        raise RuntimeError("a turn failed") from turns.failure
    if child.returncode:
        raise RuntimeError(f"bench/people.py failed (exit code {child.returncode})")
    result = json.loads(told)
    return Timed(result["latencies"], result["seconds"], cpu, steal)


async def run(conversations: int, turns: int, think: float, rate: float | None,
              synchronous: str, inline: bool, own_core: bool, loop_name: str) -> None:
    before = machine()
    bundle = load_bundle()
    talkers = Talkers.walking(bundle, conversations)
    tune_collector()  # as `lotse run` does
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        store: ConversationStore = (TimedStore(path, synchronous) if inline
                                    else WriterStore(path, synchronous, own_core=own_core))
        service = ConversationService(bundle, store, KeyHasher(b"bench-secret-0123456789abcdef"))
        steal_closed = stolen()
        per_second, cpu_per_turn = await throughput(service, talkers, turns)
        steal_closed = stolen() - steal_closed
        floor = await people(NoService(), talkers.others("floor"), "f", 8.0, "--think", think)
        talking = await people(service, talkers, "c", 8.0, "--think", think)
        offered = rate or per_second / 2
        stress = await people(service, talkers, "s", 5.0, "--rate", offered)
        rows = store.db.execute(
            "SELECT length(key) + length(coalesce(state, '')) + length(seen) + 8 "
            "FROM conversations").fetchall()
        sizes = [r[0] for r in rows]
        scrubs = list(store.scrubs) if isinstance(store, TimedStore) else []
        upkeeps = list(store.upkeeps) if isinstance(store, TimedStore) else []
        store.close()
        file_bytes = path.stat().st_size
    print(f"lotse under test     {_kind()}")
    print(f"event loop           {loop_name}")
    print(f"machine before       {before}")
    print(f"machine after        {machine()}")
    print(f"conversations        {conversations:,}")
    print(f"sqlite synchronous   {synchronous} (committed before each reply, "
          f"{'in the event loop' if inline else 'by the writer process'})")
    print(f"throughput           {per_second:,.0f} turns/s ({turns:,} turns, closed loop); "
          f"event loop CPU {cpu_per_turn * 1e6:.1f} us/turn; the host took {steal_closed:,.0f} ms")
    print(f"latency              {talking} -- {conversations:,} conversations, each "
          f"answering after {think} s on average (the target's measure)")
    print(f"floor                {floor} -- the same load just before, on a stand-in that "
          f"does nothing: the harness and the machine alone")
    print(f"stress               {stress} -- open loop, {offered:,.0f}/s offered "
          f"({'as asked' if rate else 'half the throughput'})")
    if inline:
        print(f"WAL scrubs           {len(scrubs):,} (after a forget, all phases), median "
              f"{statistics.median(scrubs or [0]) * 1000:.3f} ms, max "
              f"{max(scrubs or [0]) * 1000:.3f} ms, event loop held meanwhile")
        print(f"WAL upkeep           {len(upkeeps):,} (folding the WAL back to start it over, "
              f"all phases), "
              f"median {statistics.median(upkeeps or [0]) * 1000:.3f} ms, max "
              f"{max(upkeeps or [0]) * 1000:.3f} ms, event loop held meanwhile")
    print(f"stored per conv.     mean {statistics.mean(sizes):,.0f} B, max {max(sizes):,} B "
          f"(row payload); {file_bytes / max(len(sizes), 1):,.0f} B (database file / rows)")


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=50_000)
    parser.add_argument("--think", type=positive, default=0.5,
                        help="seconds each conversation pauses before answering, on average "
                             "(the latency run; default 0.5)")
    parser.add_argument("--rate", type=positive,
                        help="turns/s offered in the stress run (default: half the throughput)")
    parser.add_argument("--sync", default="NORMAL", help="SQLite synchronous: NORMAL or FULL")
    parser.add_argument("--writer", action="store_true",
                        help="write from the writer process (writer_process: true)")
    parser.add_argument("--shared-core", action="store_true",
                        help="with --writer: let the scheduler place the writer process (lotse "
                             "run gives it a core of its own)")
    parser.add_argument("--asyncio", action="store_true",
                        help="run on asyncio's own event loop, as lotse run does where uvloop "
                             "is not installed (default: the loop lotse run uses)")
    args = parser.parse_args()
    factory = asyncio.new_event_loop if args.asyncio else eventloop.loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        name = type(runner.get_loop()).__module__ + "." + type(runner.get_loop()).__name__
        runner.run(run(args.conversations, args.turns, args.think, args.rate, args.sync,
                       not args.writer, not args.shared_core, name))


if __name__ == "__main__":
    main()
