"""Fixtures shared by the whole suite; helpers live in tests/helpers.py.

Only the core dependencies are imported here, so engine and flow tests run without the
channels' libraries installed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from bot.flows.checker import Sources, check
from bot.flows.model import Bundle

if TYPE_CHECKING:
    from .botapi_standin import StandIn


@pytest.fixture
def shipped() -> Iterator[Bundle]:
    result = check(Sources.shipped())
    assert result.bundle is not None, "\n".join(str(p) for p in result.errors)
    yield result.bundle


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    """The Telegram Bot API stand-in on a free port of 127.0.0.1, stopped after the test."""
    from .botapi_standin import StandIn

    server = StandIn()
    await server.start()
    yield server
    await server.stop()
