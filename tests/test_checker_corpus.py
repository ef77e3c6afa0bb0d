"""Broken flow and content files, each with the exact message and place `lotse check` must give.

A corpus file states what it expects in comment lines at its top:

    # expect: 7:5: unknown key 'nxt' in node 'danger'

(line:col: and a part of the message). Flow files are checked with the shipped content; a content
file names where it goes inside a copy of the shipped content with `# place: de/extra.yaml`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.flows.checker import Sources, check
from bot.flows.shipped import shipped_content, shipped_flows

CORPUS = Path(__file__).parent / "corpus"
_EXPECT = re.compile(r"#\s*expect:\s*(\d+):(\d+):\s*(.+?)\s*$")
_PLACE = re.compile(r"#\s*place:\s*(\S+)")


def _expectations(path: Path) -> list[tuple[int, int, str]]:
    head = path.read_bytes()[:4000].decode("utf-8", "replace").lstrip("\ufeff")
    found = [(int(m.group(1)), int(m.group(2)), m.group(3))
             for m in map(_EXPECT.match, head.splitlines()) if m]
    assert found, f"{path.name} states no '# expect:' line"
    return found


def _cases(folder: str) -> list[Path]:
    return sorted((CORPUS / folder).glob("*.yaml"))


def _assert_reported(problems: list[str], file_name: str,
                     expected: list[tuple[int, int, str]]) -> None:
    for line, col, message in expected:
        wanted = f"{file_name}:{line}:{col}: "
        assert any(p.split(wanted, 1)[-1].startswith(message) or (wanted in p and message in p)
                   for p in problems if wanted in p), (
            f"expected {wanted}{message}\n got:\n" + "\n".join(problems))


@pytest.mark.parametrize("case", _cases("flows"), ids=lambda p: p.stem)
def test_broken_flow_is_refused_with_exact_place_and_message(case: Path, tmp_path: Path) -> None:
    copy = tmp_path / case.name
    shutil.copyfile(case, copy)
    result = check(Sources((copy,), (shipped_content(),)))
    assert result.bundle is None
    problems = [str(p) for p in result.errors]
    _assert_reported(problems, copy.name, _expectations(case))


@pytest.mark.parametrize("case", _cases("content"), ids=lambda p: p.stem)
def test_broken_content_is_refused_with_exact_place_and_message(case: Path,
                                                                tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(shipped_content(), content)
    head = case.read_bytes()[:2000].decode("utf-8", "replace")
    place = _PLACE.search(head)
    assert place, f"{case.name} states no '# place:' line"
    target = content / place.group(1)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(case, target)
    flows = tuple(sorted(shipped_flows().glob("*.yaml")))
    result = check(Sources(flows, (content,)))
    assert result.bundle is None
    problems = [str(p) for p in result.errors]
    _assert_reported(problems, target.name, _expectations(case))
