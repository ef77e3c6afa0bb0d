"""`lotse …`: composes flows, engine, service, storage and channels. No logic of its own.

click keeps option parsing, help texts and exit codes out of our code (a well-kept library
rather than a hand-written argv parser).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import re
import sys
from pathlib import Path

import click

from bot import __version__, stats
from bot.config import Settings
from bot.console import Console, console_key
from bot.flowmodel import Bundle
from bot.graph import dot, mermaid
from bot.keys import KeyHasher, load_secret
from bot.loader import CheckResult, Sources, check
from bot.service import ConversationService
from storage import StateStore
from storage.report_store import ReportStore, StoredReport

EXIT_CONTENT = 2
EXIT_CONFIG = 2

_paths = click.Path(exists=True, path_type=Path)


def _sources(flows: tuple[Path, ...], content: tuple[Path, ...]) -> Sources:
    if not flows and not content:
        return Sources.shipped()
    return Sources.from_paths(flows or (Sources.shipped().flow_files[0].parent,), content)


def _report(result: CheckResult, quiet: bool = False) -> None:
    for problem in result.problems:
        if problem.severity.value == "error" or not quiet:
            click.echo(str(problem), err=True)


def _bundle_or_exit(flows: tuple[Path, ...], content: tuple[Path, ...]) -> Bundle:
    result = check(_sources(flows, content))
    if result.bundle is None:
        _report(result, quiet=True)
        click.echo(f"lotse: {len(result.errors)} problem(s) in the flows or content; "
                   "fix them and run 'lotse check'.", err=True)
        sys.exit(EXIT_CONTENT)
    return result.bundle


@click.group()
@click.version_option(__version__, prog_name="lotse")
def main() -> None:
    """Lotse guides municipal staff after an incident of hate, threat or violence at work."""


@main.command()
@click.option("--lang", type=click.Choice(["de", "en"]), help="Language of a new conversation.")
@click.option("--flow", "flow_id", help="Start this flow instead of the default one.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR",
              help="Folder for Lotse's data (default ./data).")
@click.option("--flows", multiple=True, type=_paths, help="Flow file or folder to run.")
@click.option("--content", multiple=True, type=_paths, help="Content folder layered on top.")
@click.option("--out-dir", type=click.Path(path_type=Path), default=Path("."),
              show_default=True, help="Where documents you create are saved.")
def chat(lang: str | None, flow_id: str | None, data_dir: Path | None,
         flows: tuple[Path, ...], content: tuple[Path, ...], out_dir: Path) -> None:
    """Talk to Lotse in this terminal (Ctrl-D or Ctrl-C pauses; run again to continue)."""
    bundle = _bundle_or_exit(flows, content)
    if flow_id is not None and flow_id not in bundle.flows:
        raise click.BadParameter(f"no flow '{flow_id}'; there are: "
                                 f"{', '.join(sorted(bundle.flows))}", param_hint="--flow")
    gc.freeze()  # the loaded content lives as long as the process: keep the collector off it
    settings = Settings.from_env(data_dir)
    service, store, reports = _service(bundle, settings)
    try:
        code = asyncio.run(Console(service, console_key(), out_dir).run(lang, flow_id))
    except KeyboardInterrupt:
        code = 0
    finally:
        store.close()
        reports.close()
    sys.exit(code)


def _service(bundle: Bundle, settings: Settings
             ) -> tuple[ConversationService, StateStore, ReportStore]:
    store = StateStore(settings.state_db, settings.synchronous)
    reports = ReportStore(settings.reports_db)

    def statistics(lang: str) -> str:
        return stats.as_text(stats.crosstab(reports.reports(), ["kind", "channel"],
                                            settings.threshold))

    service = ConversationService(bundle, store, KeyHasher(load_secret(settings.data_dir)),
                                  idle=settings.idle, reports=reports, admins=settings.admins,
                                  statistics=statistics)
    service.purge_expired()
    return service, store, reports


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR",
              help="Folder for Lotse's data (default ./data).")
@click.option("--flows", multiple=True, type=_paths, help="Flow file or folder to run.")
@click.option("--content", multiple=True, type=_paths, help="Content folder layered on top.")
def run(data_dir: Path | None, flows: tuple[Path, ...], content: tuple[Path, ...]) -> None:
    """Serve the configured chat channels until Ctrl-C (Telegram: LOTSE_TELEGRAM_TOKEN)."""
    import logging
    import signal

    from bot.channels import configured, run_all

    settings = Settings.from_env(data_dir)
    bundle = _bundle_or_exit(flows, content)
    gc.freeze()
    service, store, reports = _service(bundle, settings)
    try:
        channels = configured(settings, service)
        if not channels:
            click.echo("lotse run: no channel configured; set LOTSE_TELEGRAM_TOKEN "
                       "(see README, 'Telegram').", err=True)
            sys.exit(EXIT_CONFIG)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines hold the token

        async def serve() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            click.echo(f"lotse: serving {', '.join(c.name for c in channels)}; Ctrl-C stops.",
                       err=True)
            await run_all(channels, stop)

        asyncio.run(serve())
    finally:
        store.close()
        reports.close()


_FORMATS = {"table": stats.as_text, "csv": stats.as_csv, "json": stats.as_json}


@main.command("stats")
@click.option("--by", "by", default="kind", show_default=True,
              help="One or two fields, comma-separated: kind, channel, motive, month, …")
@click.option("--since", help="Only incidents from this month on (YYYY-MM).")
@click.option("--format", "fmt", type=click.Choice(list(_FORMATS)), default="table",
              show_default=True)
@click.option("--chart", type=click.Path(path_type=Path),
              help="Also draw incidents per month, stacked by the first --by field, as PNG.")
@click.option("--threshold", type=click.IntRange(2, 100), envvar="LOTSE_STATS_THRESHOLD",
              default=5, show_default=True, help="Counts below this are shown as '<N'.")
@click.option("--lang", type=click.Choice(["de", "en"]), default="de", show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR")
def stats_command(by: str, since: str | None, fmt: str, chart: Path | None, threshold: int,
                  lang: str, data_dir: Path | None) -> None:
    """Anonymous reports counted, with small numbers suppressed (for the city's office)."""
    if since is not None and not re.fullmatch(r"\d{4}-\d{2}", since):
        raise click.BadParameter("write a month as YYYY-MM", param_hint="--since")
    fields = [f.strip() for f in by.split(",") if f.strip()]
    if not 1 <= len(fields) <= 2:
        raise click.BadParameter("give one or two fields", param_hint="--by")
    settings = Settings.from_env(data_dir)
    reports = ReportStore(settings.reports_db)
    try:
        stored = reports.reports(since)
    finally:
        reports.close()
    table = stats.crosstab(stored, fields, threshold)
    click.echo(_FORMATS[fmt](table), nl=False)
    if chart is not None:
        _chart(stored, fields[0], threshold, lang, chart)


def _chart(stored: list[StoredReport], field: str, threshold: int, lang: str,
           path: Path) -> None:
    try:
        from bot.chart import draw
    except ImportError:  # pragma: no cover - depends on the installation
        raise click.ClickException("charts need matplotlib: pip install 'lotse[charts]'") from None
    result = check(Sources.shipped())
    labels: dict[str, str] = {}
    if result.bundle is not None:
        for values in result.bundle.choice_labels.values():
            labels.update({v: text[lang] for v, text in values.items()})
    table = stats.crosstab(stored, ["month", field] if field != "month" else ["month"],
                           threshold)
    words = _CHART_WORDS[lang]
    draw(table, path, words["title"],
         {**labels, stats.TOTAL: words["total"], "__small__": words["small"]},
         words["note"].format(threshold=threshold))
    click.echo(f"chart: {path}", err=True)


_CHART_WORDS = {
    "de": {"title": "Gemeldete Vorfälle je Monat", "total": "gesamt",
           "small": "kleine Zahlen, zusammengefasst",
           "note": "Anonyme Meldungen an Lotse. Werte unter {threshold} werden nicht gezeigt."},
    "en": {"title": "Reported incidents per month", "total": "total",
           "small": "small numbers, combined",
           "note": "Anonymous reports to Lotse. Values below {threshold} are not shown."},
}


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR")
@click.option("--keep-years", type=click.IntRange(1, 50), envvar="LOTSE_KEEP_REPORTS_YEARS",
              default=5, show_default=True, help="How long reports are kept.")
def purge(data_dir: Path | None, keep_years: int) -> None:
    """Delete reports older than the retention period and conversations that expired."""
    settings = Settings.from_env(data_dir)
    today = dt.date.today()
    oldest = f"{today.year - keep_years:04d}-{today.month:02d}"
    reports = ReportStore(settings.reports_db)
    store = StateStore(settings.state_db, settings.synchronous)
    try:
        removed = reports.purge_before(oldest)
        expired = store.purge_expired(int(dt.datetime.now(dt.UTC).timestamp()))
    finally:
        reports.close()
        store.close()
    click.echo(f"deleted {removed} report(s) from before {oldest} and {expired} expired "
               "conversation(s)")


@main.command("check")
@click.argument("paths", nargs=-1, type=_paths)
@click.option("--content", multiple=True, type=_paths, help="Content folder layered on top.")
@click.option("--quiet", is_flag=True, help="Show errors only, no warnings.")
def check_command(paths: tuple[Path, ...], content: tuple[Path, ...], quiet: bool) -> None:
    """Check flows and content; every problem as file:line:col. Exit 2 when any is an error."""
    sources = Sources.from_paths(paths, content) if paths else _sources((), content)
    result = check(sources)
    _report(result, quiet)
    flows = len(result.bundle.flows) if result.bundle else 0
    if result.errors:
        click.echo(f"{len(result.errors)} error(s), {len(result.warnings)} warning(s).", err=True)
        sys.exit(EXIT_CONTENT)
    click.echo(f"OK: {flows} flow(s), {len(result.warnings)} warning(s).")


@main.command()
@click.argument("flow_id")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True)
@click.option("--lang", type=click.Choice(["de", "en"]), default="de", show_default=True)
@click.option("--flows", multiple=True, type=_paths, help="Flow file or folder.")
@click.option("--content", multiple=True, type=_paths, help="Content folder layered on top.")
def graph(flow_id: str, fmt: str, lang: str, flows: tuple[Path, ...],
          content: tuple[Path, ...]) -> None:
    """Print a flow as a Mermaid (or Graphviz dot) diagram."""
    bundle = _bundle_or_exit(flows, content)
    if flow_id not in bundle.flows:
        raise click.BadParameter(f"no flow '{flow_id}'; there are: "
                                 f"{', '.join(sorted(bundle.flows))}", param_hint="FLOW_ID")
    render = mermaid if fmt == "mermaid" else dot
    click.echo(render(bundle.flows[flow_id], lang), nl=False)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def verify(file: Path) -> None:
    """Check a document's fingerprint (.txt or .pdf). Exit 0 OK, 1 changed, 2 unreadable."""
    from bot.documents import Unreadable, verify_file
    from bot.documents.text import grouped

    try:
        verdict = verify_file(file)
    except Unreadable as err:
        click.echo(f"{file}: cannot check: {err}", err=True)
        sys.exit(2)
    if verdict.ok:
        click.echo(f"{file}: fingerprint OK ({grouped(verdict.fingerprint)})")
        return
    click.echo(f"{file}: fingerprint does not match: {verdict.reason}", err=True)
    sys.exit(1)


@main.command()
@click.argument("flow_id")
@click.option("--lang", type=click.Choice(["de", "en"]), default="de", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["md", "html", "pdf"]), default="md",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@click.option("--flows", multiple=True, type=_paths, help="Flow file or folder.")
@click.option("--content", multiple=True, type=_paths, help="Content folder layered on top.")
def checklist(flow_id: str, lang: str, fmt: str, output: Path | None, flows: tuple[Path, ...],
              content: tuple[Path, ...]) -> None:
    """Print a checklist flow as a sheet: tick boxes, deadlines, contacts, an "as of" date."""
    import datetime as dt

    from bot.checklist_print import NoChecklist, flow_sheet, render

    bundle = _bundle_or_exit(flows, content)
    if flow_id not in bundle.flows:
        raise click.BadParameter(f"no flow '{flow_id}'; there are: "
                                 f"{', '.join(sorted(bundle.flows))}", param_hint="FLOW_ID")
    try:
        data = render(flow_sheet(bundle, flow_id, lang, dt.date.today()), fmt)
    except NoChecklist as err:
        raise click.BadParameter(str(err), param_hint="FLOW_ID") from err
    if output is not None:
        output.write_bytes(data)
        click.echo(f"Written: {output}", err=True)
    elif fmt == "pdf" and sys.stdout.isatty():
        raise click.UsageError("a PDF needs -o FILE (or a pipe)")
    else:
        sys.stdout.buffer.write(data)
