"""Confirmed reports on their way to reports.db: stored exactly once, whenever a kill comes.

A report is confirmed in a turn, but reports.db is another file, so no transaction holds both.
The turn therefore writes the report into state.db's `outbox` in its own commit (`post`), under a
random report id; after the commit it is added to reports.db under that id, and only then is the
outbox row deleted (`deliver`). A kill before the commit keeps neither the turn nor the report (the
message comes again); a kill after it leaves the row, which the next start delivers; a kill after
the add but before the delete delivers it again, and reports.db ignores an id it holds.

While it waits, the row is sealed with a key of its own (`StateStore.post`): nothing of it is in
the clear, not even the report id. Delivered, the row is deleted (zeroed: `secure_delete`), its
key overwritten and the WAL cut, so state.db keeps no trace that links a report to a conversation.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

from storage.report_store import ReportStore, StoredReport, checked, new_report_id
from storage.state_store import StateStore


def post(store: StateStore, report: StoredReport) -> None:
    """Keep the report with the state store's next commit. Raises ValueError, before anything is
    written, for a report reports.db would refuse."""
    report = checked(report)
    store.post(json.dumps({
        "id": new_report_id(), "report_month": report.report_month,
        "incident_month": report.incident_month, "flow": report.flow,
        "flow_version": report.flow_version, "answers": report.answers}))


def deliver(store: StateStore, reports: ReportStore) -> int:
    """Add every report the committed outbox holds to reports.db and erase it from the outbox;
    returns how many were added (a report added before a kill counts, and is not doubled). A
    failing reports.db raises and leaves the rest for the next call."""
    added = 0
    for slot, text in store.outbox():
        if text is not None:  # None: its key was lost in a power cut; nothing can be delivered
            try:
                row = json.loads(text)
                reports.add(row["report_month"], row["incident_month"], row["flow"],
                            row["flow_version"], [tuple(pair) for pair in row["answers"]],
                            report_id=row["id"])
                added += 1
            except (ValueError, KeyError, TypeError):
                pass  # no report to be made of it (an unreadable row): waiting helps nothing
        store.delivered(slot)
    if added:
        with contextlib.suppress(sqlite3.OperationalError):  # busy: the next checkpoint cuts it
            store.checkpoint()
    return added
