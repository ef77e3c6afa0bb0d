"""`lotse check` on a generated 10,000-node flow (target <= 1 s): python bench/check_large.py"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.loader import Sources, check
from bot.resources import shipped_content


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
        started = time.perf_counter()
        result = check(Sources((path,), (shipped_content(),), complete=False))
        in_process = time.perf_counter() - started
        assert result.bundle is not None, [str(p) for p in result.errors[:5]]
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bot", "check", str(path)],
                              capture_output=True, text=True)
        whole = time.perf_counter() - started
    print(f"nodes                 {args.nodes:,}")
    print(f"file size             {path.stat().st_size if path.exists() else 0} (deleted)")
    print(f"check, in process     {in_process:.3f} s")
    print(f"lotse check, process  {whole:.3f} s (exit {proc.returncode}, interpreter start "
          "included)")


if __name__ == "__main__":
    main()
