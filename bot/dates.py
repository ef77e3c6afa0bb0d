"""Dates as Lotse writes them: German local time, the date format per language, and public
holidays by region; shared by the flow checker, the engine, documents and reminders. Lotse serves
German municipalities wherever its server runs, so the zone is fixed, not a setting."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo


def _zone() -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo("Europe/Berlin")
    except zoneinfo.ZoneInfoNotFoundError:  # no time zone database: the server's own zone
        return dt.datetime.now().astimezone().tzinfo or dt.UTC


LOCAL = _zone()


_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


def format_date(day: dt.date, lang: str) -> str:
    if lang == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return day.strftime("%d.%m.%Y")


@functools.lru_cache(maxsize=64)
def holidays_of(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    import holidays  # here: it is slow to import, and most commands never need it

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def valid_region(region: str) -> bool:
    country, _, subdivision = region.partition("-")
    try:
        holidays_of(country, subdivision or None, 2026)  # any year tells whether it is known
    except (NotImplementedError, KeyError, ValueError):
        return False
    return True
