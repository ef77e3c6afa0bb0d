"""The poolable export (#27): `lotse stats --export` writes suppressed counts in a versioned
schema with the municipality's name and nothing else that identifies anyone, and `lotse report
--combine` adds several cities' exports up and suppresses again on the sums."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.flows.model import Bundle
from bot.reports.period import period_of
from bot.reports.pooled import COLUMNS, FromReports, Pooled, read_export
from bot.reports.stats import TOTAL
from storage.report_store import ReportStore

from .situation_data import YEAR_2025, YEAR_2026, make_db

YEAR = period_of("2026")


def export(tmp_path: Path, name: str, place: str, *years: dict[str, dict[str, dict[str, int]]],
           threshold: int = 5) -> Path:
    data = tmp_path / name
    data.mkdir()
    make_db(data / "reports.db", *years)
    out = tmp_path / f"{name}.csv"
    result = CliRunner().invoke(main, ["stats", "--data-dir", str(data), "--since", "2026-01",
                                       "--threshold", str(threshold), "--export", str(out)],
                                env={"LOTSE_MUNICIPALITY": place})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(out), str(out.with_suffix(".json"))]
    return out


def test_the_export_is_the_suppressed_counts_with_the_name_and_nothing_else(
        tmp_path: Path) -> None:
    out = export(tmp_path, "a", "Musterstadt", YEAR_2025, YEAR_2026)
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert tuple(rows[0]) == COLUMNS
    assert {r["municipality"] for r in rows} == {"Musterstadt"}
    assert {r["schema_version"] for r in rows} == {"1"}
    months = sorted({r["month"] for r in rows})
    assert months[0] == "2026-01" and "2026-04" in months  # a month without reports: zeros
    cell = {(r["month"], r["field"], r["category"]): r["count"] for r in rows}
    assert cell[("2026-04", "reports", "total")] == "0"
    assert cell[("2026-05", "kind", "physical_attack")] == "<5"
    assert cell[("2026-05", "kind", "insult")] == "<5"  # its complement
    assert cell[("2026-05", "kind", "threat")] == "5"
    assert cell[("2026-02", "kind", "verbal_abuse")] == "5"
    assert cell[("2026-07", "flow_version", "report_v2")] == "10"
    assert all(c.isdigit() or c == "<5" for c in cell.values())
    description = json.loads(out.with_suffix(".json").read_text())
    assert description["schema_version"] == 1 and description["municipality"] == "Musterstadt"
    assert description["threshold"] == 5 and set(description["columns"]) == set(COLUMNS)
    assert description["fields"]["kind"]["categories"]["threat"] == {"de": "Drohung",
                                                                    "en": "A threat"}
    assert description["fields"]["motive"]["several"] is True


def test_one_export_combined_alone_is_the_report_of_that_city(tmp_path: Path) -> None:
    out = export(tmp_path, "a", "Musterstadt", YEAR_2025, YEAR_2026)
    pooled = Pooled([read_export(out)], 5)
    store = ReportStore(tmp_path / "a" / "reports.db", readonly=True)
    direct = FromReports(store.reports(), 5)
    store.close()
    for field in [*direct.fields(), "flow_version"]:
        mine, theirs = direct.table(YEAR, field), pooled.table(YEAR, field)
        for row in {*mine.rows, *theirs.rows}:
            assert mine.shown(row, TOTAL) == theirs.shown(row, TOTAL), (field, row)
    for month in [*YEAR.months, TOTAL]:
        assert direct.trend(YEAR).shown(month, TOTAL) == pooled.trend(YEAR).shown(month, TOTAL)
    assert pooled.covers(YEAR) and not pooled.covers(YEAR.previous())


def test_two_cities_with_three_each_show_six_and_one_alone_stays_hidden(
        tmp_path: Path, shipped: Bundle) -> None:
    # Exported with the lowest threshold (3), so each city shows its 3 threats.
    a = {"2026-03": {"kind": {"insult": 5, "threat": 3, "property_damage": 1, "other": 1}}}
    b = {"2026-03": {"kind": {"insult": 5, "threat": 3, "property_damage": 1, "other": 1}}}
    c = {"2026-03": {"kind": {"insult": 7, "threat": 3}}}
    exports = [export(tmp_path, "a", "Aachen", a, threshold=3),
               export(tmp_path, "b", "Bonn", b, threshold=3),
               export(tmp_path, "c", "Celle", c, threshold=3)]
    assert read_export(exports[0]).cells[("2026-03", "kind")]["threat"] == 3
    both = Pooled([read_export(p) for p in exports[:2]], 5).table(period_of("2026-03"), "kind")
    assert both.shown("threat", TOTAL) == "6" and both.shown("insult", TOTAL) == "10"
    assert both.shown(TOTAL, TOTAL) == "20"
    # Each city hid its 1 (below 3): a sum with a hidden part is no number, so it stays hidden.
    assert both.shown("property_damage", TOTAL) == "<5"
    alone = Pooled([read_export(exports[2])], 5).table(period_of("2026-03"), "kind")
    assert alone.shown("threat", TOTAL) == "<5"
    assert alone.shown("insult", TOTAL) == "<5"  # or 10 - 7 would give the 3 away


def test_lotse_report_combine_builds_the_network_view(tmp_path: Path) -> None:
    exports = [export(tmp_path, "a", "Aachen", YEAR_2026), export(tmp_path, "b", "Bonn",
                                                                 YEAR_2026)]
    result = CliRunner().invoke(main, ["report", "--combine", *map(str, exports), "--period",
                                       "2026", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "lagebild-2026-01-2026-12-de.html").read_text()
    assert "Netzwerk aus 2 Kommunen (Aachen, Bonn)" in html
    assert '<td class="n">226</td>' in html  # 2 × 113
    assert "Zusammengeführt aus 2 Exporten" in html
    assert "Der Vorzeitraum ist in den Exporten nicht enthalten." in html


def test_exports_of_another_schema_version_are_refused_in_one_line(tmp_path: Path) -> None:
    good = export(tmp_path, "a", "Aachen", YEAR_2026)
    other = tmp_path / "other.csv"
    other.write_text(good.read_text().replace("\n1,", "\n2,"))
    result = CliRunner().invoke(main, ["report", "--combine", str(good), str(other)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"lotse report: {other}: schema version 2, but this Lotse reads version 1; export "
        "again with the same Lotse version"]
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("a,b\n")
    result = CliRunner().invoke(main, ["report", "--combine", str(nothing)])
    assert result.exit_code == 2 and "not a Lotse export" in result.output
