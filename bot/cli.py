"""`lotse …`: composes flows, engine, service, storage and channels. No logic of its own."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot import __version__
from bot.config import CONFIG_FILE, Settings
from bot.data_folder import (
    opening,
    prepared,
    private_files,
    usable_data,
)
from bot.flows.checker import CheckResult, Sources, check
from bot.flows.contacts import UNREACHABLE
from bot.flows.problems import ContentError
from bot.flows.shipped import shipped_flows

if TYPE_CHECKING:

    from bot.flows.model import Bundle
    from bot.service.conversations import ConversationService
    from storage import StateStore
    from storage.report_store import ReportStore

# Service, storage and channels are imported by the commands that use them, not by `check`.

EXIT_CONTENT = 2
EXIT_CONFIG = 2

_paths = click.Path(exists=True, path_type=Path)
_data_dir = click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR",
                         help="Folder for Lotse's data (default ./data).")
_flows = click.option("--flows", multiple=True, type=_paths, help="Flow file or folder to run.")
_content = click.option("--content", multiple=True, type=_paths,
                        help="Content folder layered on top.")


def _sources(flows: tuple[Path, ...], content: tuple[Path, ...]) -> Sources:
    if not flows and not content:
        return Sources.shipped()
    return Sources.from_paths(flows or (shipped_flows(),), content)


def _report(result: CheckResult, quiet: bool = False) -> None:
    for problem in result.problems:
        if problem.severity.value == "error" or not quiet:
            click.echo(str(problem), err=True)


def _settings(data_dir: Path | None = None) -> Settings:
    """The settings of this run: `--config` (or LOTSE_CONFIG, or ./lotse.yaml when there is
    one) overlaid by LOTSE_* variables; `--data-dir` wins over both. Exit 2 on any mistake."""
    context = click.get_current_context(silent=True)
    named = context.find_root().obj if context is not None else None
    path = named if isinstance(named, Path) else (
        Path(CONFIG_FILE) if Path(CONFIG_FILE).is_file() else None)
    try:
        settings = Settings.load(path)
    except ContentError as err:
        for problem in err.problems:
            click.echo(str(problem), err=True)
        click.echo(f"lotse: {len(err.problems)} problem(s) in the settings; see "
                   "docs/operating.md.", err=True)
        sys.exit(EXIT_CONFIG)
    return dataclasses.replace(settings, data_dir=data_dir) if data_dir else settings


def _bundle_or_exit(flows: tuple[Path, ...], content: tuple[Path, ...],
                    settings: Settings | None = None) -> Bundle:
    """The checked flows and content: the options, else the settings' layers, else shipped."""
    if settings is None:
        settings = _settings()
    result = check(_sources(flows or settings.flows, content or settings.content))
    if result.bundle is None:
        _report(result, quiet=True)
        click.echo(f"lotse: {len(result.errors)} problem(s) in the flows or content; "
                   "fix them and run 'lotse check'.", err=True)
        sys.exit(EXIT_CONTENT)
    return result.bundle


def entry_point() -> None:
    """The `lotse` program."""
    main()


@click.group()
@click.version_option(__version__, prog_name="lotse")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), envvar="LOTSE_CONFIG",
              help="Settings file (default: ./lotse.yaml when there is one).")
@click.pass_context
def main(context: click.Context, config: Path | None) -> None:
    """Lotse guides municipal staff after an incident of hate, threat or violence at work."""
    context.obj = config


@main.command()
@click.option("--lang", type=click.Choice(["de", "en"]), help="Language of a new conversation.")
@click.option("--flow", "flow_id", help="Start this flow instead of the default one.")
@_data_dir
@_flows
@_content
@click.option("--out-dir", type=click.Path(path_type=Path), default=Path("."),
              show_default=True, help="Where documents you create are saved.")
def chat(lang: str | None, flow_id: str | None, data_dir: Path | None,
         flows: tuple[Path, ...], content: tuple[Path, ...], out_dir: Path) -> None:
    """Talk to Lotse in this terminal (Ctrl-D or Ctrl-C pauses; run again to continue)."""
    settings = _settings(data_dir)
    bundle = _bundle_or_exit(flows, content, settings)
    if flow_id is not None and flow_id not in bundle.flows:
        raise click.BadParameter(f"no flow '{flow_id}'; there are: "
                                 f"{', '.join(sorted(bundle.flows))}", param_hint="--flow")
    import asyncio
    import signal

    from bot.channels.console import Console, console_key

    secret = prepared(settings)
    umask = private_files(settings, lambda line: click.echo(f"lotse: {line}", err=True))
    try:
        service, store, reports = _service(bundle, settings, secret)
    except BaseException:
        os.umask(umask)
        raise
    console = Console(service, console_key(), out_dir)

    async def talk() -> int:
        # asyncio.run's Ctrl-C handler only cancels the main task, which a console waiting in
        # input() never notices; Python's own handler raises KeyboardInterrupt right there.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return await console.run(lang, flow_id)

    try:
        code = asyncio.run(talk())
    except KeyboardInterrupt:  # in the middle of a turn: each turn is saved whole or not at all
        console.pause()
        code = 0
    finally:
        store.close()
        reports.close()
        os.umask(umask)
    sys.exit(code)


def _service(bundle: Bundle, settings: Settings, secret: bytes
             ) -> tuple[ConversationService, StateStore, ReportStore]:
    from bot.reports import stats
    from bot.service.conversations import ConversationService
    from bot.service.keys import KeyHasher
    from storage import StateStore
    from storage.reminder_store import ReminderStore
    from storage.report_store import ReportStore

    with opening(settings.state_db):
        store = StateStore(settings.state_db, settings.db_sync)
    with opening(settings.reports_db):
        reports = ReportStore(settings.reports_db)

    def statistics(lang: str) -> str:
        return stats.as_text(stats.crosstab(reports.reports(), ["kind", "channel"],
                                            settings.stats_threshold))

    # Reports wait in the outbox for a batch (bot/service/report_batches.py, each start).
    service = ConversationService(bundle, store, KeyHasher(secret),
                                  idle=settings.idle, reports=reports, admins=settings.admins,
                                  statistics=statistics, reminders=ReminderStore(store),
                                  batched=True)
    service.purge_expired()
    return service, store, reports


@main.command()
@_data_dir
@_flows
@_content
def run(data_dir: Path | None, flows: tuple[Path, ...], content: tuple[Path, ...]) -> None:
    """Serve every configured channel: the web page, Telegram, Matrix (see docs/operating.md)."""
    _serve(_settings(data_dir), flows, content)


@main.command()
@click.option("--listen", help="host:port to serve on (default 127.0.0.1:8080).")
@_data_dir
@_flows
@_content
def web(listen: str | None, data_dir: Path | None, flows: tuple[Path, ...],
        content: tuple[Path, ...]) -> None:
    """Serve only the web chat page (http://127.0.0.1:8080 unless --listen says otherwise)."""
    settings = _settings(data_dir)
    page = dataclasses.replace(settings.web, enabled=True,
                               listen=listen or settings.web.listen)
    _serve(dataclasses.replace(settings, web=page, telegram=None, matrix=None), flows, content)


def _serve(settings: Settings, flows: tuple[Path, ...], content: tuple[Path, ...]) -> None:
    """Run the channels until SIGTERM or Ctrl-C, then finish the turns in flight and exit."""
    import asyncio
    import logging
    import signal

    from bot import logs
    from bot.channels import configured, run_all
    from bot.channels.starting import check_tokens, refusals_exit
    from bot.service.ratelimit import RateLimit
    from bot.service.reminders import ReminderScheduler, Sender
    from bot.service.report_batches import ReportBatches

    bundle = _bundle_or_exit(flows, content, settings)
    secrets = [os.environ.get("LOTSE_SECRET")]
    if settings.telegram is not None:
        secrets += [settings.telegram.token, settings.telegram.webhook_secret]
    if settings.matrix is not None:
        secrets += [settings.matrix.password, settings.matrix.access_token]
    logs.setup(settings.log_level, secrets)
    log = logging.getLogger("lotse")
    with refusals_exit():  # before anything is opened: a refused token changes nothing
        check_tokens(settings)
    secret = prepared(settings)
    umask = private_files(settings, log.warning)
    try:
        service, store, reports = _service(bundle, settings, secret)
    except BaseException:
        os.umask(umask)
        raise
    if settings.rate_burst > 0 and settings.rate_per_second > 0:
        service.rate_limit = RateLimit(settings.rate_burst, settings.rate_per_second)
    try:
        channels = configured(settings, service)
        senders = {c.name: c for c in channels if isinstance(c, Sender)}
        if senders and service.reminders is not None:
            channels.append(ReminderScheduler(service, senders, settings.reminders))
        if not channels:
            click.echo("lotse run: no channel configured; the web page is switched off and "
                       "neither Telegram nor Matrix is set up (see docs/operating.md).", err=True)
            sys.exit(EXIT_CONFIG)
        channels.append(ReportBatches(store, reports))

        async def serve() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            log.info("serving %s", ", ".join(c.name for c in channels))
            try:
                await run_all(channels, stop)
            finally:
                drained = await service.drain()
                log.info("stopped; %s", "every turn saved" if drained
                         else "turns still running were cut off")

        with refusals_exit():
            asyncio.run(serve())
    finally:
        store.close()
        reports.close()
        os.umask(umask)


def _say_waiting(state_db: Path) -> None:
    """Reports reach reports.db in batches (docs/statistics.md): say how many are not counted."""
    import sqlite3

    from storage import report_outbox

    with contextlib.suppress(sqlite3.Error):
        if waiting := report_outbox.waiting(state_db):
            click.echo(f"lotse stats: {waiting} more report(s) wait in state.db, not counted "
                       "yet: they reach reports.db in a batch once 3 wait or their month is "
                       "over (docs/statistics.md)", err=True)


def _threshold(value: int | None) -> int | None:
    """Below 3 a count can single a person out: refused, never quietly corrected."""
    from bot.config import STATS_THRESHOLD_MIN

    if value is not None and value < STATS_THRESHOLD_MIN:
        raise click.BadParameter(
            f"{value} would show counts that can single a person out; give "
            f"{STATS_THRESHOLD_MIN} to 100 (see docs/statistics.md)", param_hint="--threshold")
    if value is not None and value > 100:
        raise click.BadParameter("give 3 to 100", param_hint="--threshold")
    return value


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="LOTSE_DATA_DIR")
@click.option("--keep-years", type=click.IntRange(1, 50),
              help="How long reports are kept (default 5, or keep_reports_years).")
def purge(data_dir: Path | None, keep_years: int | None) -> None:
    """Delete reports older than the retention period and conversations that expired."""
    settings = _settings(data_dir)
    keep_years = keep_years or settings.keep_reports_years
    today = dt.date.today()
    oldest = f"{today.year - keep_years:04d}-{today.month:02d}"
    import sqlite3

    from storage import StateStore
    from storage.reminder_store import ReminderStore
    from storage.report_store import ReportStore

    usable_data(settings, settings.reports_db, settings.state_db, create=False, whole=True)
    with opening(settings.reports_db):
        reports = ReportStore(settings.reports_db)
    try:
        with opening(settings.state_db):
            store = StateStore(settings.state_db, settings.db_sync)
        try:
            with opening(settings.reports_db):
                removed = reports.purge_before(oldest)
            with opening(settings.state_db):
                now = int(dt.datetime.now(dt.UTC).timestamp())
                expired = store.purge_expired(now)
                overdue = ReminderStore(store).purge(now)
        finally:
            with contextlib.suppress(sqlite3.Error):
                store.close()
    finally:
        with contextlib.suppress(sqlite3.Error):
            reports.close()
    click.echo(f"deleted {removed} report(s) from before {oldest}, {expired} expired "
               f"conversation(s) and {overdue} reminder(s) overdue for 30 days")


@main.command("check")
@click.argument("paths", nargs=-1, type=_paths)
@click.option("--content", multiple=True, type=_paths, help="Content folder layered on top.")
@click.option("--quiet", is_flag=True, help="Show errors only, no warnings.")
def check_command(paths: tuple[Path, ...], content: tuple[Path, ...], quiet: bool) -> None:
    """Check flows and content; every problem as file:line:col. Exit 2 when any is an error."""
    settings = _settings()
    content = content or settings.content
    sources = (Sources.from_paths(paths, content) if paths
               else _sources(settings.flows, content))
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
    from bot.flows.graph import dot, mermaid

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
@click.option("--chat", is_flag=True,
              help="The list as ticked in `lotse chat`, as PDF and text in this folder.")
@_data_dir
def checklist(flow_id: str, lang: str, fmt: str, output: Path | None, flows: tuple[Path, ...],
              content: tuple[Path, ...], chat: bool, data_dir: Path | None) -> None:
    """Print a checklist flow as a sheet: tick boxes, deadlines, contacts, an "as of" date."""
    from bot.documents.checklist_sheet import NoChecklist, flow_sheet, render

    bundle = _bundle_or_exit(flows, content)
    if flow_id not in bundle.flows:
        raise click.BadParameter(f"no flow '{flow_id}'; there are: "
                                 f"{', '.join(sorted(bundle.flows))}", param_hint="FLOW_ID")
    if chat:
        _ticked(bundle, flow_id, _settings(data_dir), Path("."))
        return
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


def _ticked(bundle: Bundle, flow_id: str, settings: Settings, out_dir: Path) -> None:
    """The console conversation's list with its ticks, dates and marks, as "drucken" gives it;
    only state.db is read (no reports.db, outbox, reminders or purge)."""
    from bot.channels.console import Console, console_key
    from bot.engine.walk import ticked_sheet
    from bot.service.conversations import ConversationService
    from bot.service.keys import KeyHasher
    from storage import StateStore

    secret = prepared(settings)
    with opening(settings.state_db):
        store = StateStore(settings.state_db, settings.db_sync)
    service = ConversationService(bundle, store, KeyHasher(secret))
    try:
        state = service.state_of(console_key())
        sheet = (ticked_sheet(bundle, state, dt.datetime.now(dt.UTC))
                 if state is not None and state.frames[0].flow in (flow_id, bundle.default_flow)
                 else None)
        if sheet is None:
            click.echo(f"lotse: no list of '{flow_id}' is kept in `lotse chat` here", err=True)
            sys.exit(1)
        for path in Console(service, console_key(), out_dir).save(sheet):
            click.echo(f"Written: {path}", err=True)
    finally:
        store.close()


_SCAFFOLD = Path(__file__).resolve().parent / "scaffold"


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--city", default="Stadt Musterstadt", show_default=True,
              help="The municipality's name, written into the texts and comments.")
@click.option("--domain", default="example.org", show_default=True,
              help="The city's mail/Matrix domain, for the commented examples.")
def init(folder: Path, city: str, domain: str) -> None:
    """Create a city's own folder: settings, local contacts and text overrides, layered over
    the shipped content. Existing files are never overwritten."""
    files = sorted(p.relative_to(_SCAFFOLD) for p in _SCAFFOLD.rglob("*") if p.is_file())
    clashes = [str(folder / f) for f in files if (folder / f).exists()]
    if clashes:
        click.echo("lotse init: these files exist already and stay as they are:\n  "
                   + "\n  ".join(clashes), err=True)
        sys.exit(EXIT_CONFIG)
    today = dt.date.today().isoformat()
    for relative in files:
        text = (_SCAFFOLD / relative).read_text(encoding="utf-8")
        for token, value in (("{city}", city), ("{domain}", domain), ("{today}", today)):
            text = text.replace(token, value)
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        click.echo(f"created {target}")
    result = check(_sources((), (folder / "content",)))
    _report(result, quiet=True)
    if result.errors:  # pragma: no cover - the scaffold is checked by the tests
        sys.exit(EXIT_CONTENT)
    config = folder / "lotse.yaml"
    to_fill = [p for p in result.warnings if UNREACHABLE in p.message]
    click.echo(f"\nNext: fill in {folder / 'content' / 'contacts-local.yaml'}: these "
               f"{len(to_fill)} cards reach no one yet, and 'check' warns until each has a "
               "phone, e-mail or web address:\n" + "".join(
                   f"  line {p.line}: {p.message.split(' has ')[0]}\n" for p in to_fill)
               + f"Then:\n  lotse --config {config} check\n  lotse --config {config} run")


from bot.reports.report_command import report  # noqa: E402  (their logic lives there)
from bot.reports.stats_command import stats_command  # noqa: E402

main.add_command(report)
main.add_command(stats_command)
