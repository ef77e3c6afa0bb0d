"""Matrix reply round trip: a bare matrix-nio echo bot (a) against Lotse's Matrix channel (b).

One Synapse on 127.0.0.1 (tests/synapse.py: SQLite, its own virtual environment), started for
this run; both bots and the employee are users on it. The employee is a matrix-nio client with
a direct room to each bot and sends a message, then waits until the bot's answer comes back
through its own sync; that wall time is one round trip. Rounds alternate between the two bots,
so both meet the same homeserver at the same moment; the first rounds are warm-up.

(a) An echo bot: AsyncClient.sync_forever with a callback that sends the text back as m.text.
(b) Lotse's MatrixChannel as `lotse run` builds it, on the real ConversationService and
    StateStore (SQLite in a temporary folder, committed before each reply) and the shipped
    flows. The employee alternates "Nein" (answering "in danger?", the next question comes)
    and "zurück" (taking it back, the first question again): every round a real turn of the
    engine, saved, rendered as HTML and sent as one message.

--encrypted makes both direct rooms end-to-end encrypted (keys shared with unverified devices,
as Lotse does).

Target: median and p95 of (b) <= 1.2 x (a).
Run: python bench/matrix.py [--rounds N] [--warmup N] [--encrypted]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nio import (  # type: ignore[import-untyped]
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    MatrixRoom,
    RoomCreateResponse,
    RoomMessageText,
)
from nio.api import RoomPreset  # type: ignore[import-untyped]

from bot.channels.matrix import MatrixChannel
from bot.config import MatrixSettings
from bot.flows.checker import load_bundle
from bot.service.conversations import ConversationService
from bot.service.keys import KeyHasher
from storage import StateStore
from tests.synapse import Account, Synapse

Q_DANGER = "Sind Sie gerade in Gefahr?"


def client_for(synapse: Synapse, account: Account, store: Path) -> AsyncClient:
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(synapse.url, account.user_id, account.device_id, store_path=str(store),
                         config=AsyncClientConfig(encryption_enabled=True))
    client.restore_login(account.user_id, account.device_id, account.access_token)
    return client


class _Syncing:
    """A logged-in client that keeps syncing in the background until stopped."""

    def __init__(self, synapse: Synapse, account: Account, store: Path) -> None:
        self.client = client_for(synapse, account, store)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        await self.client.sync(timeout=0, full_state=True)
        self.task = asyncio.create_task(self.client.sync_forever(timeout=30_000))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


class EchoBot(_Syncing):
    """(a): what a minimal matrix-nio bot does per message, and nothing else."""

    def __init__(self, synapse: Synapse, account: Account, store: Path) -> None:
        super().__init__(synapse, account, store)
        self.client.add_event_callback(self.on_invite, InviteMemberEvent)
        self.client.add_event_callback(self.on_text, RoomMessageText)

    async def on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "invite":
            await self.client.join(room.room_id)

    async def on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender != self.client.user_id:
            await self.client.room_send(room.room_id, "m.room.message",
                                        {"msgtype": "m.text", "body": event.body},
                                        ignore_unverified_devices=True)


class Employee(_Syncing):
    """Sends, and resolves the waiting future when the other side's next message arrives."""

    def __init__(self, synapse: Synapse, account: Account, store: Path) -> None:
        super().__init__(synapse, account, store)
        self.client.add_event_callback(self.on_text, RoomMessageText)
        self.waiting: dict[str, asyncio.Future[str]] = {}

    async def on_text(self, room: MatrixRoom, event: RoomMessageText) -> None:
        future = self.waiting.get(room.room_id)
        if event.sender != self.client.user_id and future is not None and not future.done():
            future.set_result(event.body)

    def expect(self, room_id: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[room_id] = future
        return future

    async def open_dm(self, bot: str, encrypted: bool) -> str:
        state = [{"type": "m.room.encryption", "state_key": "",
                  "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        created = await self.client.room_create(is_direct=True, invite=[bot],
                                                preset=RoomPreset.trusted_private_chat,
                                                initial_state=state)
        assert isinstance(created, RoomCreateResponse), created
        return str(created.room_id)

    async def round_trip(self, room_id: str, text: str) -> tuple[float, str]:
        reply = self.expect(room_id)
        began = time.perf_counter()
        await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text},
                                    ignore_unverified_devices=True)
        body = await asyncio.wait_for(reply, 60)
        return time.perf_counter() - began, body



def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


async def run(args: argparse.Namespace, folder: Path) -> None:
    synapse = Synapse(folder / "synapse")
    began = time.perf_counter()
    await asyncio.to_thread(synapse.start)
    print(f"synapse              started in {time.perf_counter() - began:.1f} s on {synapse.url}")
    echo_account, lotse_account, anna_account = (synapse.register() for _ in range(3))
    service = ConversationService(load_bundle(), StateStore(folder / "state.db"),
                                  KeyHasher(b"bench-secret-0123456789abcdef"))
    lotse = MatrixChannel(service, MatrixSettings(synapse.url, lotse_account.user_id,
                                                  password=lotse_account.password), folder)
    echo = EchoBot(synapse, echo_account, folder / "echo")
    anna = Employee(synapse, anna_account, folder / "anna")
    try:
        await lotse.start()
        await echo.start()
        await anna.start()
        lotse_room = await anna.open_dm(lotse_account.user_id, args.encrypted)
        greeting = anna.expect(lotse_room)
        echo_room = await anna.open_dm(echo_account.user_id, args.encrypted)
        assert Q_DANGER in await asyncio.wait_for(greeting, 60)
        times: dict[str, list[float]] = {"echo": [], "lotse": []}
        for index in range(args.warmup + args.rounds):
            text = "Nein" if index % 2 == 0 else "zurück"
            echo_time, echoed = await anna.round_trip(echo_room, text)
            lotse_time, answer = await anna.round_trip(lotse_room, text)
            assert echoed == text
            assert (Q_DANGER in answer) == (text == "zurück"), answer
            if index >= args.warmup:
                times["echo"].append(echo_time)
                times["lotse"].append(lotse_time)
    finally:
        await anna.stop()
        await echo.stop()
        await lotse.stop()
        service.store.close()
        await asyncio.to_thread(synapse.stop)
    a, b = times["echo"], times["lotse"]
    print(f"rooms                {'end-to-end encrypted' if args.encrypted else 'unencrypted'}"
          f", {args.rounds} rounds each after {args.warmup} warm-up")
    print(f"(a) echo bot         median {statistics.median(a) * 1000:6.1f} ms"
          f"   p95 {p95(a) * 1000:6.1f} ms")
    print(f"(b) Lotse            median {statistics.median(b) * 1000:6.1f} ms"
          f"   p95 {p95(b) * 1000:6.1f} ms")
    print(f"ratio b/a            median {statistics.median(b) / statistics.median(a):.2f}"
          f"   p95 {p95(b) / p95(a):.2f}   (target <= 1.2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--encrypted", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="lotse-bench-matrix-") as folder:
        asyncio.run(run(args, Path(folder)))


if __name__ == "__main__":
    main()
