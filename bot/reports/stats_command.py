"""`lotse stats`: anonymous reports counted, small numbers hidden (docs/statistics.md), and
`--export`, the counts a network can pool (docs/export.md). Registered by bot/cli.py, whose
helpers it borrows when it runs."""

from __future__ import annotations

import re
from pathlib import Path

import click


def _checked(value: int | None) -> int | None:
    from bot.cli import _threshold

    return _threshold(value)


_FORMATS = ("table", "csv", "json")
"""--format choices; bot.reports.stats, imported by the command only, has a writer for each."""


@click.command("stats")
@click.option("--by", "by", default="kind", show_default=True,
              help="One or two fields, comma-separated: kind, channel, motive, month, …")
@click.option("--since", help="Only incidents from this month on (YYYY-MM).")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table",
              show_default=True)
@click.option("--chart", type=click.Path(path_type=Path),
              help="Also draw incidents per month, stacked by the first --by field, as PNG.")
@click.option("--threshold", type=int, callback=lambda _c, _p, value: _checked(value),
              help="Counts below this are shown as '<N' (default 5, or stats_threshold; "
                   "3 at least).")
@click.option("--lang", type=click.Choice(["de", "en"]), default="de", show_default=True)
@click.option("--export", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the counts as a CSV a network can pool, and a .json beside it.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR")
def stats_command(by: str, since: str | None, fmt: str, chart: Path | None,
                  threshold: int | None, lang: str, export: Path | None,
                  data_dir: Path | None) -> None:
    """Anonymous reports counted, with small numbers suppressed (for the city's office)."""
    if since is not None and not re.fullmatch(r"\d{4}-\d{2}", since):
        raise click.BadParameter("write a month as YYYY-MM", param_hint="--since")
    fields = [f.strip() for f in by.split(",") if f.strip()]
    if not 1 <= len(fields) <= 2:
        raise click.BadParameter("give one or two fields", param_hint="--by")
    from bot.cli import _say_waiting, _settings, _sources
    from bot.flows.checker import check
    from bot.reports import export as pool
    from bot.reports import stats

    settings = _settings(data_dir)
    threshold = settings.stats_threshold if threshold is None else threshold
    stored = pool.stored_reports(settings, since)
    if export is not None:  # the schema: docs/export.md
        bundle = check(_sources(settings.flows, settings.content)).bundle
        described = pool.export_counts(export, stored, settings, threshold, since, bundle)
        click.echo(f"{export}\n{described}")
        return
    table = stats.crosstab(stored, fields, threshold)
    write = {"table": stats.as_text, "csv": stats.as_csv, "json": stats.as_json}[fmt]
    click.echo(write(table), nl=False)
    _say_waiting(settings.state_db)
    if chart is not None:
        try:
            from bot.reports.chart import draw_months
        except ImportError:  # pragma: no cover - depends on the installation
            raise click.ClickException(
                "charts need matplotlib: pip install 'lotse[charts]'") from None
        draw_months(stored, fields[0], threshold, lang, chart,
                    check(_sources(settings.flows, settings.content)).bundle)
        click.echo(f"chart: {chart}", err=True)
