"""Fixtures shared by the whole suite; helpers live in tests/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.flowmodel import Bundle
from bot.loader import Sources, check


@pytest.fixture
def shipped() -> Iterator[Bundle]:
    result = check(Sources.shipped())
    assert result.bundle is not None, "\n".join(str(p) for p in result.errors)
    yield result.bundle
