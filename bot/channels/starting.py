"""Starting the channels: a server that refuses stops Lotse in one line, one that is away is
waited for while the other channels serve (issue #26, item 12).

A Telegram token the server refuses is told before anything is opened (`check_tokens`): one
line and exit 2 (`refusals_exit`), nothing in the data folder changed; so is a Matrix login
refused. A Telegram or Matrix server that cannot be reached when Lotse starts (a network not up
yet, a homeserver restarting) is no reason to keep the web page down, nor to give up: the
channel logs one line and tries again, after 1 s, then 2, 4 … up to a minute between tries,
until the server answers or Lotse stops (`when_reachable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator

from bot.channels.errors import ChannelError
from bot.config import Settings, TelegramSettings

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


@contextlib.contextmanager
def refusals_exit() -> Iterator[None]:
    """A ChannelError, alone or among the channels', is one line `lotse run: …` on standard
    error and exit 2 (EXIT_CONFIG): it says what to fix, a traceback would not."""
    try:
        yield
    except* ChannelError as errors:
        for error in errors.exceptions:
            print(f"lotse run: {error}", file=sys.stderr)
        sys.exit(2)


REFUSED_TOKEN = ("Telegram: the server refused telegram.token (LOTSE_TELEGRAM_TOKEN); copy it "
                 "again from @BotFather")


def check_tokens(settings: Settings) -> None:
    """Raise ChannelError for a Telegram token the server refuses, before Lotse opens anything;
    a server that cannot be reached passes (the channel tries again once it runs)."""
    if settings.telegram is not None:
        asyncio.run(_check_telegram(settings.telegram))


async def _check_telegram(settings: TelegramSettings) -> None:
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    try:
        async with Bot(settings.token, base_url=f"{settings.api_url}/bot"):
            pass  # entering asks getMe
    except InvalidToken:
        raise ChannelError(REFUSED_TOKEN) from None
    except TelegramError:
        pass
