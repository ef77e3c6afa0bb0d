"""`lotse check` on a generated 10,000-node flow (target <= 1 s): python bench/check_large.py

Wall-clock seconds as a user waits for them, over several runs of `python -m bot check`, with
the CPU seconds beside them. The runs use byte-compiled modules, as an installed Lotse does
(pip compiles them on install; this machine sets PYTHONDONTWRITEBYTECODE, under which every run
would compile our sources again). The breakdown times each stage once more, separately, in
this process.

This machine's speed changes by a factor of up to 1.7 within minutes (other guests on the same
host), so the script also prints a calibration (a fixed pure-Python loop: lower is faster).
Compare versions by runs interleaved with each other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.flows.checker import Sources, check, cross_check, text_resolver
from bot.flows.content import read_content
from bot.flows.flow_file import FlowReader
from bot.flows.problems import Problem
from bot.flows.shipped import shipped_content
from bot.flows.yaml_source import load_yaml


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
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.yaml"
        path.write_text(generate(args.nodes), encoding="utf-8")
        size = path.stat().st_size
        started, cpu = time.perf_counter(), time.process_time()
        result = check(Sources((path,), (shipped_content(),), complete=False))
        in_process = time.perf_counter() - started
        in_process_cpu = time.process_time() - cpu
        assert result.bundle is not None, [str(p) for p in result.errors[:5]]
        command = [sys.executable, "-m", "bot", "check", str(path)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        subprocess.run(command, capture_output=True, env=env, check=True)  # compiles
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu_s, code = _timed(command, env)
            walls.append(wall)
            cpus.append(cpu_s)
        stages = _stages(path)
    print(f"nodes                 {args.nodes:,} ({size:,} bytes)")
    print(f"calibration           {_calibration():.1f} µs (sum(range(1000)); lower is faster)")
    print(f"check, in process     {in_process:.3f} s (cpu {in_process_cpu:.3f} s)")
    print(f"lotse check, process  median {statistics.median(walls):.3f} s, best {min(walls):.3f} s"
          f" of {args.runs} (cpu median {statistics.median(cpus):.3f} s; exit {code}; "
          "interpreter start and imports included)")
    print("  stages (cpu s)      " + ", ".join(f"{name} {seconds:.3f}"
                                              for name, seconds in stages))


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    code = subprocess.run(command, capture_output=True, env=env).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, code


def _calibration() -> float:
    """Microseconds of a fixed pure-Python loop, best of five: the machine's speed now."""
    return min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6


def _stages(path: Path) -> list[tuple[str, float]]:
    """CPU seconds of each stage of the check, run once more."""
    problems: list[Problem] = []
    times: list[tuple[str, float]] = []
    cpu = time.process_time()
    content = read_content([shipped_content()], problems, dt.date.today())
    times.append(("content", time.process_time() - cpu))
    cpu = time.process_time()
    root = load_yaml(path, path.name, problems)
    times.append(("yaml", time.process_time() - cpu))
    assert root is not None
    cpu = time.process_time()
    flow_file = FlowReader(path.name, text_resolver(content, problems, set()),
                           problems).read(root)
    times.append(("flow reader", time.process_time() - cpu))
    assert flow_file is not None
    cpu = time.process_time()
    cross_check(content, [flow_file], problems)
    times.append(("cross-file checks", time.process_time() - cpu))
    return times


if __name__ == "__main__":
    main()
