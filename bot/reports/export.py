"""`lotse stats --export`: a city's counts in the schema a network can pool (docs/export.md),
and the reading of reports.db that `lotse stats` and `lotse report` share."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bot.config import Settings
from bot.data_folder import opening, usable_data
from bot.dates import LOCAL
from bot.flows.model import Bundle
from bot.reports.period import Period
from bot.reports.pooled import (
    COLUMNS,
    REPORTS,
    SCHEMA_VERSION,
    VERSION_FIELD,
    FromReports,
    export_rows,
    month_of,
    write_export,
)
from bot.reports.situation import Catalogue
from storage.report_store import ReportStore, StoredReport

COLUMN_MEANINGS = {
    "schema_version": "the version of this schema; exports of different versions are not added",
    "municipality": "the municipality's name from its settings (`municipality`)",
    "month": "YYYY-MM, the month of the incident (of the report when none was given)",
    "field": f"a report field, '{REPORTS}' for the month's number of reports, "
             f"'{VERSION_FIELD}' for the flow version the reports came from",
    "category": "the answer's id as the flows name it ('total' for the number of reports; "
                "'unknown' where a report has no answer for the field)",
    "count": "a whole number, or '<N' where the municipality's suppression rule hid it "
             "(N: its threshold); a hidden cell is not a number",
}


def stored_reports(settings: Settings, since: str | None = None) -> list[StoredReport]:
    """Every report (from month `since` on), read only: nothing created or changed, so a
    read-only copy of reports.db will do."""
    usable_data(settings, settings.reports_db, create=False, write=False)
    if not settings.reports_db.exists():
        return []
    with opening(settings.reports_db):
        reports = ReportStore(settings.reports_db, readonly=True)
        try:
            return reports.reports(since)
        finally:
            reports.close()


def export_counts(path: Path, stored: list[StoredReport], settings: Settings, threshold: int,
                  since: str | None, bundle: Bundle | None, today: dt.date | None = None
                  ) -> Path:
    """Write the CSV at `path` and its description beside it (`.json`); returns the latter.
    The period runs from `since` (else the first report's month) to this month."""
    today = today or dt.datetime.now(LOCAL).date()
    last = f"{today.year:04d}-{today.month:02d}"
    first = since or min((month_of(r) for r in stored), default=last)
    period = Period(first, max(first, last))
    catalogue = {lang: Catalogue(bundle, lang) for lang in (bundle.languages if bundle else ())}
    categories = {f: list(c) for lang in catalogue.values() for f, c in lang.choices.items()
                  if f in lang.fields}
    counts = FromReports(stored, threshold, (settings.municipality,))
    write_export(path, export_rows(counts, period, categories))
    description = path.with_suffix(".json")
    description.write_text(json.dumps(describe(settings.municipality, threshold, period,
                                               catalogue, path.name),
                                      ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return description


def describe(place: str, threshold: int, period: Period, catalogue: dict[str, Catalogue],
             data: str) -> dict[str, object]:
    """The export's description: what each column means, the fields and their categories with
    the flows' labels in every language, so that another city can read the ids."""
    fields: dict[str, object] = {}
    for lang, known in catalogue.items():
        for name, label in known.fields.items():
            entry = fields.setdefault(name, {"label": {}, "several": name in known.several,
                                             "categories": {}})
            assert isinstance(entry, dict)
            entry["label"][lang] = label
            for category, text in known.choices.get(name, {}).items():
                entry["categories"].setdefault(category, {})[lang] = text
    return {"schema": "lotse-export", "schema_version": SCHEMA_VERSION, "data": data,
            "municipality": place, "threshold": threshold, "first_month": period.first,
            "last_month": period.last,
            "columns": {c: COLUMN_MEANINGS[c] for c in COLUMNS}, "fields": fields}
