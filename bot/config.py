"""Settings from an optional config file (`lotse.yaml`), every key overridable by a variable.

A key's variable is its path in capitals joined by `_` (`telegram: token:` is
`LOTSE_TELEGRAM_TOKEN`) and wins over the file, so a secret can stay out of it. Mistakes are
reported all at once as `file:line:col: message — hint` (or naming the variable).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.flows.problems import ContentError, Problem, did_you_mean
from bot.flows.yaml_source import Y, load_yaml
from bot.service.keys import ConversationKey

STATE_DB = "state.db"
REPORTS_DB = "reports.db"
CONFIG_FILE = "lotse.yaml"
ENV_PREFIX = "LOTSE_"


def parse_admins(text: str) -> frozenset[ConversationKey]:
    """"telegram:12345, matrix:@office:kassel.de" -> conversation keys (split at the first :)."""
    keys = set()
    for item in text.split(","):
        platform, sep, user = item.strip().partition(":")
        if sep and platform and user:
            keys.add(ConversationKey(platform, user))
    return frozenset(keys)


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
    """Checked on every webhook request (X-Telegram-Bot-Api-Secret-Token); required with
    `webhook_url`, or anyone who can reach the webhook could post forged updates."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))


@dataclass(frozen=True)
class MatrixSettings:
    """The Matrix channel: a bot account on a homeserver, password or access token."""

    homeserver: str
    """The homeserver's base URL, e.g. https://matrix.kassel.de."""
    user_id: str
    """The bot's full user id, e.g. @lotse:kassel.de."""
    password: str | None = None
    """Used once, for the first login; afterwards the saved device and token are reused."""
    access_token: str | None = None
    """Instead of a password: a token for an existing device (then `device_id` too)."""
    device_id: str | None = None
    device_name: str = "Lotse"
    allowed_servers: tuple[str, ...] = ()
    """Accept invites only from users of these homeservers (server names); empty: anyone."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "homeserver", self.homeserver.rstrip("/"))


@dataclass(frozen=True)
class WebSettings:
    """The web chat page."""

    enabled: bool = True
    """`lotse run` serves the page unless this is false (`lotse web` always does)."""
    listen: str = "127.0.0.1:8080"
    """host:port; behind a reverse proxy keep it on 127.0.0.1."""
    secure_cookie: bool = False
    """The page is served over HTTPS (directly or by a proxy; Lotse cannot tell): the session
    cookie is then `__Host-lotse_session`, Secure."""
    exit_url: str = "about:blank"
    """Where the quick exit leads: a neutral page (the city's weather, a search engine)."""
    new_per_address: int = 60
    """New conversations one client address may begin at once, refilled evenly over
    `new_per_address_minutes` (0: no cap). A person begins a handful in an afternoon (`vergessen`,
    the quick exit, a second browser), but a town hall's staff share one public address and a
    training session opens the page together: 60 leaves room for that, and a script still gets
    no more than 60 rows and then one every 10 s."""
    new_per_address_minutes: float = 10.0
    """... the window in which `new_per_address` refills (60 per 10 minutes: one every 10 s)."""
    new_per_minute: int = 600
    """New conversations all clients together may begin per minute (0: no cap): a ceiling for
    floods from many addresses. Far above any city's real use (a whole staff told of Lotse in
    one mail does not open it within the same minute), and low enough that a flood's new rows
    (about 1 KB each) and turns (a few ms each, 10 a second) cannot slow running ones."""
    documents_per_address: int = 30
    """Documents one client address may have made at once, refilled evenly over 10 minutes
    (one every 20 s; 0: no cap). A person prints a checklist a few times; a town hall's staff
    share one address. Beyond it the turn says so kindly, with 110 and 112."""
    proxy_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    """Peers that are a reverse proxy, not a person: many people share their address, so
    `new_per_address` does not apply to them (the proxy should limit per client; only
    `new_per_minute` does here). No header a client could forge is read for this."""

    def __post_init__(self) -> None:
        for name in ("new_per_address", "new_per_minute", "documents_per_address"):
            if getattr(self, name) < 0:
                raise ValueError(f"'web.{name}' must be 0 (no cap) or more")
        if not self.new_per_address_minutes > 0:
            raise ValueError("'web.new_per_address_minutes' must be above 0")
        for address in self.proxy_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"'web.proxy_addresses': {address!r} is not an IP address"
                                 ) from None


@dataclass(frozen=True)
class ReminderSettings:
    """Opt-in reminders are delivered only within these hours, German local time."""

    first_hour: int = 8
    last_hour: int = 20


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    idle_hours: float = 24.0
    """A conversation idle longer than this is erased (a flow's keep_days may keep it longer)."""
    db_sync: str = "NORMAL"
    """SQLite's synchronous setting for the state: NORMAL, or FULL to survive a power cut."""
    keep_reports_years: int = 5
    stats_threshold: int = 5
    municipality: str = ""
    """The city's name on the situation report and in a poolable export (`lotse stats --export`)."""
    admins: frozenset[ConversationKey] = frozenset()
    """Who may ask for statistics in a chat: `platform:user` pairs."""
    flows: tuple[Path, ...] = ()
    """Flow files or folders to run instead of the shipped flows."""
    content: tuple[Path, ...] = ()
    """Content folders layered over the shipped content (see `lotse init`)."""
    log_level: str = "INFO"
    rate_burst: int = 30
    """`lotse run`/`lotse web`: messages one conversation may send at once (0: no limit) ..."""
    rate_per_second: float = 1.0
    """... and then on average per second; beyond it one notice (with 110/112), then silence."""
    web: WebSettings = field(default_factory=WebSettings)
    telegram: TelegramSettings | None = None
    """Set when a token is."""
    matrix: MatrixSettings | None = None
    """Set when a homeserver is."""
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    source: str | None = None
    """The config file these settings were read from, if any."""

    @property
    def idle(self) -> dt.timedelta:
        return dt.timedelta(hours=self.idle_hours)

    @property
    def state_db(self) -> Path:
        return self.data_dir / STATE_DB

    @property
    def reports_db(self) -> Path:
        return self.data_dir / REPORTS_DB

    @classmethod
    def load(cls, path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `path` (None: no file) and the variables; ContentError lists every problem."""
        env = os.environ if environ is None else environ
        problems: list[Problem] = []
        root: Y | None = None
        display = str(path) if path is not None else ""
        if path is not None:
            root = load_yaml(path, display, problems)
            if root is not None and not root.is_map:
                problems.append(Problem(display, root.line, root.col,
                                        "the config file must be a mapping of keys",
                                        "write 'key: value' lines, see docs/operating.md"))
                root = None
        reader = _Reader(display, env, problems)
        values = reader.section(cls, root, ())
        base = path.parent if path is not None else Path(".")
        settings = _build(cls, values, problems, display)
        _check_webhook(values.get("telegram") or {}, problems, display)
        _check_threshold(settings, values, problems, display)
        if problems:
            raise ContentError(problems)
        assert isinstance(settings, Settings)
        return dataclasses.replace(
            settings, source=display or None,
            data_dir=base / settings.data_dir if path else settings.data_dir,
            flows=tuple(base / p for p in settings.flows),
            content=tuple(base / p for p in settings.content))


# --- reading ---------------------------------------------------------------------------------

_SECTIONS: dict[str, type] = {"web": WebSettings, "telegram": TelegramSettings,
                              "matrix": MatrixSettings, "reminders": ReminderSettings}
_NOT_CONFIGURABLE = {"source"}
_ENABLES = {"telegram": "token", "matrix": "homeserver"}
"""An optional section exists when this key is set."""


def env_name(path: tuple[str, ...]) -> str:
    return ENV_PREFIX + "_".join(path).upper()


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)
            if f.name not in _NOT_CONFIGURABLE}


class _Reader:
    """Collects the raw value of every key, from the file or the environment, with its place."""

    def __init__(self, display: str, env: Mapping[str, str], problems: list[Problem]) -> None:
        self.display = display
        self.env = env
        self.problems = problems

    def section(self, cls: type, node: Y | None, path: tuple[str, ...]) -> dict[str, Any]:
        fields = _fields(cls)
        values: dict[str, Any] = {}
        if node is not None:
            for key in node.value:
                if key not in fields:
                    line, col = node.key_pos(key)
                    self.problems.append(Problem(
                        self.display, line, col, f"unknown key '{key}'",
                        did_you_mean(key, fields) or f"known keys: {', '.join(fields)}"))
        for name in fields:
            sub = node.get(name) if node is not None else None
            if name in _SECTIONS and not path:
                if sub is not None and not sub.is_map and sub.value is not None:
                    self.problems.append(Problem(self.display, sub.line, sub.col,
                                                 f"'{name}' must be a mapping of keys"))
                    sub = None
                values[name] = self.section(_SECTIONS[name],
                                            sub if sub is not None and sub.is_map else None,
                                            (name,))
                continue
            variable = env_name((*path, name))
            if variable in self.env and self.env[variable] != "":
                values[name] = (self.env[variable], variable, True)
            elif sub is not None and sub.value is not None:
                values[name] = (sub, f"{self.display}:{sub.line}:{sub.col}", False)
        return values


WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
"""What Telegram accepts as a webhook's secret token."""


def _check_webhook(telegram: dict[str, Any], problems: list[Problem], display: str) -> None:
    """A webhook needs its secret: without one, anyone who reaches it can forge updates."""
    if "token" not in telegram or "webhook_url" not in telegram:
        return
    secret = telegram.get("webhook_secret")
    if secret is None:
        _problem(problems, display, telegram["webhook_url"],
                 "'telegram.webhook_url' needs 'telegram.webhook_secret', or anyone who can "
                 "reach the webhook can post forged updates",
                 "set telegram: webhook_secret: (or LOTSE_TELEGRAM_WEBHOOK_SECRET) to 32 or "
                 "more random characters of A-Z a-z 0-9 _ -")
        return
    value = secret[0] if secret[2] else secret[0].plain()
    if isinstance(value, bool) or not WEBHOOK_SECRET.match(str(value)):
        _problem(problems, display, secret,
                 "'telegram.webhook_secret' must be 1 to 256 characters of A-Z a-z 0-9 _ -",
                 "Telegram accepts no other secret")


STATS_THRESHOLD_MIN = 3
"""Below this a published count can single a person out (see docs/statistics.md)."""


def _check_threshold(settings: Any, values: dict[str, Any], problems: list[Problem],
                     display: str) -> None:
    """0 or a negative threshold would silently publish every count, 1 and 2 included."""
    threshold = getattr(settings, "stats_threshold", None)
    if isinstance(threshold, int) and threshold < STATS_THRESHOLD_MIN:
        _problem(problems, display, values.get("stats_threshold"),
                 f"'stats_threshold' is {threshold}, but it must be {STATS_THRESHOLD_MIN} or "
                 "more: a smaller one would show counts that can single a person out",
                 f"set stats_threshold: 5 (or LOTSE_STATS_THRESHOLD=5); the lowest allowed is "
                 f"{STATS_THRESHOLD_MIN}")


def _build(cls: type, values: dict[str, Any], problems: list[Problem], display: str) -> Any:
    fields = _fields(cls)
    kwargs: dict[str, Any] = {}
    for name, kind in fields.items():
        if name not in values:
            continue
        if isinstance(values[name], dict):  # a section
            section = _SECTIONS[name]
            raw = values[name]
            enabling = _ENABLES.get(name)
            if enabling is not None and enabling not in raw:
                if raw:
                    given = next(iter(raw.values()))
                    _problem(problems, display, given,
                             f"'{name}' is not used: '{enabling}' is not set",
                             f"set {name}: {enabling}: (or {env_name((name, enabling))})")
                continue
            kwargs[name] = _build(section, raw, problems, display)
            continue
        converted = _convert(kind, values[name], problems, display, name)
        if converted is not _INVALID:
            kwargs[name] = converted
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in kwargs]
    if missing:
        first = next(iter(values.values()), None)
        title = next((s for s, c in _SECTIONS.items() if c is cls), "")
        _problem(problems, display, first,
                 f"'{title}' needs {', '.join(repr(m) for m in missing)}",
                 " or ".join(env_name((title, m)) for m in missing) + " also works")
        return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        # At the value the message names ('web.new_per_minute'), else at the section's first.
        named = [values[n] for n in values if f".{n}'" in str(err)]
        _problem(problems, display, (named or list(values.values()) or [None])[0], str(err))
        return None


_INVALID = object()


def _problem(problems: list[Problem], display: str, raw: Any, message: str,
             hint: str = "") -> None:
    """A problem at the value's place in the file, or naming its variable."""
    if isinstance(raw, tuple) and raw[2]:  # from the environment
        problems.append(Problem(raw[1], 0, 0, message, hint))
    elif isinstance(raw, tuple) and isinstance(raw[0], Y):
        problems.append(Problem(display, raw[0].line, raw[0].col, message, hint))
    else:
        problems.append(Problem(display or "settings", 1, 1, message, hint))


def _convert(kind: Any, raw: tuple[Any, str, bool], problems: list[Problem], display: str,
             name: str) -> Any:
    value, _, from_env = raw
    plain = value if from_env else value.plain()
    base = kind
    if isinstance(kind, types.UnionType):  # X | None
        base = next(a for a in typing.get_args(kind) if a is not type(None))
    origin = typing.get_origin(base)
    try:
        if base is bool:
            return _boolean(plain)
        if base is int:
            if isinstance(plain, bool):
                raise ValueError
            return int(plain)
        if base is float:
            if isinstance(plain, bool):
                raise ValueError
            return float(plain)
        if base is str:
            if isinstance(plain, dict | list):
                raise ValueError
            return str(plain)
        if base is Path:
            if not isinstance(plain, str):
                raise ValueError
            return Path(plain)
        if origin is tuple:
            item = typing.get_args(base)[0]
            items = _listed(plain)
            return tuple(Path(i) if item is Path else str(i) for i in items)
        if origin is frozenset:  # the admins
            return parse_admins(",".join(_listed(plain)))
    except (ValueError, TypeError):
        pass
    _problem(problems, display, raw, f"'{name}' must be {_describe(base)}",
             f"got {plain!r}" if not isinstance(plain, dict | list) else "")
    return _INVALID


def _listed(plain: Any) -> list[str]:
    if isinstance(plain, str):
        return [p.strip() for p in plain.split(",") if p.strip()]
    if isinstance(plain, list) and all(isinstance(p, str | int) for p in plain):
        return [str(p) for p in plain]
    raise ValueError


def _boolean(plain: Any) -> bool:
    if isinstance(plain, bool):
        return plain
    text = str(plain).strip().lower()
    if text in {"1", "true", "yes", "on", "ja"}:
        return True
    if text in {"0", "false", "no", "off", "nein"}:
        return False
    raise ValueError


def _describe(kind: Any) -> str:
    if kind is bool:
        return "true or false"
    if kind is int:
        return "a whole number"
    if kind is float:
        return "a number"
    if kind in (str, Path):
        return "text"
    return "a list (or comma-separated text)"
