"""The event loop Lotse runs on: uvloop where it is installed, asyncio's own otherwise.

uvloop is asyncio's loop written in C on libuv. A turn spends about a third of its event-loop
time in the loop's own bookkeeping (waking, scheduling callbacks, timers, reading sockets);
uvloop does that in a fraction of the time (bench/engine.py: the loop's CPU per turn about
a quarter lower, its harness's share halved). It is a dependency wherever it builds (not on
Windows); without it Lotse runs the same on asyncio's default loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes a new event loop: uvloop's when it imports, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on Lotse's event loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
