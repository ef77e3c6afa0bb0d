"""The export a network of cities can pool (docs/export.md), and the counts behind a report.

A report reads its numbers from a `Counts`: `FromReports` (this city's reports.db, suppressed by
`stats.crosstab` itself) or `Pooled` (several cities' exports added up month by month and
suppressed again by `stats.suppress`, the same rule on the combined numbers). An export holds,
for every month of its period, the month's one-field tables as `lotse stats --by month,<field>`
shows them: counts, or "<N" where the city's own rule hid one. A hidden part is not a number, so
a combined cell with any hidden part is hidden too (docs/export.md says why).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.reports import stats
from bot.reports.period import Period
from bot.reports.stats import TOTAL, Table
from storage.report_store import StoredReport

SCHEMA_VERSION = 1
COLUMNS = ("schema_version", "municipality", "month", "field", "category", "count")
REPORTS = "reports"
"""The `field` of a month's number of reports (its `category` is "total")."""
VERSION_FIELD = "flow_version"
"""Reports counted by the flow and version they came from ("report_v1"): for the methods box."""

Cell = tuple[str, str]


class SchemaError(ValueError):
    """An export this Lotse cannot add up: another schema version, or not an export at all."""


class Counts(Protocol):
    @property
    def places(self) -> tuple[str, ...]: ...
    @property
    def threshold(self) -> int: ...

    def covers(self, period: Period) -> bool: ...
    def trend(self, period: Period) -> Table: ...
    def table(self, period: Period, field: str) -> Table: ...
    def fields(self) -> tuple[str, ...]: ...


def month_of(report: StoredReport) -> str:
    return report.incident_month or report.report_month


def with_version(report: StoredReport) -> StoredReport:
    """The report with its flow version as one more answer, counted like the others."""
    version = (VERSION_FIELD, f"{report.flow}_v{report.flow_version}")
    return StoredReport(report.report_month, report.incident_month, report.flow,
                        report.flow_version, (*report.answers, version))


@dataclass
class FromReports:
    """One city's reports, counted and suppressed by `stats.crosstab` as `lotse stats` does."""

    reports: Sequence[StoredReport]
    threshold: int
    places: tuple[str, ...] = ()

    def _within(self, period: Period) -> list[StoredReport]:
        return [with_version(r) for r in self.reports if period.holds(month_of(r))]

    def covers(self, period: Period) -> bool:
        return True

    def trend(self, period: Period) -> Table:
        return stats.crosstab(self._within(period), ["month"], self.threshold)

    def table(self, period: Period, field: str) -> Table:
        return stats.crosstab(self._within(period), [field], self.threshold)

    def fields(self) -> tuple[str, ...]:
        return tuple(sorted({f for r in self.reports for f, _ in r.answers}))


def export_rows(counts: FromReports, period: Period, categories: Mapping[str, Sequence[str]]
                ) -> list[tuple[str, ...]]:
    """Every month of `period` (a month without reports is a row of zeros), every field, every
    category the flows offer or a report holds, as `lotse stats --by month,<field>` shows it."""
    place = counts.places[0] if counts.places else ""
    rows: list[tuple[str, ...]] = []
    within = counts._within(period)
    fields = sorted({*counts.fields(), *categories, VERSION_FIELD})
    trend = counts.trend(period)
    for month in period.months:
        rows.append((str(SCHEMA_VERSION), place, month, REPORTS, TOTAL, trend.shown(month, TOTAL)))
    for name in fields:
        table = stats.crosstab(within, ["month", name], counts.threshold)
        seen = [c for c in table.columns if c != TOTAL]
        for month in period.months:
            for category in dict.fromkeys([*categories.get(name, ()), *seen]):
                rows.append((str(SCHEMA_VERSION), place, month, name, category,
                             table.shown(month, category)))
    return rows


def write_export(path: Path, rows: Iterable[tuple[str, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)


@dataclass
class Export:
    """One city's export as read: (month, field) -> category -> count, None where hidden."""

    place: str
    cells: dict[tuple[str, str], dict[str, int | None]] = field(default_factory=dict)


def read_export(path: Path) -> Export:
    """An export written by `lotse stats --export`; SchemaError names what is wrong in one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SchemaError(f"{path}: cannot be read ({err})") from None
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, ()))
    if header != COLUMNS:
        raise SchemaError(f"{path}: not a Lotse export (the first line must be "
                          f"{','.join(COLUMNS)})")
    export = Export("")
    for number, row in enumerate(reader, start=2):
        if len(row) != len(COLUMNS):
            raise SchemaError(f"{path}:{number}: expected {len(COLUMNS)} columns")
        version, place, month, name, category, count = row
        if version != str(SCHEMA_VERSION):
            raise SchemaError(f"{path}: schema version {version}, but this Lotse reads version "
                              f"{SCHEMA_VERSION}; export again with the same Lotse version")
        export.place = place
        value = None if count.startswith("<") else _count(count, path, number)
        export.cells.setdefault((month, name), {})[category] = value
    return export


def _count(text: str, path: Path, number: int) -> int:
    if not text.isdigit():
        raise SchemaError(f"{path}:{number}: count '{text}' is neither a number nor '<N'")
    return int(text)


@dataclass
class Pooled:
    """Several cities' exports added up; each month suppressed again on the combined numbers."""

    exports: Sequence[Export]
    threshold: int

    @property
    def places(self) -> tuple[str, ...]:
        return tuple(e.place for e in self.exports)

    def _months(self) -> set[str]:
        every = [{m for m, f in e.cells if f == REPORTS} for e in self.exports]
        return set.intersection(*every) if every else set()

    def covers(self, period: Period) -> bool:
        return set(period.months) <= self._months()

    def span(self) -> Period:
        """The months every export covers (the report's period when none is given)."""
        months = sorted(self._months())
        if not months:
            raise SchemaError("the exports have no month in common")
        return Period(months[0], months[-1])

    def fields(self) -> tuple[str, ...]:
        return tuple(sorted({f for e in self.exports for _, f in e.cells} - {REPORTS,
                                                                            VERSION_FIELD}))

    def _sum(self, month: str, name: str) -> tuple[dict[str, int], set[str]]:
        """The month's combined counts of `name`, and the categories with a hidden part."""
        total: Counter[str] = Counter()
        unknown: set[str] = set()
        for export in self.exports:
            for category, value in export.cells.get((month, name), {}).items():
                total[category] += value or 0
                if value is None:
                    unknown.add(category)
        return dict(total), unknown

    def trend(self, period: Period) -> Table:
        monthly = {}
        for month in period.months:
            counts, unknown = self._sum(month, REPORTS)
            monthly[month] = ({(month, TOTAL): counts.get(TOTAL, 0),
                               (TOTAL, TOTAL): counts.get(TOTAL, 0)},
                              {(month, TOTAL), (TOTAL, TOTAL)} if unknown else set())
        return from_months(monthly, "month", self.threshold)

    def table(self, period: Period, field: str) -> Table:
        monthly = {}
        for month in period.months:
            reports, hidden = self._sum(month, REPORTS)
            counts, unknown = self._sum(month, field)
            cells: dict[Cell, int] = {(c, TOTAL): n for c, n in counts.items() if n or
                                      c in unknown}
            cells[(TOTAL, TOTAL)] = reports.get(TOTAL, 0)
            monthly[month] = (cells, {(c, TOTAL) for c in unknown} | (
                {(TOTAL, TOTAL)} if hidden else set()))
        return from_months(monthly, field, self.threshold)


def from_months(monthly: Mapping[str, tuple[Mapping[Cell, int], set[Cell]]], row_field: str,
                threshold: int) -> Table:
    """A one-field table over several months, decided month by month as `stats.crosstab`
    decides it: each month by `stats.suppress`, with the cells that had a hidden part hidden
    from the start (their complements chosen around them), and a count over several months
    shown only if every month shows its part."""
    counts: Counter[Cell] = Counter()
    hidden: set[Cell] = set()
    for month in sorted(monthly):
        cells, unknown = monthly[month]
        counts.update(cells)
        # A hidden part makes the cell unknown: as small as a count below the threshold.
        marked = {cell: 1 if cell in unknown else n for cell, n in cells.items()}
        hidden |= stats.suppress(marked, *stats._lines_of(marked), threshold) | unknown
    rows, columns = stats._lines_of(counts)
    return Table(rows, columns, dict(counts), frozenset(hidden), threshold, row_field, None)
