"""What one turn says: a `Reply` collects a turn's outputs in the conversation's language, with
placeholders filled and answers shown as words. Every handler writes through it, so a text reads
the same wherever it is shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bot.dates import format_date
from bot.engine.conversation import ISO_DATE, Output, Say, SlotValue, State
from bot.engine.moves import Show
from bot.flows.model import Bundle, Step, Text
from bot.flows.texts import fill


class Reply:
    def __init__(self, bundle: Bundle, now: dt.datetime, can_remind: bool = False) -> None:
        self.bundle = bundle
        self.now = now
        self.can_remind = can_remind
        """The channel can send on its own, so reminders may be offered."""
        self.lang = ""
        self.out: list[Output] = []

    def system(self, key: str, **params: str) -> str:
        return fill(self.bundle.text(key, self.lang), lambda name: params.get(name, ""))

    def render(self, text: Text, state: State) -> str:
        slots = state.slots
        return fill(text[self.lang], lambda name: self.show(name, slots.get(name), slots))

    def show(self, slot: str, value: SlotValue,
             slots: Mapping[str, SlotValue] | None = None) -> str:
        """An answer as words: a choice's label (filled as its option is, one level deep), a
        date in the local style, or the text."""
        if value is None:
            return "–"
        labels = self.bundle.choice_labels.get(slot, {})
        values = value if isinstance(value, tuple) else (value,)
        shown = []
        known = slots or {}
        for v in values:
            if v in labels:
                shown.append(fill(labels[v][self.lang],
                                  lambda name: self.show(name, known.get(name))))
            elif slot in self.bundle.date_slots and ISO_DATE.match(v):
                shown.append(format_date(dt.date.fromisoformat(v), self.lang))
            else:
                shown.append(v)
        return ", ".join(shown)

    def say(self, text: str) -> None:
        if text:
            self.out.append(Say(text))

    def say_node(self, here: Step, state: State) -> None:
        """A node's own message, if it has one, shown before it runs or asks."""
        if here.say is not None:
            self.say(self.render(here.say, state))

    def not_understood(self, state: State, instead: Text | None = None) -> Show:
        """The question again, after the kind re-ask ("I'm not sure which answer fits") or the
        question's own words (`unmatched`): never a bare "not understood"."""
        self.say(self.render(instead, state) if instead is not None
                 else self.system("reask"))
        return Show(state)
