"""Structured, privacy-safe logs for `lotse run`: one JSON object per line on standard error.

Lotse logs events and counts, never message text or user ids. Third-party loggers that write
secrets or personal data at INFO are held at WARNING: httpx (the Telegram token in every
request line), aiohttp's access log (client addresses), matrix-nio (rooms and users).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson

QUIET = ("httpx", "httpcore", "aiohttp.access", "nio", "telegram.ext.Updater", "fontTools",
         "peewee", "urllib3")


class JsonLines(logging.Formatter):
    """time, level, logger, event (+ error type and traceback): machine-readable, greppable."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
