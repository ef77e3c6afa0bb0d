"""Durable turns through the conversation service: 1,000 conversations, SQLite in a temp folder.

Every turn goes through the real ConversationService over a real StateStore: the state is
loaded, the engine runs, and the turn is committed to SQLite before its reply returns.
Each conversation follows a plausible script through the shipped flows (tests.helpers), and
starts again when its script is done.

(a) closed loop: all conversations talk as fast as they can, --turns in all: turns/s.
(b) open loop: --rate messages a second, spread over the conversations in turn, for --seconds;
    each timed from the moment it was due until its reply returned: p50 and p99. A late start
    counts, the sender's own included (asyncio's timer wakes it up to a millisecond late).
(c) bytes stored per conversation: the database files after the run, per conversation.

Targets (issue #22, on a 2-core machine): (a) >= 2,000 turns/s, (b) p99 <= 10 ms at 500/s.
Run: python bench/engine.py [--conversations 1000] [--turns 50000] [--rate 500] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.engine.conversation import Event, Said, Start
from bot.flows.checker import load_bundle
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from tests.helpers import random_script


class Talkers:
    """Conversations, each on a script of its own: its next event, over and over."""

    def __init__(self, bundle: Bundle, count: int, name: str = "user") -> None:
        self.scripts = [random_script(bundle, seed) for seed in range(count)]
        self.keys = [ConversationKey("bench", f"{name}-{i}") for i in range(count)]
        self.position = [0] * count

    def next_event(self, index: int) -> Event:
        script, position = self.scripts[index], self.position[index]
        self.position[index] = position + 1 if position < len(script) else 0
        return Start() if position == 0 else Said(script[position - 1])


def show(what: str, figure: str, target: str = "") -> None:
    print(f"{what:<16} {figure:<72} {'target ' + target if target else ''}".rstrip())


def percentile(seconds: list[float], share: float) -> float:
    """The `share` percentile of `seconds`, in milliseconds."""
    return sorted(seconds)[min(len(seconds) - 1, int(len(seconds) * share))] * 1000


async def closed_loop(service: ConversationService, talkers: Talkers, turns: int) -> float:
    """Turns/s with every conversation sending its next message as soon as it has a reply."""
    each = turns // len(talkers.keys)

    async def talk(index: int) -> None:
        for n in range(each):
            await service.handle(talkers.keys[index], talkers.next_event(index), f"a{index}-{n}")

    started = time.perf_counter()
    await asyncio.gather(*(talk(i) for i in range(len(talkers.keys))))
    return each * len(talkers.keys) / (time.perf_counter() - started)


async def open_loop(service: ConversationService, talkers: Talkers, rate: float,
                    seconds: float) -> tuple[list[float], list[float]]:
    """Seconds from due to reply of each message, sent at `rate` whether or not replies came;
    and how late the sender handed each one over (part of the first)."""
    latencies: list[float] = []
    late: list[float] = []

    async def turn(n: int, due: float) -> None:
        index = n % len(talkers.keys)
        await service.handle(talkers.keys[index], talkers.next_event(index), f"b{n}")
        latencies.append(time.perf_counter() - due)

    tasks = []
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        due = started + n / rate
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        late.append(time.perf_counter() - due)
        tasks.append(asyncio.create_task(turn(n, due)))
    await asyncio.gather(*tasks)
    return latencies, late


async def run(args: argparse.Namespace) -> None:
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), "
          f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores, asyncio.run; "
          f"{args.conversations:,} conversations, synchronous={args.sync}")
    bundle = load_bundle()
    talkers = Talkers(bundle, args.conversations)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        store = StateStore(path, synchronous=args.sync)
        service = ConversationService(bundle, store, KeyHasher(b"bench-secret-0123456789abcdef"))
        try:
            turns = args.turns // args.conversations * args.conversations
            per_second = await closed_loop(service, talkers, turns)
            show("(a) closed loop", f"{per_second:,.0f} turns/s ({turns:,} turns)",
                 ">= 2,000 turns/s")
            latencies, late = await open_loop(service, talkers, args.rate, args.seconds)
        finally:
            store.close()
        show("(b) open loop", f"p99 {percentile(latencies, 0.99):.2f} ms, p50 "
             f"{statistics.median(latencies) * 1000:.2f} ms, max {max(latencies) * 1000:.1f} ms "
             f"({len(latencies):,} turns offered at {args.rate:,.0f}/s)", "p99 <= 10 ms")
        show("    sender late", f"p99 {percentile(late, 0.99):.2f} ms, p50 "
             f"{statistics.median(late) * 1000:.2f} ms handing a message over (counted in (b))")
        files = {p.name: p.stat().st_size for p in sorted(Path(folder).iterdir())}
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute("SELECT count(*) FROM conversations").fetchone()[0]
    stored = sum(files.values())
    show("(c) stored", f"{stored / rows:,.0f} B per conversation ({stored:,} B in "
         f"{' + '.join(files)}, {rows:,} conversations)", "none in #22")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=50_000, help="closed loop, in all")
    parser.add_argument("--rate", type=float, default=500.0, help="open loop, turns/s offered")
    parser.add_argument("--seconds", type=float, default=8.0, help="open loop, how long")
    parser.add_argument("--sync", default="NORMAL", help="SQLite synchronous: NORMAL or FULL")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
