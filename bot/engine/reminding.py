"""Reminders in a conversation: the engine says which are wanted and when they fall due (a
`Reminders` output); the service keeps, delivers and lists them (with `listed_reminders`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot.dates import LOCAL, format_date
from bot.engine.conversation import Reminders, State
from bot.engine.moves import Go
from bot.engine.reminder_times import due_time
from bot.engine.reply import Reply
from bot.flows.model import CAN_REMIND_SLOT, Bundle, Remind
from bot.flows.texts import fill


def remind(reply: Reply, state: State, here: Remind) -> Go:
    """Hand the chosen reminders to the service with their due times (or end them all)."""
    if here.stop:
        stop_reminders(reply)
    elif state.slots.get(CAN_REMIND_SLOT) == "yes":  # else the flow's own branch skips this
        chosen = state.slots.get(here.slot) if here.slot else None
        wanted = set(chosen) if isinstance(chosen, tuple) else {chosen}
        items = []
        for item in here.items:
            if here.slot is None or item.id in wanted:
                due = due_time(item, state.slots, reply.now)
                if due is not None:
                    items.append((f"{state.here.flow}.{item.id}", due))
        if items:
            reply.out.append(Reminders(tuple(items), reply.lang))
            reply.say(reply.system("reminders_set",
                                   items=reminder_lines(reply.bundle, items, reply.lang)))
    return Go(state, here.next)


def stop_reminders(reply: Reply) -> None:
    reply.out.append(Reminders((), reply.lang, cancel=True))
    reply.say(reply.system("reminders_stopped"))


def reminder_lines(bundle: Bundle, items: Iterable[tuple[str, dt.datetime]], lang: str) -> str:
    """"- <label>: <date>" per reminder (kind, due time), for setting and for listing them."""
    return "\n".join(f"- {bundle.reminder_labels.get(kind, {}).get(lang, kind)}: "
                     f"{format_date(due.astimezone(LOCAL).date(), lang)}" for kind, due in items)


def listed_reminders(bundle: Bundle, items: list[tuple[str, dt.datetime]], lang: str) -> str:
    """What the `reminders` command answers: the reminders still to come, or that none are."""
    if not items:
        return bundle.text("reminders_none", lang)
    return fill(bundle.text("reminders_list", lang),
                lambda name: reminder_lines(bundle, items, lang) if name == "items" else "")
