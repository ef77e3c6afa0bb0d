"""`lotse …`: composes flows, engine, service, storage and channels. No logic of its own.

click keeps option parsing, help texts and exit codes out of our code (a well-kept library
rather than a hand-written argv parser).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path

import click

from bot import __version__
from bot.config import Settings
from bot.console import Console, console_key
from bot.flowmodel import Bundle
from bot.graph import dot, mermaid
from bot.keys import KeyHasher, load_secret
from bot.loader import CheckResult, Sources, check
from bot.service import ConversationService
from storage import StateStore

EXIT_CONTENT = 2

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
    store = StateStore(settings.state_db, settings.synchronous)
    service = ConversationService(bundle, store, KeyHasher(load_secret(settings.data_dir)),
                                  idle=settings.idle)
    service.purge_expired()
    try:
        code = asyncio.run(Console(service, console_key(), out_dir).run(lang, flow_id))
    except KeyboardInterrupt:
        code = 0
    finally:
        store.close()
    sys.exit(code)


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
