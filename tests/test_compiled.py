"""Which modules run compiled: an installed wheel imports mypyc's builds, a checkout never.

CI runs the whole suite a second time against the wheel `pip install .` builds, with
LOTSE_EXPECT_COMPILED=1 (see .ci/run); there these tests make sure that run really tested the
compiled modules. In every other run they make sure the sources are what runs: a compiled
module left in the source tree would shadow every later change to its .py file.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
from pathlib import Path

import pytest

from .helpers import ROOT

EXPECT_COMPILED = os.environ.get("LOTSE_EXPECT_COMPILED") == "1"


def compiled_modules() -> list[str]:
    """The module names hatch_build.COMPILED lists (read without importing hatchling)."""
    tree = ast.parse((ROOT / "hatch_build.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "COMPILED"
                for target in node.targets):
            paths = ast.literal_eval(node.value)
            return [path.removesuffix(".py").replace("/", ".") for path in paths]
    raise AssertionError("hatch_build.py has no COMPILED")


@pytest.mark.parametrize("name", compiled_modules())
def test_a_listed_module_runs_compiled_exactly_when_installed_from_a_wheel(name: str) -> None:
    module = importlib.import_module(name)
    path = Path(module.__file__ or "")
    stem = name.rsplit(".", 1)[-1]
    is_extension = path.name.removeprefix(stem) in importlib.machinery.EXTENSION_SUFFIXES
    assert is_extension == EXPECT_COMPILED, (module.__file__, EXPECT_COMPILED)
    assert path.with_name(f"{stem}.py").is_file()  # the source ships beside it


def test_the_checkout_holds_no_compiled_module() -> None:
    left = [path for package in ("bot", "storage") if (ROOT / package).is_dir()
            for suffix in importlib.machinery.EXTENSION_SUFFIXES
            for path in (ROOT / package).rglob(f"*{suffix}")]
    assert left == []
