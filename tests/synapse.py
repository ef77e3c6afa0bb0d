"""A real Synapse homeserver for the Matrix tests and the benchmark, on 127.0.0.1.

Synapse pins many packages, so it lives in its own virtual environment: `LOTSE_SYNAPSE_VENV`
if set, else `<repo>/.synapse-venv`, created here with pip when it is missing (CI makes it the
same way beforehand). The tests are never skipped for a missing homeserver: they fail and say
why.

Each `Synapse` gets a folder with a config written here (SQLite, registration by shared
secret, a free port, rate limits relaxed so tests do not crawl), starts in about a second and
can be stopped and started again on the same port and database — for the restart tests.
Users are registered through the shared-secret admin API.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
SERVER_NAME = "lotse.test"
START_TIMEOUT = 60.0
_names = itertools.count(1)


def synapse_venv() -> Path:
    return Path(os.environ.get("LOTSE_SYNAPSE_VENV") or REPO / ".synapse-venv")


def synapse_python() -> Path:
    """The Synapse venv's interpreter, the venv made first when it does not exist yet."""
    venv = synapse_venv()
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "matrix-synapse"],
                       check=True)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _relaxed(per_second: float = 1000, burst: int = 1000) -> dict[str, Any]:
    return {"per_second": per_second, "burst_count": burst}


def write_config(folder: Path, port: int, shared_secret: str) -> Path:
    """A homeserver.yaml as `--generate-config` would write it, minus what tests do not need."""
    folder.mkdir(parents=True, exist_ok=True)
    seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    key = folder / "signing.key"
    if not key.exists():
        key.write_text(f"ed25519 a_{secrets.token_hex(2)} {seed}\n")
    log_config = folder / "log.yaml"
    log_config.write_text(yaml.safe_dump({
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "precise",
                              "filename": str(folder / "homeserver.log"),
                              "encoding": "utf8"}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }))
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(folder / "homeserver.pid"),
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
                       "tls": False, "x_forwarded": False,
                       "resources": [{"names": ["client"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(folder / "media"),
        "registration_shared_secret": shared_secret,
        "enable_registration": False,
        "report_stats": False,
        "macaroon_secret_key": secrets.token_urlsafe(32),
        "form_secret": secrets.token_urlsafe(32),
        "signing_key_path": str(key),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        "bcrypt_rounds": 4,
        "rc_message": _relaxed(),
        "rc_registration": _relaxed(),
        "rc_login": {"address": _relaxed(), "account": _relaxed(),
                     "failed_attempts": _relaxed()},
        "rc_joins": {"local": _relaxed(), "remote": _relaxed()},
        "rc_joins_per_room": _relaxed(),
        "rc_invites": {"per_room": _relaxed(), "per_user": _relaxed(),
                       "per_issuer": _relaxed()},
        "rc_admin_redaction": _relaxed(),
        "rc_key_requests": _relaxed(),
        "rc_3pid_validation": _relaxed(),
        "rc_room_creation": _relaxed(),
        "rc_presence": {"per_user": _relaxed()},
    }
    path = folder / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass(frozen=True)
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str


class Synapse:
    """One homeserver process; `start` and `stop` may be called again for a restart."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.shared_secret = secrets.token_urlsafe(24)
        self.config = write_config(folder, self.port, self.shared_secret)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        assert self.process is None, "already running"
        output = (self.folder / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [str(synapse_python()), "-m", "synapse.app.homeserver", "-c", str(self.config)],
            cwd=self.folder, stdout=output, stderr=subprocess.STDOUT)
        output.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.folder / "stdout.log").read_text(errors="replace")[-3000:]
                self.process = None
                raise RuntimeError(f"Synapse exited while starting:\n{log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Synapse did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def register(self, name: str | None = None, admin: bool = False) -> Account:
        """A new user through the shared-secret registration API; a fresh name by default."""
        localpart = name or f"user{next(_names)}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = httpx.get(endpoint, timeout=10).json()["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        answer = httpx.post(endpoint, timeout=30, json={
            "nonce": nonce, "username": localpart, "password": password, "admin": admin,
            "mac": mac.hexdigest()})
        answer.raise_for_status()
        body = answer.json()
        return Account(body["user_id"], password, body["access_token"], body["device_id"])

    def override_ratelimit(self, admin: Account, user_id: str, per_second: float,
                           burst: int) -> None:
        """Synapse's per-user rate limit for sending messages (0, 0 would mean none)."""
        answer = httpx.post(
            f"{self.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit",
            headers={"Authorization": f"Bearer {admin.access_token}"}, timeout=10,
            json={"messages_per_second": per_second, "burst_count": burst})
        answer.raise_for_status()

    def devices(self, admin: Account, user_id: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/_synapse/admin/v2/users/{user_id}/devices",
                           headers={"Authorization": f"Bearer {admin.access_token}"},
                           timeout=10)
        answer.raise_for_status()
        devices: list[dict[str, Any]] = answer.json()["devices"]
        return devices
