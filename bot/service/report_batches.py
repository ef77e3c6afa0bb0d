"""Hands confirmed reports on to reports.db in batches, at moments no filing chose (`lotse run`).

Reports wait, sealed, in state.db's outbox (storage/report_outbox.py). A file's change time
(ctime) cannot be set back as its modification time can, so if reports.db were written when a
report is filed, its ctime would still tell when the newest one came in. Instead this task wakes
at random moments, on average once a day (12 to 36 hours apart, drawn afresh each time), and hands
the waiting reports on once three wait or a month has ended (`deliver_batch`). Each start of
Lotse hands on whatever waits (ConversationService). A report is never lost meanwhile: it stays
in the outbox until reports.db holds it, and `lotse stats` says how many wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import Callable

from bot.service.conversations import utc_now
from storage import report_outbox
from storage.report_store import ReportStore
from storage.state_store import StateStore

log = logging.getLogger(__name__)

SHORTEST = 12 * 3600
LONGEST = 36 * 3600
"""Seconds between two rounds: uniform in this range, from a system random source."""


def next_wait() -> float:
    return SHORTEST + secrets.randbelow(LONGEST - SHORTEST)


class ReportBatches:
    name = "report batches"

    def __init__(self, store: StateStore, reports: ReportStore,
                 clock: Callable[[], dt.datetime] = utc_now,
                 wait: Callable[[], float] = next_wait) -> None:
        self.store = store
        self.reports = reports
        self.clock = clock
        self.wait = wait

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: wait a random while, then hand on a batch if one is due."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.wait())
            if stop.is_set():
                return
            try:
                added = self.tick()
            except Exception:  # reports.db failing: they wait for the next round
                log.exception("handing reports on to reports.db failed; they wait")
            else:
                if added:
                    log.info("%d report(s) handed on to reports.db", added)

    def tick(self) -> int:
        """Hand on the waiting reports if a batch is due; returns how many were added."""
        return report_outbox.deliver_batch(self.store, self.reports,
                                           self.clock().strftime("%Y-%m"))
