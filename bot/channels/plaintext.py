"""Outputs as plain text, for channels that show text only (the console; Matrix's fallback body)."""

from __future__ import annotations

import dataclasses
import re

from bot.engine.conversation import ChecklistView, Contacts, Output, Question, Say
from bot.flows.model import Bundle


def for_typing(output: Output, bundle: Bundle) -> Output:
    """For a channel without buttons: a hint to tap one becomes a hint to type the answer."""
    if not isinstance(output, Question) or not output.hint:
        return output
    for lang in bundle.languages:
        if output.hint == bundle.text("choose_hint", lang):
            return dataclasses.replace(output, hint=bundle.text("choose_hint_typed", lang))
    return output


def render(output: Output) -> str:
    """The output as text; empty for outputs a channel handles itself (documents, the end)."""
    if isinstance(output, Say):
        return output.text
    if isinstance(output, Question):
        lines = [output.text]
        lines.extend(f"  {o.number}) {o.label}" for o in output.options)
        if output.hint:
            lines.append(f"({output.hint})")
        return "\n".join(lines)
    if isinstance(output, Contacts):
        return "\n\n".join(card_text(output, i) for i in range(len(output.cards)))
    if isinstance(output, ChecklistView):
        lines = [output.title]
        lines.extend(f"  [{'x' if t.done else ' '}] {t.number}. {t.text}" for t in output.items)
        lines.append(f"{output.progress} — {output.hint}")
        return "\n".join(lines)
    return ""


_PHONE_CHARS = re.compile(r"[^\d+]")


def tel_uri(phone: str) -> str | None:
    """`tel:` with digits and a leading + (RFC 3966); None when nothing is left. Only the
    first of several numbers; a "(0)" after the country code is not dialled."""
    first = phone.split(",")[0].strip()
    if first.startswith("+"):
        first = first.replace("(0)", "")
    digits = _PHONE_CHARS.sub("", first)
    plus = digits.startswith("+")
    digits = digits.replace("+", "")
    return f"tel:{'+' if plus else ''}{digits}" if digits else None


def card_text(contacts: Contacts, index: int) -> str:
    card, labels = contacts.cards[index], contacts.labels
    lines = [f"• {card.name}"]
    for label, value in ((labels.phone, card.phone), (labels.web, card.web),
                         (labels.email, card.email), (labels.hours, card.hours)):
        if value:
            lines.append(f"  {label}: {value}")
    if card.note:
        lines.append(f"  {card.note}")
    if card.checked:
        lines.append(f"  ({labels.checked} {card.checked})")
    return "\n".join(lines)
