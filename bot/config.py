"""Where Lotse keeps its data and how long it keeps a conversation, from options or environment."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
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
class TelegramSettings:
    """The Telegram channel: long polling unless `webhook_url` is set."""

    token: str
    api_url: str = "https://api.telegram.org"
    """The Bot API server's root: Telegram's, a self-hosted one, or the tests' stand-in."""
    webhook_url: str | None = None
    """The public HTTPS address Telegram posts updates to; unset: long polling."""
    webhook_listen: str = "127.0.0.1:8443"
    """Where the webhook server listens (host:port), usually behind a reverse proxy."""
    webhook_secret: str | None = None
    """Checked on every webhook request (X-Telegram-Bot-Api-Secret-Token)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramSettings | None:
        token = env.get("LOTSE_TELEGRAM_TOKEN")
        if not token:
            return None
        return cls(token, (env.get("LOTSE_TELEGRAM_API_URL") or cls.api_url).rstrip("/"),
                   env.get("LOTSE_TELEGRAM_WEBHOOK_URL") or None,
                   env.get("LOTSE_TELEGRAM_WEBHOOK_LISTEN") or cls.webhook_listen,
                   env.get("LOTSE_TELEGRAM_WEBHOOK_SECRET") or None)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    idle: dt.timedelta
    synchronous: str
    keep_reports_years: int = 5
    threshold: int = 5
    admins: frozenset[ConversationKey] = frozenset()
    """Who may ask for statistics in a chat: `platform:user` pairs from LOTSE_ADMINS."""
    telegram: TelegramSettings | None = None
    """Set when LOTSE_TELEGRAM_TOKEN is."""

    @classmethod
    def from_env(cls, data_dir: Path | None = None,
                 environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        folder = data_dir or Path(env.get("LOTSE_DATA_DIR") or "data")
        hours = float(env.get("LOTSE_IDLE_HOURS") or 24)
        return cls(folder, dt.timedelta(hours=hours), env.get("LOTSE_DB_SYNC") or "NORMAL",
                   int(env.get("LOTSE_KEEP_REPORTS_YEARS") or 5),
                   int(env.get("LOTSE_STATS_THRESHOLD") or 5),
                   parse_admins(env.get("LOTSE_ADMINS") or ""),
                   TelegramSettings.from_env(env))

    @property
    def state_db(self) -> Path:
        return self.data_dir / STATE_DB

    @property
    def reports_db(self) -> Path:
        return self.data_dir / REPORTS_DB
