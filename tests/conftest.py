"""Fixtures shared by the whole suite; helpers live in tests/helpers.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from bot import eventloop
from bot.flowmodel import Bundle
from bot.loader import Sources, check

from .botapi_standin import StandIn


@pytest.fixture
def shipped() -> Iterator[Bundle]:
    result = check(Sources.shipped())
    assert result.bundle is not None, "\n".join(str(p) for p in result.errors)
    yield result.bundle


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    """The Telegram Bot API stand-in on a free port of 127.0.0.1, stopped after the test."""
    server = StandIn()
    await server.start()
    yield server
    await server.stop()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item
                                  ) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The tests run on the event loop `lotse run` runs on (bot/eventloop.py)."""
    return {"lotse": eventloop.loop_factory()}
