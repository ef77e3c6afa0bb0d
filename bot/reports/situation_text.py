"""The sentences of the situation report, the same for its HTML and its PDF."""

from __future__ import annotations

from bot.reports.situation import Section, Situation
from bot.reports.stats import TOTAL


def heading(s: Situation) -> str:
    words = s.words
    period = (words.month(s.period.first) if s.period.first == s.period.last else
              words("period", first=words.month(s.period.first),
                    last=words.month(s.period.last)))
    if s.pooled:
        return words("network", count=len(s.places), places=", ".join(s.places), period=period)
    return words("place", place=s.places[0] if s.places and s.places[0] else "Lotse",
                 period=period)


def created(s: Situation) -> str:
    return s.words("created", date=s.created.isoformat())


def headline(s: Situation) -> list[tuple[str, str, str]]:
    """(what, the number, what it means) for each headline figure."""
    words = s.words
    hidden_why = words("hidden_why", threshold=s.threshold)
    shown = s.total if s.total.isdigit() else words("hidden")
    lines = [(words("reports"), shown, "" if s.total.isdigit() else hidden_why)]
    before = s.period.previous()
    change = s.change()
    if s.previous is None:
        lines.append((words("change"), words("hidden"), words("uncovered")))
    elif change is None:
        lines.append((words("change"), words("hidden"), hidden_why))
    else:
        difference, percent = change
        value = f"{difference:+d}" + ("" if percent is None else f" ({percent:+d} %)")
        detail = (words("change_none") if s.previous_total() == "0" else
                  words("change_detail", previous=s.previous_total(),
                        first=words.month(before.first), last=words.month(before.last)))
        lines.append((words("change"), value, detail))
    for key, share in s.shares.items():
        if share is None:
            lines.append((words(key), words("hidden"), hidden_why))
        elif not share.total:
            lines.append((words(key), "–", words("share_detail", count=0, total=0)))
        else:
            lines.append((words(key), f"{share.percent} %",
                          words("share_detail", count=share.count, total=share.total)))
    return lines


def notes(s: Situation, section: Section) -> list[str]:
    words = s.words
    out = []
    if section.several:
        out.append(words("several"))
    out.extend(f"{section.labels[r]}: {words('removed')}" for r in section.rows
               if r in section.removed)
    return out


def methods(s: Situation) -> list[str]:
    words = s.words
    out = [words("methods_voluntary"), words("methods_counted"),
           words("methods_suppression", threshold=s.threshold), words("methods_zero")]
    if s.versions:
        out.append(words("methods_versions", versions=", ".join(
            v.replace("_v", " v") for v in s.versions)))
    if len({v.rsplit("_v", 1)[0] for v in s.versions}) < len(s.versions):
        out.append(words("methods_versions_changed"))
    if s.pooled:
        out.append(words("methods_combined", count=len(s.places), threshold=s.threshold))
    if s.not_asked:
        out.append(words("not_asked", fields=", ".join(s.not_asked)))
    return out


def trend_rows(s: Situation) -> list[tuple[str, str, str]]:
    """(month, count, the previous period's count in the same place) per month."""
    before = s.period.previous().months
    return [(s.words.month(m), s.trend.shown(m, TOTAL),
             "" if s.previous is None else s.previous.shown(b, TOTAL))
            for m, b in zip(s.period.months, before, strict=True)]


def alt_trend(s: Situation) -> str:
    values = "; ".join(f"{m} {now}" + (f" / {then}" if then else "")
                       for m, now, then in trend_rows(s))
    return s.words("trend_alt", values=values)


def alt_field(s: Situation, section: Section) -> str:
    values = "; ".join(f"{section.labels[r]} {section.shown(r)}" for r in section.rows)
    return s.words("field_alt", field=section.label, values=values)
