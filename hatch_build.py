"""Build hook: compile the modules Lotse spends its time in with mypyc, for wheels.

Why: checking a large flow and answering a turn are pure Python work spread over many small
values, and compiled by mypyc the same modules run a 10,000-node `lotse check` in about 35 %
fewer instructions and a turn in about 20 % less CPU time (bench/check_large.py,
bench/engine.py). The sources stay plain, type-checked Python; mypyc turns them into C
extension modules that sit beside the .py files in the wheel and are imported instead of them.

- Only a regular wheel (what `pip install .` builds) is compiled. An editable install stays
  pure Python, so that a change to a source file takes effect at once, as developers expect.
- The compiling happens in a temporary copy of the sources: nothing is written into the
  project folder, so running from a checkout never imports a compiled module of older code.
- Each module is its own extension, so the C compiler runs on every core (about 45 s on two).
- When compiling cannot be done (no C compiler, say), the wheel is built pure Python with a
  warning: Lotse then behaves the same, only slower. LOTSE_PURE=1 asks for that on purpose.
- A compiled class cannot be subclassed by interpreted code, so storage/ (whose StateStore the
  tests and benchmarks extend) stays pure Python; it waits on SQLite more than it computes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COMPILED = (
    # lotse check
    "bot/yamlplain.py",
    "bot/yamlevents.py",
    "bot/yamlsource.py",
    "bot/flowfile.py",
    "bot/flowmodel.py",
    "bot/loader.py",
    "bot/content.py",
    "bot/problems.py",
    "bot/markup.py",
    "bot/collector.py",
    # a conversation turn
    "bot/engine.py",
    "bot/conversation.py",
    "bot/answers.py",
    "bot/commands.py",
    "bot/texts.py",
    "bot/service.py",
)
"""The modules compiled (tests/test_compiled.py checks which run compiled; CI runs the whole
suite against them)."""

_SETUP = """\
import sys
from mypyc.build import mypycify
from setuptools import setup

setup(name="lotse-compiled", script_args=["build_ext", "--inplace", "--parallel", "{cores}"],
      ext_modules=mypycify(["--ignore-missing-imports", *sys.argv[1:]], opt_level="3",
                           debug_level="0", separate=True))
"""
"""Third-party packages are not installed where the wheel is built, so mypy takes their types
as unknown (Any): the compiled code then calls them as Python does."""


class CompileHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._folder: str | None = None
        if self.target_name != "wheel" or version == "editable" \
                or os.environ.get("LOTSE_PURE") == "1":
            return
        self._folder = tempfile.mkdtemp(prefix="lotse-mypyc-")
        try:
            built = _compile(Path(self.root), Path(self._folder))
        except (OSError, subprocess.CalledProcessError) as error:
            output = getattr(error, "stdout", "") or ""
            self.app.display_warning(
                "Lotse: compiling with mypyc did not work, so this wheel is pure Python "
                f"(the same behaviour, only slower): {error}\n{output[-3000:]}")
            return
        self.app.display_info(f"Lotse: compiled {len(built)} extension modules with mypyc")
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"].update(built)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def _compile(root: Path, folder: Path) -> dict[str, str]:
    """Compile COMPILED in a copy under `folder`; {built file: its path in the wheel}."""
    for package in ("bot", "storage"):
        shutil.copytree(root / package, folder / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.so", "_shipped"))
    setup = _SETUP.replace("{cores}", str(os.cpu_count() or 1))
    (folder / "setup_mypyc.py").write_text(setup, encoding="utf-8")
    subprocess.run([sys.executable, "setup_mypyc.py", *COMPILED], cwd=folder, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    built = {str(path): path.relative_to(folder).as_posix()
             for path in [*folder.glob("*.so"), *folder.glob("*/*.so"),
                          *folder.glob("*.pyd"), *folder.glob("*/*.pyd")]}
    expected = {name.removesuffix(".py") for name in COMPILED}
    found = {name.split(".")[0] for name in built.values()}
    if not expected <= found:
        raise OSError(f"mypyc built {sorted(found)}, not all of {sorted(expected)}")
    return built
