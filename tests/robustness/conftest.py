"""The robustness group: the `robustness` marker, hypothesis profiles, and the figures summary.

`pytest` runs a fast subset of every robustness test; `LOTSE_FULL_ROBUSTNESS=1 pytest -m
robustness` runs them at full size (see docs/robustness.md). Either way the figures are printed
at the end of the run.
"""

from __future__ import annotations

import pytest

from . import figures


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not figures.counts and not figures.maxima and not figures.notes:
        return
    write = terminalreporter.write_line
    terminalreporter.section("Lotse robustness figures"
                             + (" (full run)" if figures.FULL else " (fast subset)"))
    for name, value in sorted(figures.counts.items()):
        write(f"{name:<52} {value:>12,}")
    for name, top in sorted(figures.maxima.items()):
        write(f"{name:<52} {top:>12.3f}")
    for name, text in sorted(figures.notes.items()):
        write(f"{name:<52} {text}")
