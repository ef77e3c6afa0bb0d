"""The situation report as a PDF for the mayor's desk: real text in the house style of Lotse's
documents (bot.documents.pdf), a title and a language in the metadata, each chart beside the
table it draws and described in its alternative text."""

from __future__ import annotations

import datetime as dt
import io

from fpdf.enums import XPos, YPos

from bot.documents.pdf import INK, MUTED, Sheet, printable
from bot.reports import situation_text as say
from bot.reports.situation import Section, Situation
from bot.reports.situation_charts import TREND_HEIGHT, field_chart, field_height, trend_chart
from bot.reports.stats import TOTAL

ROW = 3.6
TABLE_WIDTH = 90.0
COUNT_WIDTH = 16.0


def render(s: Situation) -> bytes:
    words = s.words
    created = dt.datetime.combine(s.created, dt.time(), tzinfo=dt.UTC)
    pdf = Sheet(f"{words('title')} – {say.heading(s)}", words.lang, created)
    pdf.sheet_title = printable(words("title"))  # the foot of a page: the title alone fits
    pdf.set_margins(left=18, top=14, right=18)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.font(15, bold=True)
    pdf.paragraph(words("title"), 7)
    pdf.font(9.5)
    pdf.paragraph(say.heading(s), 5)
    pdf.font(7.5, color=MUTED)
    pdf.paragraph(say.created(s), 4)
    pdf.ln(2)
    _glance(pdf, s)
    _heading(pdf, words("trend"))
    image = trend_chart(s, "png")
    pdf.image(io.BytesIO(image), x=pdf.l_margin, w=pdf.epw, h=pdf.epw * TREND_HEIGHT / 170,
              alt_text=say.alt_trend(s))
    _trend_table(pdf, s)
    for section in s.sections:
        _section(pdf, s, section)
    pdf.font(7, color=MUTED)
    pdf.paragraph(words("hidden_legend", threshold=s.threshold), 3.4)
    _methods(pdf, s)
    return pdf.finish()


def _heading(pdf: Sheet, text: str, needed: float = 20) -> None:
    pdf.keep(needed)
    pdf.ln(1.5)
    pdf.font(10, bold=True)
    pdf.paragraph(text, 4.6)
    pdf.ln(0.3)


def _glance(pdf: Sheet, s: Situation) -> None:
    """The headline figures in boxes of one height, as tall as the fullest needs."""
    lines = say.headline(s)
    width = pdf.epw / len(lines)
    parts = [[(what, 7.5, False, 3.4), (value, 13 if value[:1].isdigit() or value[:1] in "+-"
                                         else 10, True, 5.5), (detail, 6.5, False, 3)]
             for what, value, detail in lines]
    height = max(sum(_lines(pdf, text, size, bold, width - 4) * step
                     for text, size, bold, step in box) for box in parts) + 3
    top = pdf.get_y()
    for index, box in enumerate(parts):
        x = pdf.l_margin + index * width
        pdf.set_draw_color(120, 120, 120)
        pdf.rect(x + 0.5, top, width - 1, height)
        pdf.set_xy(x + 2, top + 1.5)
        for text, size, bold, step in box:
            pdf.font(size, bold=bold, color=MUTED if size < 7 else INK)
            pdf.multi_cell(width - 4, step, printable(text), align="L", new_x=XPos.LEFT,
                           new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin, top + height + 1)


def _lines(pdf: Sheet, text: str, size: float, bold: bool, width: float) -> int:
    pdf.font(size, bold=bold)
    found = pdf.multi_cell(width, 1, printable(text), dry_run=True, output="LINES")
    assert isinstance(found, list)
    return len(found)


def _trend_table(pdf: Sheet, s: Situation) -> None:
    rows = say.trend_rows(s)
    words = s.words
    first = 26.0
    width = (pdf.epw - first) / max(len(rows), 1)
    lines = [("", [m.split()[0] for m, _, _ in rows]),
             (words("trend_current"), [now for _, now, _ in rows])]
    if s.previous is not None:
        lines.append((words("trend_previous"), [then for _, _, then in rows]))
    for index, (label, cells) in enumerate(lines):
        pdf.font(7, bold=index == 0)
        pdf.cell(first, ROW, printable(label))
        for cell in cells:
            pdf.cell(width, ROW, printable(cell), align="R")
        pdf.ln(ROW)


def _section(pdf: Sheet, s: Situation, section: Section) -> None:
    notes = say.notes(s, section)
    height = (len(section.rows) + 2) * ROW + len(notes) * 6
    _heading(pdf, section.label, needed=height + 10)
    top = pdf.get_y()
    pdf.image(io.BytesIO(field_chart(section, "png")), x=pdf.l_margin + TABLE_WIDTH + 4,
              y=top, w=80, h=field_height(len(section.rows)),
              alt_text=say.alt_field(s, section))
    pdf.set_xy(pdf.l_margin, top)
    words = s.words
    _row(pdf, words("category"), words("count"), bold=True)
    for row in section.rows:
        _row(pdf, section.labels[row], section.shown(row))
    pdf.set_draw_color(120, 120, 120)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + TABLE_WIDTH, pdf.get_y())
    _row(pdf, words("total"), section.table.shown(TOTAL, TOTAL), bold=True)
    for note in notes:
        pdf.font(6.5, color=MUTED)
        pdf.multi_cell(TABLE_WIDTH, 3, printable(note), align="L", new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
    chart_bottom = top + field_height(len(section.rows))
    pdf.set_y(max(pdf.get_y(), chart_bottom))


def _row(pdf: Sheet, label: str, count: str, bold: bool = False) -> None:
    """A label too long for its line is shortened; the HTML file gives it in full."""
    pdf.font(7.5, bold=bold)
    room = TABLE_WIDTH - COUNT_WIDTH - 2
    text = printable(label)
    while pdf.get_string_width(text) > room and len(text) > 4:
        text = text[:-2].rstrip() + "…"
    pdf.cell(TABLE_WIDTH - COUNT_WIDTH, ROW, text)
    pdf.cell(COUNT_WIDTH, ROW, printable(count), align="R", new_x=XPos.LMARGIN,
             new_y=YPos.NEXT)


def _methods(pdf: Sheet, s: Situation) -> None:
    lines = say.methods(s)
    pdf.font(7)
    height = sum(pdf.height_of(line, 3.2, indent=6) + 0.6 for line in lines) + 9
    pdf.keep(height)
    pdf.ln(2)
    top = pdf.get_y()
    pdf.set_draw_color(20, 20, 20)
    pdf.set_line_width(0.5)
    pdf.rect(pdf.l_margin, top, pdf.epw, height)
    pdf.set_xy(pdf.l_margin + 3, top + 2)
    pdf.font(10, bold=True)
    pdf.cell(0, 5, printable(s.words("methods")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for line in lines:
        pdf.font(7)
        pdf.set_x(pdf.l_margin + 3)
        pdf.multi_cell(pdf.epw - 6, 3.2, printable(line), align="L", new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
        pdf.ln(0.6)

