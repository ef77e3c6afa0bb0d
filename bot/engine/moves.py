"""Where a conversation goes next: what each handler of an event, answer, command or node returns.
Only the step function (bot.engine.turn) moves, so a handler can be read and tested alone."""

from __future__ import annotations

from dataclasses import dataclass

from bot.engine.conversation import State
from bot.flows.model import Link


class Runaway(Exception):
    """A flow ran too many automatic steps, called too deep or found no link: stopped."""


@dataclass(frozen=True, slots=True)
class Begin:
    """Start `flow` (None: the default flow) afresh, without answers; `understood`: what
    the first message was read to say, to be confirmed (bot.engine.confirm)."""

    flow: str | None = None
    understood: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Show:
    """Stay at the waiting node of `state` and show it again: with its message when `full`,
    else only its question (after a refusal, a command or a tick)."""

    state: State
    full: bool = False


@dataclass(frozen=True, slots=True)
class Go:
    """Leave the current node along the first of `links` whose condition holds."""

    state: State
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class At:
    """`state` stands at a node not yet shown or run: a called flow's start, a reminder's node."""

    state: State


@dataclass(frozen=True, slots=True)
class Close:
    """The conversation is over (the handler said so with an `Ended` output)."""


Move = Begin | Show | Go | At | Close


def again(state: State | None) -> Begin | Show:
    """Ask the current question again (after a command or a refusal), or begin."""
    return Show(state) if state is not None else Begin()
