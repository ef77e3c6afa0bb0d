"""`lotse report`: the situation report as PDF and HTML, for one city or a network."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from bot.dates import LOCAL
from bot.reports.period import Period, between, period_of

EXIT_SCHEMA = 2


def _period(first: str | None, last: str | None, period: str | None) -> Period | None:
    try:
        if period is not None:
            if first or last:
                raise click.UsageError("give --period or --from/--to, not both")
            return period_of(period)
        if first or last:
            return between(first or last or "", last or first or "")
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    return None


@click.command("report")
@click.option("--from", "first", help="First month (YYYY-MM).")
@click.option("--to", "last", help="Last month (YYYY-MM).")
@click.option("--period", help="A year (2026), a quarter (2026-Q3) or a month (2026-05).")
@click.option("--lang", type=click.Choice(["de", "en"]), default="de", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for the PDF and the HTML file.")
@click.option("--combine", is_flag=True,
              help="Build the report from the exports given (lotse stats --export).")
@click.option("--threshold", type=int, help="Counts below this are hidden (default 5, or "
              "stats_threshold; 3 at least).")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR")
@click.argument("exports", nargs=-1, type=click.Path(exists=True, dir_okay=False,
                                                     path_type=Path))
def report(first: str | None, last: str | None, period: str | None, lang: str, out: Path,
           combine: bool, threshold: int | None, data_dir: Path | None,
           exports: tuple[Path, ...]) -> None:
    """The situation report ("Lagebild") as PDF and HTML, small numbers hidden."""
    from bot.cli import _settings, _sources, _threshold
    from bot.flows.checker import check
    from bot.reports import situation_html, situation_pdf
    from bot.reports.export import stored_reports
    from bot.reports.pooled import Counts, FromReports, Pooled, SchemaError, read_export
    from bot.reports.situation import Catalogue, Words, build

    if exports and not combine:
        raise click.UsageError("exports are read with --combine")
    if combine and not exports:
        raise click.UsageError("--combine needs the exports to add up")
    settings = _settings(data_dir)
    threshold = _threshold(threshold) or settings.stats_threshold
    chosen = _period(first, last, period)
    counts: Counts
    if combine:
        try:
            pooled = Pooled([read_export(p) for p in exports], threshold)
            chosen = chosen or pooled.span()
            counts = pooled
        except SchemaError as err:
            click.echo(f"lotse report: {err}", err=True)
            sys.exit(EXIT_SCHEMA)
    else:
        counts = FromReports(stored_reports(settings), threshold, (settings.municipality,))
    today = dt.datetime.now(LOCAL).date()
    chosen = chosen or period_of(str(today.year))
    sources = _sources(settings.flows, settings.content)
    bundle = check(sources).bundle
    situation = build(counts, chosen, Catalogue(bundle, lang), Words.read(sources.content_dirs,
                                                                          lang), today)
    try:
        html, pdf = situation_html.render(situation), situation_pdf.render(situation)
    except ModuleNotFoundError as err:  # pragma: no cover - depends on the installation
        if err.name != "matplotlib":
            raise
        raise click.ClickException("the report's charts need matplotlib: pip install "
                                   "'lotse[charts]'") from None
    out.mkdir(parents=True, exist_ok=True)
    stem = f"lagebild-{chosen.first}-{chosen.last}-{lang}"
    (out / f"{stem}.html").write_text(html, encoding="utf-8")
    (out / f"{stem}.pdf").write_bytes(pdf)
    click.echo(f"{out / stem}.pdf\n{out / stem}.html")
