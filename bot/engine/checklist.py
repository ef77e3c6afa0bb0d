"""Checklist nodes: the list with its ticks, ticking by number, "print" and "done"; a walked
list (`walk: true`) goes item by item instead (bot.engine.walk)."""

from __future__ import annotations

from bot.engine import walk
from bot.engine.answers import parse_numbers
from bot.engine.commands import is_done, is_print
from bot.engine.conversation import ChecklistView, Question, State, Tick, remember
from bot.engine.moves import Go, Move, Show
from bot.engine.reply import Reply
from bot.flows.model import Checklist


def view(reply: Reply, state: State, here: Checklist) -> ChecklistView | Question:
    if here.walk:
        return walk.view(reply, state, here)
    ticked = state.slots.get(here.slot) or ()
    items = tuple(Tick(i + 1, item.id, reply.render(item.text, state), item.id in ticked)
                  for i, item in enumerate(here.items))
    progress = reply.system("checklist_progress", done=str(sum(t.done for t in items)),
                            total=str(len(items)))
    return ChecklistView(reply.render(here.title, state), state.here.flow, state.here.node,
                         items, progress, reply.system("checklist_hint"))


def tick(reply: Reply, state: State, here: Checklist, text: str) -> Move:
    if here.walk:
        return walk.answer(reply, state, here, text)
    ticked = tuple(state.slots.get(here.slot) or ())
    if is_print(text):
        # The list as it stands, to print or to keep: every item, done or still open.
        fields = tuple((reply.render(item.text, state), reply.system(
            "checklist_item_done" if item.id in ticked else "checklist_item_open"))
            for item in here.items)
        walk.hand_over(reply, state, here, fields)
        return Show(state)
    if is_done(text):
        return Go(remember(state, here.slot, ticked), here.next)
    numbers = parse_numbers(text, len(here.items))
    if numbers is None:
        return reply.not_understood(state)
    toggled = set(ticked) ^ {here.items[n].id for n in set(numbers)}
    # In the list's order; ticks of items a content update removed are gone (bot.engine.fitting).
    return Show(remember(state, here.slot, tuple(i.id for i in here.items if i.id in toggled)))


def pick(reply: Reply, state: State, here: Checklist, choice: str) -> Move | None:
    """A walked list's buttons; a list ticked by number has none."""
    return walk.pick(reply, state, here, choice) if here.walk else None


def intro(reply: Reply, state: State, here: Checklist) -> None:
    """What comes before the list when it is shown in full: its message the first time; for
    a walked list already begun (coming back, a reminder), two lines on where it stands."""
    if here.walk and walk.started(state, here):
        reply.say(walk.summary(reply, state, here))
    else:
        reply.say_node(here, state)
