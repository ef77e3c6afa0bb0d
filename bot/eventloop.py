"""The event loop Lotse runs on: uvloop where it is installed, asyncio's own otherwise.

uvloop is asyncio's loop written in C on libuv, for the loop's own bookkeeping (waking,
scheduling callbacks, timers, reading and writing sockets). Measured on a 2-core VM: a lone
turn cost 149-160 us of the loop's CPU instead of 159-188, and reading a message from a socket
and writing the reply 54-65 us instead of 85 (bench/engine.py's floor). It is a dependency on
CPython everywhere but Windows; without it Lotse runs the same on asyncio's own loop.
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
