"""`lotse check` and `lotse graph` as a content author uses them."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.flows.checker import Sources, check
from bot.flows.shipped import shipped_content

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_flows_and_content_are_clean() -> None:
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert "OK:" in result.output and "warning" in result.output


def test_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "two_problems.yaml"
    broken.write_text(
        "flow: two\nversion: 1\ntitle: {de: T, en: T}\nstart: a\nnodes:\n"
        "  a:\n    say: {de: x, en: x}\n    nxt: b\n  b:\n    end: true\n  c:\n    end: true\n",
        encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(broken)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if "two_problems.yaml" in line]
    assert any(":8:5: unknown key 'nxt' in node 'a' — did you mean 'next'?" in line
               for line in lines)
    assert any("node 'a' has no 'next'" in line for line in lines)
    assert "Traceback" not in result.output


def test_graph_problems_are_all_reported_once_the_shape_is_right(tmp_path: Path) -> None:
    broken = tmp_path / "graph.yaml"
    broken.write_text(
        "flow: g\nversion: 1\ntitle: {de: T, en: T}\nstart: a\nnodes:\n"
        "  a:\n    say: {de: x, en: x}\n    next: b\n  b:\n    end: true\n"
        "  c:\n    say: {de: y, en: y}\n    next: dd\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(broken)])
    assert result.exit_code == 2
    assert "graph.yaml:11:3: node 'c' cannot be reached from the start 'a'" in result.output
    assert "graph.yaml:13:11: node 'c' leads to 'dd', which is not a node" in result.output
    assert "not used by any flow" not in result.output  # one flow file: no content warnings


def test_check_as_a_process_never_shows_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "bad.yaml"
    broken.write_bytes(b"flow: x\n\tversion: 1\n")
    result = subprocess.run([sys.executable, "-m", "bot", "check", str(broken)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert re.search(r"bad\.yaml:2:1: YAML syntax: .*tabs", result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_graph_prints_mermaid_and_dot() -> None:
    mermaid = CliRunner().invoke(main, ["graph", "employee"])
    assert mermaid.exit_code == 0
    assert mermaid.output.startswith("flowchart TD\n")
    assert '  safety -- "Ja" --> danger' in mermaid.output
    dot = CliRunner().invoke(main, ["graph", "employee", "--format", "dot", "--lang", "en"])
    assert dot.exit_code == 0 and dot.output.startswith('digraph "employee" {')
    assert '"safety" -> "danger" [label="Yes"];' in dot.output


def test_graph_of_an_unknown_flow_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["graph", "nope"])
    assert result.exit_code == 2 and "no flow 'nope'" in result.output


def test_the_complete_example_in_the_docs_passes_the_check(tmp_path: Path) -> None:
    docs = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    example = docs.split("## A complete example", 1)[1].split("```yaml", 1)[1].split("```")[0]
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    result = check(Sources((path,), (shipped_content(),)))
    assert result.errors == (), [str(p) for p in result.errors]


def test_lotse_chat_warns_once_of_a_secret_key_others_may_read(tmp_path: Path) -> None:
    """Issue #26, item 7: a world-readable secret.key (an operator's copy, a restore) is told
    once on standard error at start; the conversation goes on, and nothing is changed."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    data.chmod(0o700)
    key = data / "secret.key"
    key.write_text("ab" * 32)
    key.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != "LOTSE_SECRET"}

    def chat() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "chat", "--data-dir", str(data)],
                              input="nein\n", capture_output=True, text=True, timeout=60,
                              env=env, cwd=tmp_path)

    told = chat()
    assert told.returncode == 0, told.stderr
    lines = [line for line in told.stderr.splitlines() if "secret.key" in line]
    assert len(lines) == 1 and "group or others" in lines[0], told.stderr
    assert "Traceback" not in told.stderr and "Sind Sie gerade in Gefahr?" in told.stdout
    assert key.stat().st_mode & 0o777 == 0o644
    key.chmod(0o600)
    quiet = chat()
    assert quiet.returncode == 0 and "group or others" not in quiet.stderr, quiet.stderr


# Issue #26, item 12: a broken data folder, database, secret or settings file is one line on
# standard error naming it and what to do, exit 2, and nothing is created or changed.

AS_OWNER = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
"""As root every file is writable: read-only cases run the command without the capabilities
that override file modes, so that root is held to them like the files' owner."""


def _lotse(args: list[str], cwd: Path, env: dict[str, str] | None = None,
           as_reader: bool = False, stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")}
    prefix: list[str] = []
    if as_reader and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file modes cannot hold")
        prefix = AS_OWNER
    return subprocess.run([*prefix, sys.executable, "-m", "bot", *args], input=stdin, text=True,
                          capture_output=True, timeout=120, cwd=cwd, env={**clean, **(env or {})})


def _files(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under `folder` with its bytes (None for a folder) and mtime."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None,
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def _one_line(result: subprocess.CompletedProcess[str], *names: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()
             and "group or others" not in line]  # item 7's warning may come first
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("lotse: "), lines[0]
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def _stored_report(data: Path) -> None:
    from storage.report_store import ReportStore

    reports = ReportStore(data / "reports.db")
    reports.add("2026-10", "2026-10", "employee", 1, [("kind", "insult")])
    reports.close()


def _made(data: Path, broken: str, how: str) -> None:
    data.mkdir()
    _stored_report(data)
    target = data / broken
    if target.exists():
        target.unlink()
    if how == "garbage":
        target.write_bytes(b"this is not a database at all\n" * 100)
    elif how == "folder":
        target.mkdir()
    else:  # a damaged SQLite file: the header is right, the pages are not
        target.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4080)


@pytest.mark.parametrize("broken", ["reports.db", "state.db"])
@pytest.mark.parametrize("how", ["garbage", "folder", "damaged"])
def test_a_broken_database_is_one_line_and_left_as_it_is(tmp_path: Path, broken: str,
                                                         how: str) -> None:
    data = tmp_path / "data"
    _made(data, broken, how)
    before = _files(tmp_path)
    commands = [["purge"], ["chat"]] + ([["stats"]] if broken == "reports.db" else [])
    for command in commands:
        result = _lotse([*command, "--data-dir", str(data)], tmp_path,
                        {"LOTSE_SECRET": "s" * 32}, stdin="nein\n")
        _one_line(result, broken)
        assert _files(tmp_path) == before, command


def test_a_data_folder_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder")
    before = _files(tmp_path)
    for command in (["stats"], ["purge"], ["chat"]):
        result = _lotse([*command, "--data-dir", str(data)], tmp_path, stdin="nein\n")
        _one_line(result, str(data), "data_dir")
        assert _files(tmp_path) == before, command


def test_stats_and_purge_on_a_missing_data_folder_create_nothing(tmp_path: Path) -> None:
    data = tmp_path / "nowhere" / "data"
    for command in (["stats"], ["purge"]):
        result = _lotse([*command, "--data-dir", str(data)], tmp_path)
        _one_line(result, str(data), "data_dir")
        assert list(tmp_path.iterdir()) == [], command


def test_a_read_only_data_folder_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _stored_report(data)
    data.chmod(0o500)
    before = _files(tmp_path)
    for command in (["purge"], ["chat"]):
        result = _lotse([*command, "--data-dir", str(data)], tmp_path,
                        {"LOTSE_SECRET": "s" * 32}, as_reader=True, stdin="nein\n")
        _one_line(result, str(data), "chmod")
        assert _files(tmp_path) == before, command


def test_stats_reads_a_read_only_copy_of_reports_db(tmp_path: Path) -> None:
    data = tmp_path / "copy"
    data.mkdir()
    _stored_report(data)
    for path in (*data.iterdir(), data):
        path.chmod(0o500 if path.is_dir() else 0o400)
    before = _files(tmp_path)
    result = _lotse(["stats", "--data-dir", str(data), "--threshold", "3"], tmp_path,
                    as_reader=True)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "<3" in result.stdout, result.stdout
    assert _files(tmp_path) == before


@pytest.mark.parametrize("secret", ["short", ""])
def test_a_short_lotse_secret_or_malformed_secret_key_is_one_line(tmp_path: Path,
                                                                  secret: str) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    data.chmod(0o700)
    if not secret:  # no LOTSE_SECRET: the key file is read, and it is not one Lotse wrote
        key = data / "secret.key"
        key.write_text("not hex, and too short\n")
        key.chmod(0o600)
    before = _files(tmp_path)
    env = {"LOTSE_SECRET": secret} if secret else {}
    result = _lotse(["chat", "--data-dir", str(data)], tmp_path, env, stdin="nein\n")
    _one_line(result, "LOTSE_SECRET" if secret else "secret.key")
    assert _files(tmp_path) == before


def _page_damaged(path: Path, page: int) -> None:
    """Scribble over the start of one page (4096 bytes), as a failing disk might."""
    with path.open("r+b") as handle:
        handle.seek(4096 * (page - 1))
        handle.write(b"\xde\xad" * 1000)


@pytest.mark.parametrize("broken", ["reports.db", "state.db"])
def test_purge_on_a_damaged_page_does_not_report_success(tmp_path: Path, broken: str) -> None:
    """The page is one no DELETE of this month's purge reads: only SQLite's check finds it."""
    import sqlite3

    from storage import StateStore
    from storage.report_store import ReportStore

    data = tmp_path / "data"
    data.mkdir()
    reports = ReportStore(data / "reports.db")
    for i in range(400):
        reports.add(f"2026-{i % 12 + 1:02d}", None, "employee", 1,
                    [("kind", "insult"), ("channel", "phone"), ("motive", "racism")])
    reports.close()
    StateStore(data / "state.db").close()
    with contextlib.closing(sqlite3.connect(data / "state.db")) as conn:
        conn.execute("CREATE TABLE filler (x BLOB)")
        conn.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 500,)] * 400)
        conn.commit()
    _page_damaged(data / broken, 6)
    before = _files(tmp_path)
    result = _lotse(["purge", "--data-dir", str(data)], tmp_path, {"LOTSE_SECRET": "s" * 32})
    assert "deleted" not in result.stdout, result.stdout
    _one_line(result, broken, "damaged")
    assert _files(tmp_path) == before


def test_a_read_only_database_in_a_writable_folder_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    _stored_report(data)
    (data / "reports.db").chmod(0o400)
    before = _files(tmp_path)
    for command in (["purge"], ["chat"]):
        result = _lotse([*command, "--data-dir", str(data)], tmp_path,
                        {"LOTSE_SECRET": "s" * 32}, as_reader=True, stdin="nein\n")
        _one_line(result, "reports.db", "chmod 600")
        assert _files(tmp_path) == before, command


@pytest.mark.parametrize("command", [["run"], ["web", "--listen", "127.0.0.1:0"]])
def test_run_and_web_on_a_broken_database_are_one_line(tmp_path: Path,
                                                        command: list[str]) -> None:
    data = tmp_path / "data"
    _made(data, "state.db", "garbage")
    before = _files(tmp_path)
    result = _lotse([*command, "--data-dir", str(data)], tmp_path, {"LOTSE_SECRET": "s" * 32})
    _one_line(result, "state.db")
    assert _files(tmp_path) == before


def test_a_data_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    above = tmp_path / "above"
    above.mkdir()
    above.chmod(0o500)
    data = above / "lotse" / "data"
    for command in (["chat"], ["run"]):
        result = _lotse([*command, "--data-dir", str(data)], tmp_path,
                        {"LOTSE_SECRET": "s" * 32}, as_reader=True, stdin="nein\n")
        _one_line(result, str(data), "cannot be created", "data_dir")
        assert list(above.iterdir()) == [], command


def test_a_state_keys_that_is_a_folder_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "state.keys").mkdir()
    before = _files(tmp_path)
    result = _lotse(["chat", "--data-dir", str(data)], tmp_path, {"LOTSE_SECRET": "s" * 32},
                    stdin="nein\n")
    _one_line(result, "state.keys")
    assert _files(tmp_path) == before
