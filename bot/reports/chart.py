"""Incidents per month as a stacked bar chart, for a slide. Suppressed cells are not drawn.

matplotlib is optional (`pip install 'lotse[charts]'`); it is imported only when a chart is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.flows.model import Bundle
from bot.reports.stats import TOTAL, Table
from storage.report_store import StoredReport


def draw(table: Table, path: Path, title: str, labels: Mapping[str, str],
         note: str) -> None:
    """Write `table` (rows: months, columns: a field) as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    months = [r for r in table.rows if r != TOTAL]
    columns = [c for c in table.columns if c != TOTAL] or [TOTAL]
    figure, axes = plt.subplots(figsize=(10, 5.6), dpi=150)
    bottoms = [0] * len(months)
    colours = plt.get_cmap("tab10")
    for index, column in enumerate(columns):
        heights = [0 if (m, column) in table.hidden else table.counts.get((m, column), 0)
                   for m in months]
        if not any(heights):
            continue  # every value of it is hidden: no legend entry for nothing
        axes.bar(months, heights, bottom=bottoms, label=labels.get(column, column),
                 color=colours(index % 10), edgecolor="white", linewidth=0.6)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    # What small numbers add up to, where the month's total is shown: one grey segment, so the
    # bar is as high as its total without showing any suppressed cell on its own.
    rest = [table.counts.get((m, TOTAL), 0) - b if (m, TOTAL) not in table.hidden else 0
            for m, b in zip(months, bottoms, strict=True)]
    if any(rest):
        axes.bar(months, rest, bottom=bottoms, label=labels.get("__small__", "small numbers"),
                 color="#d9d9d9", hatch="///", edgecolor="white", linewidth=0.6)
        bottoms = [b + r for b, r in zip(bottoms, rest, strict=True)]
    for x, month in enumerate(months):
        axes.annotate(table.shown(month, TOTAL), (x, bottoms[x]), ha="center", va="bottom",
                      fontsize=11, fontweight="bold", xytext=(0, 3), textcoords="offset points")
    axes.set_title(title, fontsize=16, loc="left", pad=14)
    axes.spines[["top", "right"]].set_visible(False)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=11)
    axes.set_ylim(0, max([*bottoms, 1]) * 1.18)
    if len(columns) > 1 or columns[0] != TOTAL:
        axes.legend(frameon=False, fontsize=10, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.text(0.01, 0.01, note, fontsize=9, color="#555555")
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path)
    plt.close(figure)


def draw_months(stored: Sequence[StoredReport], field: str, threshold: int, lang: str,
                path: Path, bundle: Bundle | None) -> None:
    """Incidents per month by `field`, suppressed as `lotse stats` suppresses them, with the
    city's labels for the answers (when its flows are sound) and the words from content."""
    from bot.reports import stats

    labels: dict[str, str] = {}
    if bundle is not None:
        for values in bundle.choice_labels.values():
            labels.update({v: text[lang] for v, text in values.items()})
    words = {key: bundle.text(f"chart.{key}", lang) if bundle else key
             for key in ("title", "total", "small", "note")}
    table = stats.crosstab(list(stored), ["month", field] if field != "month" else ["month"],
                           threshold)
    draw(table, path, words["title"],
         {**labels, stats.TOTAL: words["total"], "__small__": words["small"]},
         words["note"].replace("{threshold}", str(threshold)))
