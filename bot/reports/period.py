"""A report's period: a run of whole months, as the suppression rule decides by month.

`2026` is a year, `2026-Q3` a quarter, `2026-05` a month; `--from`/`--to` any run of months. The
previous period is the run of the same length just before, for "is it getting better".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])\Z")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])\Z")
_YEAR = re.compile(r"(\d{4})\Z")


def _index(month: str) -> int:
    found = _MONTH.match(month)
    if found is None:
        raise ValueError(f"'{month}' is not a month; write YYYY-MM, e.g. 2026-03")
    return int(found[1]) * 12 + int(found[2]) - 1


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Period:
    first: str
    last: str

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(_month(i) for i in range(_index(self.first), _index(self.last) + 1))

    def previous(self) -> Period:
        length = len(self.months)
        start = _index(self.first) - length
        return Period(_month(start), _month(start + length - 1))

    def holds(self, month: str) -> bool:
        return self.first <= month <= self.last


def period_of(text: str) -> Period:
    """`2026`, `2026-Q3` or `2026-05` as a period; ValueError names what to write."""
    text = text.strip()
    if found := _YEAR.match(text):
        return Period(f"{found[1]}-01", f"{found[1]}-12")
    if found := _QUARTER.match(text):
        first = int(found[2]) * 3 - 2
        return Period(f"{found[1]}-{first:02d}", f"{found[1]}-{first + 2:02d}")
    if _MONTH.match(text):
        return Period(text, text)
    raise ValueError(f"'{text}' is not a period; write a year (2026), a quarter (2026-Q3) or a "
                     "month (2026-05)")


def between(first: str, last: str) -> Period:
    """`--from first --to last`, both months; ValueError when the order is wrong."""
    if _index(last) < _index(first):
        raise ValueError(f"the period ends ({last}) before it begins ({first})")
    return Period(first, last)
