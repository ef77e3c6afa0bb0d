"""The corpus of what people write (tests/corpus/utterances.yaml) scored against the reader of
whole messages, per slot: shared by tests/test_understanding.py and bench/understanding.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.engine.answers import match_choice, match_choices
from bot.engine.understanding import Understood, read_message
from bot.flows.model import Ask, Bundle

CORPUS = Path(__file__).parent / "corpus" / "utterances.yaml"
SLOTS = ("danger", "role", "injured", "kinds", "motive", "channel", "platform", "when",
         "repeated", "address_known")
"""The corpus's slots the reader fills (not `learned` nor `answer`: those are answers to
their own questions)."""
QUESTION_SLOT = {"employee.safety": "danger", "supervisor.acute": "danger",
                 "employee.role": "role", "employee.injured": "injured",
                 "employee.kind": "kinds", "employee.channel": "channel"}
"""A question of the corpus's `at` -> the slot its own answer fills."""
DATE_QUESTIONS = ("supervisor.learned",)
"""Questions for another day than the incident's."""


def corpus() -> tuple[dt.datetime, list[dict[str, Any]]]:
    data = yaml.safe_load(CORPUS.read_text("utf-8"))
    return data["now"], data["messages"]


def expected(message: dict[str, Any], slot: str) -> object:
    value = message["expect"].get(slot)
    if slot in ("kinds", "motive") and value is not None:
        return frozenset(value)
    return value


def answered(bundle: Bundle, message: dict[str, Any], understood: Understood) -> dict[str, object]:
    """The reader's slots for a message; at a question, the question's own slot also takes
    what typing the answer there gives today (a "ja" at the safety question is danger) when
    the message does not say it in words the reader knows."""
    got: dict[str, object] = {slot: getattr(understood, slot) for slot in SLOTS}
    for slot in ("kinds", "motive"):
        got[slot] = got[slot] or None
    if message.get("at") in DATE_QUESTIONS:
        got["when"] = None  # the day answers that question, not "when did it happen"
    own = QUESTION_SLOT.get(message.get("at") or "")
    if own is not None and got[own] is None:
        flow, node = message["at"].split(".")
        ask = bundle.flows[flow].nodes[node]
        assert isinstance(ask, Ask)
        if own == "kinds":
            picked = match_choices(ask, message["text"])
            got[own] = frozenset(picked) if picked else None
        else:
            choice = match_choice(ask, message["text"])
            got[own] = {"yes": True, "no": False}.get(choice or "") if own == "danger" \
                else choice
    return got


@dataclass
class Score:
    """One slot over the corpus."""

    messages: int = 0
    correct: int = 0
    said: int = 0
    """Messages whose `expect` has the slot."""
    hits: int = 0
    given: int = 0
    """Messages the reader gave the slot for."""
    misses: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.correct / self.messages

    @property
    def recall(self) -> float:
        return self.hits / self.said if self.said else 1.0

    @property
    def precision(self) -> float:
        return self.hits / self.given if self.given else 1.0

    @property
    def false(self) -> int:
        """Values given that are not the expected one (where one was expected or none)."""
        return self.given - self.hits


def score(bundle: Bundle) -> dict[str, Score]:
    now, messages = corpus()
    scores = {slot: Score() for slot in SLOTS}
    for message in messages:
        got = answered(bundle, message, read_message(bundle, message["text"], now))
        for slot in SLOTS:
            want, have = expected(message, slot), got[slot]
            s = scores[slot]
            s.messages += 1
            s.said += want is not None
            s.given += have is not None
            s.hits += want is not None and have == want
            if have == want:
                s.correct += 1
            else:
                s.misses.append(f"{slot}: want {_show(want)}, got {_show(have)}: "
                                f"{message['text']}")
    return scores


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(value)) + "}"
    return str(value)
