"""A checklist walked one item at a time (`walk: true`): a supervisor beside whom the list
stays open for weeks reads one screen, never the whole wall.

An item's screen says where the list stands, the item, what to do, when it is due and why, and
takes "done", "later", "does not apply", "more on this" (the item's own reference note) and
"what is still open?". Done items are the ticks in the list's slot, as for any checklist;
"does not apply" marks live in `<slot>_na`; the item the walk stands at in `<slot>_at`, or
`OPEN` for the screen of open items, from which any item can be reached. An item whose `if:`
does not hold is not on the list at all. All of it is slots, so a restart, a reminder weeks
later or `zurück` finds the walk where it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from bot.dates import format_date
from bot.engine.answers import match_choice
from bot.engine.commands import is_done, is_print
from bot.engine.conversation import (
    ISO_DATE,
    Document,
    Option,
    Question,
    SlotValue,
    State,
    remember,
)
from bot.engine.moves import Go, Move, Show
from bot.engine.reply import Reply
from bot.flows.model import WALK_OPEN, Ask, Bundle, Checklist, ChecklistItem, Choice, Condition
from bot.flows.words import normalize

OPEN = WALK_OPEN
"""The `<slot>_at` value of the screen of open items."""
OPEN_SHOWN = 5
"""How many open items the screen of open items offers as answers: with "print" and "finish",
one phone screen."""
ANSWERS = ("done", "later", "na", "more", "open")
"""The answers an item's screen offers, in their order (system texts `walk.<answer>`)."""


def applicable(state: State, here: Checklist) -> list[ChecklistItem]:
    """The items on this list for this case: those without an `if:`, or whose `if:` holds."""
    from bot.engine.turn import holds  # the one reading of conditions; turn imports this module

    check: Callable[[Condition], bool] = lambda c: holds(c, state)  # noqa: E731
    return [item for item in here.items if item.when is None or check(item.when)]


def _marks(slots: Mapping[str, SlotValue], slot: str) -> tuple[str, ...]:
    value = slots.get(slot)
    return value if isinstance(value, tuple) else ()


def status(state: State, here: Checklist, item: ChecklistItem) -> str:
    """"done", "na" or "open"."""
    if item.id in _marks(state.slots, here.slot):
        return "done"
    return "na" if item.id in _marks(state.slots, here.na_slot) else "open"


def started(state: State, here: Checklist) -> bool:
    return any(state.slots.get(s) for s in (here.slot, here.na_slot, here.at_slot))


def _current(state: State, here: Checklist) -> ChecklistItem | None:
    """The item the walk stands at; None at the screen of open items."""
    at = state.slots.get(here.at_slot)
    if at == OPEN:
        return None
    items = applicable(state, here)
    for item in items:
        if item.id == at:
            return item
    return next((i for i in items if status(state, here, i) == "open"), None)


def day(reply: Reply, iso: str) -> str:
    """A date with its weekday: "Do 10.12.2026", "Thu 10 December 2026"."""
    date = dt.date.fromisoformat(iso)
    weekdays = [w.strip() for w in reply.system("walk.weekdays").split(",")]
    return f"{weekdays[date.weekday()]} {format_date(date, reply.lang)}"


def _due_iso(state: State, item: ChecklistItem) -> str | None:
    value = state.slots.get(item.due or "")
    return value if isinstance(value, str) and ISO_DATE.match(value) else None


def due_of(reply: Reply, state: State, item: ChecklistItem) -> str | None:
    iso = _due_iso(state, item)
    return day(reply, iso) if iso else None


# --- the screens ---------------------------------------------------------------------------


def view(reply: Reply, state: State, here: Checklist) -> Question:
    item = _current(state, here)
    if item is None:
        return _open_screen(reply, state, here)
    items = applicable(state, here)
    lines = [reply.system("walk.position", n=str(items.index(item) + 1), total=str(len(items)),
                          item=reply.render(item.text, state))]
    if item.do is not None:
        lines.append(reply.render(item.do, state))
    due = due_of(reply, state, item)
    if due:
        lines.append(reply.system("walk.due", date=due))
    if item.why is not None:
        lines.append(reply.system("walk.why", text=reply.render(item.why, state)))
    answers = [a for a in ANSWERS if a != "more" or item.more is not None]
    options = tuple(Option(n + 1, f"{a}.{item.id}", reply.system(f"walk.{a}"))
                    for n, a in enumerate(answers))
    return Question("\n".join(lines), state.here.flow, state.here.node, options)


def _open_items(state: State, here: Checklist) -> list[ChecklistItem]:
    return [i for i in applicable(state, here) if status(state, here, i) == "open"]


def _open_screen(reply: Reply, state: State, here: Checklist) -> Question:
    still = _open_items(state, here)
    title = (reply.system("walk.open_title", open=str(len(still)),
                          total=str(len(applicable(state, here))))
             if still else reply.system("walk.nothing_open"))
    if len(still) > OPEN_SHOWN:  # one phone screen: the next few, the others by number
        title += "\n" + reply.system("walk.open_more", n=str(OPEN_SHOWN))
    soonest = sorted(still, key=lambda i: _due_iso(state, i) or "9999")[:OPEN_SHOWN]
    labels = [(f"go.{i.id}", _with_due(reply, state, i)) for i in soonest]
    labels += [("print", reply.system("walk.print")), ("finish", reply.system("walk.finish"))]
    options = tuple(Option(n + 1, oid, label) for n, (oid, label) in enumerate(labels))
    return Question(title, state.here.flow, state.here.node, options)


def _with_due(reply: Reply, state: State, item: ChecklistItem) -> str:
    due = due_of(reply, state, item)
    text = reply.render(item.text, state)
    return f"{text} · {due}" if due else text


def summary(reply: Reply, state: State, here: Checklist) -> str:
    """Two lines for coming back: how far the list is, and what is due or open next."""
    items = applicable(state, here)
    done = sum(status(state, here, i) == "done" for i in items)
    na = sum(status(state, here, i) == "na" for i in items)
    first = reply.system("walk.summary", done=str(done), total=str(len(items)),
                         na=reply.system("walk.summary_na", n=str(na)) if na else "")
    still = _open_items(state, here)
    dated = sorted((str(state.slots[i.due]), n, i) for n, i in enumerate(still)
                   if i.due and due_of(reply, state, i))
    if dated:
        _, _, item = dated[0]
        second = reply.system("walk.next_due", item=reply.render(item.text, state),
                              date=due_of(reply, state, item) or "")
    elif still:
        second = reply.system("walk.next_open", item=reply.render(still[0].text, state))
    else:
        second = reply.system("walk.nothing_open")
    return f"{first}\n{second}"


# --- answers -------------------------------------------------------------------------------


def answer(reply: Reply, state: State, here: Checklist, text: str) -> Move:
    """A typed answer: "drucken" anywhere; at an item its answers (number or words), a jump
    ("Punkt 7"), "fertig" for the open items; at the open items a number or "fertig"."""
    if is_print(text):
        return print_list(reply, state, here)
    jump = _jump(reply, state, here, text)  # "Punkt 7" from any screen, as the open items say
    if jump is not None:
        return Show(_at(state, here, jump.id))
    item = _current(state, here)
    if item is None:
        if is_done(text):
            return Go(state, here.next)
        options = _open_screen(reply, state, here).options
        chosen = match_choice(_as_ask(here, [(o.id, o.label, "") for o in options]), text)
        return (pick(reply, state, here, chosen) if chosen else None) \
            or reply.not_understood(state)
    options = view(reply, state, here).options
    words = [(o.id, o.label, reply.system(f"walk.{o.id.partition('.')[0]}_words"))
             for o in options]
    chosen = match_choice(_as_ask(here, words), text)
    if chosen is None:
        # "fertig", "ok": done with walking for now, so the open items, where it ends.
        return Show(_at(state, here, OPEN)) if is_done(text) else reply.not_understood(state)
    return pick(reply, state, here, chosen) or reply.not_understood(state)


def _as_ask(here: Checklist, options: list[tuple[str, str, str]]) -> Ask:
    """The screen's answers as a question, to read a typed answer as any question's is."""
    choices = tuple(Choice(oid, {"_": label}, {"_": tuple(
        w.strip() for w in words.split(",") if w.strip())}) for oid, label, words in options)
    return Ask(id=here.id, question={}, slot=here.slot, choices=choices)


def _jump(reply: Reply, state: State, here: Checklist, text: str) -> ChecklistItem | None:
    """"Punkt 7", "Nr. 7", "item 7": the seventh item on this list."""
    words = normalize(text).split()
    jump_words = {normalize(w) for w in reply.system("walk.jump_words").split(",")}
    if len(words) != 2 or words[0] not in jump_words or not words[1].isdigit():
        return None
    items = applicable(state, here)
    number = int(words[1])
    return items[number - 1] if 1 <= number <= len(items) else None


def pick(reply: Reply, state: State, here: Checklist, choice: str) -> Move | None:
    """A button (or a typed answer read as one); None for a button of another screen."""
    item = _current(state, here)
    if item is None:
        if choice == "print":
            return print_list(reply, state, here)
        if choice == "finish":
            return Go(state, here.next)
        target = next((i for i in _open_items(state, here) if f"go.{i.id}" == choice), None)
        return Show(_at(state, here, target.id)) if target is not None else None
    action, _, item_id = choice.partition(".")
    if item_id != item.id or action not in ANSWERS:
        return None
    if action == "more" and item.more is not None:
        reply.say(reply.render(item.more, state))
        return Show(state)
    if action == "open":
        return Show(_at(state, here, OPEN))
    if action in ("done", "na"):
        state = _marked(state, here, item, action)
    return _on_from(state, here, item)


def _marked(state: State, here: Checklist, item: ChecklistItem, action: str) -> State:
    """The item done or not applicable, and no longer the other."""
    keep, drop = ((here.slot, here.na_slot) if action == "done"
                  else (here.na_slot, here.slot))
    slots = dict(state.slots)
    slots[keep] = tuple(i.id for i in here.items
                        if i.id in _marks(slots, keep) or i.id == item.id)
    slots[drop] = tuple(i for i in _marks(slots, drop) if i != item.id)
    return State(state.lang, state.frames, slots, state.history)


def _on_from(state: State, here: Checklist, item: ChecklistItem) -> Move:
    """The next open item after this one; the open items if only earlier ones are left; on
    along the node's links once nothing is open."""
    items = applicable(state, here)
    later = items[items.index(item) + 1:]
    following = next((i for i in later if status(state, here, i) == "open"), None)
    if following is not None:
        return Show(_at(state, here, following.id))
    if _open_items(state, here):
        return Show(_at(state, here, OPEN))
    return Go(_at(state, here, OPEN), here.next)


def _at(state: State, here: Checklist, where: str) -> State:
    """Stand at an item (or the open items); `zurück` returns to where the walk was."""
    if state.slots.get(here.at_slot) == where:
        return state
    return remember(state, here.at_slot, where)


def print_list(reply: Reply, state: State, here: Checklist) -> Show:
    """The list as it stands, for the personnel file: each item with its date and whether it
    is done, still open or does not apply."""
    words = {"done": reply.system("checklist_item_done"),
             "open": reply.system("checklist_item_open"), "na": reply.system("walk.status_na")}
    fields = tuple((_with_due(reply, state, item), words[status(state, here, item)])
                   for item in applicable(state, here))
    hand_over(reply, state, here, fields)
    return Show(state)


def ticked_sheet(bundle: Bundle, state: State, now: dt.datetime) -> Document | None:
    """The document "drucken" gives, for a conversation kept anywhere in a flow with a walked
    list (`lotse checklist --chat`); None when its flows have none. Changes nothing."""
    for frame in reversed(state.frames):
        flow = bundle.flows.get(frame.flow)
        here = next((n for n in flow.nodes.values() if isinstance(n, Checklist) and n.walk),
                    None) if flow is not None else None
        if here is not None:
            reply = Reply(bundle, now)
            reply.lang = state.lang
            print_list(reply, state, here)
            return next(o for o in reply.out if isinstance(o, Document))
    return None


def hand_over(reply: Reply, state: State, here: Checklist,
              fields: tuple[tuple[str, str], ...]) -> None:
    title = reply.render(here.title, state)
    reply.out.append(Document(title, "checkliste" if reply.lang == "de" else "checklist",
                              fields, reply.now, reply.lang))
    reply.say(reply.system("document_ready", title=title))
