"""The people who write to Lotse in bench/engine.py, in a process of their own.

They write "conversation number" lines to the socket they are given; the bench reads the
socket, runs each line as a turn of that conversation and writes the number back once the
turn's reply is released, as a channel gets a message and sends a reply. Two ways to write:

--think SECONDS   each of --conversations people waits a random pause (exponential, this mean),
                  writes, waits for the reply, and begins the next pause: how people talk.
--rate PER_SECOND one message after the other at this steady rate, to the conversations in
                  turn, whether or not the replies came (an open loop: a reading of headroom).

Each for --seconds. A latency runs from writing a message until its reply is read here. Prints
one JSON object: the latencies, and the seconds from the first message to the last reply.

Kept apart from the bench so that the event loop under test does what a channel's loop does
(read, run the turn, write) and none of the people's own work: their timers, pauses and
bookkeeping run on this process's loop, on the machine's other core. Its loop sleeps on
select(), to the microsecond (epoll rounds timeouts up to whole milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import selectors
import socket
import time


class Replies(asyncio.Protocol):
    """Hands each reply to whoever waits for it, with the moment it was read."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        read = time.perf_counter()
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            future = self.waiting.pop(int(line), None)
            if future is not None and not future.done():
                future.set_result(read)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the bench closed the socket"))


class Writer:
    """Writes messages and times their replies."""

    def __init__(self, transport: asyncio.Transport, replies: Replies) -> None:
        self.transport, self.replies = transport, replies
        self.latencies: list[float] = []
        self.last = 0.0
        self._numbers = iter(range(10**9))

    async def send(self, conversation: int) -> None:
        number = next(self._numbers)
        reply = asyncio.get_running_loop().create_future()
        self.replies.waiting[number] = reply
        sent = time.perf_counter()
        self.transport.write(b"%d %d\n" % (conversation, number))
        read = await reply
        self.latencies.append(read - sent)
        self.last = max(self.last, read)


async def thinking(writer: Writer, conversations: int, begin: float, end: float,
                   think: float) -> None:
    async def person(index: int) -> None:
        pauses = random.Random(index)
        due = begin
        while True:
            due = max(due, time.perf_counter()) + pauses.expovariate(1 / think)
            if due >= end:
                return
            await asyncio.sleep(due - time.perf_counter())
            await writer.send(index)

    await asyncio.gather(*(person(i) for i in range(conversations)))


async def steady(writer: Writer, conversations: int, begin: float, end: float,
                 rate: float) -> None:
    sending: set[asyncio.Task[None]] = set()
    n = 0
    while (due := begin + n / rate) < end:
        if due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())
        task = asyncio.create_task(writer.send(n % conversations))
        sending.add(task)
        task.add_done_callback(sending.discard)
        n += 1
    await asyncio.gather(*sending)


async def talk(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    transport, replies = await loop.create_connection(Replies, sock=socket.socket(fileno=args.fd))
    writer = Writer(transport, replies)
    # Starting 1,000 people takes 15-20 ms; their first pauses begin after it (one who starts
    # later still begins from then).
    begin = time.perf_counter() + 0.1
    end = begin + args.seconds
    if args.think is not None:
        await thinking(writer, args.conversations, begin, end, args.think)
    else:
        await steady(writer, args.conversations, begin, end, args.rate)
    transport.close()
    await asyncio.sleep(0)  # the socket closes now: the bench stops its clock there
    seconds = writer.last - begin if writer.latencies else args.seconds
    print(json.dumps({"latencies": writer.latencies, "seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fd", type=int, required=True, help="the socket to the bench")
    parser.add_argument("--conversations", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--think", type=float)
    how.add_argument("--rate", type=float)
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(
            selectors.SelectSelector())) as runner:
        runner.run(talk(args))


if __name__ == "__main__":
    main()
