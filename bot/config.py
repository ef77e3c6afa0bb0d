"""Where Lotse keeps its data and how long it keeps a conversation, from options or environment."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from bot.keys import ConversationKey

STATE_DB = "state.db"


def parse_admins(text: str) -> frozenset[ConversationKey]:
    """"telegram:12345, matrix:@office:kassel.de" -> conversation keys (split at the first :)."""
    keys = set()
    for item in text.split(","):
        platform, sep, user = item.strip().partition(":")
        if sep and platform and user:
            keys.add(ConversationKey(platform, user))
    return frozenset(keys)
REPORTS_DB = "reports.db"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    idle: dt.timedelta
    synchronous: str
    keep_reports_years: int = 5
    threshold: int = 5
    admins: frozenset[ConversationKey] = frozenset()
    """Who may ask for statistics in a chat: `platform:user` pairs from LOTSE_ADMINS."""

    @classmethod
    def from_env(cls, data_dir: Path | None = None,
                 environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        folder = data_dir or Path(env.get("LOTSE_DATA_DIR") or "data")
        hours = float(env.get("LOTSE_IDLE_HOURS") or 24)
        return cls(folder, dt.timedelta(hours=hours), env.get("LOTSE_DB_SYNC") or "NORMAL",
                   int(env.get("LOTSE_KEEP_REPORTS_YEARS") or 5),
                   int(env.get("LOTSE_STATS_THRESHOLD") or 5),
                   parse_admins(env.get("LOTSE_ADMINS") or ""))

    @property
    def state_db(self) -> Path:
        return self.data_dir / STATE_DB

    @property
    def reports_db(self) -> Path:
        return self.data_dir / REPORTS_DB
