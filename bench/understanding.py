"""Reading a whole message (issue #23, items 1 and 2) on tests/corpus/utterances.yaml.

(a) per slot: the share of messages read right (the expected value, or nothing where none is
    expected), precision and recall, as tests/test_understanding.py counts them;
(b) time per message: every corpus message read --rounds times once the cues are compiled;
    p50 and p99 over all readings, and the first reading with the cues compiled on the way;
(c) resident memory the reading adds: RSS after reading the corpus minus RSS with the flows
    loaded, and what Python keeps allocated by a reading from cold caches (tracemalloc): the
    compiled cue patterns.

Targets: (b) p99 <= 2 ms, (c) <= 60 MB. Run: python bench/understanding.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.engine import danger
from bot.engine.understanding import read_message
from bot.flows.checker import load_bundle
from tests.corpus_scores import SLOTS, corpus, score


def rss_mb() -> float:
    """The process's resident memory now (Linux: /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    bundle = load_bundle()
    now, messages = corpus()
    texts = [m["text"] for m in messages]
    before = rss_mb()
    start = time.perf_counter()
    for text in texts:
        read_message(bundle, text, now)
    first = time.perf_counter() - start
    added = rss_mb() - before
    # Once more from cold caches, counting what Python keeps allocated (RSS moves in pages).
    danger._ready_cached.cache_clear()
    danger._pattern.cache_clear()
    re.purge()
    tracemalloc.start()
    for text in texts:
        read_message(bundle, text, now)
    kept = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    times: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            t0 = time.perf_counter()
            read_message(bundle, text, now)
            times.append(time.perf_counter() - t0)
    cuts = statistics.quantiles(times, n=100)
    print(f"corpus: {len(texts)} messages")
    print(f"{'slot':<14} {'correct':>8} {'precision':>10} {'recall':>8} {'false':>6}")
    for slot, s in score(bundle).items():
        assert slot in SLOTS
        print(f"{slot:<14} {s.share:8.1%} {s.precision:10.1%} {s.recall:8.1%} {s.false:6}")
    print(f"time per message: p50 {cuts[49] * 1e3:.3f} ms, p99 {cuts[98] * 1e3:.3f} ms, "
          f"max {max(times) * 1e3:.3f} ms (target p99 <= 2 ms); first pass over the corpus, "
          f"cues compiled on the way: {first * 1e3:.0f} ms")
    print(f"resident memory the reading adds: {added:.1f} MB RSS, {kept:.2f} MB kept by Python "
          "(compiled cues) (target <= 60 MB)")


if __name__ == "__main__":
    main()
