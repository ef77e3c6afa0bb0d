"""The Matrix channel's client: its login, the files that keep it, and nio's logs.

The first start logs in with the password and saves device and access token; later starts
reuse them, so the bot keeps one device and its encryption keys. Every file here is written
readable by the owner only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from bot.channels.errors import ChannelError
from bot.config import MatrixSettings
from storage.private_file import write_private

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"
PICKLE_FILE = "pickle.key"
STORE_DIR = "store"

_MATRIX_ID = re.compile(r"[@!#][^\s:'\"<>]+:[\w.\-\[\]]+(?::\d+)?")


class MatrixError(ChannelError):
    """The channel cannot run: login refused, token revoked, nothing to log in with."""


class _WithoutIds(logging.Filter):
    """matrix-nio logs user and room ids; Lotse's logs must not tell who talked to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _MATRIX_ID.search(message):
            record.msg, record.args = _MATRIX_ID.sub("<id>", message), ()
        return True


def quiet_nio() -> None:
    """nio's loggers at WARNING (its INFO is a running account of key traffic), without ids."""
    without = _WithoutIds()
    for name in list(logging.root.manager.loggerDict):
        if name == "nio" or name.startswith("nio."):
            logger = logging.getLogger(name)
            if not any(isinstance(f, _WithoutIds) for f in logger.filters):
                logger.addFilter(without)
    nio = logging.getLogger("nio")
    if nio.level == logging.NOTSET:  # unless an operator chose a level for it
        nio.setLevel(logging.WARNING)


@dataclass(frozen=True)
class Login:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


def load_login(path: Path) -> Login | None:
    try:
        data = json.loads(path.read_text())
        return Login(str(data["homeserver"]), str(data["user_id"]), str(data["device_id"]),
                     str(data["access_token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


LOGIN_TIMEOUTS = 2
"""Connection failures nio retries during the login before it gives up: then the channel says
the homeserver cannot be reached and tries again later (bot/channels/starting.py). After the
login nio retries without end, as a homeserver restarting should not cost a reply."""


async def log_in(settings: MatrixSettings, folder: Path, *, sync_timeout: float,
                 max_retry_pause: float) -> AsyncClient:
    """A logged-in client: the configured token, else the saved device, else the password.
    Raises aiohttp.ClientConnectionError or TimeoutError when the homeserver is not there."""
    client = await _log_in(settings, folder, sync_timeout, max_retry_pause)
    client.config = dataclasses.replace(client.config, max_timeouts=None)
    return client


async def _log_in(settings: MatrixSettings, folder: Path, sync_timeout: float,
                  max_retry_pause: float) -> AsyncClient:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / STORE_DIR).mkdir(exist_ok=True, mode=0o700)

    def new_client() -> AsyncClient:
        config = AsyncClientConfig(
            encryption_enabled=True, store_sync_tokens=False, pickle_key=_pickle_key(folder),
            max_timeout_retry_wait_time=max_retry_pause, max_timeouts=LOGIN_TIMEOUTS,
            request_timeout=max(60.0, sync_timeout + 30))
        return AsyncClient(settings.homeserver, settings.user_id,
                           store_path=str(folder / STORE_DIR), config=config)

    client = new_client()
    try:
        if settings.access_token:
            await _with_token(client, settings)
            return client
        path = folder / SESSION_FILE
        saved = load_login(path)
        device_id = settings.device_id
        if saved is not None and (saved.homeserver, saved.user_id) == (
                settings.homeserver, settings.user_id) and device_id in (None, saved.device_id):
            client.restore_login(saved.user_id, saved.device_id, saved.access_token)
            who = await client.whoami()
            if isinstance(who, WhoamiResponse):
                log.info("matrix: reusing the saved device")
                return client
            if who.status_code != "M_UNKNOWN_TOKEN":
                raise MatrixError(f"Matrix: the homeserver refused the saved login "
                                  f"({who.status_code}: {who.message})")
            # Logged out, and with that the device and its keys deleted on the server: a
            # login as a new device, with new keys, is the only way back to encryption.
            log.warning("matrix: the saved device was logged out; logging in as a new one")
            await close(client)
            client = new_client()
            device_id = None
        if not settings.password:
            raise MatrixError("Matrix: set LOTSE_MATRIX_PASSWORD (used once, for the first "
                              "login) or LOTSE_MATRIX_ACCESS_TOKEN")
        if device_id:
            client.device_id = device_id  # nio logs in as this device when set
        response = await client.login(settings.password, device_name=settings.device_name)
        if not isinstance(response, LoginResponse):
            raise MatrixError(f"Matrix: login refused ({response.status_code}: "
                              f"{response.message})")
        write_private(path, json.dumps(asdict(Login(
            settings.homeserver, response.user_id, response.device_id,
            response.access_token))))
        log.info("matrix: logged in, device saved for the next start")
        return client
    except BaseException:
        await close(client)
        raise


async def _with_token(client: AsyncClient, settings: MatrixSettings) -> None:
    """Log in with a configured access token, after asking the homeserver whose it is."""
    assert settings.access_token
    client.access_token = settings.access_token
    who = await client.whoami()
    if not isinstance(who, WhoamiResponse):
        raise MatrixError(f"Matrix: the homeserver refused LOTSE_MATRIX_ACCESS_TOKEN "
                          f"({who.status_code}: {who.message})")
    if who.user_id != settings.user_id:
        raise MatrixError("Matrix: LOTSE_MATRIX_ACCESS_TOKEN belongs to another user "
                          "than LOTSE_MATRIX_USER_ID")
    device_id = settings.device_id or who.device_id
    if not device_id:
        raise MatrixError("Matrix: set LOTSE_MATRIX_DEVICE_ID for the access token")
    client.restore_login(settings.user_id, device_id, settings.access_token)


def _pickle_key(folder: Path) -> str:
    """The key nio encrypts the stored Olm account and sessions with, made on first start."""
    path = folder / PICKLE_FILE
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


async def close(client: AsyncClient) -> None:
    """The HTTP session and the crypto store's database."""
    await client.close()
    database = getattr(client.store, "database", None)
    if database is not None:
        database.close()
