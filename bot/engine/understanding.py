"""Reading a whole message (#23, items 1 and 2): what one free-text message says about every
slot the flows can use — who writes, injury, kinds, motive, channel, platform, the day,
repeated, the home address known, danger right now — so that Lotse can later confirm it once and
ask only what is missing. Pure and deterministic: no network, nothing stored.

Theory of operation. The cues are content (`cues:` beside the choices, a flow's `understand:`
block), gathered per slot by the checker into `Bundle.cues`. A message is cut into words once
(bot.engine.danger.Tokens) and each value's cues are found exactly as danger cues are (whole
words, '*' at a word's ends, 'a + b' in one clause, a negation before a cue turns it around).
A slot of several answers (kinds, motive) takes every value found. A slot of one answer takes
one: a value found only inside the words of another's cue gives way ("nicht verletzt" is no
"verletzt"), then the value whose cue stands on the longest words wins ("am Nachbarschalter"
over "Kollege"), then the first named. A named platform makes the channel online. The day is
`dates_read.find_date`, "ask" for "12/3"; danger is `danger.read_danger`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from bot.engine.danger import Tokens, cue_spans, read_danger
from bot.engine.dates_read import DateError, find_date
from bot.flows.model import Bundle, SlotCues

MULTIPLE = {"kind": "kinds", "motive": "motive"}
"""Flow slot -> field of `Understood`, for the slots that hold several answers."""
SINGLE = {"role": "role", "injured": "injured", "channel": "channel", "platform": "platform"}
"""The slots of one answer, as choice ids."""
FLAGS = {"repeated": "repeated", "address_known": "address_known"}
"""The slots of one answer read as true ("yes") or false ("no")."""
ONLINE = "online"
"""The channel a named platform implies."""


@dataclass(frozen=True, slots=True)
class Understood:
    """What one message says; None (or empty) for what it does not say."""

    role: str | None = None
    injured: str | None = None
    kinds: frozenset[str] = frozenset()
    motive: frozenset[str] = frozenset()
    channel: str | None = None
    platform: str | None = None
    when: dt.date | Literal["ask"] | None = None
    """The incident's day; "ask" when it could be two days ("12/3")."""
    repeated: bool | None = None
    address_known: bool | None = None
    danger: bool | None = None
    """True: danger right now; False: an explicit "no danger now"."""


@dataclass(frozen=True, slots=True)
class _Found:
    value: str
    start: int
    end: int
    size: int
    """How long the words it stands on are: the longer, the more it says."""


def read_message(bundle: Bundle, text: str, now: dt.datetime) -> Understood:
    """Everything `text` says that the flows of `bundle` can use, on the day of `now` (its
    day in German time)."""
    tokens = Tokens(text)
    read: dict[str, object] = {}
    for slot in bundle.cues:
        found = _find(slot, tokens)
        if not found:
            continue
        if slot.slot in MULTIPLE:
            read[MULTIPLE[slot.slot]] = frozenset(f.value for f in found)
        elif slot.slot in SINGLE:
            read[SINGLE[slot.slot]] = _one(found)
        elif slot.slot in FLAGS:
            read[FLAGS[slot.slot]] = _one(found) == "yes"
    if read.get("platform") is not None:  # WhatsApp on the work phone is online too
        read["channel"] = ONLINE
    return Understood(**read, when=_when(text, now),  # type: ignore[arg-type]
                      danger=read_danger(bundle.danger, text))


def read_slot(bundle: Bundle, slot: str, text: str) -> tuple[str, ...]:
    """The values `text` names for `slot` alone, as read above: every one for a slot of
    several answers, in the order they are written, else the one it takes; () for none."""
    cues = next((c for c in bundle.cues if c.slot == slot), None)
    found = _find(cues, Tokens(text)) if cues is not None else []
    if not found:
        return ()
    if slot in bundle.multiple_slots:
        return tuple(dict.fromkeys(f.value for f in sorted(found, key=lambda f: f.start)))
    return (_one(found),)


def _find(slot: SlotCues, tokens: Tokens) -> list[_Found]:
    return [_Found(value, start, end, len(" ".join(tokens.words[start:end])))
            for value, cues in slot.values
            for start, end in cue_spans(cues, tokens)]


def _one(found: list[_Found]) -> str:
    """The one value a slot of one answer takes among those found."""
    outer = [f for f in found
             if not any(o.value != f.value and o.start <= f.start and f.end <= o.end
                        and o.size > f.size for o in found)]
    return min(outer, key=lambda f: (-f.size, f.start)).value


def _when(text: str, now: dt.datetime) -> dt.date | Literal["ask"] | None:
    try:
        return find_date(text, now)  # a datetime: its day in German time
    except DateError as err:
        return "ask" if err.reason == "ambiguous" else None
