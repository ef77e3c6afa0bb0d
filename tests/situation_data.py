"""A reports.db with known counts for the situation report's tests (and its rendered page).

Each month lists, field by field, how many reports gave which answer; the reports are made by
putting those lists side by side, so every one-field count is known exactly. Small numbers and
totals that would reveal them are placed on purpose (see the comments)."""

from __future__ import annotations

from pathlib import Path

from storage.report_store import ReportStore

Month = dict[str, dict[str, int]]

FULL = {"kind": {"insult": 5, "threat": 5}, "channel": {"in_person": 5, "phone": 5},
        "origin": {"external": 10}, "motive": {"racist": 5, "political": 5},
        "area": {"citizen_services": 5, "public_order": 5},
        "police_informed": {"yes": 5, "no": 5}, "supervisor_knows": {"yes": 10}}
"""A month of ten reports where nothing is small."""

YEAR_2026: dict[str, Month] = {
    "2026-01": FULL,
    # A kind the flows no longer offer: counted under its stored name, with a note.
    "2026-02": {**FULL, "kind": {"insult": 5, "verbal_abuse": 5}},
    "2026-03": {**FULL, "kind": {"insult": 6, "threat": 5, "hostile_remark": 0},
                "channel": {"in_person": 6, "phone": 5}, "origin": {"external": 11},
                "motive": {"racist": 6, "political": 5},
                "area": {"citizen_services": 6, "public_order": 5},
                "police_informed": {"yes": 6, "no": 5}, "supervisor_knows": {"yes": 11}},
    "2026-04": {},  # no report at all: a zero, not a gap
    # Two physical attacks: hidden, and so is that month's threats (the month's total 12
    # would give them away), and so the year's threats and attacks.
    "2026-05": {**FULL, "kind": {"insult": 5, "threat": 5, "physical_attack": 2},
                "channel": {"in_person": 7, "phone": 5}, "origin": {"external": 12},
                "motive": {"racist": 7, "political": 5},
                "area": {"citizen_services": 7, "public_order": 5},
                "police_informed": {"yes": 7, "no": 5}, "supervisor_knows": {"yes": 12}},
    "2026-06": FULL,
    "2026-07": FULL,
    # Three reports from the social services: hidden with the next-smallest area.
    "2026-08": {**FULL, "area": {"citizen_services": 2, "public_order": 5,
                                 "social_services": 3}},
    "2026-09": FULL,
    "2026-10": FULL,
    "2026-11": FULL,
    "2026-12": FULL,
}
YEAR_2025: dict[str, Month] = {f"2025-{m:02d}": {
    "kind": {"insult": 8}, "channel": {"in_person": 8}, "origin": {"external": 8},
    "motive": {"racist": 8}, "area": {"citizen_services": 8}, "police_informed": {"no": 8},
    "supervisor_knows": {"yes": 8}} for m in range(1, 13)}


def reports_of(months: dict[str, Month]) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """(month, flow version, answers) per report: version 1 until June 2026, 2 after."""
    out = []
    for month, fields in months.items():
        total = max((sum(c.values()) for c in fields.values()), default=0)
        columns = {name: [v for v, n in counts.items() for _ in range(n)]
                   for name, counts in fields.items()}
        for name, values in columns.items():
            assert len(values) == total, f"{month} {name}: {len(values)} of {total}"
        for index in range(total):
            answers = [(name, values[index]) for name, values in columns.items()]
            out.append((month, 2 if month >= "2026-07" else 1, answers))
    return out


def expected(months: dict[str, Month], field: str) -> dict[str, int]:
    """The true counts of a field over `months` (the numbers behind the report)."""
    total: dict[str, int] = {}
    for fields in months.values():
        for value, n in fields.get(field, {}).items():
            total[value] = total.get(value, 0) + n
    return total


def make_db(path: Path, *years: dict[str, Month]) -> Path:
    store = ReportStore(path)
    for months in years:
        for month, version, answers in reports_of(months):
            store.add(month, month, "report", version, answers)
    store.close()
    return path
