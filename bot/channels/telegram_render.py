"""Lotse's outputs as Telegram messages: HTML text blocks and inline keyboards; pure
functions, the channel sends what they return."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable

from bot.channels.web.card_html import card_lines
from bot.engine.conversation import Contacts, Picked, Question

CALLBACK_LIMIT = 64
"""Telegram's limit for a button's callback_data, in bytes."""
MESSAGE_LIMIT = 4096
SEND = "#send"
"""callback_data of the button that sends a multiple choice."""
TICK = "✓ "


class Buttons:
    """callback_data for a choice: "flow node choice" when it fits in 64 bytes, else a digest.
    The plain form survives restarts; a digest is remembered for this process only, so after a
    restart its tap is answered as stale."""

    def __init__(self) -> None:
        self._long: dict[str, tuple[str, str, str]] = {}

    def data(self, flow: str, node: str, choice: str) -> str:
        plain = f"{flow} {node} {choice}"
        if len(plain.encode()) <= CALLBACK_LIMIT and len(plain.split(" ")) == 3:
            return plain
        digest = "#" + hashlib.blake2b(plain.encode(), digest_size=16).hexdigest()
        self._long[digest] = (flow, node, choice)
        return digest

    def picked(self, data: str, lang: str | None) -> Picked:
        parts = self._long.get(data) or tuple(data.split(" "))
        if len(parts) != 3:
            parts = ("", "", "")  # not ours, or from before a restart: the engine calls it stale
        return Picked(parts[0], parts[1], parts[2], lang)


Keyboard = dict[str, list[list[dict[str, str]]]]
"""An inline keyboard as the Bot API's JSON (`InlineKeyboardMarkup`), built as plain data."""


def keyboard(question: Question, buttons: Buttons, send_label: str,
             chosen: frozenset[str] = frozenset()) -> Keyboard | None:
    """One button per choice; for a multiple choice, `send_label` sends the ticked (✓) ones."""
    if not question.options:
        return None
    rows = [[{"text": f"{TICK if o.id in chosen else ''}{o.number}. {o.label}",
              "callback_data": buttons.data(question.flow, question.node, o.id)}]
            for o in question.options]
    if question.multiple:
        rows.append([{"text": send_label, "callback_data": SEND}])
    return {"inline_keyboard": rows}


def question_html(question: Question) -> str:
    text = html.escape(question.text)
    if question.options and not question.text.strip():
        text = "…"
    return text + (f"\n<i>{html.escape(question.hint)}</i>" if question.hint else "")


def contacts_html(contacts: Contacts) -> list[str]:
    """One HTML block per card. Phone numbers stay plain text: Telegram's apps make them
    tappable, while a tel: link is refused by the Bot API and would lose the whole message."""
    return ["\n".join(card_lines(card, contacts.labels, links=False))
            for card in contacts.cards]


def plain_blocks(text: str, limit: int = MESSAGE_LIMIT // 2) -> list[str]:
    """Plain text as escaped HTML blocks, cut at line ends so each fits in one message."""
    blocks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        while len(line) > limit:
            blocks.append(html.escape(line[:limit]))
            line = line[limit:]
        if current and size + len(line) + 1 > limit:
            blocks.append(html.escape("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(html.escape("\n".join(current)))
    return [b for b in blocks if b.strip()]


def messages(blocks: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Blocks joined by blank lines into as few messages as fit."""
    out: list[str] = []
    for block in blocks:
        if out and len(out[-1]) + 2 + len(block) <= limit:
            out[-1] += "\n\n" + block
        else:
            out.append(block)
    return out
