"""Text placeholders: `{slot}` shows an earlier answer, `{{` and `}}` are literal braces."""

from __future__ import annotations

import re
from collections.abc import Callable

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


def placeholders(text: str) -> list[str]:
    """The names used as `{name}` in a text, in order (literal braces excluded)."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1) is not None]


def is_plain(text: str) -> bool:
    """The text is shown exactly as written: no placeholder, no doubled brace."""
    return "{" not in text and "}" not in text


def fill(text: str, value_of: Callable[[str], str]) -> str:
    """Replace each `{name}` by `value_of(name)`; `{{` and `}}` become single braces."""
    if is_plain(text):
        return text

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return value_of(match.group(1))

    return _PLACEHOLDER.sub(replace, text)
