"""Lotse runs on uvloop where it is a dependency, and so do the tests."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot import eventloop

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not built there")


async def running_loop() -> str:
    loop = asyncio.get_running_loop()
    return f"{type(loop).__module__}.{type(loop).__name__}"


def test_eventloop_run_runs_on_uvloop() -> None:
    """(tests/test_run.py checks that lotse run runs on it, from its log.)"""
    assert eventloop.run(running_loop()) == "uvloop.Loop"


async def test_the_tests_run_on_the_loop_lotse_run_runs_on() -> None:
    assert await running_loop() == "uvloop.Loop"
