"""Counts of anonymous reports, cross-tabulated, with small numbers suppressed.

In a small department a count of 1 or 2 can point at a person (GDPR recital 26, "singling
out"), so a count below the threshold shows as "<5". Two tables that differ only in their
period (`--since`) subtract to the months between them, so every table is decided month by
month (docs/statistics.md): each month's counts are suppressed as a table of their own (below
the threshold; and a row or column that would hide exactly one cell hides its smallest other
non-zero cell too, never a total), and a count over several months is shown only when every
month's part of it is shown or zero. Whatever can be subtracted is then a sum of monthly
numbers that are shown themselves. Totals are only ever hidden for being small themselves, so
`--by kind` and the row totals of `--by kind,channel` are the same numbers, hidden alike.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import STATS_THRESHOLD_MIN
from storage.report_store import StoredReport

TOTAL = "total"
TIME_FIELDS = ("month", "incident_month")
"""The month of the incident (of the report when none was given): what `--since` counts from."""


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


def check_threshold(threshold: int) -> None:
    """0, a negative number, 1 or 2 would publish counts that single a person out."""
    if threshold < STATS_THRESHOLD_MIN:
        raise ValueError(f"a statistics threshold of {threshold} would show counts that can "
                         f"single a person out; it must be {STATS_THRESHOLD_MIN} or more")


def values_of(report: StoredReport, field: str) -> list[str]:
    """A report's values for a field; months come from the report itself."""
    if field in TIME_FIELDS:
        return [report.incident_month or report.report_month]
    if field == "report_month":
        return [report.report_month]
    found = sorted({v for f, v in report.answers if f == field})
    return found or ["unknown"]


def _order(field: str) -> tuple[str, str]:
    return ("month" if field in TIME_FIELDS else field, field)


def crosstab(reports: Iterable[StoredReport], by: Sequence[str], threshold: int = 5) -> Table:
    """Counts by one or two fields, with row and column totals, suppressed month by month."""
    check_threshold(threshold)
    if not 1 <= len(by) <= 2:
        raise ValueError("give one or two fields to count by")
    # `--by channel,kind` is `--by kind,channel` turned over, never a second way of hiding.
    turned = len(by) == 2 and _order(by[1]) < _order(by[0])
    row_field = by[1] if turned else by[0]
    column_field = (by[0] if turned else by[1]) if len(by) == 2 else None
    months: defaultdict[str, list[StoredReport]] = defaultdict(list)
    for report in reports:
        months[values_of(report, "month")[0]].append(report)
    counts: Counter[tuple[str, str]] = Counter()
    hidden: set[tuple[str, str]] = set()
    for month in sorted(months):
        monthly = _count(months[month], row_field, column_field)
        counts.update(monthly)
        # A cell over several months is hidden when any month hides its part.
        hidden |= suppress(monthly, *_lines_of(monthly), threshold)
    rows, columns = _lines_of(counts)
    table = Table(rows, columns, dict(counts), frozenset(hidden), threshold, row_field,
                  column_field)
    return _turned(table) if turned else table


def _count(reports: list[StoredReport], row_field: str,
           column_field: str | None) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
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
    return counts


def _lines_of(counts: Mapping[tuple[str, str], int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    rows = sorted({r for r, _ in counts if r != TOTAL})
    columns = sorted({c for _, c in counts if c != TOTAL})
    return (*rows, TOTAL), (*columns, TOTAL)


def _turned(table: Table) -> Table:
    assert table.column_field is not None
    return Table(table.columns, table.rows, {(c, r): n for (r, c), n in table.counts.items()},
                 frozenset((c, r) for r, c in table.hidden), table.threshold,
                 table.column_field, table.row_field)


def suppress(counts: Mapping[tuple[str, str], int], rows: Sequence[str],
             columns: Sequence[str], threshold: int) -> frozenset[tuple[str, str]]:
    """Primary and complementary suppression over one table including its margins.

    Totals are hidden only for being small: a total is what a one-field table shows, so hiding
    it here as a complement would be undone there. The totals' own rows are completed among the
    totals first (as the one-field tables do), then every other row and column among its
    inner cells.
    """
    hidden = {cell for cell, n in counts.items() if 0 < n < threshold}
    inner_rows = [r for r in rows if r != TOTAL]
    inner_columns = [c for c in columns if c != TOTAL]
    grand = (TOTAL, TOTAL)
    # Each line ends with the cell that is never chosen as a complement.
    _complete(hidden, counts, [[*((r, TOTAL) for r in inner_rows), grand],
                               [*((TOTAL, c) for c in inner_columns), grand]])
    _complete(hidden, counts,
              [[*((r, c) for c in inner_columns), (r, TOTAL)] for r in inner_rows]
              + [[*((r, c) for r in inner_rows), (TOTAL, c)] for c in inner_columns])
    return frozenset(hidden)


def _complete(hidden: set[tuple[str, str]], counts: Mapping[tuple[str, str], int],
              lines: list[list[tuple[str, str]]]) -> None:
    """A line that hides exactly one cell hides its smallest other non-zero cell too (a zero
    where there is none)."""
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(cell in hidden for cell in line) != 1:
                continue
            candidates = [cell for cell in line[:-1] if cell not in hidden]
            if candidates:
                # A hidden 0 looks like any other "<5": it serves where no other count can,
                # as in a column whose only count is the one hidden (it would equal the total).
                hidden.add(min(candidates, key=lambda cell: (counts.get(cell, 0) == 0,
                                                             counts.get(cell, 0), cell)))
                changed = True


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
