"""`lotse run` as an operator runs it: two channels in one process, /healthz, JSON logs without
personal data, SIGTERM in the middle of conversations, and both conversations resumed after the
restart. A real process, the web page over HTTP and Telegram over the Bot API stand-in."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from .botapi_standin import StandIn, free_port
from .test_telegram import ANNA, Q_DANGER, Q_WHO, answer, asking, said_after

HEADERS = {"X-Lotse": "1", "Sec-Fetch-Site": "same-origin"}


@asynccontextmanager
async def lotse_run(env: dict[str, str], umask: int = -1) -> AsyncIterator[list[bytes]]:
    """`python -m bot run` until the block ends, then SIGTERM; yields its stderr lines, which
    are complete once the block has ended. `umask`: the one it starts with (-1: this one's)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env={**os.environ, **env},
        stderr=asyncio.subprocess.PIPE, umask=umask)
    lines: list[bytes] = []
    try:
        yield lines
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
        lines.extend(stderr.splitlines())
        assert process.returncode == 0, stderr.decode()


async def healthy(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                reply = await client.get(f"{url}/healthz")
                if reply.status_code == 200:
                    data: dict[str, Any] = reply.json()
                    return data
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("lotse run never became healthy")


def questions(reply: httpx.Response) -> list[str]:
    return [o["text"] for o in reply.json()["outputs"] if o["type"] == "question"]


async def test_two_channels_in_one_process_survive_sigterm_and_resume(
        tmp_path: Path, standin: StandIn) -> None:
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    env = {"LOTSE_TELEGRAM_TOKEN": standin.token, "LOTSE_TELEGRAM_API_URL": standin.url,
           "LOTSE_WEB_LISTEN": f"127.0.0.1:{port}", "LOTSE_DATA_DIR": str(tmp_path),
           "LOTSE_SECRET": "x" * 32}
    async with lotse_run(env) as logs, httpx.AsyncClient(base_url=web,
                                                          headers=HEADERS) as page:
        assert (await healthy(web))["status"] == "ok"
        # Telegram: Anna says she is not in danger now ...
        await standin.wait_for(lambda: standin.calls_to("deleteWebhook"), timeout=60)
        await standin.send_text(ANNA, "/start")
        await answer(standin, Q_DANGER, "Nein")
        await standin.wait_for(asking(standin, Q_WHO), timeout=30)
        # ... and on the web page someone else says the same.
        first = await page.post("/api/start", json={})
        assert any("Sind Sie gerade in Gefahr?" in q for q in questions(first))
        second = await page.post("/api/say", json={"text": "nein, ich bin sicher"})
        assert any(Q_WHO in q for q in questions(second))
        cookies = dict(page.cookies)
    records = [json.loads(line) for line in logs]  # every line is one JSON object
    assert any(r["event"] == "serving web, telegram, reminders, report batches"
               for r in records), records
    assert records[-1]["event"] == "stopped; every turn saved"
    # Without the time stamps, and Anna's id (501) as a number of its own: it turned up as the
    # milliseconds of a time stamp, and it could in a port number.
    everything = "\n".join(json.dumps({k: v for k, v in r.items() if k != "time"},
                                      ensure_ascii=False)
                           for r in records)
    assert not re.search(rf"(?<!\d){ANNA}(?!\d)", everything)
    for secret in (standin.token, "ich bin sicher", *cookies.values()):
        assert secret not in everything

    # After the restart both conversations go on where they were.
    async with lotse_run(env), httpx.AsyncClient(base_url=web, headers=HEADERS,
                                                 cookies=cookies) as page:
        await healthy(web)
        await standin.wait_for(lambda: len(standin.calls_to("deleteWebhook")) >= 2, timeout=60)
        since = standin.last_id()
        await standin.send_text(ANNA, "/start")
        resumed = await standin.wait_for(
            lambda: next((m for m in standin.bot_messages(ANNA)
                          if m.message_id > since and Q_WHO in m.text), None), timeout=30)
        assert resumed is not None
        again = await page.post("/api/start", json={})
        assert any(Q_WHO in q for q in questions(again))


async def test_a_broken_settings_file_stops_lotse_run_before_it_starts(tmp_path: Path) -> None:
    config = tmp_path / "lotse.yaml"
    config.write_text("web:\n  listen: 127.0.0.1:8080\n  enabeld: true\n", encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run",
        stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        _, stderr = await process.communicate()
    assert process.returncode == 2
    text = stderr.decode()
    assert f"{config}:3:3: unknown key 'enabeld' — did you mean 'enabled'?" in text
    assert "Traceback" not in text


async def test_lotse_run_limits_how_fast_one_conversation_may_write(tmp_path: Path) -> None:
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    env = {"LOTSE_WEB_LISTEN": f"127.0.0.1:{port}", "LOTSE_DATA_DIR": str(tmp_path),
           "LOTSE_SECRET": "x" * 32, "LOTSE_RATE_BURST": "3", "LOTSE_RATE_PER_SECOND": "0.01"}
    async with lotse_run(env), httpx.AsyncClient(base_url=web, headers=HEADERS) as page:
        await healthy(web)
        replies = [await page.post("/api/start", json={})]
        for _ in range(4):
            replies.append(await page.post("/api/say", json={"text": "hallo"}))
    said = [" ".join(o.get("text", "") for o in r.json()["outputs"]) for r in replies]
    notice = "Sie schreiben schneller, als ich antworten kann."
    assert not any(notice in s for s in said[:3])  # three at once are fine
    assert notice in said[3] and "110" in said[3]  # the one notice, with the emergency numbers
    assert said[4] == ""  # then silence


async def test_at_debug_the_log_holds_no_token_id_name_or_text(tmp_path: Path) -> None:
    """Issue #26, item 4: with `log_level: DEBUG` the libraries under Lotse (python-telegram-bot,
    httpx, aiohttp, asyncio …) would write the token, the ids, first names and what was said.
    Canaries go into each of them; none may reach standard error."""
    token = "7301946825:AAKanarienTokenQ4x9zVb2LmN8rT5wYc3uJ0e"
    user = 8260417395  # a Telegram user (and its private chat) whose digits occur nowhere else
    name = "Kanarienvorname"
    typed = "Kanarienvogel Zilpzalp hat mich bedroht"
    typed_web = "Kanariengirlitz Stieglitz stand vor der Tuer"
    standin = StandIn(token)
    await standin.start()
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    env = {"LOTSE_TELEGRAM_TOKEN": token, "LOTSE_TELEGRAM_API_URL": standin.url,
           "LOTSE_WEB_LISTEN": f"127.0.0.1:{port}", "LOTSE_DATA_DIR": str(tmp_path),
           "LOTSE_SECRET": "x" * 32, "LOTSE_LOG_LEVEL": "DEBUG"}

    async def says(text: str) -> None:
        since = standin.last_id()
        update = standin.text_message(user, text)
        message = update["message"]
        message["from"]["first_name"] = message["chat"]["first_name"] = name
        message["from"]["last_name"] = message["chat"]["last_name"] = name + "nach"
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        await standin.push(update)
        await standin.wait_for(lambda: next((m for m in standin.bot_messages(user)
                                             if m.message_id > since), None), timeout=30)

    try:
        async with lotse_run(env) as logs, httpx.AsyncClient(base_url=web,
                                                              headers=HEADERS) as page:
            await healthy(web)
            await standin.wait_for(lambda: standin.calls_to("deleteWebhook"), timeout=60)
            await says("/start")
            shown = await standin.wait_for(asking(standin, Q_DANGER, user), timeout=30)
            await standin.tap(user, shown, "Nein")
            await standin.wait_for(asking(standin, Q_WHO, user), timeout=30)
            since = standin.last_id()
            await says(typed)
            await standin.wait_for(said_after(standin, since, "", user), timeout=30)
            await page.post("/api/start", json={})
            await page.post("/api/say", json={"text": "nein, ich bin sicher"})
            await page.post("/api/say", json={"text": typed_web})
            cookies = dict(page.cookies)
    finally:
        await standin.stop()
    stderr = b"\n".join(logs).decode("utf-8", "replace")
    assert any(json.loads(line)["event"] == "stopped; every turn saved" for line in logs)
    canaries = (token, token.split(":")[1], name, "Kanarienvogel", "Zilpzalp", "Kanariengirlitz",
                "Stieglitz", "ich bin sicher", *cookies.values())
    found = [c for c in canaries if c in stderr]
    if re.search(rf"(?<!\d){user}(?!\d)", stderr):
        found.append(str(user))
    assert not found, (found, stderr[:3000])


def test_what_a_library_logs_at_warning_is_kept_without_tokens_or_ids() -> None:
    import logging

    from bot.logs import Guard, JsonLines, Scrubber

    token = "7301946825:AAKanarienTokenQ4x9zVb2LmN8rT5wYc3uJ0e"
    formatter, guard = JsonLines(Scrubber(["geheimes-passwort"])), Guard()

    def record(name: str, level: int, message: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, message, args, None)

    debug = record("telegram.ext.Application", logging.DEBUG, "update from %s", 8260417395)
    assert not guard.filter(debug)  # a library below WARNING: dropped, whatever its level
    assert guard.filter(record("bot.channels.telegram", logging.DEBUG, "own"))
    warning = record("httpx", logging.WARNING, "POST https://api.telegram.org/bot%s/sendMessage "
                     "chat_id=%d for @anna:kassel.de in !raum:kassel.de, password %s failed",
                     token, 8260417395, "geheimes-passwort")
    assert guard.filter(warning)
    event = json.loads(formatter.format(warning))["event"]
    assert event == ("POST https://api.telegram.org/bot<secret>/sendMessage chat_id=<id> for "
                     "<id> in <id>, password <secret> failed")
    for address in ("203.0.113.7", "2001:db8::1", "::1"):
        failed = record("aiohttp.server", logging.ERROR, "Error handling request from %s", address)
        assert json.loads(formatter.format(failed))["event"] == "Error handling request from <id>"
    own = record("lotse", logging.WARNING, "refused %s (request %d)", token, 1234567)
    assert json.loads(formatter.format(own))["event"] == "refused <secret> (request 1234567)"


def modes(folder: Path) -> dict[str, str]:
    """Every entry under `folder` (itself as '.') with its permission bits, e.g. '0o600'."""
    entries = {".": folder, **{str(p.relative_to(folder)): p for p in folder.rglob("*")}}
    return {name: oct(path.stat().st_mode & 0o777) for name, path in entries.items()}


async def test_a_fresh_data_folder_is_its_owners_alone_and_a_readable_one_is_warned_of(
        tmp_path: Path) -> None:
    """Issue #26, item 7: the data folder 0700, everything Lotse writes in it 0600 (WAL and
    shared-memory files included), even when Lotse is started with a umask of 022; an existing
    folder or secret.key others may read gets one warning at start."""
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    data = tmp_path / "srv" / "data"  # neither exists yet
    env = {"LOTSE_WEB_LISTEN": f"127.0.0.1:{port}", "LOTSE_DATA_DIR": str(data),
           "LOTSE_SECRET": ""}  # so that secret.key is written
    async with lotse_run(env, umask=0o022) as logs, httpx.AsyncClient(base_url=web,
                                                                       headers=HEADERS) as page:
        await healthy(web)
        await page.post("/api/start", json={})
        await page.post("/api/say", json={"text": "nein, ich bin sicher"})
        running = modes(data)
    for name in ("secret.key", "state.db", "state.db-wal", "state.db-shm", "state.keys",
                 "reports.db", "reports.db-wal", "reports.db-shm"):
        assert name in running, running
    for when in (running, modes(data)):
        assert {n: m for n, m in when.items()
                if m != ("0o700" if (data / n).is_dir() else "0o600")} == {}, when
    assert oct((tmp_path / "srv").stat().st_mode & 0o777) == "0o755"  # only the data folder
    assert not any("group or others" in json.loads(line)["event"] for line in logs)

    # An operator's copy left the folder and the key readable: one warning, Lotse still runs.
    data.chmod(0o755)
    (data / "secret.key").chmod(0o644)
    async with lotse_run(env) as logs:
        await healthy(web)
    warnings = [r for r in map(json.loads, logs) if r["level"] == "warning"]
    assert len(warnings) == 1, warnings
    assert str(data) in warnings[0]["event"] and "secret.key" in warnings[0]["event"]
    assert "group or others" in warnings[0]["event"]
    assert oct(data.stat().st_mode & 0o777) == "0o755"  # told, not changed behind its back
