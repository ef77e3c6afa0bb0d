"""The automatic nodes: what each does when reached (after the step function showed its `say`),
and where it goes on. Remind nodes are in bot.engine.reminding."""

from __future__ import annotations

import datetime as dt

from bot.engine.conversation import (
    ISO_DATE,
    MAX_CALL_DEPTH,
    Document,
    Ended,
    Frame,
    State,
    contact_cards,
    node_at,
)
from bot.engine.deadlines import period_end
from bot.engine.moves import At, Close, Go, Move, Runaway
from bot.engine.reply import Reply
from bot.flows.model import Call, ContactList, Deadline, DocumentStep, End, Step


def passes(reply: Reply, state: State, here: Step) -> Go:
    """A message (shown already) or a branch: follow the links."""
    return Go(state, here.next)


def contacts(reply: Reply, state: State, here: ContactList) -> Go:
    reply.out.append(contact_cards(reply.bundle, here.contacts, reply.lang))
    return Go(state, here.next)


def document(reply: Reply, state: State, here: DocumentStep) -> Go:
    fields = tuple((reply.render(f.label, state),
                    reply.show(f.slot, state.slots[f.slot], state.slots))
                   for f in here.fields if state.slots.get(f.slot) is not None)
    title = reply.render(here.title, state)
    reply.out.append(Document(title, here.file, fields, reply.now, reply.lang))
    reply.say(reply.system("document_ready", title=title))
    if not here.erase:
        return Go(state, here.next)
    erased = {f.slot for f in here.fields} & reply.bundle.free_text_slots
    slots = {k: v for k, v in state.slots.items() if k not in erased}
    # The undo history may hold earlier versions of the typed answers: drop it all.
    return Go(State(state.lang, state.frames, slots, ()), here.next)


def deadline(reply: Reply, state: State, here: Deadline) -> Go:
    """Set the slot to the period's end, or clear it when the start date was skipped."""
    start = state.slots.get(here.start)
    slots = dict(state.slots)
    if isinstance(start, str) and ISO_DATE.match(start):
        slots[here.slot] = period_end(dt.date.fromisoformat(start), here.months, here.region,
                                      here.days, here.working_day).isoformat()
    else:
        slots.pop(here.slot, None)
    return Go(State(state.lang, state.frames, slots, state.history), here.next)


def call(reply: Reply, state: State, here: Call) -> At:
    """Run another flow from its start; its end comes back to this node's links."""
    if len(state.frames) >= MAX_CALL_DEPTH:
        raise Runaway
    called = reply.bundle.flows[here.flow]
    return At(State(state.lang, (*state.frames, Frame(called.id, called.start)), state.slots,
                    state.history))


def end(reply: Reply, state: State, here: End) -> Move:
    """Back to the calling node's links, or, in the outermost flow, the end of the talk."""
    if len(state.frames) == 1:
        reply.out.append(Ended())
        return Close()
    back = State(state.lang, state.frames[:-1], state.slots, state.history)
    return Go(back, node_at(reply.bundle, back.here).next)
