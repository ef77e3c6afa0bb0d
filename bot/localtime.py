"""German local time, for everything Lotse dates: documents, file names, reminders.

Lotse serves German municipalities, wherever its server runs, so this is one zone for the whole
program, not a setting.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo


def _zone() -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo("Europe/Berlin")
    except zoneinfo.ZoneInfoNotFoundError:  # no time zone database: the server's own zone
        return dt.datetime.now().astimezone().tzinfo or dt.UTC


LOCAL = _zone()
