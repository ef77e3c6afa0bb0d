"""Counts of anonymous reports, cross-tabulated, with small numbers suppressed.

In a small department a count of 1 or 2 can point at a person (GDPR recital 26, "singling
out"), so every cell below the threshold shows as "<5". A hidden cell could be worked out from
its row or column total, so a row or column (totals included) that hides exactly one cell
hides its smallest other non-zero cell too, until none does.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from storage.report_store import StoredReport

TOTAL = "total"


@dataclass(frozen=True)
class Table:
    """A cross-table with margins; `hidden` marks suppressed cells, totals included."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: Mapping[tuple[str, str], int]
    hidden: frozenset[tuple[str, str]]
    threshold: int
    row_field: str
    column_field: str | None

    def shown(self, row: str, column: str) -> str:
        if (row, column) in self.hidden:
            return f"<{self.threshold}"
        return str(self.counts.get((row, column), 0))


def values_of(report: StoredReport, field: str) -> list[str]:
    """A report's values for a field; months come from the report itself."""
    if field in ("month", "incident_month"):
        return [report.incident_month or report.report_month]
    if field == "report_month":
        return [report.report_month]
    found = sorted({v for f, v in report.answers if f == field})
    return found or ["unknown"]


def crosstab(reports: Iterable[StoredReport], by: Sequence[str], threshold: int = 5) -> Table:
    """Counts by one or two fields, with row and column totals, suppressed."""
    if not 1 <= len(by) <= 2:
        raise ValueError("give one or two fields to count by")
    row_field = by[0]
    column_field = by[1] if len(by) == 2 else None
    counts: Counter[tuple[str, str]] = Counter()
    reports = list(reports)
    for report in reports:
        rows = values_of(report, row_field)
        columns = values_of(report, column_field) if column_field else []
        # Totals count reports, not answers: a report with two motives is one report.
        counts[(TOTAL, TOTAL)] += 1
        for row in rows:
            counts[(row, TOTAL)] += 1
            for column in columns:
                counts[(row, column)] += 1
        for column in columns:
            counts[(TOTAL, column)] += 1
    rows = sorted({r for r, _ in counts if r != TOTAL})
    columns = sorted({c for _, c in counts if c != TOTAL})
    all_rows = (*rows, TOTAL)
    all_columns = (*columns, TOTAL)
    return Table(all_rows, all_columns, dict(counts),
                 suppress(counts, all_rows, all_columns, threshold), threshold, row_field,
                 column_field)


def suppress(counts: Mapping[tuple[str, str], int], rows: Sequence[str],
             columns: Sequence[str], threshold: int) -> frozenset[tuple[str, str]]:
    """Primary and secondary suppression over the table including its margins."""
    hidden = {cell for cell, n in counts.items() if 0 < n < threshold}
    lines = [[(r, c) for c in columns] for r in rows] + [[(r, c) for r in rows] for c in columns]
    changed = True
    while changed:
        changed = False
        for line in lines:
            inside = [cell for cell in line if cell in hidden]
            if len(inside) != 1:
                continue
            candidates = [cell for cell in line
                          if cell not in hidden and counts.get(cell, 0) > 0]
            if not candidates:
                continue
            hidden.add(min(candidates, key=lambda cell: (counts[cell], cell)))
            changed = True
    return frozenset(hidden)


def as_text(table: Table, labels: Mapping[str, str] | None = None) -> str:
    labels = labels or {}
    header = [table.row_field, *(labels.get(c, c) for c in table.columns)]
    body = [[labels.get(r, r), *(table.shown(r, c) for c in table.columns)] for r in table.rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(widths[i + 1]) for i, cell in enumerate(cells[1:]))
        return "  ".join([first, *rest])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(b) for b in body)]) + "\n"


def as_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([table.row_field, *table.columns])
    for row in table.rows:
        writer.writerow([row, *(table.shown(row, c) for c in table.columns)])
    return out.getvalue()


def as_json(table: Table) -> str:
    data = {
        "by": [table.row_field] + ([table.column_field] if table.column_field else []),
        "threshold": table.threshold,
        "rows": [{"value": row, "counts": {c: table.shown(row, c) for c in table.columns}}
                 for row in table.rows],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
