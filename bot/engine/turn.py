"""The conversation engine: `step(bundle, state, event, now) -> Turn(state, outputs)`.

Theory of operation. Between turns a conversation stands at a node that waits for the user (a
question, a checklist, a report's yes or no); a state of None means no conversation. A turn
1. checks the stored state against the flows loaded now (bot.engine.fitting),
2. hands the event to its handler (`EVENTS`): a message that reads as danger right now goes to
   the danger node (bot.engine.danger), any other is a command (`COMMANDS`) or an answer to the
   waiting node (`WAITING_NODES`), a button is that node's choice,
3. and carries out the `Move` the handler returns (bot.engine.moves), running automatic nodes
   (`AUTOMATIC_NODES`) until one waits or the flow ends.
What a sentence said beyond the answer it gave (bot.engine.confirm) waits in the state as a
proposal: at the next question the turn shows one line to confirm it instead, takes that line's
yes or no, and passes over the questions a confirmed reading answered.
Everything a turn says goes through a `Reply` (bot.engine.reply); the tables below name every
handler a turn can reach. No I/O, no clock (time comes in as `now`), no platform types: every
channel behaves the same, and tests can walk every path of every flow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, assert_never

from bot.engine import checklist, confirm, nodes, questions, report
from bot.engine.command_handlers import COMMANDS
from bot.engine.command_handlers import start as resume
from bot.engine.commands import parse_command
from bot.engine.conversation import (
    MAX_CALL_DEPTH,
    MAX_TEXT,
    Ended,
    Event,
    Frame,
    Output,
    Picked,
    Reopen,
    Resume,
    Said,
    Say,
    Start,
    State,
    node_at,
)
from bot.engine.danger import reads_danger, to_danger
from bot.engine.fitting import fits_flows, fitted
from bot.engine.language import written_in
from bot.engine.moves import At, Begin, Close, Go, Move, Runaway, Show, again
from bot.engine.reminding import listed_reminders, remind
from bot.engine.reply import Reply
from bot.flows.model import (
    CAN_REMIND_SLOT,
    OPENED_BY_REMINDER_SLOT,
    REMINDER_DATE_SLOT,
    REMINDER_SLOT,
    AllOf,
    AnyOf,
    Ask,
    Branch,
    Bundle,
    Call,
    Checklist,
    Condition,
    ContactList,
    Deadline,
    DocumentStep,
    End,
    Input,
    Link,
    Message,
    Not,
    Remind,
    ReportStep,
    SlotAnswered,
    SlotIs,
    Step,
)

__all__ = ["MAX_CALL_DEPTH", "MAX_TEXT", "Turn", "listed_reminders", "step"]

MAX_AUTOMATIC_STEPS = 200
"""More automatic steps than this in one turn means a runaway flow: stop it."""


@dataclass(frozen=True, slots=True)
class Turn:
    state: State | None
    outputs: tuple[Output, ...]


def step(bundle: Bundle, state: State | None, event: Event, now: dt.datetime,
         can_remind: bool = False) -> Turn:
    """One turn. `can_remind`: the channel can send on its own, so reminders may be offered."""
    reply = Reply(bundle, now, can_remind)
    try:
        new_state = _turn(reply, state, event)
    except Runaway:
        lang = reply.lang or bundle.default_language
        return Turn(None, (Say(bundle.text("internal_error", lang)), Ended()))
    return Turn(new_state, tuple(reply.out))


def _turn(reply: Reply, state: State | None, event: Event) -> State | None:
    bundle = reply.bundle
    if state is not None and not fits_flows(bundle, state):
        reply.lang = bundle.pick_language(state.lang if state.lang in bundle.languages
                                          else event.lang)
        reply.say(reply.system("flow_changed"))
        flow = state.frames[0].flow
        return follow(reply, Begin(flow if flow in bundle.flows else None))
    if state is not None:
        state = fitted(bundle, state)
    reply.lang = state.lang if state else bundle.pick_language(event.lang)
    return follow(reply, EVENTS[type(event)](reply, state, event))


# --- events --------------------------------------------------------------------------------


def _start(reply: Reply, state: State | None, event: Start) -> Move:
    if event.lang in reply.bundle.languages:
        reply.lang = event.lang
    # A deep link or a web page may name any flow: an unknown one starts the default.
    return Begin(event.flow if event.flow in reply.bundle.flows else None)


def _resume(reply: Reply, state: State | None, event: Resume) -> Move:
    return resume(reply, state, None)


def _said(reply: Reply, state: State | None, event: Said) -> Move:
    if len(event.text) > MAX_TEXT:
        # Refused unread: no command is this long, and reading it would hold up the others.
        reply.say(reply.system("too_long"))
        return again(state)
    state = _in_their_language(reply, state, event)
    bundle = reply.bundle
    if reads_danger(bundle.danger, event.text):
        # Before anything else, at any node, even the first. What else such a message says
        # waits, unconfirmed, until the person is safe: the line comes after "I'm safe".
        proposal = confirm.propose(bundle, state, event.text, reply.now)
        jump = to_danger(reply, state)
        return At(confirm.with_proposal(jump.state, proposal))
    command = parse_command(event.text)
    if command is not None:
        return COMMANDS[command[0]](reply, state, command[1])
    if state is None:
        return Begin(understood=confirm.propose(bundle, None, event.text, reply.now))
    here = node_at(bundle, state.here)
    if confirm.pending(bundle, state, here):
        return confirm.answer(reply, state, event.text)
    said = len(reply.out)
    move = WAITING_NODES[type(here)].answer(reply, state, here, event.text)
    if not confirm.reads_at(bundle, state):
        return move
    # What else the sentence says is confirmed once, at this question or the next.
    match move:
        case Show(shown, full):
            proposal = confirm.propose(bundle, shown, event.text, reply.now)
            if proposal and confirm.pending(bundle, shown, here):
                del reply.out[said:]  # the line, not "not understood" and then the line
            return Show(confirm.with_proposal(shown, proposal), full)
        case Go(answered, links):
            proposal = confirm.propose(bundle, answered, event.text, reply.now)
            return Go(confirm.after_answer(answered, state, proposal), links)
    return move


def _in_their_language(reply: Reply, state: State | None, event: Said) -> State | None:
    """Where nothing told the language yet (no conversation and no language from the platform,
    or a conversation without an answer so far), the first thing typed decides it."""
    if (state is None and event.lang in reply.bundle.languages) or (state and state.history):
        return state
    lang = written_in(reply.bundle, event.text)
    if lang is None or lang == reply.lang:
        return state
    reply.lang = lang
    if state is None:
        return None
    reply.say(reply.system("language_switched"))
    return State(lang, state.frames, state.slots, state.history)


def _picked(reply: Reply, state: State | None, event: Picked) -> Move:
    if state is None:
        return Begin()
    here = node_at(reply.bundle, state.here)
    if (event.flow, event.node) == (state.here.flow, state.here.node):
        if confirm.pending(reply.bundle, state, here):
            move = confirm.pick(reply, state, event.choice)
            if move is not None:
                return move
        move = WAITING_NODES[type(here)].pick(reply, state, here, event.choice)
        if move is not None:
            return move
    reply.say(reply.system("stale_button"))
    return Show(state)


def _reopen(reply: Reply, state: State | None, event: Reopen) -> Move:
    """A reminder opens its flow. Answers of a conversation still kept in that flow stay
    (a supervisor's ticks); anything else starts afresh."""
    if event.lang in reply.bundle.languages:
        reply.lang = event.lang
    flow = reply.bundle.flows.get(event.flow)
    if flow is None:  # the content changed since the reminder was set
        return Begin()
    kept = state is not None and any(frame.flow == flow.id for frame in state.frames)
    slots = dict(state.slots) if state is not None and kept else {}
    slots.update({CAN_REMIND_SLOT: "yes", OPENED_BY_REMINDER_SLOT: "yes",
                  REMINDER_SLOT: event.reminder})
    if event.date:
        slots[REMINDER_DATE_SLOT] = event.date
    node = event.node if event.node is not None and event.node in flow.nodes else flow.start
    if node != flow.start:
        reply.say(reply.system("reminder_intro"))  # a flow's own start says what it is
    return At(State(reply.lang, (Frame(flow.id, node),), slots))


EVENTS: dict[type[Event], Callable[[Reply, State | None, Any], Move]] = {
    Start: _start,
    Resume: _resume,
    Said: _said,
    Picked: _picked,
    Reopen: _reopen,
}


# --- nodes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiting:
    """How a node that waits for the user is shown, takes a typed answer, and takes a button
    (None: not a button of this node)."""

    show: Callable[[Reply, State, Any], Output]
    answer: Callable[[Reply, State, Any, str], Move]
    pick: Callable[[Reply, State, Any, str], Move | None]
    intro: Callable[[Reply, State, Any], None] = lambda reply, state, here: reply.say_node(
        here, state)
    """What precedes it when shown in full (arriving, coming back): its message."""


def _no_buttons(reply: Reply, state: State, here: Step, choice: str) -> None:
    return None


WAITING_NODES: dict[type[Step], Waiting] = {
    Ask: Waiting(questions.ask, questions.choose, questions.pick),
    Input: Waiting(questions.prompt, questions.fill_in, _no_buttons),
    Checklist: Waiting(checklist.view, checklist.tick, checklist.pick, checklist.intro),
    ReportStep: Waiting(report.preview, report.answer, report.pick),
}

AUTOMATIC_NODES: dict[type[Step], Callable[[Reply, State, Any], Move]] = {
    Message: nodes.passes,
    Branch: nodes.passes,
    ContactList: nodes.contacts,
    DocumentStep: nodes.document,
    Deadline: nodes.deadline,
    Remind: remind,
    Call: nodes.call,
    End: nodes.end,
}
"""What each node that does not wait does when reached (after its message is shown)."""


# --- moving --------------------------------------------------------------------------------


def follow(reply: Reply, move: Move) -> State | None:
    """Carry out a move: run automatic nodes until one waits for the user, or the conversation
    ends. The state returned always stands at a waiting node."""
    for _ in range(MAX_AUTOMATIC_STEPS):
        match move:
            case Show(state, full):
                return _show(reply, state, full)
            case Close():
                return None
            case Begin(flow_id, understood):
                flow = reply.bundle.flows[flow_id or reply.bundle.default_flow]
                slots = {CAN_REMIND_SLOT: "yes"} if reply.can_remind else {}
                state = confirm.with_proposal(
                    State(reply.lang, (Frame(flow.id, flow.start),), slots), understood)
            case Go(state, links):
                state = go(state, links)
            case At(state):
                pass
            case _:
                assert_never(move)
        here = node_at(reply.bundle, state.here)
        if type(here) in WAITING_NODES:
            passed = confirm.skipped(state, here)
            if passed is None:
                return _show(reply, state, full=True)
            move = Go(state, passed)  # answered by a confirmed reading: passed over
            continue
        reply.say_node(here, state)
        move = AUTOMATIC_NODES[type(here)](reply, state, here)
    raise Runaway


def _show(reply: Reply, state: State, full: bool) -> State:
    here = node_at(reply.bundle, state.here)
    if confirm.pending(reply.bundle, state, here):
        reply.out.append(confirm.line(reply, state))  # instead of the question, once
        return state
    waiting = WAITING_NODES[type(here)]
    if full:
        waiting.intro(reply, state, here)
    reply.out.append(waiting.show(reply, state, here))
    return state


def go(state: State, links: tuple[Link, ...]) -> State:
    for link in links:
        if link.condition is None or holds(link.condition, state):
            frames = (*state.frames[:-1], Frame(state.here.flow, link.target))
            return State(state.lang, frames, state.slots, state.history)
    raise Runaway  # the checker demands an else link; this is a content bug


def holds(condition: Condition, state: State) -> bool:
    match condition:
        case SlotIs(slot, values):
            value = state.slots.get(slot)
            answers = value if isinstance(value, tuple) else (value,)
            return any(v in values for v in answers if v is not None)
        case SlotAnswered(slot, answered):
            return (state.slots.get(slot) is not None) == answered
        case AllOf(conditions):
            return all(holds(c, state) for c in conditions)
        case AnyOf(conditions):
            return any(holds(c, state) for c in conditions)
        case Not(inner):
            return not holds(inner, state)
        case _:
            assert_never(condition)
