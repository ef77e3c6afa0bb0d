"""What the engine reads and writes: conversation state, inbound events, platform-neutral outputs.

All frozen: the engine returns a new state instead of changing one, so a failed turn never leaves
half an update behind, and a channel can never reach into the engine's data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import orjson

SlotValue = str | tuple[str, ...] | None
"""A choice id, free text or ISO date; a tuple for multiple answers and ticks; None = skipped."""


# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    flow: str
    node: str
    path: str = field(init=False, repr=False, compare=False)
    """"flow:node", as stored: written once here, not for every undo step of every save."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", f"{self.flow}:{self.node}")


_MISSING = object()


@dataclass(frozen=True, slots=True)
class Undo:
    """How to take back one answer: where we were, and the slot's value before it."""

    frames: tuple[Frame, ...]
    slot: str
    previous: Any = _MISSING  # a SlotValue, or _MISSING when the slot was empty

    @property
    def had_value(self) -> bool:
        return self.previous is not _MISSING


@dataclass(frozen=True, slots=True)
class State:
    lang: str
    frames: tuple[Frame, ...]
    slots: Mapping[str, SlotValue] = field(default_factory=dict)
    history: tuple[Undo, ...] = ()

    @property
    def here(self) -> Frame:
        return self.frames[-1]


HISTORY_LIMIT = 40


def _frames_text(frames: tuple[Frame, ...]) -> str:
    if len(frames) == 1:
        return frames[0].path
    return "/".join([f.path for f in frames])


def _frames(text: str) -> tuple[Frame, ...]:
    frames = []
    for part in text.split("/"):
        flow, node = part.split(":")
        frames.append(Frame(flow, node))
    return tuple(frames)


def state_to_json(state: State) -> str:
    """Compact JSON: a stored conversation should stay well under 2 KB.

    Each undo step names the place the answer was given, and places repeat (a checklist ticked
    ten times, deep inside a called flow): the history refers by number to a table "t" of the
    distinct places. (Rows written before the table name the place in each step; both read.)
    """
    data: dict[str, Any] = {"l": state.lang, "f": _frames_text(state.frames)}
    slots = state.slots
    if slots:
        # orjson writes a tuple as a list: multiple answers need no copying.
        data["s"] = slots if type(slots) is dict else dict(slots)
    if state.history:
        places: dict[str, int] = {}
        history: list[list[Any]] = []
        for undo in state.history:
            frames = undo.frames
            place = frames[0].path if len(frames) == 1 else _frames_text(frames)
            where = places.get(place)
            if where is None:
                where = places[place] = len(places)
            previous = undo.previous
            history.append([where, undo.slot] if previous is _MISSING
                           else [where, undo.slot, previous])
        data["t"] = _places_text(list(places))
        data["h"] = history
    return orjson.dumps(data).decode()


def _places_text(places: list[str]) -> list[str]:
    """The place table; a place that differs from the one before only in its last node is
    written "~node" (answers given one after another in the same flow)."""
    table = places[:1]
    for before, place in pairwise(places):
        outer, _, last = place.rpartition(":")
        if before.rpartition(":")[0] == outer:
            table.append("~" + last)
        else:
            table.append(place)
    return table


def _places(table: Any) -> list[tuple[Frame, ...]]:
    places: list[tuple[Frame, ...]] = []
    for entry in table:
        text = _text(entry)
        if text.startswith("~") and places:
            before = places[-1]
            places.append((*before[:-1], Frame(before[-1].flow, text[1:])))
        else:
            places.append(_frames(text))
    return places


def _slot(value: Any) -> SlotValue:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None if value is None else str(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, not {type(value).__name__}")
    return value


def state_from_json(text: str) -> State:
    """Raises ValueError (or KeyError/TypeError) for anything that is not a stored state."""
    data = orjson.loads(text)
    frames = _frames(data["f"])
    slots = {str(k): _slot(v) for k, v in data.get("s", {}).items()}
    places = _places(data.get("t", []))
    history = []
    for entry in data.get("h", []):
        where = entry[0]
        if type(where) is int:
            if not 0 <= where < len(places):
                raise IndexError(f"no place {where} in the table")
            undo_frames = places[where]
        else:
            undo_frames = _frames(_text(where))
        if len(entry) > 2:
            history.append(Undo(undo_frames, str(entry[1]), _slot(entry[2])))
        else:
            history.append(Undo(undo_frames, str(entry[1])))
    return State(str(data["l"]), frames, slots, tuple(history))


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """Begin a conversation anew, in `lang` (or the default) with `flow` (or the default)."""

    lang: str | None = None
    flow: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Show where the conversation stands, e.g. when a terminal chat is opened again."""

    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Said:
    """The user wrote something. `lang` is the platform's language hint for new conversations."""

    text: str
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Picked:
    """The user pressed a button: choice `choice` of node `node` in flow `flow`."""

    flow: str
    node: str
    choice: str
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Reopen:
    """A reminder fell due: open `flow` (at `node`, else its start) with the reminder's id in
    the slot `reminder` and, for a deadline, its date in `reminder_date`."""

    flow: str
    node: str | None
    reminder: str
    date: str | None = None
    lang: str | None = None


Event = Start | Resume | Said | Picked | Reopen


# --- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Option:
    number: int
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Question:
    """A question waiting for an answer. No options: a free answer (`kind` text or date)."""

    text: str
    flow: str
    node: str
    options: tuple[Option, ...] = ()
    multiple: bool = False
    kind: str = "choice"  # "choice", "text" or "date"
    hint: str = ""
    optional: bool = False
    """A free answer that may be skipped (a channel with buttons offers one for it)."""


@dataclass(frozen=True, slots=True)
class ContactCard:
    id: str
    name: str
    phone: str | None = None
    web: str | None = None
    email: str | None = None
    hours: str | None = None
    note: str | None = None
    checked: str | None = None
    """When the details were last checked, as a date in the conversation's language."""


@dataclass(frozen=True, slots=True)
class CardLabels:
    phone: str
    web: str
    email: str
    hours: str
    checked: str


@dataclass(frozen=True, slots=True)
class Contacts:
    cards: tuple[ContactCard, ...]
    labels: CardLabels


@dataclass(frozen=True, slots=True)
class Tick:
    number: int
    id: str
    text: str
    done: bool


@dataclass(frozen=True, slots=True)
class ChecklistView:
    title: str
    flow: str
    node: str
    items: tuple[Tick, ...]
    progress: str
    hint: str


@dataclass(frozen=True, slots=True)
class Document:
    """A document for the user to keep. Channels deliver it; Lotse keeps no copy."""

    title: str
    file: str
    fields: tuple[tuple[str, str], ...]
    created: dt.datetime
    lang: str


@dataclass(frozen=True, slots=True)
class Ended:
    """The conversation is over; `erased`: the user asked to forget everything."""

    erased: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """An anonymous report the user confirmed: enumerated answers and months, nothing else.

    For the service to store; channels never see it.
    """

    flow: str
    flow_version: int
    answers: tuple[tuple[str, str], ...]
    """(field, value) pairs; a field answered with several choices appears once per choice."""
    incident_month: str | None
    report_month: str


@dataclass(frozen=True, slots=True)
class Reminders:
    """Reminders the user asked for, or (`cancel`) the end of all of them.

    For the service to store; channels never see it. `items` are (kind, due) pairs: kind is
    "<flow>.<reminder id>" and names its definition in the flows; due is in UTC.
    """

    items: tuple[tuple[str, dt.datetime], ...]
    lang: str
    cancel: bool = False


Output = Say | Question | Contacts | ChecklistView | Document | Ended | Report | Reminders
