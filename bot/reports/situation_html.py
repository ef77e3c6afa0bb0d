"""The situation report as one self-contained HTML file: inline CSS, charts as inline SVG, no
script, no link to anything, so that it opens offline and leaks nothing when opened."""

from __future__ import annotations

import re
from html import escape

from bot.reports import situation_text as say
from bot.reports.situation import Situation
from bot.reports.situation_charts import field_chart, trend_chart
from bot.reports.stats import TOTAL

CSS = """
body{font-family:"DejaVu Sans",Verdana,sans-serif;color:#141414;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin:0}h2{font-size:1.2rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #999}
h3{font-size:1rem;margin:1.2rem 0 .3rem}.sub{margin:.2rem 0;color:#444}
.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.8rem;margin:0}
.glance div{border:1px solid #999;padding:.6rem}.glance dt{font-size:.85rem}
.glance dd{margin:0;font-size:1.5rem;font-weight:bold}.glance dd small{display:block;
font-size:.8rem;font-weight:normal;color:#444}
.field{display:grid;grid-template-columns:minmax(14rem,1fr) minmax(14rem,1fr);gap:1rem;
align-items:start}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{padding:.15rem .4rem;border-bottom:1px solid #ccc;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:bold;
border-top:1px solid #444}svg{max-width:100%;height:auto}.note{font-size:.8rem;color:#444}
.methods{border:2px solid #141414;padding:.4rem 1rem;margin-top:1.6rem}
"""


def _svg(data: bytes, label: str) -> str:
    """matplotlib's SVG inline, with its XML prologue dropped and a label for screen readers."""
    text = data.decode("utf-8")
    text = text[text.index("<svg"):]
    opening = f'<svg style="width:100%;height:auto" role="img" aria-label="{escape(label)}"'
    return re.sub(r"<svg\b", opening, text, count=1)


def render(s: Situation) -> str:
    words = s.words
    title = words("title")
    out = [f'<!DOCTYPE html>\n<html lang="{words.lang}">\n<head>\n<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{escape(title)} – {escape(say.heading(s))}</title>",
           f"<style>{CSS}</style>\n</head>\n<body>",
           f"<header><h1>{escape(title)}</h1>",
           f'<p class="sub">{escape(say.heading(s))}</p>',
           f'<p class="sub">{escape(say.created(s))}</p></header>',
           f"<h2>{escape(words('glance'))}</h2>", '<dl class="glance">']
    for what, value, detail in say.headline(s):
        out.append(f"<div><dt>{escape(what)}</dt><dd>{escape(value)}"
                   f"<small>{escape(detail)}</small></dd></div>")
    out.append("</dl>")
    out.append(f"<h2>{escape(words('trend'))}</h2>")
    out.append(_svg(trend_chart(s, "svg"), say.alt_trend(s)))
    out.append(f'<table><thead><tr><th>{escape(words("month"))}</th>'
               f'<th class="n">{escape(words("trend_current"))}</th>'
               + (f'<th class="n">{escape(words("trend_previous"))}</th>'
                  if s.previous is not None else "") + "</tr></thead><tbody>")
    for month, now, then in say.trend_rows(s):
        out.append(f'<tr><td>{escape(month)}</td><td class="n">{escape(now)}</td>'
                   + (f'<td class="n">{escape(then)}</td>' if s.previous is not None else "")
                   + "</tr>")
    out.append("</tbody></table>")
    for section in s.sections:
        out.append(f"<h2>{escape(section.label)}</h2>")
        out.append('<div class="field"><div><table><thead><tr>'
                   f'<th>{escape(words("category"))}</th>'
                   f'<th class="n">{escape(words("count"))}</th></tr></thead><tbody>')
        for row in section.rows:
            out.append(f'<tr><td>{escape(section.labels[row])}</td>'
                       f'<td class="n">{escape(section.shown(row))}</td></tr>')
        out.append(f'<tr class="total"><td>{escape(words("total"))}</td>'
                   f'<td class="n">{escape(section.table.shown(TOTAL, TOTAL))}</td></tr>'
                   "</tbody></table>")
        out.extend(f'<p class="note">{escape(note)}</p>' for note in say.notes(s, section))
        out.append("</div>" + _svg(field_chart(section, "svg"), say.alt_field(s, section))
                   + "</div>")
    out.append(f'<p class="note">{escape(words("hidden_legend", threshold=s.threshold))}</p>')
    out.append(f'<section class="methods"><h2>{escape(words("methods"))}</h2>')
    out.extend(f"<p>{escape(line)}</p>" for line in say.methods(s))
    out.append("</section>\n</body>\n</html>\n")
    return "\n".join(out)
