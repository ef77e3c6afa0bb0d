"""Channels: each translates one platform's updates into engine events and outputs back.

A channel is anything with an async `run(stop)`; adding one is one entry in `configured`.
Channel modules are imported only when configured, so their libraries stay optional extras.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from bot.config import Settings
from bot.service.conversations import ConversationService


class Channel(Protocol):
    name: str

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then shut down cleanly."""


def configured(settings: Settings, service: ConversationService) -> list[Channel]:
    """The channels the settings ask for, in start order."""
    channels: list[Channel] = []
    if settings.web.enabled:
        from bot.channels.web.server import WebChannel

        channels.append(WebChannel(service, settings.web))
    if settings.telegram is not None:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(service, settings.telegram))
    if settings.matrix is not None:
        from bot.channels.matrix import MatrixChannel

        channels.append(MatrixChannel(service, settings.matrix, settings.data_dir))
    return channels


async def run_all(channels: list[Channel], stop: asyncio.Event) -> None:
    """Run the channels side by side; one failing stops the others too."""
    async with asyncio.TaskGroup() as group:
        for channel in channels:
            group.create_task(_guarded(channel, stop))


async def _guarded(channel: Channel, stop: asyncio.Event) -> None:
    try:
        await channel.run(stop)
    finally:
        stop.set()
