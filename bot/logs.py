"""Structured, privacy-safe logs for `lotse run`: one JSON object per line on standard error.

Lotse logs events and counts, never message text, names, user or chat ids, tokens or passwords,
at any level. Its own loggers (`lotse`, `bot.*`, `storage.*`) follow `log_level`; every other
logger is held at WARNING whatever `log_level` says, because the libraries below Lotse write
exactly that at DEBUG and INFO: python-telegram-bot each update and API call (token, ids, first
names, text), httpx each request line (the token is part of Telegram's URL), aiohttp's access log
(client addresses), matrix-nio rooms and users, asyncio and peewee what they were handed. What a
library logs at WARNING and above is kept, with tokens, known secrets, long numbers, Matrix ids
and IP addresses (aiohttp names the client of a failed request) blanked out; a token or secret
is blanked in Lotse's own lines (and tracebacks) as well.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from typing import Any

import orjson

OWN = ("lotse", "bot", "storage")
"""Lotse's loggers: the only ones that may write below WARNING."""

QUIET = ("httpx", "httpcore", "aiohttp.access", "nio", "telegram", "telegram.ext.Updater",
         "fontTools", "peewee", "urllib3", "asyncio", "tornado", "aiohttp")
"""Named once more at WARNING, in case the root's level is changed after `setup`."""

_TOKEN = re.compile(
    r"\d{5,}:[A-Za-z0-9_-]{30,}"  # a Telegram bot token (also inside /bot<token>/ in a URL)
    r"|\bsy[tn]_[A-Za-z0-9_-]{8,}"  # a Synapse access token
    r"|(?i:access_token|password|secret_token)[\"']?\s*[=:]\s*[\"']?[^\s&\"',}]+")
_THIRD_PARTY = re.compile(
    r"[@!#$][^\s:'\"<>]+:[\w.\-\[\]]+(?::\d+)?"  # Matrix user, room and event ids
    r"|(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"  # an IPv4 address (aiohttp: "request from")
    r"|(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"  # an IPv6 address
    r"|-?\d{6,}")  # Telegram user, chat and message ids, update ids, …


def own(name: str) -> bool:
    return any(name == o or name.startswith(o + ".") for o in OWN)


class Scrubber:
    """Blanks tokens and secrets in any text, and ids as well in what libraries write."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        known = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    def __call__(self, text: str, third_party: bool) -> str:
        if self._known is not None:
            text = self._known.sub("<secret>", text)
        text = _TOKEN.sub("<secret>", text)
        return _THIRD_PARTY.sub("<id>", text) if third_party else text


class Guard(logging.Filter):
    """On the handler: a library's record below WARNING is dropped, whatever level its logger
    was given (an operator's logging config, a library setting its own); the rest is scrubbed.
    Records of Lotse's own loggers pass at the configured level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return own(record.name) or record.levelno >= logging.WARNING


class JsonLines(logging.Formatter):
    """time, level, logger, event (+ error type and traceback): machine-readable, greppable."""

    def __init__(self, scrub: Scrubber | None = None) -> None:
        super().__init__()
        self.scrub = scrub or Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        third_party = not own(record.name)
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": self.scrub(record.getMessage(), third_party),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = self.scrub(self.formatException(record.exc_info), third_party)
        return orjson.dumps(entry).decode()


def setup(level: str = "INFO", secrets: Iterable[str | None] = ()) -> None:
    """Lotse's loggers at `level`, everything else at WARNING; `secrets` (tokens, passwords)
    never appear in a line."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines(Scrubber(secrets)))
    handler.addFilter(Guard())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    chosen = logging.getLevelName(level.upper())
    chosen = chosen if isinstance(chosen, int) else logging.INFO
    root.setLevel(max(logging.WARNING, chosen))
    for name in OWN:
        logging.getLogger(name).setLevel(chosen)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, chosen))
