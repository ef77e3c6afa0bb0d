"""Confirmed reports on their way to reports.db: stored exactly once, whenever a kill comes.

A report is confirmed in a turn, but reports.db is another file, so no transaction holds both.
The turn therefore writes the report into state.db's `outbox` in its own commit (`post`), under a
random report id; later it is added to reports.db under that id, and only then is the outbox row
deleted (`deliver`). A kill before the commit keeps neither the turn nor the report (the message
comes again); a kill after it leaves the row, which the next delivery takes; a kill after the add
but before the delete delivers it again, and reports.db ignores an id it holds.

While it waits, the row is sealed with a key of its own (`StateStore.post`): nothing of it is in
the clear, not even the report id. Delivered, the row is deleted (zeroed: `secure_delete`), its
key overwritten and the WAL cut, so state.db keeps no trace that links a report to a conversation.

Reports go on in batches (issue #26, item 6; docs/statistics.md): `lotse run` hands them on at
random moments about once a day (`deliver_batch`, bot/service/report_batches.py), each start
hands on what waits (`deliver`), so the moments reports.db changes say nothing about when a
report was filed.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from storage.report_store import ReportStore, StoredReport, checked, new_report_id, read_only
from storage.state_store import StateStore

BATCH = 3
"""`deliver_batch` waits until this many reports wait (or a month is over): two copies of
reports.db taken a day apart then show at least three new reports, never one."""


def post(store: StateStore, report: StoredReport) -> None:
    """Keep the report with the state store's next commit. Raises ValueError, before anything is
    written, for a report reports.db would refuse."""
    report = checked(report)
    store.post(json.dumps({
        "id": new_report_id(), "report_month": report.report_month,
        "incident_month": report.incident_month, "flow": report.flow,
        "flow_version": report.flow_version, "answers": report.answers}))


def deliver(store: StateStore, reports: ReportStore,
            waiting: list[tuple[int, str | None]] | None = None) -> int:
    """Add every report the committed outbox holds (`waiting`, when the caller read it
    already) to reports.db, in one batch in random order, and erase it from the outbox;
    returns how many were added (a report added before a kill counts, and is not doubled). A
    failing reports.db raises and leaves them all waiting."""
    waiting = store.outbox() if waiting is None else waiting
    batch = [(row["id"], report) for _, text in waiting
             if (row := _row(text)) is not None and (report := _report(row)) is not None]
    if batch:
        reports.add_many(batch)
    for slot, _ in waiting:
        store.delivered(slot)
    if batch:
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the next checkpoint cuts it
            store.checkpoint()
    return len(batch)


def deliver_batch(store: StateStore, reports: ReportStore, month: str, least: int = BATCH
                  ) -> int:
    """`deliver`, once at least `least` reports wait, or one of them was filed before `month`
    (YYYY-MM, this month): every month is complete in reports.db soon after it ends."""
    sealed = store.outbox()  # opened once, for the decision and the delivery
    rows = [_row(text) for _, text in sealed]
    ended = any(row is None or str(row.get("report_month", "")) < month for row in rows)
    if len(rows) >= least or ended:
        return deliver(store, reports, sealed)
    return 0


def waiting(state_db: Path) -> int:
    """How many reports wait in the outbox of `state_db`, read without writing (`lotse stats`);
    0 without a state.db."""
    if not state_db.exists():
        return 0
    conn = read_only(state_db)
    try:
        return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # an older state.db without an outbox
    finally:
        conn.close()


def _row(text: str | None) -> dict[str, Any] | None:
    """An outbox row's fields; None when its key was lost in a power cut or it is unreadable."""
    if text is None:
        return None
    with contextlib.suppress(ValueError):
        row = json.loads(text)
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            return row
    return None


def _report(row: dict[str, Any]) -> StoredReport | None:
    """The report of an outbox row, or None for one reports.db would refuse: waiting helps
    nothing, so it is dropped."""
    try:
        return checked(StoredReport(row["report_month"], row["incident_month"], row["flow"],
                                    row["flow_version"],
                                    tuple((field, value) for field, value in row["answers"])))
    except (ValueError, KeyError, TypeError):
        return None
