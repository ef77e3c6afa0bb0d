"""One client floods the web page with new conversations while others talk: do they notice?

The real web channel (aiohttp on 127.0.0.1), the real service and SQLite in a fresh data folder
each run, as `lotse web` runs them (with the per-conversation rate limit). Meanwhile:

- the flood: one client at 127.0.0.2 (not a proxy address) posts `/api/start` without ever
  sending a cookie back, from `--connections` connections at once, as fast as it is answered;
- the talkers: `--talkers` conversations already running (from 127.0.0.3), each sending a
  message every `--every` seconds (open loop), each timed from sending to its answer.

Three runs: quiet (no flood), flood with the caps (the defaults of `web.new_per_address` and
`web.new_per_minute`), flood with both caps off (what issue 26 measured). Printed per run: the
talkers' p50/p99, the new conversations the flood got and the 429s, the state's size on disk.
Compare the ratio flood p99 / quiet p99; absolute times depend on the machine.

Run: python bench/web_flood.py [--seconds 15] [--talkers 20] [--every 2] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine import percentile
from bot.channels.web.server import WebChannel
from bot.config import WebSettings
from bot.flows.checker import load_bundle
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import KeyHasher
from bot.service.ratelimit import RateLimit
from storage import StateStore

HEADERS = {"X-Lotse": "1"}


@dataclass
class Talkers:
    """The conversations already running: each turn's time from sending to its answer."""

    latencies: list[float] = field(default_factory=list)
    talker_failures: int = 0

    async def talk(self, url: str, http: aiohttp.ClientSession, index: int, talkers: int,
                   every: float, end: float) -> None:
        """One talker: "hilfe" every `every` seconds (open loop) until `end`, spread evenly
        with the others over the period."""
        await asyncio.sleep(every * index / talkers)
        due = time.perf_counter()
        while due < end:
            sent = time.perf_counter()
            async with http.post(f"{url}/api/say", json={"text": "hilfe"},
                                 headers=HEADERS) as response:
                await response.read()
                if response.status != 200:
                    self.talker_failures += 1
            self.latencies.append(time.perf_counter() - sent)
            due += every
            await asyncio.sleep(max(0.0, due - time.perf_counter()))


@dataclass
class Result(Talkers):
    flood_sent: int = 0
    flood_begun: int = 0
    flood_refused: int = 0
    state_kb: float = 0.0


def session(address: str, cookies: bool) -> aiohttp.ClientSession:
    jar: aiohttp.abc.AbstractCookieJar = (aiohttp.CookieJar(unsafe=True) if cookies
                                          else aiohttp.DummyCookieJar())
    return aiohttp.ClientSession(cookie_jar=jar, connector=aiohttp.TCPConnector(
        local_addr=(address, 0), limit=0))


async def running(url: str, count: int) -> list[aiohttp.ClientSession]:
    """`count` browsers at 127.0.0.3, each with a conversation begun; the caller closes them."""
    people = [session("127.0.0.3", True) for _ in range(count)]
    for http in people:
        async with http.post(f"{url}/api/start", json={}, headers=HEADERS) as response:
            await response.read()
    return people


@contextlib.asynccontextmanager
async def web_page(bundle: Bundle, settings: WebSettings, folder: Path,
                   ) -> AsyncIterator[WebChannel]:
    """The web channel as `lotse web` runs it (the per-conversation rate limit on), over a
    state database in `folder`, serving until the block ends."""
    store = StateStore(folder / "state.db")
    service = ConversationService(bundle, store, KeyHasher(b"web-bench-secret-0123456789abcd"))
    service.rate_limit = RateLimit()
    channel = WebChannel(service, settings)
    stop = asyncio.Event()
    server = asyncio.create_task(channel.run(stop))
    try:
        await asyncio.wait_for(channel.ready.wait(), 10)
        yield channel
    finally:
        stop.set()
        await server
        store.close()


async def one_run(bundle: Bundle, seconds: float, talkers: int, every: float, connections: int,
                  flood: bool, caps: bool) -> Result:
    result = Result()
    settings = WebSettings(listen="127.0.0.1:0") if caps else WebSettings(
        listen="127.0.0.1:0", new_per_address=0, new_per_minute=0)
    with tempfile.TemporaryDirectory() as folder:
        async with web_page(bundle, settings, Path(folder)) as channel:
            await flood_run(channel.url, result, seconds, talkers, every, connections, flood)
        result.state_kb = sum(p.stat().st_size for p in Path(folder).iterdir()) / 1024
    return result


async def flood_run(url: str, result: Result, seconds: float, talkers: int, every: float,
                    connections: int, flood: bool) -> None:
    end = time.perf_counter() + seconds

    async def flooder(http: aiohttp.ClientSession) -> None:
        while time.perf_counter() < end:
            async with http.post(f"{url}/api/start", json={}, headers=HEADERS) as response:
                await response.read()
            result.flood_sent += 1
            if response.status == 200:
                result.flood_begun += 1
            elif response.status == 429:
                result.flood_refused += 1

    people = await running(url, talkers)  # their conversations run before the flood begins
    try:
        end = time.perf_counter() + seconds
        async with session("127.0.0.2", False) as attacker:
            tasks = [result.talk(url, http, i, talkers, every, end)
                     for i, http in enumerate(people)]
            if flood:
                tasks += [flooder(attacker) for _ in range(connections)]
            await asyncio.gather(*tasks)
    finally:
        for http in people:
            await http.close()


def show(name: str, result: Result, seconds: float) -> None:
    lat = result.latencies
    print(f"{name:<18} talkers p50 {percentile(lat, 0.5):7.2f} ms  p99 "
          f"{percentile(lat, 0.99):7.2f} ms  ({len(lat):,} turns, {result.talker_failures} "
          f"not 200)  state {result.state_kb:,.0f} KB")
    if result.flood_sent:
        print(f"{'':<18} flood: {result.flood_sent:,} requests in {seconds:.0f} s, "
              f"{result.flood_begun:,} new conversations, {result.flood_refused:,} refused (429)")


async def run(seconds: float, talkers: int, every: float, connections: int) -> None:
    bundle = load_bundle()
    quiet = await one_run(bundle, seconds, talkers, every, connections, False, True)
    capped = await one_run(bundle, seconds, talkers, every, connections, True, True)
    uncapped = await one_run(bundle, seconds, talkers, every, connections, True, False)
    defaults = WebSettings()
    print(f"{talkers} running conversations, one message every {every:g} s each; one client "
          f"floods /api/start from {connections} connections for {seconds:g} s; caps "
          f"{defaults.new_per_address} per address per {defaults.new_per_address_minutes:g} "
          f"min, {defaults.new_per_minute} a minute overall")
    show("quiet", quiet, seconds)
    show("flood, caps", capped, seconds)
    show("flood, no caps", uncapped, seconds)
    base = percentile(quiet.latencies, 0.99)
    print(f"ratio flood p99 / quiet p99: {percentile(capped.latencies, 0.99) / base:.2f} with "
          f"the caps, {percentile(uncapped.latencies, 0.99) / base:.2f} without")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--talkers", type=int, default=20)
    parser.add_argument("--every", type=float, default=2.0, help="seconds between a talker's "
                        "messages (the service lets one conversation send 1 a second)")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.talkers, args.every, args.connections))


if __name__ == "__main__":
    main()
