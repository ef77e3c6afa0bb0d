"""Conversation throughput and latency: 1,000 conversations through the real service and SQLite.

Every turn loads the conversation, runs the engine, and is committed to SQLite before its reply
is released (group commit: turns that finish together share one disk sync).

1. Throughput: 1,000 conversations all talking as fast as they can (closed loop): turns/s.
2. Latency: turns arriving at a steady rate (open loop, default half the measured throughput)
   spread over the 1,000 conversations; the time from the moment a turn is handed to the
   service until its reply is released, p50/p99.
3. Bytes stored per conversation.

Targets on a 2-core machine: >= 10,000 turns/s, p99 <= 2 ms, <= 2 KB per stored conversation.
The state is written as `lotse run` writes it by default, in the event loop's own thread, or with
--writer by the writer process on a core of its own (setting writer_process, see
storage/state_writer.py).

Run: python bench/engine.py [--turns N] [--rate TURNS_PER_S] [--sync FULL|NORMAL] [--writer]

It times the Lotse the interpreter imports: a checkout's or editable install's sources, or an
installed wheel's modules compiled by mypyc (hatch_build.py), which is what users run:

    python3 -m venv /tmp/lotse && /tmp/lotse/bin/pip install .
    /tmp/lotse/bin/python bench/engine.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
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
    """The store with its WAL scrubs timed: each holds the event loop while it runs."""

    def __init__(self, path: Path, synchronous: str) -> None:
        super().__init__(path, synchronous)
        self.scrubs: list[float] = []

    def checkpoint(self) -> None:
        started = time.perf_counter()
        super().checkpoint()
        self.scrubs.append(time.perf_counter() - started)


def _kind() -> str:
    """Whether the engine runs compiled by mypyc or as its Python source."""
    path = Path(bot.engine.__file__ or "")
    return f"{'pure Python' if path.suffix == '.py' else 'compiled by mypyc'} ({path})"


def machine_speed() -> float:
    """Microseconds for `sum(range(1000))`, the best of 2,000: this VM's speed changes by up to
    2x for minutes at a time (13-14 us in its fast phases, 20-26 us in its slow ones), and every
    figure here moves with it."""
    best = float("inf")
    for _ in range(2000):
        started = time.perf_counter()
        sum(range(1000))
        best = min(best, time.perf_counter() - started)
    return best * 1e6


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


async def latency(service: ConversationService, talkers: Talkers, turns: int,
                  rate: float) -> list[float]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []

    async def one(index: int, event: Event, n: int) -> None:
        arrived = time.perf_counter()  # the message reaches the service now
        await service.handle(talkers.keys[index], event, f"l{n}")
        latencies.append(time.perf_counter() - arrived)

    # Only the turns still running are kept, as a server keeps them: holding every finished
    # task (and its outputs) until the end made each garbage collection walk all of them.
    running: set[asyncio.Task[None]] = set()
    start = loop.time()
    for n in range(turns):
        due = start + n / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        index = n % len(talkers.keys)
        task = asyncio.create_task(one(index, talkers.next_event(index), n))
        running.add(task)
        task.add_done_callback(running.discard)
    await asyncio.gather(*running)
    return latencies


async def run(conversations: int, turns: int, rate: float | None, synchronous: str,
              inline: bool, own_core: bool) -> None:
    speed_before = machine_speed()
    bundle = load_bundle()
    talkers = Talkers(bundle, conversations)
    tune_collector()  # as `lotse run` does
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        store: ConversationStore = (TimedStore(path, synchronous) if inline
                                    else WriterStore(path, synchronous, own_core=own_core))
        service = ConversationService(bundle, store, KeyHasher(b"bench-secret-0123456789abcdef"))
        per_second, cpu_per_turn = await throughput(service, talkers, turns)
        offered = rate or per_second / 2
        latencies = await latency(service, talkers, min(turns, int(offered * 5)), offered)
        rows = store.db.execute(
            "SELECT length(key) + length(coalesce(state, '')) + length(seen) + 8 "
            "FROM conversations").fetchall()
        sizes = [r[0] for r in rows]
        scrubs = list(store.scrubs) if isinstance(store, TimedStore) else []
        store.close()
        file_bytes = path.stat().st_size
    print(f"lotse under test     {_kind()}")
    print(f"machine speed        sum(range(1000)) in {speed_before:.1f} us before, "
          f"{machine_speed():.1f} us after (lower is faster)")
    print(f"conversations        {conversations:,}")
    print(f"sqlite synchronous   {synchronous} (committed before each reply, "
          f"{'in the event loop' if inline else 'by the writer process'})")
    print(f"throughput           {per_second:,.0f} turns/s ({turns:,} turns, closed loop); "
          f"event loop CPU {cpu_per_turn * 1e6:.1f} us/turn")
    print(f"latency at {offered:,.0f}/s   p50 {statistics.median(latencies) * 1000:.3f} ms, "
          f"p99 {percentile(latencies, 0.99):.3f} ms, max {max(latencies) * 1000:.3f} ms "
          f"({len(latencies):,} turns, open loop)")
    if inline:
        print(f"WAL scrubs           {len(scrubs):,} (after a forget), median "
              f"{statistics.median(scrubs or [0]) * 1000:.3f} ms, max "
              f"{max(scrubs or [0]) * 1000:.3f} ms, event loop held meanwhile")
    print(f"stored per conv.     mean {statistics.mean(sizes):,.0f} B, max {max(sizes):,} B "
          f"(row payload); {file_bytes / max(len(sizes), 1):,.0f} B (database file / rows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=50_000)
    parser.add_argument("--rate", type=float, help="turns/s offered in the latency run")
    parser.add_argument("--sync", default="NORMAL", help="SQLite synchronous: NORMAL or FULL")
    parser.add_argument("--writer", action="store_true",
                        help="write from the writer process (writer_process: true)")
    parser.add_argument("--shared-core", action="store_true",
                        help="with --writer: let the scheduler place the writer process (lotse "
                             "run gives it a core of its own)")
    args = parser.parse_args()
    asyncio.run(run(args.conversations, args.turns, args.rate, args.sync, not args.writer,
                    not args.shared_core))


if __name__ == "__main__":
    main()
