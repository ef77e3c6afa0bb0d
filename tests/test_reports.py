"""Anonymous reports: what is stored, that nothing points back to a person, and the statistics."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.engine.conversation import Question, Said, Start, state_to_json
from bot.flows.model import Bundle
from bot.reports import stats
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore, report_outbox
from storage.report_store import ReportStore, StoredReport

from .helpers import NOW, SECRET, on_disk, random_script

REPORT_ANSWERS = ["ja", "2", "3", "von außen", "1, 8", "bürgerbüro", "noch nicht", "ja", "3"]


def services(bundle: Bundle, folder: Path, admins: frozenset[ConversationKey] = frozenset()
             ) -> ConversationService:
    reports = ReportStore(folder / "reports.db")

    def statistics(lang: str) -> str:
        return stats.as_text(stats.crosstab(reports.reports(), ["kind"]))

    return ConversationService(bundle, StateStore(folder / "state.db"), KeyHasher(SECRET),
                               lambda: NOW, reports=reports, admins=admins,
                               statistics=statistics)


async def talk(svc: ConversationService, key: ConversationKey, answers: list[str]) -> list[str]:
    said = []
    await svc.handle(key, Start(flow="report"))
    for text in answers:
        outputs = await svc.handle(key, Said(text))
        said.extend(getattr(o, "text", "") for o in outputs)
    return said


async def test_the_preview_shows_exactly_what_is_stored_and_yes_stores_it_once(
        shipped: Bundle, tmp_path: Path) -> None:
    svc = services(shipped, tmp_path)
    key = ConversationKey("test", "anna")
    said = await talk(svc, key, REPORT_ANSWERS)
    preview = said[-1]
    assert "- Art: Drohung" in preview and "- Weg: Am Telefon" in preview
    assert "- Von außen oder innen: Von außen" in preview
    assert "- Hintergrund: Rassistisch, Politisch oder staatsfeindlich" in preview
    assert "- Monat der Meldung: 2026-11" in preview
    await svc.handle(key, Said("ja"), "confirm-1")
    await svc.handle(key, Said("ja"), "confirm-1")  # the same message delivered twice
    await svc.handle(key, Said("ja"))  # and a second "ja" after the end
    assert svc.reports is not None
    stored = svc.reports.reports()
    assert len(stored) == 1
    assert stored[0] == StoredReport("2026-11", None, "report", 2, (
        ("area", "citizen_services"), ("channel", "phone"), ("kind", "threat"),
        ("motive", "political"), ("motive", "racist"), ("origin", "external"),
        ("police_informed", "planned"),
        ("supervisor_knows", "yes"), ("threat_level", "level_2")))


async def test_no_has_no_consequence_and_leaves_the_same_state_as_yes(shipped: Bundle,
                                                                      tmp_path: Path) -> None:
    flows = dict(shipped.flows)
    # Go on after the report instead of ending, so that the states can be compared.
    from dataclasses import replace

    from bot.flows.model import Ask, Choice, Link
    report = flows["report"]
    nodes = dict(report.nodes)
    nodes["done"] = Ask(id="done", question={"de": "Weiter?", "en": "On?"}, slot="on",
                        choices=(Choice("ok", {"de": "Gut", "en": "Good"}, {}, (Link("x"),)),))
    flows["report"] = replace(report, nodes=nodes)
    bundle = replace(shipped, flows=flows)
    states = []
    for answer in ("ja", "nein"):
        svc = services(bundle, tmp_path / answer)
        key = ConversationKey("test", answer)
        await talk(svc, key, [*REPORT_ANSWERS, answer])
        known = svc._load(svc.hasher(key))
        assert known is not None and known.state is not None
        states.append(state_to_json(known.state))
        assert svc.reports is not None
        assert svc.reports.count() == (1 if answer == "ja" else 0)
    assert states[0] == states[1]


async def test_a_thousand_conversations_leave_no_trace_of_a_person(shipped: Bundle,
                                                                   tmp_path: Path) -> None:
    """Canaries: user ids, and names typed into the free-text answers before the report."""
    svc = services(shipped, tmp_path)
    canaries = [b"Canarywoman", b"canary-user", b"evt-", b"telegram"]
    reached = 0
    for i in range(1000):
        user = f"canary-user-{i:04d}-xq"
        key = ConversationKey("telegram", user)
        script = random_script(shipped, i, text=f"Frau Canarywoman{i} sagte: ich finde dich",
                               report="ja", max_turns=200)
        reached += "ja" in script and any("Canarywoman" in t for t in script)
        await svc.handle(key, Start(), f"evt-{i}-start")
        for n, text in enumerate(script):
            await svc.handle(key, Said(text), f"evt-{i}-{n}")
        if i < 50:
            canaries.append(user.encode())
    assert svc.reports is not None
    assert svc.reports.count() > 100 and reached > 30  # many reports after typed names
    files = [p for p in tmp_path.iterdir() if p.name.startswith("reports.db")]
    assert any(p.name.endswith("-wal") for p in files)  # the WAL is scanned too
    raw = b"".join(p.read_bytes() for p in files)
    for canary in canaries:
        assert canary not in raw, canary
    svc.reports.close()
    raw = on_disk(tmp_path, "reports")
    assert b"Canarywoman" not in raw and b"canary" not in raw


def _report(kind: str, channel: str, month: str = "2026-10") -> StoredReport:
    return StoredReport(month, month, "report", 1, (("kind", kind), ("channel", channel)))


def test_small_counts_are_suppressed_and_cannot_be_recovered_from_totals() -> None:
    reports = ([_report("insult", "phone")] * 9 + [_report("insult", "letter")] * 2
               + [_report("threat", "phone")] * 7 + [_report("threat", "letter")] * 6)
    table = stats.crosstab(reports, ["kind", "channel"])
    assert table.shown("insult", "letter") == "<5"
    # insult/letter alone hidden would be 11 - 9 = 2: so a second cell in its row and column
    # must be hidden as well.
    row = [c for c in table.columns if ("insult", c) in table.hidden]
    column = [r for r in table.rows if (r, "letter") in table.hidden]
    assert len(row) >= 2 and len(column) >= 2
    for line in ([(r, c) for c in table.columns] for r in table.rows):
        assert sum(cell in table.hidden for cell in line) != 1
    for line in ([(r, c) for r in table.rows] for c in table.columns):
        assert sum(cell in table.hidden for cell in line) != 1
    assert table.shown(stats.TOTAL, stats.TOTAL) == "24"


def test_a_small_total_is_hidden_too() -> None:
    table = stats.crosstab([_report("insult", "phone")] * 3, ["kind"])
    assert table.shown("insult", stats.TOTAL) == "<5"
    assert table.shown(stats.TOTAL, stats.TOTAL) == "<5"


def test_stats_command_formats_and_chart(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "reports.db")
    for month, n in (("2026-08", 12), ("2026-09", 7), ("2026-10", 15)):
        for i in range(n):
            channel = ("phone", "letter", "in_person")[i % 3]
            kind = "threat" if i % 3 else "insult"
            store.add(month, month, "report", 1, [("kind", kind), ("channel", channel)])
    store.close()
    runner = CliRunner()
    table = runner.invoke(main, ["stats", "--data-dir", str(tmp_path), "--by", "kind,channel"])
    assert table.exit_code == 0, table.output
    assert "insult" in table.output and "total" in table.output
    as_csv = runner.invoke(main, ["stats", "--data-dir", str(tmp_path), "--by", "month",
                                  "--format", "csv", "--since", "2026-09"])
    assert as_csv.output.splitlines() == ["month,total", "2026-09,7", "2026-10,15", "total,22"]
    as_json = runner.invoke(main, ["stats", "--data-dir", str(tmp_path), "--format", "json"])
    assert '"threshold": 5' in as_json.output
    chart = tmp_path / "chart.png"
    drawn = runner.invoke(main, ["stats", "--data-dir", str(tmp_path), "--by", "channel",
                                 "--chart", str(chart)])
    assert drawn.exit_code == 0, drawn.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = runner.invoke(main, ["stats", "--data-dir", str(tmp_path), "--since", "Oktober"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_reports_hold_enumerated_values_only(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "reports.db")
    with pytest.raises(ValueError):
        store.add("2026-11", None, "report", 1, [("kind", "Frau Müller hat gedroht")])
    with pytest.raises(ValueError):
        store.add("2026-11-24", None, "report", 1, [("kind", "threat")])
    assert store.count() == 0


def test_purge_deletes_old_reports(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "reports.db")
    store.add("2019-01", None, "report", 1, [("kind", "threat")])
    store.add("2026-11", None, "report", 1, [("kind", "threat")])
    store.close()
    result = CliRunner().invoke(main, ["purge", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "deleted 1 report" in result.output
    store = ReportStore(tmp_path / "reports.db")
    assert store.count() == 1
    store.close()


async def test_statistics_in_chat_only_for_admins(shipped: Bundle, tmp_path: Path) -> None:
    admin = ConversationKey("matrix", "@office:city.example")
    svc = services(shipped, tmp_path, admins=frozenset({admin}))
    answer = await svc.handle(admin, Said("/statistik"))
    assert "total" in answer[0].text  # type: ignore[union-attr]
    stranger = ConversationKey("matrix", "@someone:city.example")
    refused = await svc.handle(stranger, Said("stats"))
    text = " ".join(getattr(o, "text", "") for o in refused)
    assert "total" not in text and "0" not in text
    assert "nicht helfen" in text
    assert any(isinstance(o, Question) for o in refused)  # and the conversation goes on


def test_a_kill_before_the_insert_leaves_no_half_report(tmp_path: Path) -> None:
    env = {**os.environ, "LOTSE_SECRET": "kill-test-secret-123456"}
    args = [sys.executable, "-m", "bot", "chat", "--flow", "report", "--data-dir",
            str(tmp_path)]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(f"{a}\n" for a in REPORT_ANSWERS))
    proc.stdin.flush()
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()],
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    seen = ""
    while "anonym speichern?" not in seen and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            seen += lines.get(timeout=1.0)
    assert "anonym speichern?" in seen
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    db = sqlite3.connect(tmp_path / "reports.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM reports").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM report_answers").fetchone() == (0,)
    db.close()
    resume = [a for a in args if a not in ("--flow", "report")]  # continue, don't start anew
    again = subprocess.run(resume, input="ja\n", capture_output=True, text=True, env=env,
                           timeout=60)
    assert "anonym gespeichert" in again.stdout
    # It waits in state.db for a batch (#26, item 6); the next start hands it on.
    assert report_outbox.waiting(tmp_path / "state.db") == 1
    subprocess.run(resume, input="", capture_output=True, text=True, env=env, timeout=60)
    assert report_outbox.waiting(tmp_path / "state.db") == 0
    store = ReportStore(tmp_path / "reports.db")
    assert store.count() == 1
    store.close()


# --- suppression that subtraction cannot undo (#26, item 5) ---------------------------------

def _stored(table_counts: dict[tuple[str, str, str], int]) -> list[StoredReport]:
    return [_report(kind, channel, month)
            for (month, kind, channel), n in table_counts.items() for _ in range(n)]


def _published(table: stats.Table) -> dict[tuple[str, str], int]:
    """The numbers a reader of the table sees: every cell that is not '<N'."""
    return {(r, c): table.counts.get((r, c), 0) for r in table.rows for c in table.columns
            if (r, c) not in table.hidden}


def _csv_cells(output: str) -> dict[tuple[str, str], str]:
    lines = [line.split(",") for line in output.splitlines()]
    return {(row[0], column): value for row in lines[1:]
            for column, value in zip(lines[0][1:], row[1:], strict=True)}


# September: 2 insults by phone, hidden in every table that shows September on its own.
ATTACK = {("2026-09", "insult", "phone"): 2, ("2026-09", "threat", "phone"): 6,
          ("2026-09", "threat", "letter"): 5, ("2026-10", "insult", "phone"): 6,
          ("2026-10", "insult", "letter"): 5, ("2026-10", "threat", "phone"): 7,
          ("2026-10", "threat", "letter"): 5}


def test_subtracting_two_periods_does_not_reveal_a_hidden_cell(tmp_path: Path) -> None:
    """`--by kind` minus `--by kind --since 2026-10` was 13 - 11 = 2 insults in September,
    which `--by month,kind` hides. Now any cell shown in both differs by 0 or >= 5."""
    store = ReportStore(tmp_path / "reports.db")
    for report in _stored(ATTACK):
        store.add(report.report_month, report.incident_month, "report", 1, report.answers)
    store.close()
    runner = CliRunner()

    def cells(*args: str) -> dict[tuple[str, str], str]:
        result = runner.invoke(main, ["stats", "--data-dir", str(tmp_path), "--format", "csv",
                                      *args])
        assert result.exit_code == 0, result.output
        return _csv_cells(result.output)

    assert cells("--by", "month,kind")[("2026-09", "insult")] == "<5"
    for by in ("kind", "channel", "kind,channel", "channel,kind", "month,kind"):
        everything, october = cells("--by", by), cells("--by", by, "--since", "2026-10")
        for cell, value in everything.items():
            later = october.get(cell)
            if value.isdigit() and later is not None and later.isdigit():
                assert int(value) - int(later) == 0 or int(value) - int(later) >= 5, (by, cell)
    # What is left to see: October on its own, and September's insults only as "<5".
    assert cells("--by", "kind")[("insult", "total")] == "<5"
    assert cells("--by", "kind", "--since", "2026-10")[("insult", "total")] == "11"


def _random_reports(seed: int) -> list[StoredReport]:
    import random

    rng = random.Random(seed)
    months = [f"2026-{m:02d}" for m in range(1, rng.randint(2, 7))]
    reports = []
    for month in months:
        for _ in range(rng.choice([0, 2, 5, 9, 14, 25])):
            answers = [("kind", rng.choice(["insult", "threat", "attack"])),
                       ("channel", rng.choice(["phone", "letter", "in_person", "online"]))]
            answers += [("motive", m) for m in rng.sample(["racist", "political", "sexist"],
                                                          rng.choice([0, 1, 1, 2]))]
            reports.append(StoredReport(month, month, "report", 1, tuple(sorted(answers))))
    return reports


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("threshold", [3, 5])
def test_no_query_pair_pins_a_hidden_cell(seed: int, threshold: int) -> None:
    """The property, over every query `lotse stats` (and the chat) can make on random data:

    1. two tables that differ only in --since: a cell shown in both differs by 0 or by at least
       the threshold;
    2. a count over several months is shown only if each month's part of it is shown (or 0) in
       the `--by month,<field>` table, or for two fields is 0 or at least the threshold: so
       subtracting periods yields only sums of numbers that may be seen;
    3. the totals of `--by a,b` are `--by a` and `--by b`, shown and hidden alike, and
       `--by b,a` is the same table turned over: subtracting row sums across them finds nothing;
    4. no row or column (of two cells or more) of any table hides exactly one cell.
    """
    reports = _random_reports(seed)
    months = sorted({r.report_month for r in reports})
    fields = ["kind", "channel", "motive", "month"]
    queries = [[a] for a in fields] + [[a, b] for a in fields for b in fields if a != b]
    for since in [None, *months]:
        chosen = [r for r in reports if since is None or r.report_month >= since]
        tables = {tuple(by): stats.crosstab(chosen, by, threshold) for by in queries}
        for by, table in tables.items():
            lines = ([[(r, c) for c in table.columns] for r in table.rows]
                     + [[(r, c) for r in table.rows] for c in table.columns])
            for line in (line for line in lines if len(line) > 1):
                assert sum(cell in table.hidden for cell in line) != 1, (by, since, line)
            for (r, c), n in _published(table).items():
                assert n == 0 or n >= threshold
                if len(by) == 1 and by[0] != "month":
                    by_month = tables[("month", by[0])]
                    for month in by_month.rows[:-1]:
                        if r == stats.TOTAL:
                            assert (month, stats.TOTAL) not in by_month.hidden
                        else:
                            assert (month, r) not in by_month.hidden, (by, r, month)
                if len(by) == 2 and "month" not in by and stats.TOTAL not in (r, c):
                    for month in months:
                        part = sum(1 for x in chosen if x.report_month == month
                                   and r in stats.values_of(x, by[0])
                                   and c in stats.values_of(x, by[1]))
                        assert part == 0 or part >= threshold
            if len(by) == 2:
                row_totals, column_totals = tables[(by[0],)], tables[(by[1],)]
                for r in table.rows:
                    assert table.shown(r, stats.TOTAL) == row_totals.shown(r, stats.TOTAL)
                for c in table.columns:
                    assert table.shown(stats.TOTAL, c) == column_totals.shown(c, stats.TOTAL)
                turned = tables[(by[1], by[0])]
                assert all(table.shown(r, c) == turned.shown(c, r)
                           for r in table.rows for c in table.columns)
        if since is not None:
            earlier_since = [m for m in [None, *months] if m is None or m < since]
            for before in earlier_since:
                wider = [r for r in reports if before is None or r.report_month >= before]
                for by in queries:
                    a = _published(stats.crosstab(wider, by, threshold))
                    b = _published(tables[tuple(by)])
                    for cell in a.keys() & b.keys():
                        assert a[cell] - b[cell] == 0 or a[cell] - b[cell] >= threshold, (
                            by, before, since, cell)


@pytest.mark.parametrize("value", ["0", "-1", "2"])
def test_a_threshold_below_three_is_refused_everywhere(value: str, tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.flows.problems import ContentError

    with pytest.raises(ContentError) as settings_error:
        Settings.load(None, {"LOTSE_STATS_THRESHOLD": value})
    assert "must be 3 or more" in str(settings_error.value.problems[0])
    config = tmp_path / "lotse.yaml"
    config.write_text(f"stats_threshold: {value}\n")
    with pytest.raises(ContentError) as file_error:
        Settings.load(config, {})
    assert file_error.value.problems[0].line == 1
    runner = CliRunner()
    data = str(tmp_path / "data")
    for args, env in ((["stats", "--data-dir", data], {"LOTSE_STATS_THRESHOLD": value}),
                      (["--config", str(config), "stats", "--data-dir", data], {}),
                      (["chat", "--data-dir", data], {"LOTSE_STATS_THRESHOLD": value}),
                      (["run", "--data-dir", data], {"LOTSE_STATS_THRESHOLD": value})):
        result = runner.invoke(main, args, env=env, input="")
        assert result.exit_code == 2, (args, result.output)
        assert "'stats_threshold' is " + value + ", but it must be 3 or more" in result.output
    command_line = runner.invoke(main, ["stats", "--data-dir", data, "--threshold", value])
    assert command_line.exit_code == 2
    assert f"{value} would show counts that can single a person out" in command_line.output
    assert not (tmp_path / "data").exists()  # refused before anything was opened
    with pytest.raises(ValueError, match="must be 3 or more"):
        stats.crosstab([_report("insult", "phone")] * 3, ["kind"], int(value))
