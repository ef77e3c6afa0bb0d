"""Understanding what a person typed: a choice by number, label or synonym, numbers, a date.
A shaken person writes "I was threatened on the phone", not "6", so a sentence that holds the
words of exactly one choice answers too."""

from __future__ import annotations

import datetime as dt
import re

from bot.flows.model import Ask
from bot.flows.words import normalize

_NUMBER = re.compile(r"\(?(\d{1,3})[.)]?\Z")
_SPLIT = re.compile(r"\s*(?:,|;|\+|&|\bund\b|\band\b|\s)\s*")


def _number(text: str, count: int) -> int | None:
    match = _NUMBER.match(text.strip())
    if match:
        number = int(match.group(1))
        if 1 <= number <= count:
            return number - 1
    return None


def match_choice(ask: Ask, text: str) -> str | None:
    """The id of the one choice the text means, or None when it means none or several."""
    number = _number(text, len(ask.choices))
    if number is not None:
        return ask.choices[number].id
    said = normalize(text)
    if not said:
        return None
    phrases = [c.phrases for c in ask.choices]
    exact = [i for i, p in enumerate(phrases) if said in p]
    if len(exact) == 1:
        return ask.choices[exact[0]].id
    padded = f" {said} "
    found = {i: [w for w in p if f" {w} " in padded] for i, p in enumerate(phrases)}
    found = {i: words for i, words in found.items() if words}
    if len(found) == 1:
        return ask.choices[next(iter(found))].id
    if len(found) > 1:
        # "nicht in gefahr" beats "gefahr": a longer phrase that holds the other choices' words.
        longest = {i: max(words, key=len) for i, words in found.items()}
        best = max(longest, key=lambda i: len(longest[i]))
        if all(f" {w} " in f" {longest[best]} " for i, words in found.items() if i != best
               for w in words):
            return ask.choices[best].id
    # "ja" for "Ja, anonym melden": the first words of exactly one choice's label.
    starts = [i for i, choice in enumerate(ask.choices)
              if any(f"{p} ".startswith(f"{said} ") for p in choice.phrases)]
    if len(starts) == 1:
        return ask.choices[starts[0]].id
    return None


def match_choices(ask: Ask, text: str) -> tuple[str, ...] | None:
    """All choices named in a multiple answer ("1, 3", "phone and letter"), or None."""
    single = match_choice(ask, text)
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    picked: list[str] = []
    if parts and all(_number(p, len(ask.choices)) is not None for p in parts):
        picked = [ask.choices[_number(p, len(ask.choices)) or 0].id for p in parts]
    else:
        said = f" {normalize(text)} "
        for choice in ask.choices:
            if any(f" {w} " in said for w in choice.phrases):
                picked.append(choice.id)
        if not picked and single:
            picked = [single]
    if not picked:
        return None
    order = [c.id for c in ask.choices]
    return tuple(sorted(set(picked), key=order.index))


def parse_numbers(text: str, count: int) -> list[int] | None:
    """Zero-based indexes for "1 3" or "1, 3"; None unless every part is a valid number."""
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    numbers = [_number(p, count) for p in parts]
    if not parts or any(n is None for n in numbers):
        return None
    return [n for n in numbers if n is not None]


_RELATIVE = {
    "heute": 0, "today": 0, "gestern": 1, "yesterday": 1, "vorgestern": 2,
    "day before yesterday": 2, "the day before yesterday": 2,
}
_DOTTED = re.compile(r"(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{2}|\d{4})?\Z")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})\Z")
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\Z")


class DateError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid" or "future"


def parse_date(text: str, today: dt.date) -> dt.date:
    """A date the way people write it in Germany; raises DateError("invalid"/"future")."""
    said = text.strip().casefold().rstrip(".!")
    if said in _RELATIVE:
        return today - dt.timedelta(days=_RELATIVE[said])
    day = month = year = None
    if match := _DOTTED.match(said):
        day, month = int(match.group(1)), int(match.group(2))
        year = _year(match.group(3)) if match.group(3) else None
    elif match := _ISO.match(said):
        year, month, day = (int(g) for g in match.groups())
    elif match := _SLASHED.match(said):
        day, month, year = int(match.group(1)), int(match.group(2)), _year(match.group(3))
    else:
        raise DateError("invalid")
    try:
        if year is None:
            found = dt.date(today.year, month, day)
            if found > today:
                found = dt.date(today.year - 1, month, day)
        else:
            found = dt.date(year, month, day)
    except ValueError:
        raise DateError("invalid") from None
    if found > today:
        raise DateError("future")
    return found


def _year(text: str) -> int:
    year = int(text)
    return 2000 + year if year < 100 else year
