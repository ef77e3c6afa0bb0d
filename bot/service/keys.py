"""Conversation keys: (platform, user) pairs, stored only as a keyed hash.

The state database must not tell who talked to Lotse. HMAC-SHA256 with a secret kept beside
the database (or given as LOTSE_SECRET) makes the stored key useless without that secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from storage.private_file import private_folder, write_private

SECRET_FILE = "secret.key"


@dataclass(frozen=True, slots=True)
class ConversationKey:
    platform: str
    user: str


class KeyHasher:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the secret must be at least 16 bytes")
        self._secret = secret
        self._event_key = hashlib.sha256(b"event\x00" + secret).digest()

    def __call__(self, key: ConversationKey) -> str:
        # surrogatepass: a user id from a platform's JSON may hold a lone surrogate ("\ud800");
        # it must hash (to its own value), not crash the turn.
        message = f"{key.platform}\x00{key.user}".encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def event(self, event_id: str) -> str:
        """A keyed 48-bit digest of a platform event id, for de-duplication only: short, as
        each row stores 32 of them, and a false match among 32 is about 1 in 10^13."""
        digest = hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=6,
                                 key=self._event_key).digest()
        return base64.urlsafe_b64encode(digest).decode()


SECRET_MIN = 16
"""Bytes of secret at least: fewer can be guessed, and every stored key with them."""


class SecretError(ValueError):
    """LOTSE_SECRET or secret.key cannot be used; the message says which and what to do."""


def load_secret(data_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """LOTSE_SECRET if set, else the data folder's secret file, created on first run (0600,
    in a folder created 0700). Raises SecretError for a short secret or a malformed file: a
    new secret would silently orphan every conversation, so nothing is replaced."""
    env = os.environ if environ is None else environ
    if env.get("LOTSE_SECRET"):
        secret = env["LOTSE_SECRET"].encode()
        if len(secret) < SECRET_MIN:
            raise SecretError(f"LOTSE_SECRET has {len(secret)} bytes, {SECRET_MIN} at least are "
                              "needed; set it to 32 or more random characters (for example "
                              "from: openssl rand -hex 32)")
        return secret
    path = data_dir / SECRET_FILE
    if path.exists() or path.is_symlink():
        return _read_secret(path)
    private_folder(data_dir)
    secret = secrets.token_bytes(32)
    write_private(path, secret.hex())
    return secret


def _read_secret(path: Path) -> bytes:
    """The secret file: hex of at least SECRET_MIN bytes, read with a bound."""
    if not path.is_file():
        raise SecretError(f"{path} is not a regular file; move it away (a new key means "
                          "running conversations start again) or restore it from a backup")
    with path.open("rb") as handle:
        raw = handle.read(4097)
    try:
        secret = bytes.fromhex(raw.decode("ascii").strip())
    except ValueError:
        secret = b""
    if len(raw) > 4096 or len(secret) < SECRET_MIN:
        raise SecretError(f"{path} is not a key Lotse wrote (hex of {SECRET_MIN} bytes or "
                          "more); restore it from the backup made with state.db, or move it "
                          "away and running conversations start again")
    return secret
