"""A Lotse process for the crash test: the real service on a real data folder, fed over stdin.

Each input line is `conversation<TAB>event id<TAB>text`; each answered line is acknowledged on
stdout as `ack<TAB>conversation<TAB>event id` only after `handle()` returned, that is after the
turn was committed, exactly when a channel would send the reply. The test kills this process
with SIGKILL at random moments and starts it again on the same folder.

Run as `python -m tests.robustness.crash_harness DATA_DIR NOW` (NOW: the fixed ISO time of the
conversation clock, so that the test can replay every turn through the pure engine).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

from bot.engine.conversation import Said, Start
from bot.flows.checker import Sources, check
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from storage.report_store import ReportStore

SECRET = b"crash-harness-secret-0123456789ab"
START = "\x01start "
"""A line `START + flow id` is a Start event for that flow (a channel's start button)."""


async def serve(data: Path, now: dt.datetime) -> None:
    result = check(Sources.shipped())
    assert result.bundle is not None
    store = StateStore(data / "state.db")
    reports = ReportStore(data / "reports.db")
    service = ConversationService(result.bundle, store, KeyHasher(SECRET), lambda: now,
                                  reports=reports)
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        conversation, event_id, text = line.rstrip("\n").split("\t", 2)
        event = Start(flow=text[len(START):]) if text.startswith(START) else Said(text)
        await service.handle(ConversationKey("crash", conversation), event, event_id)
        sys.stdout.write(f"ack\t{conversation}\t{event_id}\n")
        sys.stdout.flush()
    store.close()
    reports.close()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), dt.datetime.fromisoformat(sys.argv[2])))
