"""Anonymous incident reports: their own SQLite file, enumerated answers and months only.

Nothing here can point back to a person or a conversation: no user id or hash of one, no free
text, no day or time, no column shared with the conversation state. Report ids are random and the
tables WITHOUT ROWID, ordered by that id, so the rows do not tell the order reports came in. A
report is added under the id it was given in the outbox (storage/report_outbox.py), and adding
the same id again changes nothing: that is what makes a delivery after a kill exactly-once.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
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


def _read_only(path: Path) -> sqlite3.Connection:
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
            conn = _read_only(path)
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
        if not self.readonly:
            apply(self.db, MIGRATIONS)
        self.path = path
        self._conn = conn

    def add(self, report_month: str, incident_month: str | None, flow: str, flow_version: int,
            answers: Iterable[tuple[str, str]], report_id: str | None = None) -> None:
        """Store one report atomically; a `report_id` already stored changes nothing. Raises
        ValueError for anything not enumerated."""
        report = checked(StoredReport(report_month, incident_month, flow, flow_version,
                                      tuple(answers)))
        report_id = report_id or new_report_id()
        with self.db.atomic():
            self._conn.execute(
                "INSERT OR IGNORE INTO reports (id, report_month, incident_month, flow, "
                "flow_version) VALUES (?, ?, ?, ?, ?)",
                (report_id, report.report_month, report.incident_month, report.flow,
                 report.flow_version))
            self._conn.executemany(
                "INSERT OR IGNORE INTO report_answers (report_id, field, value) VALUES (?, ?, ?)",
                [(report_id, field, value) for field, value in report.answers])
        # The WAL lists changes in the order they came: fold it in, so only id order remains.
        self.checkpoint()

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
        return cursor.rowcount

    def checkpoint(self) -> None:
        if self.path is not None and not self.readonly:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.checkpoint()
        self._conn.close()
