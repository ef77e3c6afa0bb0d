"""When a reminder is due, and when it may be delivered. One counted from a date (the Strafantrag
deadline) is due in the morning of its day, local time; one counted from now that many days
later. Delivery waits for the allowed hours: nobody is woken by a reminder of a bad day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from bot.dates import LOCAL
from bot.flows.model import ReminderItem

MORNING = dt.time(9, 0)
"""A date-based reminder is due at this local time of its day."""


def due_time(item: ReminderItem, slots: Mapping[str, object], now: dt.datetime,
             local: dt.tzinfo = LOCAL) -> dt.datetime | None:
    """The reminder's due time in UTC, or None when there is nothing to remind of: the date was
    skipped, or its reminder day has already passed (the person has just seen the date)."""
    if item.after_days is not None:
        return now.astimezone(dt.UTC) + dt.timedelta(days=item.after_days)
    value = slots.get(item.before_slot or "")
    if not isinstance(value, str):
        return None
    try:
        target = dt.date.fromisoformat(value)
    except ValueError:
        return None
    day = target - dt.timedelta(days=item.before_days)
    due = dt.datetime.combine(day, MORNING, local).astimezone(dt.UTC)
    return due if due > now else None


def reminder_date(item: ReminderItem, due: dt.datetime, local: dt.tzinfo = LOCAL) -> str | None:
    """The date a date-based reminder is about, worked out from its due time alone, so that the
    stored reminder needs to hold nothing about the incident."""
    if item.before_slot is None:
        return None
    due_day = due.astimezone(local).date()
    return (due_day + dt.timedelta(days=item.before_days)).isoformat()


def next_allowed(moment: dt.datetime, first_hour: int, last_hour: int,
                 local: dt.tzinfo = LOCAL) -> dt.datetime:
    """`moment` if it lies within the allowed hours (local), else the next start of them."""
    here = moment.astimezone(local)
    if first_hour <= here.hour < last_hour:
        return moment
    day = here.date() if here.hour < first_hour else here.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(first_hour), local).astimezone(moment.tzinfo)
