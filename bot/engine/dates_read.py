"""Dates as people write them ("gestern Abend", "letzten Dienstag", "3.12.", "Dec 3rd", "two
weeks ago"), in German or English, counted back from the conversation's today.

Theory of operation: the message is folded (lower case, ä as ae, ß as ss) and scanned once, left
to right, by one pattern built from the tables below; each way of writing a day is one named
alternative with one small reader in `_READERS`. Every finding is a day, a day after today, or
"ambiguous" ("12/3": 12 March or 3 December?). The incident's day is the first finding of the
strongest tier: a named day ("gestern", "am Freitag", "3.12.") beats "heute", and "heute" beats
"gerade" or "vorhin", because a message that names a day beside today mostly says today what
happened then ("heute erfahren, dass … am 3. Dezember"). A day after "wie" or "like" is a
comparison ("heute, wie letzten Dienstag"), not the incident's. A day after today counts only
when no other day is named; a date without a year that would lie ahead is last year's.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.dates import LOCAL
from bot.engine.deadlines import add_months
from bot.flows.words import fold

# ── The words, as data ─────────────────────────────────────────────────────────────────────
# Every key is written folded: lower case, ä/ö/ü as ae/oe/ue, ß as ss; a spelling without the
# e ("marz", "fruh") is a key of its own.

NAMED_DAYS: dict[str, int] = {
    # a day by how many days back it lies; negative: ahead
    "gestern": 1, "gestern morgen": 1, "gestern frueh": 1, "gestern fruh": 1,
    "gestern nacht": 1, "letzte nacht": 1, "vorgestern": 2, "vorgestern morgen": 2,
    "yesterday": 1, "last night": 1, "the day before yesterday": 2, "day before yesterday": 2,
    "morgen": -1, "morgen frueh": -1, "morgen fruh": -1, "uebermorgen": -2, "ubermorgen": -2,
    "tomorrow": -1, "the day after tomorrow": -2, "day after tomorrow": -2,
}
TODAY_WORDS = (
    "heute", "heut", "heute morgen", "heute frueh", "heute fruh", "heute nacht",
    "today", "tonight", "this morning", "this afternoon", "this evening", "earlier today",
)
JUST_NOW_WORDS = (
    # today, but weaker than "heute": "sie hat mir gerade erzählt, dass sie vorgestern …".
    # Not "jetzt" or "now": mostly how things are now ("jetzt ist alles ruhig", "I'm safe now").
    "vorhin", "eben", "gerade", "grade", "grad", "soeben", "gerade eben",
    "just now", "right now",
)
NOT_A_DAY = (
    # taken whole, so that their "morgen" is not tomorrow
    "guten morgen", "am morgen", "jeden morgen", "den morgen", "morgens", "good morning", "24/7",
)
MEASURES = (
    # after "9.30" or "1.5" these make it a time or an amount, not a day and month
    "uhr", "h", "std", "stunden", "min", "minuten", "km", "kg", "m", "euro", "eur", "prozent",
    "%", "promille", "hours", "minutes", "percent",
)
COMPARING = ("wie", "like", "as")  # "wie letzten Dienstag": a day compared with, not the day

MONTHS: dict[str, int] = {
    "januar": 1, "jan": 1, "jaenner": 1, "january": 1,
    "februar": 2, "feb": 2, "february": 2,
    "maerz": 3, "marz": 3, "mrz": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juni": 6, "jun": 6, "june": 6,
    "juli": 7, "jul": 7, "july": 7,
    "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "october": 10, "oct": 10,
    "november": 11, "nov": 11,
    "dezember": 12, "dez": 12, "december": 12, "dec": 12,
}
WEEKDAYS: dict[str, int] = {
    "montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5,
    "sonnabend": 5, "sonntag": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6,
}
DAY_PARTS = (
    # "Freitagabend", "Freitag morgen", "friday night": still that day
    "morgen", "frueh", "fruh", "vormittag", "mittag", "nachmittag", "abend", "nacht",
    "morning", "afternoon", "evening", "night",
)
WEEKDAY_WORDS: dict[str, int] = {
    # a word before a weekday: 0 the last one before today, -1 the one before that, 1 the next
    "letzten": 0, "letzte": 0, "letzter": 0, "vergangenen": 0, "vergangene": 0,
    "vergangener": 0, "am": 0, "diesen": 0, "last": 0, "past": 0, "on": 0, "this": 0,
    "vorletzten": -1, "vorletzte": -1,
    "naechsten": 1, "naechste": 1, "nachsten": 1, "kommenden": 1, "next": 1, "coming": 1,
}
WEEKS: dict[str, int] = {
    # "letzte Woche Donnerstag", "Thursday last week": the weekday in that calendar week
    "letzte woche": -1, "letzter woche": -1, "der letzten woche": -1, "vergangene woche": -1,
    "vergangener woche": -1, "der vergangenen woche": -1, "last week": -1,
    "vorletzte woche": -2, "vorletzter woche": -2, "der vorletzten woche": -2,
    "the week before last": -2,
    "diese woche": 0, "dieser woche": 0, "this week": 0,
    "naechste woche": 1, "naechster woche": 1, "next week": 1,
}
NUMBERS: dict[str, int] = {
    "ein": 1, "eine": 1, "einer": 1, "einem": 1, "einen": 1, "ner": 1, "nem": 1,
    "zwei": 2, "zwo": 2, "drei": 3, "vier": 4, "fuenf": 5, "funf": 5, "sechs": 6, "sieben": 7,
    "acht": 8, "neun": 9, "zehn": 10, "elf": 11, "zwoelf": 12, "zwolf": 12, "vierzehn": 14,
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14,
}
UNITS: dict[str, tuple[str, int]] = {
    # "vor drei Tagen", "two weeks ago": how far back one of them is
    "tag": ("days", 1), "tagen": ("days", 1), "day": ("days", 1), "days": ("days", 1),
    "woche": ("days", 7), "wochen": ("days", 7), "week": ("days", 7), "weeks": ("days", 7),
    "monat": ("months", 1), "monaten": ("months", 1), "month": ("months", 1),
    "months": ("months", 1),
    "jahr": ("months", 12), "jahren": ("months", 12), "year": ("months", 12),
    "years": ("months", 12),
    "stunde": ("hours", 1), "stunden": ("hours", 1), "hour": ("hours", 1), "hours": ("hours", 1),
    "minute": ("hours", 0), "minuten": ("hours", 0), "minutes": ("hours", 0),
}

_TEXTS = {"invalid": "invalid_date", "future": "future_date", "ambiguous": "ambiguous_date"}

# How strongly a finding names the incident's day (see the module's docstring).
NAMED, TODAY, JUST_NOW = 2, 1, 0


class DateError(ValueError):
    """Why a date was not taken: "invalid" (none read), "future" (only a day after today was
    named) or "ambiguous" ("12/3": day and month cannot be told apart)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def text_key(self) -> str:
        """The key of Lotse's own text (`system.…`) that tells the person what to write."""
        return _TEXTS[self.reason]


def parse_date(text: str, today: dt.date) -> dt.date:
    """The day an answer to "when did it happen?" names; DateError when it names none."""
    found = find_date(text, today)
    if found is None:
        raise DateError("invalid")
    return found


def find_date(text: str, today: dt.date) -> dt.date | None:
    """The incident's day a message names, or None when it names no day ("letzte Woche").
    Raises DateError("ambiguous") for "12/3" and DateError("future") when every day named lies
    after today. `today` may be the conversation's `now`: it is then taken in German time."""
    if isinstance(today, dt.datetime):
        today = today.astimezone(LOCAL).date() if today.tzinfo else today.date()
    folded = fold(text)
    best: _Finding | None = None
    ahead = False
    for match in _pattern().finditer(folded):
        kind = match.lastgroup
        if kind is None or kind == "not_a_day" or _COMPARED.search(folded, 0, match.start()):
            continue
        found = _READERS[kind](match, today)
        if found is None:
            continue
        if found.day is not None and found.day > today:
            ahead = True
        elif best is None or found.tier > best.tier:
            best = found
    if best is not None:
        if best.day is None:
            raise DateError("ambiguous")
        return best.day
    if ahead:
        raise DateError("future")
    return None


@dataclass(frozen=True, slots=True)
class _Finding:
    tier: int
    day: dt.date | None  # None: ambiguous


def _words(words: Iterable[str]) -> str:
    """An alternation of words, longest first, so "gestern morgen" wins over "gestern"."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@functools.cache  # built at the first date, not when `lotse chat` starts
def _pattern() -> re.Pattern[str]:
    months, weekdays, weeks = _words(MONTHS), _words(WEEKDAYS), _words(WEEKS)
    number = rf"\d{{1,3}}|{_words(NUMBERS)}"
    # Where two alternatives start at the same place, the first that fits wins.
    parts = {
        "not_a_day": rf"\b(?:{_words(NOT_A_DAY)})(?!\w)",
        # 3.12. | 3.12.26 | 03.12.2026 | 3.12 (not 9.30 Uhr, 1.5 Stunden or 1.2.3)
        "dotted": r"(?<![\d.])(?P<d_day>\d{1,2})\.\s?(?P<d_month>\d{1,2})"
                  r"(?:\.(?P<d_year>\d{2}(?![\d.])|\s?\d{4}(?!\d))?(?!\d)"
                  rf"|(?![\d.]|\s?(?:{_words(MEASURES)})(?!\w)))",
        "iso": r"\b(?P<i_year>\d{4})-(?P<i_month>\d{1,2})-(?P<i_day>\d{1,2})\b",
        "slashed": r"(?<![\d/])(?P<s_first>\d{1,2})/(?P<s_second>\d{1,2})"
                   r"(?:/(?P<s_year>\d{4}|\d{2}))?(?![\d/])",
        # 3. Dezember | 3 Dez. 2026 | 3rd of December
        "day_month": rf"\b(?P<dm_day>\d{{1,2}})(?:\.|st|nd|rd|th)?\s?(?:of\s)?"
                     rf"(?P<dm_month>{months})\b\.?(?:,?\s(?P<dm_year>\d{{4}})\b)?",
        # December 3 | Dec 3rd, 2026
        "month_day": rf"\b(?P<md_month>{months})\b\.?\s?(?P<md_day>\d{{1,2}})(?:st|nd|rd|th)?\b"
                     r"(?:,?\s(?P<md_year>\d{4})\b)?",
        # vor drei Tagen | two weeks ago
        "ago_de": rf"\bvor\s(?P<de_count>{number})\s(?P<de_unit>\w+)",
        "ago_en": rf"\b(?P<en_count>{number})\s(?P<en_unit>\w+)\sago\b",
        # letzten Dienstag | Freitagabend | letzte Woche Donnerstag | Thursday last week
        "weekday": rf"\b(?:(?P<w_week>{weeks})\s(?:(?:am|on)\s)?)?"
                   rf"(?:(?P<w_word>{_words(WEEKDAY_WORDS)})\s)?(?P<w_day>{weekdays})"
                   rf"(?:\s?(?:{_words(DAY_PARTS)}))?\b(?:,?\s(?:in\s)?(?P<w_week_after>{weeks})\b)?",
        "named": rf"\b(?:{_words(NAMED_DAYS)})\b",
        "today": rf"\b(?:{_words(TODAY_WORDS)})\b",
        "just_now": rf"(?<!\d)(?<!\d\s)\b(?:{_words(JUST_NOW_WORDS)})\b",  # not "30 grad"
    }
    return re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in parts.items()))


_COMPARED = re.compile(rf"\b(?:{_words(COMPARING)})\s(?:(?:schon|bereits|already|am|on)\s)?\Z")


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _day(year: int | None, month: int, day: int, today: dt.date) -> _Finding | None:
    """A calendar date; without a year the last one that is not after today."""
    try:
        if year is not None:
            return _Finding(NAMED, dt.date(year, month, day))
        found = dt.date(today.year, month, day)
        if found > today:
            found = dt.date(today.year - 1, month, day)
    except ValueError:  # 31.2., or 29.2. in a year without it
        return None
    return _Finding(NAMED, found)


def _slashed(m: re.Match[str], today: dt.date) -> _Finding | None:
    first, second = int(m["s_first"]), int(m["s_second"])
    if first <= 12 and second <= 12 and first != second:
        return _Finding(NAMED, None)  # day/month in Germany, month/day in the US
    day, month = (second, first) if second > 12 else (first, second)
    return _day(_year(m["s_year"]), month, day, today)


def _ago(count: str, unit: str, today: dt.date) -> _Finding | None:
    if unit not in UNITS:  # "vor ein paar Tagen"
        return None
    measure, size = UNITS[unit]
    back = (int(count) if count.isdigit() else NUMBERS[count]) * size
    if measure == "hours":
        return _Finding(TODAY, today - dt.timedelta(days=back // 24))
    if measure == "days":
        return _Finding(NAMED, today - dt.timedelta(days=back))
    return _Finding(NAMED, add_months(today, -back))  # the same day, or that month's last


def _weekday(m: re.Match[str], today: dt.date) -> _Finding:
    weekday = WEEKDAYS[m["w_day"]]
    week = m["w_week"] or m["w_week_after"]
    if week:
        monday = today - dt.timedelta(days=today.weekday())
        return _Finding(NAMED, monday + dt.timedelta(days=7 * WEEKS[week] + weekday))
    shift = WEEKDAY_WORDS.get(m["w_word"] or "", 0)
    if shift > 0:  # "nächsten Dienstag": the next one after today
        return _Finding(NAMED, today + dt.timedelta(days=(weekday - today.weekday() - 1) % 7 + 1))
    last = today - dt.timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
    return _Finding(NAMED, last + dt.timedelta(days=7 * shift))


_READERS: dict[str, Callable[[re.Match[str], dt.date], _Finding | None]] = {
    "dotted": lambda m, today: _day(_year(m["d_year"]), int(m["d_month"]), int(m["d_day"]),
                                    today),
    "iso": lambda m, today: _day(int(m["i_year"]), int(m["i_month"]), int(m["i_day"]), today),
    "slashed": _slashed,
    "day_month": lambda m, today: _day(_year(m["dm_year"]), MONTHS[m["dm_month"]],
                                       int(m["dm_day"]), today),
    "month_day": lambda m, today: _day(_year(m["md_year"]), MONTHS[m["md_month"]],
                                       int(m["md_day"]), today),
    "ago_de": lambda m, today: _ago(m["de_count"], m["de_unit"], today),
    "ago_en": lambda m, today: _ago(m["en_count"], m["en_unit"], today),
    "weekday": _weekday,
    "named": lambda m, today: _Finding(NAMED, today - dt.timedelta(days=NAMED_DAYS[m[0]])),
    "today": lambda m, today: _Finding(TODAY, today),
    "just_now": lambda m, today: _Finding(JUST_NOW, today),
}
