"""Conversation throughput and latency: 1,000 conversations through the real service and SQLite.

Every turn loads the conversation, runs the engine, and is committed to SQLite before its reply
is released (group commit: turns that finish together share one disk sync).

1. Throughput: 1,000 conversations all talking as fast as they can (closed loop): turns/s.
2. Latency, the target's measure: the 1,000 conversations again for 8 s, each answering every
   reply after a pause drawn at random with a mean of 0.5 s (--think): two answers a second
   from each of 1,000 people, at least twice as fast as anyone reads a reply and taps an answer
   (about 2,000 turns/s). The time from the moment a turn is handed to the service until its
   reply is released, p50/p99. The next message waits for the reply, as in a real
   conversation. Turns then mostly run alone, and on this VM work that follows a pause costs
   1.5-2x the CPU of the same work back to back (its caches gone cold): the event loop is
   about half busy.
3. Stress: turns arriving at a steady rate (open loop, default half the measured throughput,
   --rate) spread over the 1,000 conversations, and their latency. An open-loop turn costs the
   event loop about twice a closed-loop turn (one turn per loop iteration and per commit
   instead of 16), so this rate keeps the loop 80-100 % busy, and its tail follows the VM's
   speed: a reading of the headroom, not the target's.
4. Bytes stored per conversation.

Targets on a 2-core machine: >= 10,000 turns/s, p99 <= 2 ms, <= 2 KB per stored conversation.
The state is written as `lotse run` writes it by default, in the event loop's own thread, or with
--writer by the writer process on a core of its own (setting writer_process, see
storage/state_writer.py).

It prints how the machine ran just before and after (the speed of a small loop, and how often
a busy loop was paused by the host): on this VM both change for minutes at a time, and the
latency tail with them.

Run: python bench/engine.py [--turns N] [--think SECONDS] [--rate TURNS_PER_S]
                            [--sync FULL|NORMAL] [--writer]

It times the Lotse the interpreter imports: a checkout's or editable install's sources, or an
installed wheel's modules compiled by mypyc (hatch_build.py), which is what users run:

    python3 -m venv /tmp/lotse && /tmp/lotse/bin/pip install .
    /tmp/lotse/bin/python bench/engine.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import selectors
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after an installed Lotse

import bot.engine
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

    def __init__(self, bundle: Bundle, conversations: int, name: str = "user") -> None:
        self.scripts = [random_script(bundle, seed) for seed in range(conversations)]
        self.position = [0] * conversations
        self.keys = [ConversationKey("bench", f"{name}-{i}") for i in range(conversations)]

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


async def timed(phase: Awaitable[list[float]]) -> Timed:
    started, cpu, steal = time.perf_counter(), time.thread_time(), stolen()
    latencies = await phase
    return Timed(latencies, time.perf_counter() - started, time.thread_time() - cpu,
                 stolen() - steal)


async def answered(service: ConversationService, key: ConversationKey, event: Event,
                   event_id: str, due: float) -> float:
    """Seconds from when the message was due until its reply was released. The message is
    there when it is due: time the loop was held meanwhile (a commit, upkeep, other turns)
    counts, as it would for a message waiting at a socket."""
    loop = asyncio.get_running_loop()
    arrived = min(due, loop.time())
    await service.handle(key, event, event_id)
    return loop.time() - arrived


async def conversing(service: ConversationService, talkers: Talkers, seconds: float,
                     think: float) -> list[float]:
    """Every conversation answers each reply after a random pause (exponential, mean `think`),
    for `seconds`: the load 1,000 people make, each waiting for the reply before the next
    answer."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    end = loop.time() + seconds
    counter = iter(range(10**9))

    async def person(index: int) -> None:
        pauses = random.Random(index)
        while True:
            due = loop.time() + pauses.expovariate(1 / think)
            if due >= end:
                return
            await asyncio.sleep(due - loop.time())
            latencies.append(await answered(service, talkers.keys[index],
                                            talkers.next_event(index), f"c{next(counter)}", due))

    await asyncio.gather(*(person(i) for i in range(len(talkers.keys))))
    return latencies


async def latency(service: ConversationService, talkers: Talkers, turns: int,
                  rate: float) -> list[float]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []

    async def one(index: int, event: Event, n: int, due: float) -> None:
        latencies.append(await answered(service, talkers.keys[index], event, f"l{n}", due))

    # Only the turns still running are kept, as a server keeps them: holding every finished
    # task (and its outputs) until the end made each garbage collection walk all of them.
    running: set[asyncio.Task[None]] = set()
    start = loop.time()
    for n in range(turns):
        due = start + n / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        index = n % len(talkers.keys)
        task = asyncio.create_task(one(index, talkers.next_event(index), n, due))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    return latencies


async def run(conversations: int, turns: int, think: float, rate: float | None,
              synchronous: str, inline: bool, own_core: bool) -> None:
    before = machine()
    bundle = load_bundle()
    talkers = Talkers(bundle, conversations)
    tune_collector()  # as `lotse run` does
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        store: ConversationStore = (TimedStore(path, synchronous) if inline
                                    else WriterStore(path, synchronous, own_core=own_core))
        service = ConversationService(bundle, store, KeyHasher(b"bench-secret-0123456789abcdef"))
        steal_closed = stolen()
        per_second, cpu_per_turn = await throughput(service, talkers, turns)
        steal_closed = stolen() - steal_closed
        people = await timed(conversing(service, talkers, 8.0, think))
        offered = rate or per_second / 2
        stress = await timed(latency(service, talkers, min(turns, int(offered * 5)), offered))
        rows = store.db.execute(
            "SELECT length(key) + length(coalesce(state, '')) + length(seen) + 8 "
            "FROM conversations").fetchall()
        sizes = [r[0] for r in rows]
        scrubs = list(store.scrubs) if isinstance(store, TimedStore) else []
        upkeeps = list(store.upkeeps) if isinstance(store, TimedStore) else []
        store.close()
        file_bytes = path.stat().st_size
    print(f"lotse under test     {_kind()}")
    print(f"machine before       {before}")
    print(f"machine after        {machine()}")
    print(f"conversations        {conversations:,}")
    print(f"sqlite synchronous   {synchronous} (committed before each reply, "
          f"{'in the event loop' if inline else 'by the writer process'})")
    print(f"throughput           {per_second:,.0f} turns/s ({turns:,} turns, closed loop); "
          f"event loop CPU {cpu_per_turn * 1e6:.1f} us/turn; the host took {steal_closed:,.0f} ms")
    print(f"latency              {people} -- {conversations:,} conversations, each "
          f"answering after {think} s on average (the target's measure)")
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
    args = parser.parse_args()
    # select() sleeps to the microsecond; epoll, asyncio's default, to the millisecond, rounded
    # up, so a message due from a timer would wait for that rounding, where one arriving at a
    # socket wakes the loop at once.
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(
            selectors.SelectSelector())) as runner:
        runner.run(run(args.conversations, args.turns, args.think, args.rate, args.sync,
                       not args.writer, not args.shared_core))


if __name__ == "__main__":
    main()
