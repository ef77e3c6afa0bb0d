"""Starting a channel whose server may be away for a while: the others serve meanwhile.

A Telegram or Matrix server that cannot be reached when Lotse starts (a network not up yet, a
homeserver restarting) is no reason to keep the web page down, nor to give up: the channel logs
one line and tries again, after 1 s, then 2, 4 … up to a minute between tries, until the server
answers or Lotse stops (issue #26, item 12). A server that answers and refuses (a wrong token) is
another matter: that is a ChannelError, one line and exit 2 (bot/channels/errors.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
MAX_PAUSE = 60.0


async def when_reachable(name: str, start: Callable[[], Awaitable[None]],
                         unreachable: Callable[[BaseException], bool], stop: asyncio.Event,
                         first: float = FIRST_PAUSE, longest: float = MAX_PAUSE) -> bool:
    """Run `start` until it succeeds (True) or `stop` is set (False); a failure `unreachable`
    says is the network's is logged and tried again later, any other is raised. `start`
    cleans up after itself when it fails. Nothing logged names the server or a token."""
    pause, tries = first, 0
    while not stop.is_set():
        tries += 1
        try:
            await start()
        except Exception as err:
            if not unreachable(err):
                raise
            log.warning("%s: the server cannot be reached (%s); the other channels go on, "
                        "trying again in %.0f s", name, type(err).__name__, pause)
        else:
            if tries > 1:
                log.warning("%s: the server answers again; started after %d tries", name, tries)
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(longest, pause * 2)
    return False
