"""One user floods Lotse while 100 others talk: do the others notice?

Three runs through the real service and SQLite (a fresh data folder each):

1. quiet: 100 users talk at a steady rate (open loop), each message timed from the moment it
   reaches the service until its reply is released;
2. flood, rate limit on (bot/service/ratelimit.py, as a public channel runs it): the same 100 users,
   and one more sending 10,000 messages as fast as a channel could hand them over;
3. flood, no rate limit: the same, to show what the limit is for.

Printed: the 100 users' p50/p99 in each run, the ratio flood p99 / quiet p99 (the issue asks
for <= 2), how many of the flood's messages were refused and how many notices it got, and the
peak resident memory of the process. The ratio is the figure to compare from one version to
the next; the absolute times depend on the machine.

Run: python bench/flood.py [--users 100] [--flood 10000] [--rate 400] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine import Talkers, percentile
from bot.engine.conversation import Event, Output, Said, Say
from bot.flows.checker import load_bundle
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from bot.service.ratelimit import RateLimit
from storage import StateStore


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    flood_sent: int = 0
    flood_answered: int = 0
    flood_notices: int = 0
    flood_silent: int = 0
    flood_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    limiter_buckets: int = 0


async def one_run(bundle: Bundle, users: int, flood: int, rate: float, seconds: float,
                  limit: bool) -> Result:
    result = Result()
    with tempfile.TemporaryDirectory() as folder:
        store = StateStore(Path(folder) / "state.db")
        service = ConversationService(bundle, store, KeyHasher(b"flood-bench-secret-0123456789ab"))
        if limit:
            service.rate_limit = RateLimit()
        talkers = Talkers(bundle, users, "calm")
        loop = asyncio.get_running_loop()

        async def calm(index: int, event: Event, n: int) -> None:
            arrived = time.perf_counter()
            await service.handle(talkers.keys[index], event, f"c{n}")
            result.latencies.append(time.perf_counter() - arrived)

        def flooded(outputs: tuple[Output, ...]) -> None:
            if not outputs:
                result.flood_silent += 1
            elif outputs == (Say(bundle.text("rate_limited", "de")),):
                result.flood_notices += 1
            else:
                result.flood_answered += 1

        async def flooder() -> None:
            # As fast as a channel hands messages over: a new one whenever the loop is free.
            key = ConversationKey("bench", "flooder")
            pending = set()
            started = time.perf_counter()
            for n in range(flood):
                task = asyncio.create_task(service.handle(key, Said(f"spam {n}"), f"f{n}"))
                task.add_done_callback(lambda t: flooded(t.result()))
                pending.add(task)
                task.add_done_callback(pending.discard)
                result.flood_sent += 1
                await asyncio.sleep(0)
            await asyncio.gather(*pending)
            result.flood_seconds = time.perf_counter() - started

        running: set[asyncio.Task[None]] = set()  # only those still running
        turns = int(rate * seconds)
        flood_task = None
        start = loop.time()
        for n in range(turns):
            if flood and flood_task is None and n == turns // 5:
                flood_task = asyncio.create_task(flooder())  # after a fifth of the calm run
            due = start + n / rate
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            index = n % users
            task = asyncio.create_task(calm(index, talkers.next_event(index), n))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)
        if flood_task is not None:
            await flood_task
        result.limiter_buckets = len(service.rate_limit) if service.rate_limit else 0
        store.close()
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def show(name: str, result: Result) -> None:
    lat = result.latencies
    print(f"{name:<22} users p50 {percentile(lat, 0.5):7.3f} ms  p99 {percentile(lat, 0.99):7.3f} "
          f"ms  max {max(lat) * 1000:8.3f} ms  ({len(lat):,} turns)  peak RSS "
          f"{result.peak_rss_mb:,.0f} MB")
    if result.flood_sent:
        print(f"{'':<22} flood: {result.flood_sent:,} sent in {result.flood_seconds:.2f} s, "
              f"{result.flood_answered:,} answered, {result.flood_notices:,} rate-limit "
              f"notice(s), {result.flood_silent:,} dropped without a word")


async def run(users: int, flood: int, rate: float, seconds: float) -> None:
    bundle = load_bundle()
    quiet = await one_run(bundle, users, 0, rate, seconds, limit=True)
    limited = await one_run(bundle, users, flood, rate, seconds, limit=True)
    unlimited = await one_run(bundle, users, flood, rate, seconds, limit=False)
    print(f"{users} users at {rate:,.0f} messages/s for {seconds:.0f} s; one more sends "
          f"{flood:,} messages")
    show("quiet", quiet)
    show("flood, rate limit", limited)
    show("flood, no rate limit", unlimited)
    base = percentile(quiet.latencies, 0.99)
    print(f"ratio flood p99 / quiet p99: {percentile(limited.latencies, 0.99) / base:.2f} with "
          f"the rate limit (target <= 2), {percentile(unlimited.latencies, 0.99) / base:.2f} "
          "without")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=400.0, help="the users' messages/s")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    asyncio.run(run(args.users, args.flood, args.rate, args.seconds))


if __name__ == "__main__":
    main()
