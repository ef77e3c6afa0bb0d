"""Deadlines counted the way German law counts them, with Hessen's public holidays.

The Strafantrag period of § 77b StGB (BRIEF [10]) starts at the end of the day on which the
entitled person learns of the act and the perpetrator, and ends at the end of the day of the
last month whose number matches that day (§ 188 Abs. 2 BGB); a month without that day ends on
its last day. An end on a Saturday, Sunday or public holiday moves to the next working day.
Holidays come from the maintained `holidays` package, not from a hand-written list.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from bot.dates import holidays_of


def is_working_day(day: dt.date, region: str = "DE-HE") -> bool:
    country, _, subdivision = region.partition("-")
    return day.weekday() < 5 and day not in holidays_of(country, subdivision or None, day.year)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day number `months` later, or that month's last day when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(start: dt.date, months: int, region: str = "DE-HE", days: int = 0,
               working_day: bool = True) -> dt.date:
    """The last day of a period of `months` months (and `days` days) that begins at the end
    of `start`; with `working_day`, an end on a weekend or holiday moves to the next working
    day. A care step due within 48 hours keeps its day (`working_day=False`): it is no legal
    period, and the weekend does not make it wait."""
    end = add_months(start, months) + dt.timedelta(days=days)
    while working_day and not is_working_day(end, region):
        end += dt.timedelta(days=1)
    return end


def prepare(regions: Iterable[str], today: dt.date) -> None:
    """Work out this and next year's holidays before the first conversation needs them: the
    first look imports `holidays`, which would hold up the event loop."""
    for region in set(regions):
        for year in (today.year, today.year + 1):
            is_working_day(dt.date(year, 1, 1), region)

