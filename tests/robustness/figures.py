"""The robustness run's figures, collected by the tests and printed at the end of the run.

A plain module-level table, not a fixture: the terminal summary hook in this folder's conftest
reads it after the last test, so the numbers can be compared from one version to the next.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

FULL = os.environ.get("LOTSE_FULL_ROBUSTNESS", "") not in ("", "0")
"""The full run (LOTSE_FULL_ROBUSTNESS=1): the sizes the issue asks for. Otherwise a fast subset."""

counts: Counter[str] = Counter()
"""Summed figures: steps fuzzed, kills survived, files rejected, canaries found, …"""
maxima: dict[str, float] = {}
"""Largest values seen: the slowest `lotse check` of a broken file, in seconds, …"""
notes: dict[str, str] = {}
"""Free-form figures that are neither sums nor maxima."""


def count(name: str, n: int = 1) -> None:
    counts[name] += n


def at_least(name: str, value: float) -> None:
    maxima[name] = max(maxima.get(name, value), value)


def scaled(fast: int, full: int) -> int:
    """`fast` in the normal test run, `full` in the full robustness run."""
    return full if FULL else fast


def fuzz_settings(examples: int) -> settings:
    """No deadline (a 100 kB message is slow to generate, not to answer), no slowness checks."""
    return settings(max_examples=examples, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])
