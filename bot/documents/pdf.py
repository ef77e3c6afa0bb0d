"""PDF pages in Lotse's house style, and the protocol document as a PDF.

DejaVu Sans is embedded so that umlauts, ß, € and dashes print on any machine. Characters it
lacks print as U+FFFD (`printable`), and the verifier applies the same rule, so an unusual
character in an answer never makes a good document fail its check.
"""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import TTFFont

from bot.documents.labels import labels
from bot.documents.text import (
    created_line,
    document_text,
    fingerprint,
    footer_lines,
    label_line,
    protocol_text,
)
from bot.engine.conversation import Document

FONTS = Path(__file__).resolve().parent / "fonts"
"""Inside the package, so that a wheel carries the fonts (hatchling ships all of bot/)."""
FAMILY = "DejaVu"
_FACES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
_PAGES_ALIAS = "\x00pages\x00"
"""The page count's placeholder: control characters never survive `printable`, so no answer
can contain it (fpdf2's default "{nb}" could be typed by anyone)."""

INK = (20, 20, 20)
MUTED = (95, 95, 95)
HAIRLINE = (185, 185, 185)


@functools.cache
def _covered() -> frozenset[int]:
    """Code points both faces can draw (read through fpdf2, which parses the fonts anyway)."""
    probe = FPDF()
    faces = []
    for style, name in _FACES.items():
        probe.add_font(FAMILY, style, str(FONTS / name))
    for font in probe.fonts.values():
        assert isinstance(font, TTFFont)
        faces.append(frozenset(font.cmap))
        font.close()
    return frozenset.intersection(*faces)


def printable(text: str) -> str:
    """The text as the PDF shows it: NFC (as the fingerprinted text), tabs as spaces, invisible
    format and control characters dropped, anything the font cannot draw as U+FFFD."""
    covered = _covered()
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif ch == "\u00ad" or unicodedata.category(ch)[0] == "C":
            continue
        elif ord(ch) in covered:
            out.append(ch)
        elif unicodedata.category(ch)[0] == "M":
            continue  # a combining mark the font lacks: the base letter alone reads better
        else:
            out.append("\ufffd")
    return "".join(out)


def page_footer(title: str, page_label: str, page: int, pages: int | str) -> str:
    """The foot of a page ("title · Seite 1 von 2"); `lotse verify` takes it off again."""
    return f"{title} · {page_label.format(page=page, pages=pages)}"


class Sheet(FPDF):
    """An A4 page with the embedded fonts, calm margins and "title · page n of m" at the foot."""

    def __init__(self, title: str, lang: str, created: dt.datetime) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        for style, name in _FACES.items():
            self.add_font(FAMILY, style, str(FONTS / name))
        self.alias_nb_pages(_PAGES_ALIAS)
        self.set_margins(left=20, top=18, right=20)
        self.set_auto_page_break(auto=True, margin=20)
        self.c_margin = 0  # text starts where the rules start
        self.sheet_title = printable(title)
        self.sheet_lang = lang
        self.set_title(title)
        self.set_lang(lang)
        self.set_creator("Lotse")
        self.set_creation_date(created)
        self.set_text_color(*INK)
        self.set_draw_color(*HAIRLINE)

    def footer(self) -> None:
        self.set_y(-14)
        self.font(8, color=MUTED)
        self.cell(0, 5, page_footer(self.sheet_title, labels(self.sheet_lang)["page"],
                                    self.page_no(), _PAGES_ALIAS), align="C")

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*color)

    def paragraph(self, text: str, height: float, indent: float = 0.0) -> None:
        """Left-aligned, wrapped text (never justified: gaps inside quotes would mislead)."""
        self.set_x(self.l_margin + indent)
        self.multi_cell(self.epw - indent, height, printable(text), align="L",
                        new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def height_of(self, text: str, height: float, indent: float = 0.0) -> float:
        lines = self.multi_cell(self.epw - indent, height, printable(text), align="L",
                                dry_run=True, output="LINES")
        assert isinstance(lines, list)
        return len(lines) * height

    def keep(self, needed: float) -> None:
        """Start a new page unless `needed` mm still fit on this one."""
        if self.get_y() + needed > self.page_break_trigger:
            self.add_page()

    def rule(self, strong: bool = False) -> None:
        self.set_line_width(0.35 if strong else 0.2)
        self.set_draw_color(*(MUTED if strong else HAIRLINE))
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_draw_color(*HAIRLINE)

    def finish(self) -> bytes:
        return bytes(self.output())


def document_pdf(document: Document) -> bytes:
    """The document as a PDF that shows exactly the .txt file's words and carries it inside,
    so that `lotse verify` can check the fingerprint on the exact text."""
    body = protocol_text(document)
    digest = fingerprint(body)
    pdf = Sheet(document.title, document.lang, document.created)
    pdf.add_page()
    pdf.font(17, bold=True)
    pdf.paragraph(document.title, 8)
    pdf.ln(1)
    pdf.font(9.5, color=MUTED)
    pdf.paragraph(created_line(document), 5)
    pdf.ln(4)
    pdf.rule()
    pdf.ln(5)
    for label, value in document.fields:
        pdf.font(11)
        first_lines = min(pdf.height_of(value, 5.8, indent=4), 3 * 5.8)
        pdf.keep(5.5 + first_lines)  # never a label alone at the foot of a page
        pdf.font(9.5, bold=True, color=MUTED)
        pdf.paragraph(label_line(label), 5.5)
        pdf.ln(0.8)
        pdf.font(11)
        pdf.paragraph(value, 5.8, indent=4)
        pdf.ln(4.5)
    _fingerprint_block(pdf, digest, document.lang)
    pdf.embed_file(bytes=document_text(document).encode("utf-8"),
                   basename=f"{document.file}.txt", modification_date=document.created,
                   desc=document.title)
    return pdf.finish()


def _fingerprint_block(pdf: Sheet, digest: str, lang: str) -> None:
    label, hex_line, _, *note = footer_lines(digest, lang)
    pdf.font(8.5)
    needed = 8 + 5 + 6.5 + pdf.height_of(" ".join(note), 4.2) + 2
    pdf.keep(needed)
    pdf.ln(3)
    pdf.rule(strong=True)
    pdf.ln(3)
    pdf.font(8.5, color=MUTED)
    pdf.paragraph(label, 5)
    pdf.font(9.5, bold=True)
    pdf.paragraph(hex_line.strip(), 6.5, indent=4)
    pdf.ln(1.5)
    pdf.font(8.5, color=MUTED)
    pdf.paragraph(" ".join(note), 4.2)
