"""Fuzzing the conversation service: several users, duplicates, restarts, expiry, damaged rows.

Every turn is compared with the pure engine run on the state the store held before it (the
model), so the service may neither crash, nor lose or invent a step, nor store a report that is
not exactly the one the engine produced.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.conversation import Ended, Reminders, Report, Said, State, state_from_json
from bot.engine.turn import step
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from storage.report_store import ReportStore

from ..helpers import NOW, SECRET, Clock
from . import figures
from .fuzz import SHIPPED, Act, check_report, check_state, noisy_walk, resolve

pytestmark = pytest.mark.robustness

USERS = (ConversationKey("telegram", "1001"), ConversationKey("matrix", "@a:city.example"),
         ConversationKey("web", "\ud800 odd \x00 id"), ConversationKey("console", ""))


@dataclass
class World:
    """The service under test, its stores, and what the model expects."""

    store: StateStore
    reports: ReportStore
    clock: Clock
    service: ConversationService
    expected_reports: int = 0

    def restart(self) -> None:
        self.service = ConversationService(SHIPPED, self.store, KeyHasher(SECRET), self.clock,
                                           reports=self.reports)


def world() -> World:
    store, reports, clock = StateStore(None), ReportStore(None), Clock()
    return World(store, reports, clock,
                 ConversationService(SHIPPED, store, KeyHasher(SECRET), clock, reports=reports))


def stored(w: World, key: ConversationKey) -> tuple[State | None, bool]:
    """The state the store holds for `key` (None when none, unreadable or expired), and whether
    the row was a damaged one that the service must survive rather than continue."""
    row = w.store.load(w.service.hasher(key))
    if row is None or row.state is None or row.expires_at < w.clock().timestamp():
        return None, False
    try:
        return state_from_json(row.state), False
    except Exception:
        return None, True


def damaged_state(rng: random.Random) -> str:
    """A row as an older Lotse, a half-migrated database or a careless admin might leave it."""
    flows = sorted(SHIPPED.flows)
    flow = rng.choice([*flows, "gone"])
    nodes = sorted(SHIPPED.flows[flow].nodes) if flow in SHIPPED.flows else ["gone"]
    frames = "/".join(f"{rng.choice([flow, 'gone'])}:{rng.choice(nodes)}"
                      for _ in range(rng.randrange(1, 4)))
    slot_names = ["kind", "channel", "motive", "threat_level", "incident_date", "x", ""]
    values = ["threat", "phone", "Frau Müller", "", None, ["racist", "Frau Müller"], 7, {"a": 1},
              "2026-11-24", "nope_value"]
    candidates: list[object] = [
        {"l": rng.choice(["de", "en", "fr", 3]), "f": frames,
         "s": {rng.choice(slot_names): rng.choice(values) for _ in range(rng.randrange(5))},
         "h": rng.choice([[], [[frames, "kind"]], [[frames]], [5], "x", [["", "kind", "a"]]])},
        {"l": "de", "f": rng.choice([5, None, "", ":", "a:b:c", frames])},
        {"l": "de", "f": frames, "s": rng.choice([[], "x", 5, None])},
        [], "x", 5, None,
    ]
    choice = rng.choice(candidates)
    return rng.choice([orjson.dumps(choice).decode(), "{not json", "", "\x00"])


async def play(w: World, rng: random.Random, steps: int, noise: float) -> None:
    walks = {key: noisy_walk(SHIPPED, random.Random(rng.random()), noise) for key in USERS}
    last_id: dict[ConversationKey, str] = {}
    for n in range(steps):
        key = rng.choice(USERS)
        roll = rng.random()
        if roll < 0.02:
            w.restart()
            continue
        if roll < 0.04:
            w.clock.now += rng.choice([dt.timedelta(minutes=5), dt.timedelta(hours=25),
                                       dt.timedelta(days=400)])
            if w.clock.now - NOW > dt.timedelta(hours=24):
                last_id.clear()  # expired conversations forget their event ids too
            continue
        if roll < 0.05:
            w.store.save(w.service.hasher(key), damaged_state(rng), rng.choice(["[]", "{", ""]),
                         int(w.clock().timestamp()), int(w.clock().timestamp()) + 3600)
            w.store.commit()
            w.restart()
            last_id.pop(key, None)
            continue
        if roll < 0.08 and key in last_id:
            again = await w.service.handle(key, Said("ja"), last_id[key])
            assert again == (), "a duplicate was handled twice"
            figures.count("service: duplicates dropped")
            continue
        before, damaged = stored(w, key)
        act = next(walks[key])
        if roll < 0.10:
            act = Act("start", flow=rng.choice([None, *SHIPPED.flows]))
        event = resolve(SHIPPED, before, act)
        event_id = rng.choice([None, f"{n}", f"\ud800{n}"])
        outputs = await w.service.handle(key, event, event_id)
        figures.count("service: steps fuzzed")
        assert outputs, f"no answer to {event!r}"
        if event_id is not None:
            last_id[key] = event_id
        if any(isinstance(o, Ended) and o.erased for o in outputs):
            last_id.pop(key, None)  # forget erases the event ids with everything else
        after, _ = stored(w, key)
        if after is not None:
            check_state(SHIPPED, after)
        if damaged:
            continue  # survived, and started afresh or went on: nothing more to compare
        model = step(SHIPPED, before, event, w.clock())
        assert after == model.state, (event, before)
        assert outputs == tuple(o for o in model.outputs if not _internal(o))
        made = [o for o in model.outputs if isinstance(o, Report)]
        for report in made:
            check_report(SHIPPED, report, w.clock())
        w.expected_reports += len(made)
        assert w.reports.count() == w.expected_reports, "a report was lost or doubled"
    figures.count("service: reports stored", w.expected_reports)


def _internal(output: object) -> bool:
    """Outputs for the service to store, never passed on to a channel."""
    return isinstance(output, (Report, Reminders))


EXAMPLES = figures.scaled(20, 200)
"""300 steps each: 6,000 in the fast subset, 60,000 in the full run."""


@figures.fuzz_settings(EXAMPLES)
@given(rng=st.randoms(use_true_random=False), noise=st.sampled_from([0.05, 0.2]))
def test_the_service_matches_the_engine_through_restarts_duplicates_and_damage(
        rng: random.Random, noise: float) -> None:
    w = world()
    asyncio.run(play(w, rng, 300, noise))
    assert len(w.service.locks) == 0
