"""The situation report's charts (matplotlib): readable in black and white and with any colour
vision. Two colours of the Okabe-Ito palette that differ in lightness too, the previous period
hatched, every bar labelled with its number, no legend to match colours against. A hidden cell
is never drawn: where it would be, the chart says "<5" at the baseline, as the table does.
"""

from __future__ import annotations

import io
from typing import Any

from bot.reports.situation import Section, Situation
from bot.reports.stats import TOTAL, Table

BLUE = "#0072B2"
ORANGE = "#E69F00"
INK = "#141414"
MM = 1 / 25.4


def bar(table: Table | None, row: str) -> int | None:
    """The height a chart may draw for a cell: None where it is hidden (or not covered)."""
    if table is None or (row, TOTAL) in table.hidden:
        return None
    return table.counts.get((row, TOTAL), 0)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.family": "DejaVu Sans",
                         "hatch.color": INK, "hatch.linewidth": 0.6})
    return plt


def _save(figure: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    figure.savefig(out, format=fmt, dpi=220, metadata=metadata)
    _pyplot().close(figure)
    return out.getvalue()


TREND_HEIGHT = 54.0
"""The trend chart's height in mm (170 mm wide): with every field's table, two pages."""
BAR_ROW = 3.7
"""A bar's row in a field's chart, in mm: about a table row, so chart and table end together."""


def field_height(rows: int) -> float:
    """A field chart's height in mm."""
    return rows * BAR_ROW + 3


def trend_chart(situation: Situation, fmt: str) -> bytes:
    return _save(trend_figure(situation), fmt)


def field_chart(section: Section, fmt: str) -> bytes:
    return _save(field_figure(section), fmt)


def trend_figure(situation: Situation) -> Any:
    """Columns per month: the period solid, the previous period hatched beside it."""
    plt = _pyplot()
    words = situation.words
    months = situation.period.months
    before = situation.period.previous().months
    series = [(words("trend_current"), situation.trend, months, BLUE, "")]
    if situation.previous is not None:
        series.append((words("trend_previous"), situation.previous, before, ORANGE, "////"))
    figure, axes = plt.subplots(figsize=(170 * MM, TREND_HEIGHT * MM))
    width = 0.8 / len(series)
    top = max([1, *(bar(t, m) or 0 for _, t, ms, _, _ in series for m in ms)])
    for index, (name, table, which, colour, hatch) in enumerate(series):
        xs = [x + (index - (len(series) - 1) / 2) * width for x in range(len(which))]
        heights = [bar(table, m) for m in which]
        axes.bar(xs, [h or 0 for h in heights], width * 0.92, color=colour, hatch=hatch,
                 edgecolor=INK, linewidth=0.6, label=name)
        for x, month, height in zip(xs, which, heights, strict=True):
            axes.annotate(table.shown(month, TOTAL), (x, height or 0), ha="center",
                          va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points",
                          color=INK)
    axes.set_xticks(range(len(months)), [words.month(m).split()[0] for m in months],
                    fontsize=7.5)
    axes.set_ylim(0, top * 1.22)
    axes.spines[["top", "right", "left"]].set_visible(False)
    axes.set_yticks([])
    axes.legend(frameon=False, fontsize=7.5, loc="upper left", ncols=2,
                bbox_to_anchor=(0, 1.12))
    figure.tight_layout(pad=0.3)
    return figure


def field_figure(section: Section) -> Any:
    """One bar per category, labelled with its number; hidden ones show "<5" and no bar."""
    plt = _pyplot()
    rows = list(section.rows)
    figure, axes = plt.subplots(figsize=(80 * MM, field_height(len(rows)) * MM))
    heights = [bar(section.table, r) for r in rows]
    top = max([1, *(h or 0 for h in heights)])
    ys = list(range(len(rows)))[::-1]
    axes.barh(ys, [h or 0 for h in heights], 0.7, color=BLUE, edgecolor=INK, linewidth=0.5)
    for y, row, height in zip(ys, rows, heights, strict=True):
        axes.annotate(section.shown(row), (height or 0, y), va="center", fontsize=6.5,
                      xytext=(2, 0), textcoords="offset points", color=INK)
    axes.set_yticks(ys, [_short(section.labels[r]) for r in rows], fontsize=6.5)
    axes.set_xlim(0, top * 1.18)
    axes.set_xticks([])
    axes.spines[["top", "right", "bottom"]].set_visible(False)
    figure.tight_layout(pad=0.2)
    return figure


def _short(label: str, width: int = 30) -> str:
    return label if len(label) <= width else label[: width - 1].rstrip() + "…"
