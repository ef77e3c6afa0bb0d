"""Reports cannot be ordered or linked (issue #26, item 6).

An attacker with a copy of the data folder read the order reports came in from the raw pages of
reports.db (60 reports: every pair in order), the moment of the newest from its modification
time, and paired it with a Telegram chat id kept in the clear in state.db's reminders, due exactly
three days after that moment. Now: reports.db is rebuilt after every write (rows in random id
order) and its times say only the month; reports reach it in batches; reminder addresses are
sealed and their due times spread over the day.

The order tests compare the order report ids appear in the file's bytes with the order they were
filed (Kendall's tau: 1 or -1 every pair in order, 0 no relation). For 60 reports in random order
tau has a standard deviation of 0.09, so |tau| < 0.5 fails by chance with a probability below
1e-7; the old file gave -1.0.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.engine.conversation import Said
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from bot.service.report_batches import ReportBatches
from storage import StateStore, report_outbox
from storage.reminder_store import ReminderStore
from storage.report_store import ReportStore, StoredReport, new_report_id

from .helpers import NOW, SECRET, Clock, on_disk
from .test_reminders import BERLIN, to_reminder_offer

REPORTS = 60
CHAT = 5_829_174_063
"""A Telegram chat id (the person's user id in a private chat): large enough that its bytes as an
integer (6 or 8 bytes, as SQLite stores it) turn up by chance nowhere."""


def kendall_tau(filed: list[str], found: list[str]) -> float:
    """+1: `found` lists the ids in filing order; -1: in reverse; about 0: unrelated."""
    rank = {report_id: n for n, report_id in enumerate(filed)}
    ranks = [rank[report_id] for report_id in found]
    pairs = [(a, b) for i, a in enumerate(ranks) for b in ranks[i + 1:]]
    return sum(1 if b > a else -1 for a, b in pairs) / len(pairs)


def orders_in_file(raw: bytes, filed: list[str]) -> list[list[str]]:
    """The order the ids appear in the bytes, once by each id's first occurrence, once by its
    second, and so on (a report's id is in its row, in the month index and in each answer)."""
    places: dict[str, list[int]] = {}
    for match in re.finditer(rb"[0-9a-f]{32}", raw):
        places.setdefault(match.group().decode(), []).append(match.start())
    assert set(filed) <= set(places), "every report id is in the file"
    times = min(len(places[report_id]) for report_id in filed)
    return [sorted(filed, key=lambda report_id, n=n: places[report_id][n]) for n in range(times)]


def report(n: int) -> StoredReport:
    return StoredReport("2026-11", "2026-11", "report", 1,
                        (("channel", "phone"), ("kind", ("insult", "threat")[n % 2])))


def assert_no_order(folder: Path, filed: list[str]) -> list[float]:
    taus = [kendall_tau(filed, order)
            for order in orders_in_file(on_disk(folder, "reports.db"), filed)]
    assert all(abs(tau) < 0.5 for tau in taus), taus
    return taus


def month_start() -> float:
    now = dt.datetime.now(dt.UTC)
    return dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC).timestamp()


def assert_only_the_month(folder: Path) -> None:
    """The files' modification times are the start of the month. (The access time is the last
    read, which a write no longer follows.)"""
    for path in folder.iterdir():
        if path.name.startswith("reports.db"):
            assert path.stat().st_mtime == month_start(), path.name


# --- reports.db ----------------------------------------------------------------------------


def test_reports_added_one_by_one_leave_no_order_in_the_pages_and_only_the_month_as_time(
        tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "reports.db")
    filed = [new_report_id() for _ in range(REPORTS)]
    for n, report_id in enumerate(filed):
        one = report(n)
        store.add(one.report_month, one.incident_month, one.flow, one.flow_version, one.answers,
                  report_id)
    assert_no_order(tmp_path, filed)
    assert_only_the_month(tmp_path)  # the process still running: -wal and -shm there too
    store.close()
    assert_no_order(tmp_path, filed)
    assert_only_the_month(tmp_path)


def test_a_reports_db_written_by_the_old_lotse_keeps_its_reports_and_loses_their_order(
        tmp_path: Path) -> None:
    ReportStore(tmp_path / "reports.db").close()
    filed = [new_report_id() for _ in range(REPORTS)]
    old = sqlite3.connect(tmp_path / "reports.db", isolation_level=None)
    for n, report_id in enumerate(filed):  # as Lotse wrote them before: one by one, in place
        old.execute("INSERT INTO reports VALUES (?, '2026-11', '2026-11', 'report', 1)",
                    (report_id,))
        for field, value in report(n).answers:
            old.execute("INSERT INTO report_answers VALUES (?, ?, ?)", (report_id, field, value))
        old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    old.close()
    firsts = orders_in_file(on_disk(tmp_path, "reports.db"), filed)[0]
    assert abs(kendall_tau(filed, firsts)) > 0.9  # the leak the issue found: in filing order

    store = ReportStore(tmp_path / "reports.db")  # the next start
    assert sorted(store.reports(), key=repr) == sorted(
        (report(n) for n in range(REPORTS)), key=repr)
    store.close()
    assert_no_order(tmp_path, filed)
    assert_only_the_month(tmp_path)


# --- state.db ------------------------------------------------------------------------------


def chat_id_bytes() -> list[bytes]:
    """The chat id as text and as SQLite stores an integer (big-endian, 6 or 8 bytes)."""
    return [str(CHAT).encode(), CHAT.to_bytes(6, "big"), CHAT.to_bytes(8, "big")]


def service(bundle: Bundle, folder: Path, clock: Clock) -> ConversationService:
    store = StateStore(folder / "state.db")
    return ConversationService(bundle, store, KeyHasher(SECRET), clock,
                               reports=ReportStore(folder / "reports.db"),
                               reminders=ReminderStore(store), batched=True)


async def test_state_db_holds_no_chat_id_and_no_due_time_counted_from_the_filing(
        shipped: Bundle, tmp_path: Path) -> None:
    svc = service(shipped, tmp_path, Clock())
    dues = []
    for person in range(5):
        key = ConversationKey("telegram", str(CHAT + person))
        offer = await to_reminder_offer(svc, str(CHAT + person), key, report="ja")
        assert offer is not None
        await svc.handle(key, Said("2"), reply_to=str(CHAT + person))  # the check-in
        [reminder] = svc.reminders.of(svc.hasher(key)) if svc.reminders else []
        assert reminder.address == str(CHAT + person)  # readable to Lotse, sealed on disk
        dues.append(reminder.due_at)
    assert svc.store.outbox() and svc.reports is not None and svc.reports.count() == 0
    raw = on_disk(tmp_path, "state.db")  # the database, its -wal and -shm, Lotse running
    assert not [b for b in chat_id_bytes() if b in raw]
    # Due on the third day at a random moment from 9:00 to 17:00, not three days to the second
    # after the turn that filed the report.
    filed_plus_3 = int((NOW + dt.timedelta(days=3)).timestamp())
    assert sum(due == filed_plus_3 for due in dues) < len(dues) and len(set(dues)) > 1
    for due in dues:
        local = dt.datetime.fromtimestamp(due, BERLIN)
        assert local.date() == dt.date(2026, 11, 28) and 9 <= local.hour < 17
    svc.store.close()
    assert not [b for b in chat_id_bytes() if b in on_disk(tmp_path, "state.db")]
    again = service(shipped, tmp_path, Clock())  # a start hands on what waits, as one batch
    assert again.reports is not None and again.reports.count() == 5
    assert again.store.outbox() == []
    again.store.close()


def test_reminder_addresses_kept_in_the_clear_by_the_old_lotse_are_sealed_at_the_start(
        tmp_path: Path) -> None:
    StateStore(tmp_path / "state.db").close()
    old = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    due = int((NOW + dt.timedelta(days=3)).timestamp())
    old.execute("INSERT INTO reminders (id, conversation, channel, address, due_at, kind, lang) "
                "VALUES ('r1', 'hash', 'telegram', ?, ?, 'employee.checkin', 'de')",
                (str(CHAT), due))
    old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    old.close()
    assert str(CHAT).encode() in on_disk(tmp_path, "state.db")

    store = StateStore(tmp_path / "state.db")  # the next start
    reminders = ReminderStore(store)
    assert [(r.address, r.due_at) for r in reminders.of("hash")] == [(str(CHAT), due)]
    assert not [b for b in chat_id_bytes() if b in on_disk(tmp_path, "state.db")]
    reminders.done("r1")
    store.close()
    assert os.path.getsize(tmp_path / "state.keys") % 32 == 0
    assert set((tmp_path / "state.keys").read_bytes()) == {0}  # its key overwritten


# --- batches -------------------------------------------------------------------------------


def waiting_reports(folder: Path, months: list[str]) -> StateStore:
    """A state.db whose outbox holds one confirmed report for each month given."""
    store = StateStore(folder / "state.db")
    for month in months:
        report_outbox.post(store, StoredReport(month, None, "report", 1, (("kind", "threat"),)))
    store.commit()
    return store


def test_reports_go_on_in_batches_of_three_or_when_their_month_is_over(tmp_path: Path) -> None:
    store = waiting_reports(tmp_path, ["2026-11", "2026-11"])
    reports = ReportStore(tmp_path / "reports.db")
    assert report_outbox.deliver_batch(store, reports, "2026-11") == 0  # two: they wait
    assert len(store.outbox()) == 2 and reports.count() == 0
    report_outbox.post(store, report(3))
    store.commit()
    assert report_outbox.deliver_batch(store, reports, "2026-11") == 3
    assert store.outbox() == [] and reports.count() == 3
    report_outbox.post(store, report(4))
    store.commit()
    assert report_outbox.deliver_batch(store, reports, "2026-11") == 0
    assert report_outbox.deliver_batch(store, reports, "2026-12") == 1  # November is over
    assert reports.count() == 4
    store.close()
    reports.close()


async def test_lotse_run_hands_reports_on_at_moments_of_its_own(tmp_path: Path) -> None:
    store = waiting_reports(tmp_path, ["2026-10"])
    reports = ReportStore(tmp_path / "reports.db")
    batches = ReportBatches(store, reports, Clock(), wait=lambda: 0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(batches.run(stop))
    for _ in range(500):
        if reports.count():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert reports.count() == 1 and store.outbox() == []
    assert_only_the_month(tmp_path)
    store.close()
    reports.close()


def test_lotse_stats_says_how_many_reports_wait(tmp_path: Path) -> None:
    waiting_reports(tmp_path, ["2026-11", "2026-11"]).close()
    reports = ReportStore(tmp_path / "reports.db")
    reports.add("2026-11", None, "report", 1, [("kind", "insult")])
    reports.close()
    result = CliRunner().invoke(main, ["stats", "--data-dir", str(tmp_path)], env={
        "LOTSE_STATS_THRESHOLD": None, "LOTSE_CONFIG": None})
    assert result.exit_code == 0, result.output
    assert "2 more report(s) wait in state.db" in result.stderr
    assert "wait in state.db" not in result.stdout  # the table itself stays as it was
