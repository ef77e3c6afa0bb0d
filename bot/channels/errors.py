"""What a channel raises when it cannot run at all, so `lotse run` can say why and exit 2."""

from __future__ import annotations


class ChannelError(RuntimeError):
    """Refused login, revoked token: the message says what to fix and holds no secret."""
