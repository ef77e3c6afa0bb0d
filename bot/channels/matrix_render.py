"""Lotse's outputs as Matrix message contents: HTML with a plain-text body.

Matrix has no buttons a bot can rely on in every client, so choices are a numbered list. A
turn's texts go out as one message where they fit: one answer, one notification.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.channels.plaintext import render
from bot.channels.web.card_html import card_lines
from bot.engine.conversation import ChecklistView, Contacts, Output, Question, Say

HTML_FORMAT = "org.matrix.custom.html"
MESSAGE_LIMIT = 6000
"""Characters of body plus formatted body per event. An event may be 64 KiB of JSON; escaped
non-ASCII letters and, in encrypted rooms, base64 take up to eight times the characters."""


@dataclass(frozen=True, slots=True)
class Part:
    """One block of a message, as plain text and as HTML."""

    body: str
    html: str


def text_html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def question_part(question: Question) -> Part:
    lines = [text_html(question.text)] if question.text.strip() else []
    if question.options:
        numbered = [o.number for o in question.options]
        start = f' start="{numbered[0]}"' if numbered[0] != 1 else ""
        items = "".join(f"<li>{html.escape(o.label)}</li>" for o in question.options)
        if numbered == list(range(numbered[0], numbered[0] + len(numbered))):
            lines.append(f"<ol{start}>{items}</ol>")
        else:
            lines.append("<br>".join(f"{o.number}. {html.escape(o.label)}"
                                     for o in question.options))
    if question.hint:
        lines.append(f"<i>{text_html(question.hint)}</i>")
    return Part(render(question), "".join(_paragraphs(lines)))


def contacts_part(contacts: Contacts) -> Part:
    """Cards with tappable `tel:` and `mailto:` links, and the plain card text as body."""
    blocks = ["<br>".join(card_lines(card, contacts.labels, links=True, note_html=text_html))
              for card in contacts.cards]
    return Part(render(contacts), "".join(_paragraphs(blocks)))


def checklist_part(view: ChecklistView) -> Part:
    items = "<br>".join(f"{'☑' if t.done else '☐'} {t.number}. {html.escape(t.text)}"
                        for t in view.items)
    lines = [f"<b>{html.escape(view.title)}</b>", items,
             f"{html.escape(view.progress)} — <i>{text_html(view.hint)}</i>"]
    return Part(render(view), "".join(_paragraphs(lines)))


def part(output: Output) -> Part | None:
    """The output as a block of text; None for what is not text (documents, the end)."""
    if isinstance(output, Question):
        return question_part(output)
    if isinstance(output, Contacts):
        return contacts_part(output)
    if isinstance(output, ChecklistView):
        return checklist_part(output)
    if isinstance(output, Say):
        return Part(output.text, "".join(_paragraphs([text_html(output.text)])))
    return None


def split(block: Part, limit: int = MESSAGE_LIMIT) -> Iterator[Part]:
    """A block too long for one event, cut at line ends into plain paragraphs."""
    if len(block.body) + len(block.html) <= limit:
        yield block
        return
    current: list[str] = []
    size = 0
    for line in block.body.split("\n"):
        while len(line) > limit // 3:
            yield Part(line[:limit // 3], text_html(line[:limit // 3]))
            line = line[limit // 3:]
        if current and size + len(line) + 1 > limit // 3:
            text = "\n".join(current)
            yield Part(text, f"<p>{text_html(text)}</p>")
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current and "".join(current).strip():
        text = "\n".join(current)
        yield Part(text, f"<p>{text_html(text)}</p>")


def joined(parts: Iterable[Part], limit: int = MESSAGE_LIMIT) -> list[Part]:
    """Blocks joined into as few messages as fit in `limit`."""
    out: list[Part] = []
    for block in (piece for p in parts for piece in split(p, limit)):
        last = out[-1] if out else None
        if last is not None and (len(last.body) + len(last.html) + len(block.body)
                                 + len(block.html) + 2 <= limit):
            out[-1] = Part(f"{last.body}\n\n{block.body}", last.html + block.html)
        else:
            out.append(block)
    return out


def message(block: Part) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": block.body, "format": HTML_FORMAT,
            "formatted_body": block.html}


def notice(text: str) -> dict[str, Any]:
    """A channel note (not a turn of the conversation), still in the conversation's voice."""
    return message(Part(text, f"<p>{text_html(text)}</p>"))


def _paragraphs(blocks: Iterable[str]) -> Iterator[str]:
    for block in blocks:
        yield block if block.startswith("<ol") else f"<p>{block}</p>"
