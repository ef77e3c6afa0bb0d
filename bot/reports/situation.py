"""The situation report ("Lagebild") as numbers and words, before it becomes HTML or a PDF.

Everything a reader sees is decided here, once, for both formats: which numbers are shown and
which are "<5" (by `bot.reports.stats`, never a rule of our own), what the fields and categories
are called (the flows' own labels), and the words around them (content/*/situation.yaml).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.flows.model import Ask, Bundle, ReportStep
from bot.reports.period import Period
from bot.reports.pooled import VERSION_FIELD, Counts
from bot.reports.stats import TOTAL, Table

HEADLINE = {"police": "police_informed", "supervisor": "supervisor_knows"}
"""Headline shares: the report field whose answer "yes" is counted."""
YES = "yes"


class Words:
    """The report's words in one language: `system.situation.*` from the content folders, so
    that a city's own content layer can reword them like any other text."""

    def __init__(self, texts: Mapping[str, str], lang: str) -> None:
        self.texts = texts
        self.lang = lang

    @classmethod
    def read(cls, folders: tuple[Path, ...], lang: str) -> Words:
        from bot.flows.content import read_content

        content = read_content(list(folders), [], dt.date.today())
        prefix = "system.situation."
        texts = {key[len(prefix):]: source.text
                 for key, source in content.texts.get(lang, {}).items()
                 if key.startswith(prefix)}
        return cls(texts, lang)

    def __call__(self, key: str, **values: object) -> str:
        try:
            text = self.texts[key]
        except KeyError:
            raise LookupError(f"the text 'system.situation.{key}' is missing in language "
                              f"'{self.lang}'; add it to content/{self.lang}/situation.yaml"
                              ) from None
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def month(self, month: str) -> str:
        names = self("months").split()
        return f"{names[int(month[5:]) - 1]} {month[:4]}"


@dataclass(frozen=True)
class Section:
    """One field's table: its categories in the flow's order, then any the flow lost."""

    field: str
    label: str
    table: Table
    rows: tuple[str, ...]
    labels: Mapping[str, str]
    removed: frozenset[str]
    several: bool

    def shown(self, row: str) -> str:
        return self.table.shown(row, TOTAL)


@dataclass(frozen=True)
class Share:
    count: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.count / self.total) if self.total else 0


@dataclass(frozen=True)
class Situation:
    words: Words
    places: tuple[str, ...]
    pooled: bool
    period: Period
    threshold: int
    trend: Table
    previous: Table | None
    """The previous period's trend, None where the exports do not cover it."""
    sections: tuple[Section, ...]
    shares: Mapping[str, Share | None]
    """A headline share; None where a count or the total is hidden."""
    not_asked: tuple[str, ...]
    versions: tuple[str, ...]
    created: dt.date

    @property
    def total(self) -> str:
        return self.trend.shown(TOTAL, TOTAL)

    def previous_total(self) -> str | None:
        return None if self.previous is None else self.previous.shown(TOTAL, TOTAL)

    def change(self) -> tuple[int, int | None] | None:
        """The difference to the previous period and the percentage (None from zero); None
        when either total is hidden or not covered."""
        now, before = self.total, self.previous_total()
        if before is None or not now.isdigit() or not before.isdigit():
            return None
        difference = int(now) - int(before)
        return difference, (round(100 * difference / int(before)) if int(before) else None)


class Catalogue:
    """What the flows say about report fields: their order and labels, the categories' order
    and labels, and which fields take several answers."""

    def __init__(self, bundle: Bundle | None, lang: str) -> None:
        self.fields: dict[str, str] = {}
        self.choices: dict[str, dict[str, str]] = {}
        self.several: set[str] = set()
        if bundle is None:
            return
        for flow in bundle.flows.values():
            for node in flow.nodes.values():
                if isinstance(node, ReportStep):
                    for item in node.fields:
                        self.fields.setdefault(item.slot, item.label.get(lang, item.slot))
                elif isinstance(node, Ask) and node.multiple:
                    self.several.add(node.slot)
        for slot, values in bundle.choice_labels.items():
            self.choices[slot] = {v: text.get(lang, v) for v, text in values.items()}


def build(counts: Counts, period: Period, catalogue: Catalogue, words: Words,
          created: dt.date) -> Situation:
    fields = list(catalogue.fields) + [f for f in counts.fields() if f not in catalogue.fields]
    sections = tuple(_section(counts, period, name, catalogue, words) for name in fields)
    shares: dict[str, Share | None] = {}
    not_asked = []
    for key, name in HEADLINE.items():
        section = next((s for s in sections if s.field == name), None)
        if section is None:
            not_asked.append(words(key))
            continue
        yes, total = section.shown(YES), section.table.shown(TOTAL, TOTAL)
        shares[key] = Share(int(yes), int(total)) if yes.isdigit() and total.isdigit() else None
    versions = counts.table(period, VERSION_FIELD)
    previous = period.previous()
    return Situation(words, counts.places, len(counts.places) > 1, period, counts.threshold,
                     counts.trend(period),
                     counts.trend(previous) if counts.covers(previous) else None,
                     sections, shares, tuple(not_asked),
                     tuple(r for r in versions.rows if r != TOTAL), created)


def _section(counts: Counts, period: Period, name: str, catalogue: Catalogue,
             words: Words) -> Section:
    table = counts.table(period, name)
    offered = catalogue.choices.get(name, {})
    seen = [r for r in table.rows if r != TOTAL]
    rows = tuple(dict.fromkeys([*offered, *seen]))
    labels = {**{r: r for r in rows}, **offered}
    if "unknown" not in offered:
        labels["unknown"] = words("not_answered")
    removed = frozenset(r for r in seen if r not in offered and r != "unknown")
    return Section(name, catalogue.fields.get(name, name), table, rows, labels, removed,
                   name in catalogue.several)
