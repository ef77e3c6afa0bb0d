"""`lotse check` and `lotse graph` as a content author uses them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
