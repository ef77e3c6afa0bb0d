"""Problems found in flows and content, reported all at once. Content authors are not
programmers: a problem is a value that says where it is and how to fix it, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    col: int
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        hint = f" — {self.hint}" if self.hint else ""
        if self.line == 0:  # no place in a file: an environment variable, a command option
            return f"{self.file}: {prefix}{self.message}{hint}"
        return f"{self.file}:{self.line}:{self.col}: {prefix}{self.message}{hint}"


class ContentError(Exception):
    """Raised when flows or content fail the check; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.file, p.line, p.col)))
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A hint naming the closest candidate, or an empty string when none is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""
