"""Markup in texts is refused: channels show texts as plain text and escape them, so `<b>` would
appear as the characters `<b>`. An author who expects markup to work learns at the place, with
the fix, that it does not."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.flows.content import Content
from bot.flows.flow_file import FlowFile
from bot.flows.problems import Problem

MARKUP = re.compile(r"<(?:/?[A-Za-z][^<>]*>?|!--|![A-Za-z]|\?[A-Za-z])|\bjavascript\s*:",
                    re.IGNORECASE)
"""An HTML or XML tag, comment or declaration (`<b>`, `</a>`, `<script`, `<!--`), or a
javascript: link."""

_HINT = ("Lotse shows texts as plain text on every channel and escapes them: write the words "
         "without markup (for emphasis, use words; for a link, the address alone)")


def find_markup(text: str) -> str | None:
    match = MARKUP.search(text)
    return match.group(0)[:30] if match else None


def check_markup(content: Content, files: Iterable[FlowFile], problems: list[Problem]) -> None:
    """One error per text with markup: content texts, inline flow texts, contact details."""
    for lang in content.languages:
        for key, source in content.texts.get(lang, {}).items():
            found = find_markup(source.text)
            if found:
                problems.append(Problem(source.file, source.line, source.col,
                                        f"text '{key}' ({lang}) contains markup {found!r}",
                                        _HINT))
    for flow_file in files:
        for text, line, col, key in flow_file.texts:
            if key:
                continue  # a content key: reported above, at the content file
            for lang, value in text.items():
                found = find_markup(value)
                if found:
                    problems.append(Problem(flow_file.file, line, col,
                                            f"the '{lang}' text contains markup {found!r}",
                                            _HINT))
    for contact_id, contact in content.contacts.items():
        file, line, col = content.contact_pos[contact_id]
        texts = [contact.name, contact.hours or {}, contact.note or {}]
        for text in texts:
            for lang, value in text.items():
                found = find_markup(value)
                if found:
                    problems.append(Problem(file, line, col, f"contact '{contact_id}' "
                                            f"({lang}) contains markup {found!r}", _HINT))
