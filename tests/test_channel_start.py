"""How `lotse run` starts Telegram and Matrix when their server refuses or is away (issue #26,
item 12): a refused token is one line and exit 2 with nothing changed; a server that cannot be
reached is logged and tried again (1 s, doubling, at most a minute apart) while the web page
serves, and once it answers the channel starts.

The real `lotse run` in a subprocess; the Bot API stand-in and a real Synapse on 127.0.0.1; a
server away is a closed port, and it comes back as the stand-in or a TCP relay to Synapse
opening on that port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.channels.matrix import MatrixChannel
from bot.config import MatrixSettings
from bot.engine.conversation import Say
from bot.flows.model import Bundle
from storage import StateStore

from . import test_matrix
from .botapi_standin import StandIn, free_port
from .helpers import Q_DANGER
from .synapse import Synapse
from .test_cli import _files, _stored_report
from .test_matrix import employee

TOKEN_LINE = "LOTSE_TELEGRAM_TOKEN"
AWAY = "the server cannot be reached"


def lotse_env(data: Path, web_port: int, **settings: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}
    return {**clean, "LOTSE_SECRET": "x" * 32, "LOTSE_DATA_DIR": str(data),
            "LOTSE_WEB_LISTEN": f"127.0.0.1:{web_port}", **settings}


class Lotse:
    """`lotse run` in a subprocess, its standard error read line by line as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode())

    async def logged(self, text: str, count: int = 1, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while sum(text in line for line in self.lines) < count:
                if self.process.returncode is not None:
                    raise AssertionError("".join(self.lines))
                await asyncio.sleep(0.05)

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await self.process.wait()
            await self._reading
        return code

    @property
    def log(self) -> str:
        return "".join(self.lines)


@contextlib.asynccontextmanager
async def lotse_run(env: dict[str, str]) -> AsyncIterator[Lotse]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, stderr=asyncio.subprocess.PIPE)
    lotse = Lotse(process)
    try:
        yield lotse
    finally:
        await lotse.stop()


async def page_serves(port: int) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("the web page never answered")


async def test_a_telegram_token_the_server_refuses_is_one_line_exit_2_and_changes_nothing(
        tmp_path: Path, standin: StandIn) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    _stored_report(data)
    StateStore(data / "state.db").close()
    before = _files(tmp_path)
    for folder in (data, tmp_path / "new"):  # one in use, one a first start would make
        env = lotse_env(folder, free_port(), LOTSE_TELEGRAM_TOKEN="999:not-the-token",
                        LOTSE_TELEGRAM_API_URL=standin.url)
        lotse = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run",
                                                     env=env, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(60):
            _, stderr = await lotse.communicate()
        log = stderr.decode()
        assert lotse.returncode == 2, log
        assert log.startswith("lotse run: Telegram: ") and log.count("\n") == 1, log
        assert TOKEN_LINE in log and "not-the-token" not in log
        assert _files(tmp_path) == before


async def test_an_unreachable_telegram_server_is_tried_again_while_the_web_page_serves(
        tmp_path: Path) -> None:
    telegram = StandIn()  # not started: its port is closed
    web = free_port()
    env = lotse_env(tmp_path, web, LOTSE_TELEGRAM_TOKEN=telegram.token,
                    LOTSE_TELEGRAM_API_URL=telegram.url)
    try:
        async with lotse_run(env) as lotse:
            await lotse.logged(f"telegram: {AWAY}", count=2)
            await page_serves(web)
            await telegram.start()
            await lotse.logged("telegram: the server answers again")
            await telegram.wait_for(lambda: telegram.calls_to("deleteWebhook"), timeout=60)
            await telegram.send_text(501, "/start", lang="en")
            shown = await telegram.wait_for(lambda: telegram.last_with_keyboard(501), timeout=60)
            assert "Are you in danger right now?" in shown.text
            await page_serves(web)
        assert lotse.process.returncode == 0, lotse.log
    finally:
        await telegram.stop()
    assert "Traceback" not in lotse.log and telegram.token not in lotse.log
    assert "trying again in 1 s" in lotse.log and "trying again in 2 s" in lotse.log


synapse = test_matrix.synapse
"""A homeserver of this module's own, started once for it (tests/test_matrix.py)."""


@contextlib.asynccontextmanager
async def relay(port: int, to: int) -> AsyncIterator[None]:
    """A TCP relay from 127.0.0.1:port to 127.0.0.1:to: the homeserver, reachable again."""
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", to)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(connect, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_an_unreachable_homeserver_is_tried_again_while_the_web_page_serves(
        tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    away = free_port()
    web = free_port()
    env = lotse_env(tmp_path, web, LOTSE_MATRIX_HOMESERVER=f"http://127.0.0.1:{away}",
                    LOTSE_MATRIX_USER_ID=bot.user_id, LOTSE_MATRIX_PASSWORD=bot.password)
    async with lotse_run(env) as lotse, employee(synapse, tmp_path / "anna") as anna:
        await lotse.logged(f"matrix: {AWAY}", count=2)
        await page_serves(web)
        async with relay(away, synapse.port):
            await lotse.logged("matrix: the server answers again")
            await anna.open_dm(bot.user_id, encrypted=True)
            await anna.said(Q_DANGER)
            await page_serves(web)
    assert lotse.process.returncode == 0, lotse.log
    assert "Traceback" not in lotse.log and bot.password not in lotse.log


async def test_a_reminder_due_while_the_homeserver_is_still_away_stays_due(
        tmp_path: Path, shipped: Bundle) -> None:
    """Pushed before the channel could start, it fails, and the scheduler keeps it due; it
    was counted delivered, and lost, when the channel took "not connected" for "room gone"."""
    service = test_matrix.new_service(shipped, tmp_path)
    settings = MatrixSettings(f"http://127.0.0.1:{free_port()}", "@lotse:lotse.test",
                              password="unused")
    channel = MatrixChannel(service, settings, tmp_path)
    with pytest.raises(ConnectionError):
        await channel.push("!room:lotse.test", (Say("Wie geht es Ihnen?"),), "de")
    service.store.close()
