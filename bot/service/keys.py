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


def load_secret(data_dir: Path, environ: dict[str, str] | None = None) -> bytes:
    """LOTSE_SECRET if set, else the data folder's secret file, created on first run (0600,
    in a folder created 0700)."""
    env = os.environ if environ is None else environ
    if env.get("LOTSE_SECRET"):
        return env["LOTSE_SECRET"].encode()
    path = data_dir / SECRET_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    private_folder(data_dir)
    secret = secrets.token_bytes(32)
    write_private(path, secret.hex())
    return secret
