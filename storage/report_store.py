"""Anonymous incident reports: their own SQLite file, enumerated answers and months only.

Nothing here can point back to a person or a conversation: no user id or hash of one, no free
text, no day or time, no column shared with the conversation state. A report is added under the
id it was given in the outbox (storage/report_outbox.py), and adding the same id again changes
nothing: that is what makes a delivery after a kill exactly-once.

Nor can the file tell the order or the moment reports came in (issue #26, item 6). Report ids
are random and the tables WITHOUT ROWID, ordered by that id; but SQLite writes each new row into
a page's free space, so the bytes of a page still list rows in the order they came. After every
write the file is therefore rebuilt (VACUUM: rows copied in id order, which is random), and its
modification time, and its -wal's and -shm's, set to the start of the month (`disguise`).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from storage.migrations import Migration, apply
from storage.private_file import private_database

_MONTH = re.compile(r"\d{4}-\d{2}\Z")
_VALUE = re.compile(r"[a-z0-9][a-z0-9_]*\Z")
"""Report fields and values are ids from the flows (lower case, digits, _): never free text."""


def _create_reports(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE reports (id TEXT PRIMARY KEY NOT NULL, report_month TEXT NOT NULL, "
        "incident_month TEXT, flow TEXT NOT NULL, flow_version INTEGER NOT NULL) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE report_answers (report_id TEXT NOT NULL REFERENCES reports(id) "
        "ON DELETE CASCADE, field TEXT NOT NULL, value TEXT NOT NULL, "
        "PRIMARY KEY (report_id, field, value)) WITHOUT ROWID"
    )
    db.execute("CREATE INDEX reports_by_month ON reports(report_month)")
    # One row per report and field for people who open the file in Datasette or a spreadsheet.
    db.execute(
        "CREATE VIEW report_overview AS SELECT r.id, r.report_month, r.incident_month, "
        "r.flow, r.flow_version, a.field, group_concat(a.value, ', ') AS answer "
        "FROM reports r JOIN report_answers a ON a.report_id = r.id "
        "GROUP BY r.id, a.field"
    )


MIGRATIONS: list[Migration] = [(1, "reports", _create_reports)]


@dataclass(frozen=True, slots=True)
class StoredReport:
    report_month: str
    incident_month: str | None
    flow: str
    flow_version: int
    answers: tuple[tuple[str, str], ...]


def new_report_id() -> str:
    """A random report id: nothing of the person, the conversation or the moment."""
    return secrets.token_hex(16)


def checked(report: StoredReport) -> StoredReport:
    """The report with its answers sorted and without repeats. Raises ValueError for anything not
    enumerated (free text, a day): the outbox asks before it keeps one, so that no report waits
    there that reports.db would refuse."""
    answers = tuple(sorted(set(report.answers)))
    for month in (report.report_month, report.incident_month):
        if month is not None and not _MONTH.match(month):
            raise ValueError("months are stored as YYYY-MM, nothing finer")
    for text in (report.flow, *(part for pair in answers for part in pair)):
        if not _VALUE.match(text):
            raise ValueError("reports hold enumerated ids only, never free text")
    return StoredReport(report.report_month, report.incident_month, report.flow,
                        report.flow_version, answers)


def read_only(path: Path) -> sqlite3.Connection:
    """`path` opened for reading only. A database in WAL mode needs its -shm index, which SQLite
    cannot create in a folder it may not write; with no -wal beside it (a copy, a backup, a
    stopped Lotse) nothing is waiting to be folded in, so the file alone is all there is."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn.close()
        if Path(f"{path}-wal").exists():
            raise
        conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)
    return conn


class ReportStore:
    """The report database. `path=None` keeps it in memory (tests)."""

    def __init__(self, path: Path | None, readonly: bool = False) -> None:
        """`readonly`: open an existing file for reading only (`lotse stats`): nothing created,
        migrated or written, so a read-only copy (a backup, another user's file) will do."""
        self.readonly = readonly and path is not None
        if self.readonly:
            assert path is not None
            conn = read_only(path)
        else:
            if path is not None:
                private_database(path)  # 0600, and so are its -wal and -shm
            conn = sqlite3.connect(":memory:" if path is None else str(path),
                                   isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        self.db = sqlite_utils.Database(conn)
        if self.readonly:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # SQLite at all?
        elif path is not None:
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = FULL")
        self.path = path
        self._conn = conn
        if not self.readonly:
            apply(self.db, MIGRATIONS)
            # A file written by an older Lotse, or a kill between a write and its rebuild.
            self.rebuild()

    def add(self, report_month: str, incident_month: str | None, flow: str, flow_version: int,
            answers: Iterable[tuple[str, str]], report_id: str | None = None) -> None:
        """Store one report atomically; a `report_id` already stored changes nothing. Raises
        ValueError for anything not enumerated."""
        self.add_many([(report_id or new_report_id(), StoredReport(
            report_month, incident_month, flow, flow_version, tuple(answers)))])

    def add_many(self, batch: Iterable[tuple[str, StoredReport]]) -> None:
        """Store reports under their ids in one transaction, in random order, then rebuild the
        file: a batch leaves no trace of the order its reports were filed in. Ids already stored
        change nothing. Raises ValueError, before anything is written, for anything not
        enumerated."""
        rows = [(report_id, checked(report)) for report_id, report in batch]
        random.SystemRandom().shuffle(rows)
        with self.db.atomic():
            for report_id, report in rows:
                self._conn.execute(
                    "INSERT OR IGNORE INTO reports (id, report_month, incident_month, flow, "
                    "flow_version) VALUES (?, ?, ?, ?, ?)",
                    (report_id, report.report_month, report.incident_month, report.flow,
                     report.flow_version))
                self._conn.executemany(
                    "INSERT OR IGNORE INTO report_answers (report_id, field, value) "
                    "VALUES (?, ?, ?)", [(report_id, field, value)
                                         for field, value in report.answers])
        self.rebuild()

    def reports(self, since: str | None = None) -> list[StoredReport]:
        """Every report (from month `since` on), in id order, which is random."""
        rows = self._conn.execute(
            "SELECT id, report_month, incident_month, flow, flow_version FROM reports "
            "WHERE ? IS NULL OR coalesce(incident_month, report_month) >= ? ORDER BY id",
            (since, since)).fetchall()
        answers: dict[str, list[tuple[str, str]]] = {row[0]: [] for row in rows}
        for report_id, field, value in self._conn.execute(
                "SELECT report_id, field, value FROM report_answers ORDER BY report_id"):
            if report_id in answers:
                answers[report_id].append((field, value))
        return [StoredReport(r[1], r[2], r[3], r[4], tuple(answers[r[0]])) for r in rows]

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM reports").fetchone()[0])

    def purge_before(self, month: str) -> int:
        """Delete reports made before `month` (YYYY-MM); returns how many."""
        with self.db.atomic():
            cursor = self._conn.execute("DELETE FROM reports WHERE report_month < ?", (month,))
        self.rebuild()
        return cursor.rowcount

    def rebuild(self) -> None:
        """Rewrite the file with every row in id order (VACUUM) and no free pages, cut the WAL
        and `disguise` the times: its bytes then depend on the reports it holds, not on the order
        or the moments they came in."""
        if self.path is None or self.readonly:
            return
        self.checkpoint()
        self._conn.execute("VACUUM")
        self.checkpoint()
        disguise(self.path)

    def checkpoint(self) -> None:
        if self.path is not None and not self.readonly:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.checkpoint()
        self._conn.close()


def month_start(now: float | None = None) -> float:
    """The start of the month (UTC) of `now` (epoch seconds; default: now), in epoch seconds."""
    moment = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def disguise(path: Path) -> None:
    """Set the access and modification times of the database and of its -wal, -shm and -journal
    to the start of this month: otherwise they say when the newest report was written."""
    start = month_start()
    for name in (path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))):
        try:
            os.utime(name, (start, start))
        except FileNotFoundError:
            continue
