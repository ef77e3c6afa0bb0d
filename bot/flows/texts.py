"""Text placeholders: `{slot}` shows an earlier answer, `{{` and `}}` are literal braces."""

from __future__ import annotations

import re
from collections.abc import Callable

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def placeholders(text: str) -> list[str]:
    """The names used as `{name}` in a text, in order (literal braces excluded)."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1) is not None]


def fill(text: str, value_of: Callable[[str], str]) -> str:
    """Replace each `{name}` by `value_of(name)`; `{{` and `}}` become single braces."""
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return value_of(match.group(1))

    return _PLACEHOLDER.sub(replace, text)
