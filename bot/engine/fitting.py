"""A stored state against the flows loaded now, checked before each turn: content may change
while a conversation waits, and a damaged row must not carry typed words into an answer reports
count. A state not at a waiting node starts afresh; answers the flows cannot give are dropped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from bot.engine.conversation import ISO_DATE, MAX_CALL_DEPTH, MAX_TEXT, SlotValue, State
from bot.flows.model import WAITING, Bundle, Call


def fits_flows(bundle: Bundle, state: State) -> bool:
    """The state stands at a waiting node, reached through calls the flows still make."""
    frames = state.frames
    if state.lang not in bundle.languages or len(frames) > MAX_CALL_DEPTH:
        return False
    for index, frame in enumerate(frames):
        flow = bundle.flows.get(frame.flow)
        node = flow.nodes.get(frame.node) if flow else None
        if index == len(frames) - 1:
            if not isinstance(node, WAITING):
                return False
        elif not isinstance(node, Call) or node.flow != frames[index + 1].flow:
            return False
    return True


def fitted(bundle: Bundle, state: State) -> State:
    """The state without the answers the flows loaded now cannot give (a removed choice or
    item, a slot no question fills, typed words where a choice belongs, an impossible date)."""
    slots: dict[str, SlotValue] = {}
    for slot, value in state.slots.items():
        kept = _fit(bundle, slot, value)
        if kept is not _Unfit.UNFIT:
            slots[slot] = kept
    return dataclasses.replace(state, slots=slots)


class _Unfit(enum.Enum):
    """_fit's answer for a value the flows loaded now cannot give."""

    UNFIT = enum.auto()


def _fit(bundle: Bundle, slot: str, value: SlotValue) -> SlotValue | _Unfit:
    """`value` if the flows loaded now can give it in `slot`, the part of a multiple
    answer they can give, or UNFIT."""
    known = bundle.slot_values
    if slot not in known:
        return _Unfit.UNFIT
    if value is None:
        return value  # skipped
    allowed = known[slot]
    if isinstance(value, tuple):
        kept = tuple(one for one in value if _fits(bundle, slot, allowed, one))
        return kept or _Unfit.UNFIT
    return value if _fits(bundle, slot, allowed, value) else _Unfit.UNFIT


def _fits(bundle: Bundle, slot: str, allowed: frozenset[str] | None, one: object) -> bool:
    """One answer: among `allowed`, or else a real date or a storable text."""
    if not isinstance(one, str):
        return False
    if allowed is not None:
        return one in allowed
    if slot in bundle.date_slots:
        return _is_date(one)
    return 0 < len(one) <= MAX_TEXT


def _is_date(text: str) -> bool:
    """An ISO date such as 2026-11-25, as date slots hold (and a real day: not 2026-13-45)."""
    if not ISO_DATE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
