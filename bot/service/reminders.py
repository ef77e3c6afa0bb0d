"""Delivers due reminders through the channels that can write on their own (`lotse run`).

Everything is in the state database, so a reminder that fell due while Lotse was down is sent
once after the start (claim, send, done), within the allowed hours, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from bot.config import ReminderSettings
from bot.engine.conversation import Output
from bot.engine.reminder_times import next_allowed
from bot.service.conversations import ConversationService, utc_now

log = logging.getLogger(__name__)


@runtime_checkable
class Sender(Protocol):
    """A channel that can write on its own: Telegram (a chat id), Matrix (a room id)."""

    name: str

    async def push(self, address: str, outputs: tuple[Output, ...], lang: str) -> None:
        """Send outputs that answer no message of the user's, in the reminder's language."""


class ReminderScheduler:
    name = "reminders"

    def __init__(self, service: ConversationService, senders: Mapping[str, Sender],
                 settings: ReminderSettings, clock: Callable[[], dt.datetime] = utc_now,
                 interval: float = 30.0, pause: float = 0.05) -> None:
        if service.reminders is None:
            raise ValueError("the service keeps no reminders: nothing to deliver")
        self.service = service
        self.store = service.reminders
        self.senders = senders
        self.settings = settings
        self.clock = clock
        self.interval = interval
        self.pause = pause

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # a failed round must not end the others: the next one retries
                log.exception("reminder round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    def allowed(self, now: dt.datetime) -> bool:
        return next_allowed(now, self.settings.first_hour, self.settings.last_hour) == now

    async def tick(self) -> int:
        """Send what is due now (within the allowed hours); returns how many were sent."""
        now = self.clock()
        if not self.allowed(now):
            return 0
        stamp = int(now.timestamp())
        sent = 0
        for reminder in self.store.due(stamp):
            sender = self.senders.get(reminder.channel)
            if sender is None:
                continue  # that channel is not running here; it stays due
            if not self.store.claim(reminder.id, stamp):
                continue  # another round or process is delivering it
            try:
                outputs = await self.service.open_reminder(reminder)
                if outputs:
                    await sender.push(reminder.address, outputs, reminder.lang)
            except Exception:
                log.warning("reminder delivery on %s failed; it stays due", reminder.channel,
                            exc_info=True)
                self.store.release(reminder.id)
                continue
            self.store.done(reminder.id)
            sent += 1
            log.info("reminder sent on %s", reminder.channel)
            await asyncio.sleep(self.pause)
        return sent
