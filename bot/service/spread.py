"""Reminder due times that do not tell when they were set (issue #26, item 6).

"Remind me in three days" due exactly three days after the turn would keep the moment a person
was in the conversation, and so the moment a report was filed, in state.db for three days. Such a
reminder is due at a random moment of the day it falls on instead, within office hours: the day
and the date it shows stay the same, the time says nothing. (A reminder counted from a date the
person gave, the Strafantrag deadline, keeps its morning: that time was never the turn's.)
"""

from __future__ import annotations

import datetime as dt
import secrets

from bot.dates import LOCAL

FIRST_HOUR = 9
LAST_HOUR = 17
"""Spread over 9:00 to 17:00, local time: inside the default delivery hours (8 to 20)."""


def spread_due(due: dt.datetime, local: dt.tzinfo = LOCAL) -> dt.datetime:
    """A random moment between FIRST_HOUR and LAST_HOUR (local) of the day `due` falls on, in
    UTC; the seconds from a system random source."""
    start = dt.datetime.combine(due.astimezone(local).date(), dt.time(FIRST_HOUR), local)
    offset = dt.timedelta(seconds=secrets.randbelow((LAST_HOUR - FIRST_HOUR) * 3600))
    return (start + offset).astimezone(dt.UTC)
