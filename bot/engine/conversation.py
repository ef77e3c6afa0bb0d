"""What the engine reads and writes: conversation state, inbound events, platform-neutral outputs.
All frozen, so a failed turn never leaves half an update and no channel reaches into the state."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import orjson

from bot.dates import format_date
from bot.flows.model import Bundle, Step
from bot.flows.texts import fill

SlotValue = str | tuple[str, ...] | None
"""A choice id, free text or ISO date; a tuple for multiple answers and ticks; None = skipped."""
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
"""How a date slot holds its date: 2026-11-25."""


# --- state -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    flow: str
    node: str


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
"""Answers `back` can take back, newest first; older ones are forgotten."""
MAX_CALL_DEPTH = 8
"""Flows calling flows deeper than this are a runaway: a state never holds more frames."""
MAX_TEXT = 4000
"""The longest message read, and the longest typed answer kept."""


def remember(state: State, slot: str, value: SlotValue) -> State:
    """Set a slot, keeping what `back` needs to take it back."""
    undo = (Undo(state.frames, slot, state.slots[slot]) if slot in state.slots
            else Undo(state.frames, slot))
    history = (*state.history, undo)[-HISTORY_LIMIT:]
    return State(state.lang, state.frames, {**state.slots, slot: value}, history)


def node_at(bundle: Bundle, frame: Frame) -> Step:
    return bundle.flows[frame.flow].nodes[frame.node]


def _frames_text(frames: tuple[Frame, ...]) -> str:
    return "/".join(f"{f.flow}:{f.node}" for f in frames)


def _frames(text: str) -> tuple[Frame, ...]:
    frames = []
    for part in text.split("/"):
        flow, node = part.split(":")
        frames.append(Frame(flow, node))
    return tuple(frames)


def state_to_json(state: State) -> str:
    """Compact JSON, so a stored conversation stays small: places repeat in the undo history (a
    checklist ticked ten times), so it refers by number to a table "t" of the distinct places."""
    data: dict[str, Any] = {"l": state.lang, "f": _frames_text(state.frames)}
    if state.slots:
        data["s"] = dict(state.slots)  # orjson writes a tuple (a multiple answer) as a list
    if state.history:
        places: dict[str, int] = {}
        history: list[list[Any]] = []
        for undo in state.history:
            where = places.setdefault(_frames_text(undo.frames), len(places))
            history.append([where, undo.slot] if not undo.had_value
                           else [where, undo.slot, undo.previous])
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
        if type(where) is not int or not 0 <= where < len(places):
            raise IndexError(f"no place {where!r} in the table")
        undo_frames = places[where]
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


def contact_cards(bundle: Bundle, ids: tuple[str, ...], lang: str) -> Contacts:
    """The contacts' cards in `lang`, each with the date its details were last checked: one way
    to build them, so a conversation and a printed checklist show the same."""
    cards = []
    for cid in ids:
        c = bundle.contacts[cid]
        cards.append(ContactCard(c.id, c.name[lang], c.phone, c.web, c.email,
                                 c.hours[lang] if c.hours else None,
                                 c.note[lang] if c.note else None,
                                 format_date(c.checked, lang)))
    words = CardLabels(*(fill(bundle.text(f"card.{key}", lang), lambda _name: "")
                         for key in ("phone", "web", "email", "hours", "checked")))
    return Contacts(tuple(cards), words)


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
    For the service to store; channels never see it."""

    flow: str
    flow_version: int
    answers: tuple[tuple[str, str], ...]
    """(field, value) pairs; a field answered with several choices appears once per choice."""
    incident_month: str | None
    report_month: str


@dataclass(frozen=True, slots=True)
class Reminders:
    """Reminders the user asked for, or (`cancel`) the end of all of them; for the service to
    store, channels never see it. `items`: ("<flow>.<reminder id>", due time in UTC) pairs."""

    items: tuple[tuple[str, dt.datetime], ...]
    lang: str
    cancel: bool = False


Output = Say | Question | Contacts | ChecklistView | Document | Ended | Report | Reminders
