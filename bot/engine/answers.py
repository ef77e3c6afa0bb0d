"""Understanding what a person typed: a choice by number, label or synonym, numbers, a date
(read in `dates_read`). A shaken person writes "I was threatened on the phone", not "6", so a
sentence that holds the words of exactly one choice answers too."""

from __future__ import annotations

import re

from bot.engine.dates_read import DateError as DateError
from bot.engine.dates_read import find_date as find_date
from bot.engine.dates_read import parse_date as parse_date
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
