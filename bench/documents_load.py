"""Six clients print in a loop while others talk: how long does a normal turn take?

The real web channel (aiohttp on 127.0.0.1), the real service and SQLite in a fresh data folder
each run, as `lotse web` runs them (with the per-conversation rate limit). Meanwhile:

- the printers: `--printers` clients, each from its own address (127.0.0.10, .11, …), reach a
  checklist and write "drucken" as fast as they are answered; when their conversation stops
  giving documents (its rate limit, or the web page's document limits) they begin a new one
  (which `web.new_per_address` rations), so that each keeps asking for documents all the time;
- the talkers: `--talkers` conversations already running (from 127.0.0.3), each sending a
  message every `--every` seconds (open loop), each timed from sending to its answer.

Runs: quiet (no printers), printing with the defaults, and printing without the address's cap
(`web.documents_per_address: 0`; each conversation still makes 10 at most, then the printer
begins another). Code without `web.documents_per_address` (before issue 26, item 13) runs quiet
and printing only. `--threads`: render in one worker thread instead of the worker process.
Printed per run: the talkers' p50/p99, documents made and refused, documents waiting at the end.

Run: python bench/documents_load.py [--seconds 20] [--printers 6] [--talkers 10] [--every 1]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine import percentile
from bench.web_flood import HEADERS, Talkers, running, session, web_page
from bot.config import WebSettings
from bot.flows.checker import load_bundle
from bot.flows.model import Bundle

TO_A_CHECKLIST = ("Nein", "Ich bin Führungskraft", "Nein", "heute")
HAS_LIMITS = "documents_per_address" in {f.name for f in dataclasses.fields(WebSettings)}


@dataclass
class Result(Talkers):
    documents: int = 0
    refused: int = 0
    conversations: int = 0
    waiting: int = 0


async def one_run(bundle: Bundle, seconds: float, printers: int, talkers: int, every: float,
                  limits: bool) -> Result:
    result = Result()
    extra: dict[str, Any] = {} if limits or not HAS_LIMITS else {"documents_per_address": 0}
    with tempfile.TemporaryDirectory() as folder:
        async with web_page(bundle, WebSettings(listen="127.0.0.1:0", **extra),
                            Path(folder)) as channel:
            people = await running(channel.url, talkers)
            try:
                end = time.perf_counter() + seconds
                await asyncio.gather(
                    *[result.talk(channel.url, http, i, talkers, every, end)
                      for i, http in enumerate(people)],
                    *[print_loop(channel.url, result, i, end) for i in range(printers)])
                result.waiting = len(channel._downloads)
            finally:
                for http in people:
                    await http.close()
    return result


async def print_loop(url: str, result: Result, index: int, end: float) -> None:
    """One printer, from its own address: "drucken" at a checklist as fast as it is answered,
    in a new conversation whenever the one it has gives no more documents."""
    async def say(http: aiohttp.ClientSession, text: str) -> dict[str, Any]:
        async with http.post(f"{url}/api/say", json={"text": text},
                             headers=HEADERS) as response:
            return dict(await response.json())

    async with session(f"127.0.0.{10 + index}", True) as http:
        while time.perf_counter() < end:
            http.cookie_jar.clear()  # a new conversation
            async with http.post(f"{url}/api/start", json={}, headers=HEADERS) as response:
                if response.status != 200:
                    await asyncio.sleep(0.5)  # 429: new conversations rationed
                    continue
            result.conversations += 1
            for text in TO_A_CHECKLIST:
                await say(http, text)
            while time.perf_counter() < end:
                data = await say(http, "drucken")
                if not any(o["type"] == "document" for o in data.get("outputs", ())):
                    result.refused += 1
                    break
                result.documents += 1


def show(name: str, result: Result) -> None:
    lat = result.latencies
    print(f"{name:<26} talkers p50 {percentile(lat, 0.5):7.2f} ms  p99 "
          f"{percentile(lat, 0.99):7.2f} ms  ({len(lat):,} turns, {result.talker_failures} "
          f"not 200)")
    if result.conversations:
        print(f"{'':<26} printers: {result.documents:,} documents in {result.conversations:,} "
              f"conversations, {result.refused:,} times no document; "
              f"{result.waiting:,} files waiting at the end")


async def run(seconds: float, printers: int, talkers: int, every: float, threads: bool) -> None:
    bundle = load_bundle()
    if threads:  # one worker thread instead of the worker process: how much the GIL costs
        import bot.channels.document_files as renders

        renders._worker = ThreadPoolExecutor(max_workers=1)
    print(f"{talkers} running conversations, one message every {every:g} s each; {printers} "
          f"clients print in a loop for {seconds:g} s")
    quiet = await one_run(bundle, seconds, 0, talkers, every, True)
    show("quiet", quiet)
    printing = await one_run(bundle, seconds, printers, talkers, every, True)
    show("printing" if HAS_LIMITS else "printing (old code)", printing)
    if HAS_LIMITS:
        show("printing, no address cap", await one_run(bundle, seconds, printers, talkers, every,
                                                   False))
    base = percentile(quiet.latencies, 0.99)
    print(f"ratio printing p99 / quiet p99: {percentile(printing.latencies, 0.99) / base:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--printers", type=int, default=6)
    parser.add_argument("--talkers", type=int, default=10)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between a talker's "
                        "messages (the service lets one conversation send 1 a second)")
    parser.add_argument("--threads", action="store_true", help="render in one worker thread "
                        "instead of the worker process")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, args.printers, args.talkers, args.every, args.threads))


if __name__ == "__main__":
    main()
