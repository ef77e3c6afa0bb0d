"""The situation report (#27): every number it prints is the count `lotse stats` would show,
nothing hidden can be worked out from it, its charts draw only what its tables show, and the
HTML opens in a browser without a single request leaving the file."""

from __future__ import annotations

import datetime as dt
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from bot.cli import main
from bot.flows.checker import Sources
from bot.flows.model import Bundle
from bot.reports import situation_html, situation_pdf, stats
from bot.reports.period import Period, between, period_of
from bot.reports.pooled import FromReports, month_of
from bot.reports.situation import Catalogue, Situation, Words, build
from bot.reports.situation_charts import field_figure, trend_figure
from bot.reports.stats import TOTAL
from storage.report_store import ReportStore, StoredReport

from .situation_data import YEAR_2025, YEAR_2026, expected, make_db

YEAR = period_of("2026")
CREATED = dt.date(2027, 1, 8)


def stored(tmp_path: Path) -> list[StoredReport]:
    store = ReportStore(make_db(tmp_path / "reports.db", YEAR_2025, YEAR_2026), readonly=True)
    try:
        return store.reports()
    finally:
        store.close()


def situation(reports: list[StoredReport], bundle: Bundle, lang: str = "de",
              period: Period = YEAR) -> Situation:
    words = Words.read(Sources.shipped().content_dirs, lang)
    return build(FromReports(reports, 5, ("Musterstadt",)), period, Catalogue(bundle, lang),
                 words, CREATED)


class Tables(HTMLParser):
    """The HTML's tables: heading (the h2 before them) -> rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.heading = ""
        self.at: str | None = None
        self.text = ""
        self.row: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "td", "th"):
            self.at, self.text = tag, ""
        elif tag == "tr":
            self.row = []

    def handle_data(self, data: str) -> None:
        if self.at:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self.at == "h2":
            self.heading = self.text
            self.at = None
        elif tag in ("td", "th") and self.at == tag:
            self.row.append(self.text)
            self.at = None
        elif tag == "tr":
            self.tables.setdefault(self.heading, []).append(self.row)


def html_tables(html: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def in_2026(reports: list[StoredReport]) -> list[StoredReport]:
    return [r for r in reports if month_of(r).startswith("2026")]


# --- the period ------------------------------------------------------------------------------


def test_a_year_a_quarter_a_month_and_a_run_of_months_are_periods() -> None:
    assert period_of("2026").months[0] == "2026-01" and len(period_of("2026").months) == 12
    assert period_of("2026-Q3") == Period("2026-07", "2026-09")
    assert period_of("2026-05").months == ("2026-05",)
    assert between("2025-11", "2026-02").months == ("2025-11", "2025-12", "2026-01", "2026-02")
    assert period_of("2026-Q1").previous() == Period("2025-10", "2025-12")
    for wrong in ("2026-13", "26", "2026-Q5"):
        with pytest.raises(ValueError):
            period_of(wrong)
    with pytest.raises(ValueError, match="ends"):
        between("2026-05", "2026-01")


# --- the numbers ------------------------------------------------------------------------------


def test_the_headline_numbers_are_the_known_counts(tmp_path: Path, shipped: Bundle) -> None:
    s = situation(stored(tmp_path), shipped)
    assert s.total == "113"  # 10 × 9 + 11 + 12 + 0 (April)
    assert s.previous_total() == "96"
    assert s.change() == (17, 18)
    assert (s.shares["police"].count, s.shares["police"].total) == (58, 113)  # type: ignore
    assert s.shares["supervisor"].percent == 100  # type: ignore[union-attr]
    assert s.versions == ("report_v1", "report_v2")


def test_every_number_in_the_html_is_what_lotse_stats_shows(tmp_path: Path,
                                                            shipped: Bundle) -> None:
    reports = stored(tmp_path)
    s = situation(reports, shipped)
    tables = html_tables(situation_html.render(s))
    year = in_2026(reports)
    for section in s.sections:
        truth = stats.crosstab(year, [section.field], 5)
        rows = {r[0]: r[1] for r in tables[section.label][1:]}
        for row in section.rows:
            assert rows[section.labels[row]] == truth.shown(row, TOTAL), (section.field, row)
        assert rows["gesamt"] == truth.shown(TOTAL, TOTAL) == "113"
    kinds = {r[0]: r[1] for r in tables["Art"][1:]}
    # Two attacks in May are hidden, and so are that month's insults (the smallest other
    # count), and with them the year's; threats, shown every month, add up.
    assert kinds["Körperlicher Angriff"] == "<5" and kinds["Beleidigung oder Beschimpfung"] == "<5"
    assert kinds["Drohung"] == str(expected(YEAR_2026, "kind")["threat"]) == "50"
    assert kinds["verbal_abuse"] == "5" and kinds["Sachbeschädigung"] == "0"
    trend = {r[0]: r[1:] for r in tables["Verlauf je Monat"][1:]}
    assert trend["Apr 2026"] == ["0", "8"] and trend["Mai 2026"] == ["12", "8"]


def test_the_pdf_says_the_same_numbers_in_real_text(tmp_path: Path, shipped: Bundle) -> None:
    reports = stored(tmp_path)
    s = situation(reports, shipped)
    reader = PdfReader(io.BytesIO(situation_pdf.render(s)))
    assert len(reader.pages) == 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]
    assert "113" in lines[lines.index("Meldungen im Zeitraum") + 1]
    assert "+17 (+18 %)" in text and "51 %" in text and "58 von 113 Meldungen" in text
    year = in_2026(reports)
    for section in s.sections:
        truth = stats.crosstab(year, [section.field], 5)
        for row in section.rows:
            label = section.labels[row][:24]
            found = [line for line in lines if line.startswith(label)
                     and line.endswith(" " + truth.shown(row, TOTAL))]
            assert found, (section.field, row, truth.shown(row, TOTAL))
    assert "Zeitraum 10 10 11 0 12 10 10 10 10 10 10 10" in lines
    assert reader.metadata is not None and str(reader.metadata.title).startswith("Lagebild")
    assert str(reader.root_object["/Lang"]) == "de"


def test_nothing_hidden_can_be_worked_out_from_rows_totals_or_periods(
        tmp_path: Path, shipped: Bundle) -> None:
    reports = stored(tmp_path)
    year = situation(reports, shipped)
    half = situation(reports, shipped, period=period_of("2026-Q2"))
    for section in year.sections:
        hidden = [r for r in section.rows if section.shown(r).startswith("<")]
        if section.table.shown(TOTAL, TOTAL).isdigit() and not section.several:
            # The total minus the shown rows is the hidden rows together: never one alone.
            assert len(hidden) != 1, section.field
        other = next(o for o in half.sections if o.field == section.field)
        for row in section.rows:
            a, b = section.shown(row), other.shown(row)
            if a.isdigit() and b.isdigit():
                # What the rest of the year adds is 0 or a number at least the threshold.
                assert int(a) - int(b) == 0 or int(a) - int(b) >= 5, (section.field, row)
    months = [year.trend.shown(m, TOTAL) for m in year.period.months]
    if year.total.isdigit():
        assert all(m.isdigit() for m in months)


def test_charts_draw_only_what_the_tables_show(tmp_path: Path, shipped: Bundle) -> None:
    s = situation(stored(tmp_path), shipped)
    for section in s.sections:
        figure = field_figure(section)
        widths = [round(p.get_width()) for p in figure.axes[0].patches]
        shown = [section.shown(r) for r in section.rows]
        assert widths == [int(v) if v.isdigit() else 0 for v in shown], section.field
        labels = [t.get_text() for t in figure.axes[0].texts]
        assert labels == shown
    figure = trend_figure(s)
    heights = [round(p.get_height()) for p in figure.axes[0].patches]
    months = [s.trend.shown(m, TOTAL) for m in s.period.months]
    before = [s.previous.shown(m, TOTAL) for m in s.period.previous().months]  # type: ignore
    assert heights == [int(v) if v.isdigit() else 0 for v in months + before]


def test_a_hidden_month_is_neither_drawn_nor_added_up(tmp_path: Path, shipped: Bundle) -> None:
    reports = stored(tmp_path)
    reports.append(StoredReport("2026-04", "2026-04", "report", 1, (("kind", "threat"),)))
    s = situation(reports, shipped)
    assert s.trend.shown("2026-04", TOTAL) == "<5" and s.total == "<5"
    assert s.change() is None
    figure = trend_figure(s)
    assert round(figure.axes[0].patches[3].get_height()) == 0
    assert "<5" in [t.get_text() for t in figure.axes[0].texts]
    html = situation_html.render(s)
    assert "nicht auszuweisen" in html


def test_english_words_a_removed_category_and_the_methods(tmp_path: Path,
                                                           shipped: Bundle) -> None:
    s = situation(stored(tmp_path), shipped, lang="en")
    html = situation_html.render(s)
    assert '<html lang="en">' in html and "Situation report" in html
    assert "verbal_abuse: not offered by the current flows" in html
    assert "lower bound" in html and "Reports from: report v1, report v2." in html
    assert "several versions of the flow" in html


# --- the command -----------------------------------------------------------------------------


def test_lotse_report_writes_a_pdf_and_a_self_contained_html(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make_db(data / "reports.db", YEAR_2025, YEAR_2026)
    runner = CliRunner()
    env = {"LOTSE_MUNICIPALITY": "Musterstadt"}
    for args, stem in ((["--period", "2026"], "lagebild-2026-01-2026-12-de"),
                       (["--period", "2026-Q3", "--lang", "en"], "lagebild-2026-07-2026-09-en"),
                       (["--from", "2026-01", "--to", "2026-12"], "lagebild-2026-01-2026-12-de")):
        result = runner.invoke(main, ["report", "--data-dir", str(data), "--out",
                                      str(tmp_path / "out"), *args], env=env)
        assert result.exit_code == 0, result.output
        html = (tmp_path / "out" / f"{stem}.html").read_text()
        assert "Musterstadt" in html
        # Only references inside the file (a chart's hatch pattern: url(#…), href="#…").
        assert not re.search(r"""(src|href)=["'](?!#)|url\((?!#)|@import|<script""", html)
        assert (tmp_path / "out" / f"{stem}.pdf").read_bytes().startswith(b"%PDF")
    wrong = runner.invoke(main, ["report", "--data-dir", str(data), "--period", "2026-Q5"])
    assert wrong.exit_code == 2 and "not a period" in wrong.output
    low = runner.invoke(main, ["report", "--data-dir", str(data), "--threshold", "2"])
    assert low.exit_code == 2


@pytest.mark.asyncio
async def test_the_html_opens_in_chromium_without_a_request_leaving_it(
        tmp_path: Path, shipped: Bundle) -> None:
    from playwright.async_api import async_playwright

    from .browser import chromium_missing, launch

    if chromium_missing():
        pytest.skip("no Chromium at /usr/bin/chromium")
    page_file = tmp_path / "lagebild.html"
    page_file.write_text(situation_html.render(situation(stored(tmp_path), shipped)))
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(page_file.as_uri())
            assert await page.locator("h1").inner_text() == (
                "Lagebild: Anfeindungen und Übergriffe gegen Beschäftigte")
            assert await page.locator("svg[role=img]").count() == 1 + 9  # one per report field
            await page.screenshot(path=str(tmp_path / "lagebild.png"), full_page=True)
        finally:
            await browser.close()
    assert requested == [page_file.as_uri()], requested
    assert (tmp_path / "lagebild.png").stat().st_size > 10_000
