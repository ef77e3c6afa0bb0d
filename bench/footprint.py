"""What Lotse costs its readers and its host, beside speed: issue #22's other targets.

- source lines of bot/ and storage/ (*.py, every line; tests are not in them) and the largest
  module;
- `lotse chat` from start to its first question: `python -m bot chat` with a fresh data folder
  and stdin a pipe, timed until the question is on its stdout; best and median of 5, after a
  first untimed start that compiles the bytecode (cached in a temp folder);
- resident memory of `lotse run` serving the web page on 127.0.0.1 (nothing else configured),
  after 1,000 conversations over HTTP: each its own cookie jar, POST /api/start, then five
  answers by POST /api/say; VmRSS (and the peak, VmHWM) from /proc/PID/status;
- with --install: `pip install .` into a fresh venv (the venv is made first, untimed), twice,
  so that the second certainly finds pip's cache warm; CC=false, so a C compiler would fail.

Targets (issue #22, on a 2-core machine): <= 9,800 source lines, largest module <= 500 lines,
chat start <= 0.5 s, <= 120 MB resident, pip install . <= 30 s.
Run: python bench/footprint.py [--conversations 1000] [--install]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Sind Sie gerade in Gefahr?"
ANSWERS = ("Nein", "mir", "nein", "bedroht", "telefon")  # as .ci/run's smoke test answers


def environment(folder: Path, **settings: str) -> dict[str, str]:
    """This environment without any LOTSE_ setting of the caller's, the checkout first, and
    bytecode cached in `folder` (as an installed Lotse has it; PYTHONDONTWRITEBYTECODE, which
    some machines set, would compile every module again at every start)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOTSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env | {"PYTHONPYCACHEPREFIX": str(folder / "pycache")} | settings


def show(what: str, figure: str, target: str) -> None:
    print(f"{what:<16} {figure:<72} target {target}")


def source_lines() -> None:
    lines = {str(p.relative_to(ROOT)): len(p.read_bytes().splitlines())
             for folder in ("bot", "storage") for p in (ROOT / folder).rglob("*.py")}
    largest = max(lines, key=lines.__getitem__)
    show("source lines", f"{sum(lines.values()):,} in {len(lines)} modules of bot/, storage/",
         "<= 9,800")
    show("largest module", f"{lines[largest]:,} lines, {largest}", "<= 500")


async def chat_start(folder: Path, data: Path) -> float:
    """Seconds from starting `lotse chat` until its first question is on its stdout."""
    data.mkdir()
    started = time.perf_counter()
    chat = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", "--data-dir", str(data), cwd=data,
        env=environment(folder), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert chat.stdin is not None and chat.stdout is not None
    try:
        seen = b""
        async with asyncio.timeout(30):
            while QUESTION.encode() not in seen:
                chunk = await chat.stdout.read(4096)
                if not chunk:
                    raise RuntimeError(f"lotse chat ended without its question: {seen!r}")
                seen += chunk
        return time.perf_counter() - started
    finally:
        chat.stdin.close()  # end of input: the console saves and ends
        try:
            await asyncio.wait_for(chat.communicate(), 10)
        except TimeoutError:
            chat.kill()
            await chat.wait()


async def web_memory(folder: Path, conversations: int) -> None:
    data = folder / "web"
    data.mkdir()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=data, stderr=asyncio.subprocess.PIPE,
        env=environment(folder, LOTSE_DATA_DIR=str(data), LOTSE_WEB_LISTEN="127.0.0.1:0"))
    assert server.stderr is not None
    draining: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(30):
            url = ""
            while not url:  # the log line "web page on http://127.0.0.1:PORT/"
                line = await server.stderr.readline()
                if not line:
                    raise RuntimeError("lotse run ended before serving the web page")
                event = json.loads(line).get("event", "")
                url = event.partition(" on ")[2] if event.startswith("web page on") else ""
        # Keep reading the log, so that the server never blocks on a full pipe.
        draining = asyncio.create_task(server.stderr.read())
        turns = await converse(url.rstrip("/"), conversations)
        status = Path(f"/proc/{server.pid}/status").read_text()
        memory = {k: int(v.split()[0]) / 1024 for k, _, v in
                  (line.partition(":") for line in status.splitlines()) if k in ("VmRSS", "VmHWM")}
        show("lotse run, web", f"{memory['VmRSS']:.1f} MB resident (peak {memory['VmHWM']:.1f}"
             f" MB) after {conversations:,} conversations, {turns:,} turns", "<= 120 MB")
    finally:
        if server.returncode is None:
            server.terminate()  # SIGTERM: finishes the turns in flight and exits
            try:
                await asyncio.wait_for(server.wait(), 15)
            except TimeoutError:
                server.kill()
                await server.wait()
        if draining is not None:
            draining.cancel()


async def converse(url: str, conversations: int) -> int:
    """Conversations over HTTP, 50 at a time, each in a session with a cookie jar of its own."""
    headers = {"X-Lotse": "1", "Origin": url}
    gate = asyncio.Semaphore(50)
    turns = 0

    async def one(connector: aiohttp.TCPConnector) -> None:
        nonlocal turns
        async with gate, aiohttp.ClientSession(
                connector=connector, connector_owner=False, headers=headers,
                cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: an IP address
            for path, body in [("/api/start", {})] + [("/api/say", {"text": a}) for a in ANSWERS]:
                async with http.post(url + path, json=body) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{path}: {response.status} {await response.text()}")
                turns += 1

    async with aiohttp.TCPConnector(limit=50) as connector:
        await asyncio.gather(*(one(connector) for _ in range(conversations)))
    return turns


async def pip_install(folder: Path) -> None:
    times = []
    for n in range(2):
        venv = folder / f"venv{n}"
        made = await asyncio.create_subprocess_exec(sys.executable, "-m", "venv", str(venv))
        await made.wait()
        started = time.perf_counter()
        pip = await asyncio.create_subprocess_exec(
            str(venv / "bin" / "pip"), "install", "--quiet", str(ROOT), cwd=folder,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"CC": "false"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        told, _ = await pip.communicate()  # pip's warnings only matter when it fails
        if pip.returncode:
            raise RuntimeError(f"pip install . failed ({pip.returncode}):\n{told.decode()}")
        times.append(time.perf_counter() - started)
    show("pip install .", f"{times[0]:.1f} s, then {times[1]:.1f} s (each a fresh venv, "
         "CC=false)", "<= 30 s")


async def run(args: argparse.Namespace) -> None:
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{os.cpu_count()} cores, {platform.platform()}")
    source_lines()
    with tempfile.TemporaryDirectory(prefix="lotse-bench-") as name:
        folder = Path(name)
        await chat_start(folder, folder / "chat")  # untimed: compiles the bytecode
        starts = [await chat_start(folder, folder / f"chat{n}") for n in range(5)]
        show("lotse chat", f"{min(starts):.2f} s to its first question, best of 5 (median "
             f"{statistics.median(starts):.2f} s)", "<= 0.5 s")
        await web_memory(folder, args.conversations)
        if args.install:
            await pip_install(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--install", action="store_true", help="also time pip install .")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
