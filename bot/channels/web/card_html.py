"""A contact card as lines of HTML, with one set of escaping rules for Telegram and Matrix."""

from __future__ import annotations

import html
from collections.abc import Callable

from bot.channels.plaintext import tel_uri
from bot.engine.conversation import CardLabels, ContactCard


def card_lines(card: ContactCard, labels: CardLabels, *, links: bool,
               note_html: Callable[[str], str] = html.escape) -> list[str]:
    """The card's lines, name first. `links`: phone and e-mail are links too, not only web."""
    lines = [f"<b>{html.escape(card.name)}</b>"]
    if card.phone:
        shown = html.escape(card.phone)
        uri = tel_uri(card.phone) if links else None
        link = f'<a href="{html.escape(uri, quote=True)}">{shown}</a>' if uri else shown
        lines.append(f"{html.escape(labels.phone)}: {link}")
    if card.web:
        url = html.escape(card.web, quote=True)
        lines.append(f'{html.escape(labels.web)}: <a href="{url}">{html.escape(card.web)}</a>')
    if card.email:
        shown = html.escape(card.email)
        if links:
            mail = html.escape(f"mailto:{card.email}", quote=True)
            shown = f'<a href="{mail}">{shown}</a>'
        lines.append(f"{html.escape(labels.email)}: {shown}")
    if card.hours:
        lines.append(f"{html.escape(labels.hours)}: {html.escape(card.hours)}")
    if card.note:
        lines.append(f"<i>{note_html(card.note)}</i>")
    if card.checked:
        lines.append(f"({html.escape(labels.checked)} {html.escape(card.checked)})")
    return lines
