"""`lotse check` on a generated 10,000-node flow (target <= 1 s): python bench/check_large.py

Wall-clock seconds as a user waits for them, and the CPU seconds of the checking process beside
them: on a machine shared with other work the CPU time is the steadier number. The breakdown
times each stage once more, separately, after the measured runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.content import read_content
from bot.flowfile import FlowReader
from bot.loader import Sources, _cross_check, _text_resolver, check
from bot.problems import Problem
from bot.resources import shipped_content
from bot.yamlsource import load_yaml


def generate(nodes: int) -> str:
    """A chain of questions, each with two choices, every third with a conditional branch."""
    lines = ["flow: large", "version: 1", "title: {de: Groß, en: Large}", "start: n0", "nodes:"]
    for i in range(nodes - 1):
        nxt = f"n{i + 1}"
        if i % 3 == 2:
            lines += [f"  n{i}:", "    next:", f"      - if: {{slot: n{i - 1}, is: a}}",
                      f"        then: {nxt}", f"      - else: {nxt}"]
            continue
        lines += [
            f"  n{i}:",
            f"    ask: {{de: Frage {i}?, en: Question {i}?}}",
            "    choices:",
            "      - id: a",
            "        label: {de: Erste, en: First}",
            f"        synonyms: {{de: [erste{i}], en: [first{i}]}}",
            "      - id: b",
            "        label: {de: Zweite, en: Second}",
            f"    next: {nxt}",
        ]
    lines += [f"  n{nodes - 1}:", "    say: {de: Ende, en: End}", "    end: true"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.yaml"
        path.write_text(generate(args.nodes), encoding="utf-8")
        started, cpu = time.perf_counter(), time.process_time()
        result = check(Sources((path,), (shipped_content(),), complete=False))
        in_process = time.perf_counter() - started
        in_process_cpu = time.process_time() - cpu
        assert result.bundle is not None, [str(p) for p in result.errors[:5]]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bot", "check", str(path)],
                              capture_output=True, text=True)
        whole = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        whole_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        stages = _stages(path)
    print(f"nodes                 {args.nodes:,}")
    print(f"file size             {path.stat().st_size if path.exists() else 0} (deleted)")
    print(f"check, in process     {in_process:.3f} s (cpu {in_process_cpu:.3f} s)")
    print(f"lotse check, process  {whole:.3f} s (cpu {whole_cpu:.3f} s; exit {proc.returncode}, "
          "interpreter start and imports included)")
    print("  stages (cpu s)      " + ", ".join(f"{name} {seconds:.3f}"
                                              for name, seconds in stages))


def _stages(path: Path) -> list[tuple[str, float]]:
    """CPU seconds of each stage of the check, run once more (collector paused, as in check)."""
    problems: list[Problem] = []
    times: list[tuple[str, float]] = []
    gc.disable()
    try:
        cpu = time.process_time()
        content = read_content([shipped_content()], problems, dt.date.today())
        times.append(("content", time.process_time() - cpu))
        cpu = time.process_time()
        root = load_yaml(path, path.name, problems)
        times.append(("yaml", time.process_time() - cpu))
        assert root is not None
        cpu = time.process_time()
        flow_file = FlowReader(path.name, _text_resolver(content, problems, set()),
                               problems).read(root)
        times.append(("flow reader", time.process_time() - cpu))
        assert flow_file is not None
        cpu = time.process_time()
        _cross_check(content, [flow_file], problems)
        times.append(("cross-file checks", time.process_time() - cpu))
    finally:
        gc.enable()
    return times


if __name__ == "__main__":
    main()
