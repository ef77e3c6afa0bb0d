"""Ask only what is missing, confirm what was understood (#23, item 4).

Theory of operation. A free-text message (the first one, or a sentence a question of the
default flow could not take) is read (bot.engine.understanding) for the slots the flow's own
questions fill: role, injured, kind, channel and the day (the flow's date question). What it says
is held as *proposed*, "slot=value" pairs in UNDERSTOOD_SLOT; nothing of it is an answer yet.
At the first of those questions the conversation reaches in its first flow, Lotse shows one line
instead ("So habe ich Sie verstanden: Drohung · Am Telefon · 07.12.2026. Stimmt das?"):
- "ja" writes the proposed values into their slots, names those slots in CONFIRMED_SLOT, and the
  flow goes on from that question: a question whose slot a confirmed reading filled is passed
  over along its links, as if answered (`skipped`);
- "nein" drops the proposal: the questions come as they always do.
Either answer is one entry of the undo history, so `back` returns to the line. Danger comes
first: a message that reads as danger goes to the danger node, and what else it says waits as a
proposal until the person is safe. Several kinds are proposed together (the kind question takes
several answers); so are the motive, whether it keeps happening and whether the home address is
known, which no question of the employee flow asks. The platform is read but not proposed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.dates import LOCAL, format_date
from bot.engine.answers import match_choice
from bot.engine.conversation import HISTORY_LIMIT, Option, Question, SlotValue, State, Undo
from bot.engine.moves import At, Move, Show
from bot.engine.reply import Reply
from bot.engine.understanding import Understood, read_message
from bot.flows.model import (
    CONFIRMED_SLOT,
    UNDERSTOOD_SLOT,
    WAITING,
    Ask,
    Bundle,
    Choice,
    Flow,
    Input,
    Link,
    Step,
)

READ = ("role", "injured", "kind", "channel", "motive", "repeated", "address_known")
"""The slots a reading may propose, in the order the line names them: the default flow's own
questions, and the slots any flow's questions or `understand:` blocks give (the report's motive,
whether it keeps happening, whether the home address is known)."""
WORDS = {("role", "self"): "understood.role_self",
         ("role", "supervisor"): "understood.role_supervisor",
         ("injured", "yes"): "understood.injured_yes",
         ("injured", "no"): "understood.injured_no",
         ("repeated", "yes"): "understood.repeated_yes",
         ("repeated", "no"): "understood.repeated_no",
         ("address_known", "yes"): "understood.address_known_yes",
         ("address_known", "no"): "understood.address_known_no"}
"""Answers whose label ("Ja") says nothing alone, or that no question labels, get words of their
own in the line."""
YES, NO = "understood_yes", "understood_no"
"""The line's two answers, as button ids."""


def _date_slot(flow: Flow) -> str | None:
    return next((n.slot for n in flow.nodes.values()
                 if isinstance(n, Input) and n.kind == "date"), None)


def _read(bundle: Bundle, read: Understood) -> dict[str, str | tuple[str, ...]]:
    """What a message said about READ, each value one the flows loaded can hold in its slot."""
    found: dict[str, str | frozenset[str] | None] = {
        "role": read.role, "injured": read.injured, "channel": read.channel,
        "kind": read.kinds, "motive": read.motive,
        "repeated": _flag(read.repeated), "address_known": _flag(read.address_known)}
    kept: dict[str, str | tuple[str, ...]] = {}
    for slot in READ:
        allowed = bundle.slot_values.get(slot)
        value = found.get(slot)
        if not value or allowed is None:
            continue
        if isinstance(value, str):
            if value in allowed:
                kept[slot] = value
        else:  # several: in the order the flows offer them, so the line reads as the question
            order = list(bundle.choice_labels.get(slot, {})) or sorted(allowed)
            chosen = tuple(v for v in order if v in value and v in allowed)
            if chosen:
                kept[slot] = chosen if slot in bundle.multiple_slots else chosen[0]
    return kept


def _flag(value: bool | None) -> str | None:
    return None if value is None else "yes" if value else "no"


def propose(bundle: Bundle, state: State | None, text: str,
            now: dt.datetime) -> tuple[str, ...]:
    """What `text` says about the unanswered slots of READ and the default flow's date, as
    "slot=value" pairs (one per value of a slot of several answers); () when it says nothing,
    or the conversation is elsewhere."""
    if state is not None and (state.frames[0].flow != bundle.default_flow
                              or len(state.frames) > 1 or UNDERSTOOD_SLOT in state.slots
                              or CONFIRMED_SLOT in state.slots):
        return ()
    flow = bundle.flows[bundle.default_flow]
    slots = state.slots if state is not None else {}
    read = read_message(bundle, text, now)
    pairs: list[str] = []
    for slot, value in _read(bundle, read).items():
        if slots.get(slot) is None:
            pairs.extend(f"{slot}={v}" for v in (value if isinstance(value, tuple) else (value,)))
    date_slot = _date_slot(flow)
    day = read.when
    if (date_slot and isinstance(day, dt.date) and slots.get(date_slot) is None
            and day <= now.astimezone(LOCAL).date()):  # never a future day
        pairs.append(f"{date_slot}={day.isoformat()}")
    return tuple(pairs)


def with_proposal(state: State, pairs: tuple[str, ...]) -> State:
    if not pairs:
        return state
    return dataclasses.replace(state, slots={**state.slots, UNDERSTOOD_SLOT: pairs})


def after_answer(state: State, before: State, pairs: tuple[str, ...]) -> State:
    """A proposal read from a sentence that also answered the question at `before`: `back`
    takes the proposal back first, to that question."""
    if not pairs:
        return state
    history = (*state.history, Undo(before.frames, UNDERSTOOD_SLOT))[-HISTORY_LIMIT:]
    return State(state.lang, state.frames, {**state.slots, UNDERSTOOD_SLOT: pairs}, history)


def _proposed(bundle: Bundle, state: State) -> dict[str, str | tuple[str, ...]]:
    """The waiting proposal by slot; a tuple for a slot of several answers."""
    value = state.slots.get(UNDERSTOOD_SLOT)
    grouped: dict[str, str | tuple[str, ...]] = {}
    for pair in value if isinstance(value, tuple) else ():
        slot, _, one = pair.partition("=")
        if not one:
            continue
        if slot in bundle.multiple_slots:
            earlier = grouped.get(slot, ())
            grouped[slot] = (*(earlier if isinstance(earlier, tuple) else ()), one)
        else:
            grouped.setdefault(slot, one)
    return grouped


def _before_reading(bundle: Bundle) -> frozenset[str]:
    """The questions of the default flow the line never stands at: its first (safety comes
    first) and the first question after the danger node ("are you safe now?")."""
    flow = bundle.flows[bundle.default_flow]
    nodes = {flow.start}
    danger = bundle.danger
    if danger is not None and danger.flow == flow.id:
        node = danger.go
        for _ in range(len(flow.nodes)):
            step = flow.nodes[node]
            if isinstance(step, WAITING) or not step.next:
                nodes.add(node)
                break
            node = step.next[0].target
    return frozenset(nodes)


def reads_at(bundle: Bundle, state: State) -> bool:
    """A sentence is read for the slots it mentions wherever the default flow waits."""
    return len(state.frames) == 1 and state.here.flow == bundle.default_flow


def pending(bundle: Bundle, state: State, here: Step) -> bool:
    """The line stands at `here`: a proposal waits, and here is a question of the default flow
    past its safety questions."""
    return (UNDERSTOOD_SLOT in state.slots and reads_at(bundle, state)
            and isinstance(here, (Ask, Input))
            and state.here.node not in _before_reading(bundle))


def line(reply: Reply, state: State) -> Question:
    items = []
    for slot, value in _proposed(reply.bundle, state).items():
        if isinstance(value, str) and (slot, value) in WORDS:
            items.append(reply.system(WORDS[slot, value]))
        elif isinstance(value, str) and slot in reply.bundle.date_slots:
            items.append(_day(reply, dt.date.fromisoformat(value)))
        else:
            items.append(reply.show(slot, value))
    options = (Option(1, YES, reply.system("understood.yes")),
               Option(2, NO, reply.system("understood.no")))
    return Question(reply.system("understood.line", items=" · ".join(items)),
                    state.here.flow, state.here.node, options, False, "choice",
                    reply.system("choose_hint"))


def _day(reply: Reply, day: dt.date) -> str:
    """"gestern (24.11.2026)": today and yesterday in words too, the others as dates."""
    shown = format_date(day, reply.lang)
    ago = (reply.now.astimezone(LOCAL).date() - day).days
    return reply.system(("understood.today", "understood.yesterday")[ago], date=shown) \
        if ago in (0, 1) else shown


def answer(reply: Reply, state: State, text: str) -> Move:
    """A typed answer to the line: yes or no by number or in words, also inside a sentence
    ("ja, genau", "nein, stimmt nicht"), or the line again."""
    choice = match_choice(_line(reply), text)
    if choice is None:
        return reply.not_understood(state)
    return pick(reply, state, choice) or Show(state)


def _line(reply: Reply) -> Ask:
    """The line as a question of two choices whose words are `understood.yes_words` and
    `understood.no_words`, so that it is answered as any question is."""
    def words(key: str) -> dict[str, tuple[str, ...]]:
        return {reply.lang: tuple(w.strip() for w in reply.system(key).split(",") if w.strip())}

    return Ask(id="understood", question={}, slot=UNDERSTOOD_SLOT, choices=(
        Choice(YES, {reply.lang: reply.system("understood.yes")}, words("understood.yes_words")),
        Choice(NO, {reply.lang: reply.system("understood.no")}, words("understood.no_words"))))


def pick(reply: Reply, state: State, choice: str) -> Move | None:
    """A button of the line; None when it is none of its two."""
    if choice not in (YES, NO):
        return None
    proposal = state.slots[UNDERSTOOD_SLOT]
    slots = {k: v for k, v in state.slots.items() if k != UNDERSTOOD_SLOT}
    if choice == YES:
        read = {slot: value for slot, value in _proposed(reply.bundle, state).items()
                if slots.get(slot) is None}
        slots.update(read)
        slots[CONFIRMED_SLOT] = tuple(read)
    history = (*state.history, Undo(state.frames, UNDERSTOOD_SLOT, proposal))[-HISTORY_LIMIT:]
    return At(State(state.lang, state.frames, slots, history))


def undone(slots: dict[str, SlotValue]) -> None:
    """`back` over the line: the slots its "yes" filled are empty again."""
    confirmed = slots.pop(CONFIRMED_SLOT, ())
    for slot in confirmed if isinstance(confirmed, tuple) else ():
        slots.pop(slot, None)


def skipped(state: State, here: Step) -> tuple[Link, ...] | None:
    """The links to follow past `here` when a confirmed reading answered it, else None."""
    confirmed = state.slots.get(CONFIRMED_SLOT)
    if (len(state.frames) > 1 or not isinstance(confirmed, tuple)
            or not isinstance(here, (Ask, Input)) or here.slot not in confirmed):
        return None
    value = state.slots.get(here.slot)
    if isinstance(value, tuple) and value:
        value = value[0]  # several answers follow the first one's links, as when chosen
    if not isinstance(value, str):
        return None
    if isinstance(here, Input):
        return here.next
    choice = here.choice(value)
    return None if choice is None else (choice.next or here.next)
