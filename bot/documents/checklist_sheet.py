"""`lotse checklist`: a checklist flow as a sheet to print, in Markdown, HTML or PDF.

A supervisor who has just been told of an incident may not want to chat with a bot; a printed
list in the drawer works without one. The sheet is built once as neutral blocks (`Sheet`) and
each format writes the same blocks, so the three never say different things.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.dates import format_date
from bot.documents.labels import labels
from bot.documents.pdf import INK, MUTED, printable
from bot.documents.pdf import Sheet as Pages
from bot.engine.conversation import CardLabels, ChecklistView, ContactCard, Contacts, contact_cards
from bot.flows.model import (
    Bundle,
    Checklist,
    ChecklistItem,
    ContactList,
    Deadline,
    Flow,
    Message,
    Step,
    Text,
    successors,
)
from bot.flows.texts import fill

FORMATS = ("md", "html", "pdf")
BLANK = "__________"
"""What a `{slot}` placeholder prints as: a line to write on."""


class NoChecklist(ValueError):
    """The flow has no checklist node, so there is nothing to print."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    """Content text: a line break stays, an empty line starts a paragraph, "- " is a list."""


@dataclass(frozen=True, slots=True)
class TickList:
    title: str
    items: tuple[tuple[str, bool], ...]
    """(text, ticked) per item."""
    progress: str = ""


@dataclass(frozen=True, slots=True)
class FillIn:
    """A line with a blank to fill in by hand, such as a deadline's end."""

    text: str


Block = Paragraph | TickList | FillIn


@dataclass(frozen=True, slots=True)
class Sheet:
    title: str
    lang: str
    as_of: dt.date
    blocks: tuple[Block, ...]
    contacts: Contacts | None = None


# --- building a sheet --------------------------------------------------------------------


def flow_sheet(bundle: Bundle, flow_id: str, lang: str, today: dt.date) -> Sheet:
    """Every checklist of the flow with the messages around it, its deadlines and contacts."""
    flow = bundle.flows[flow_id]
    if not any(isinstance(node, Checklist) for node in flow.nodes.values()):
        raise NoChecklist(f"flow '{flow_id}' has no checklist node")

    def text(value: Text) -> str:
        return fill(value[lang], lambda _name: BLANK)
    blocks: list[Block] = []
    used: set[str] = set()
    walked = any(isinstance(node, Checklist) and node.walk for node in flow.nodes.values())
    due = fill(bundle.text("walk.due", lang), lambda _name: BLANK)

    def show(node: Step) -> None:
        used.add(node.id)
        # A walked list's message says how to chat with it; its items carry their dates.
        if node.say is not None and not isinstance(node, ContactList) and not walked:
            blocks.append(Paragraph(text(node.say)))
        if isinstance(node, Deadline) and not walked:
            blocks.append(FillIn(_deadline_line(node, lang)))
        if isinstance(node, Checklist):
            blocks.append(TickList(text(node.title), tuple(
                (_item_line(text, item, due), False) for item in node.items)))

    for node in flow.nodes.values():
        if isinstance(node, Checklist) and node.id not in used:
            for before in reversed(list(_lead_in(flow, node, used))):
                show(before)
            show(node)
            for after in _follow_up(flow, node, used):
                show(after)
    for node in flow.nodes.values():  # a deadline away from the lists still belongs on them
        if isinstance(node, Deadline) and node.id not in used:
            show(node)
    shown = [cid for node in flow.nodes.values() if isinstance(node, ContactList)
             for cid in node.contacts]
    contacts = contact_cards(bundle, tuple(dict.fromkeys(shown)), lang) if shown else None
    return Sheet(text(flow.title), lang, today, tuple(blocks), contacts)


def view_sheet(view: ChecklistView, lang: str, today: dt.date,
               contacts: Contacts | None = None) -> Sheet:
    """A supervisor's own ticked state (what the engine showed last), printable like the list."""
    items = tuple((tick.text, tick.done) for tick in view.items)
    return Sheet(view.title, lang, today, (TickList(view.title, items, view.progress),),
                 contacts)


def _item_line(text: Callable[[Text], str], item: ChecklistItem, due: str) -> str:
    """An item as printed: its line, what to do (a walked list), a blank for its date."""
    line = text(item.text) + (f": {text(item.do)}" if item.do else "")
    return f"{line} ({due})" if item.due else line


def _deadline_line(node: Deadline, lang: str) -> str:
    words = labels(lang)
    period = words["month" if node.months == 1 else "months"].format(n=node.months)
    return words["deadline"].format(period=period, blank=BLANK)


def _plain_next(node: Step) -> str | None:
    """Where a node always goes on to, if it has one unconditional link."""
    if len(node.next) == 1 and node.next[0].condition is None:
        return node.next[0].target
    return None


def _prints(node: Step) -> bool:
    """Automatic nodes that belong on paper (a contact node's cards go to the contacts)."""
    return isinstance(node, Message | Deadline | ContactList)


def _lead_in(flow: Flow, node: Step, used: set[str]) -> Iterator[Step]:
    """The automatic nodes that lead only into `node`, nearest first."""
    current = node
    while current.id != flow.start:
        before = [n for n in flow.nodes.values() if current.id in successors(n)]
        if (len(before) != 1 or not _prints(before[0]) or before[0].id in used
                or _plain_next(before[0]) != current.id):
            return
        current = before[0]
        yield current


def _follow_up(flow: Flow, node: Step, used: set[str]) -> Iterator[Step]:
    """The automatic nodes shown after the list is done, up to the next question or branch."""
    target = _plain_next(node)
    while target is not None and target not in used and _prints(flow.nodes[target]):
        after = flow.nodes[target]
        used.add(target)
        yield after
        target = _plain_next(after)


def structure(text: str) -> list[tuple[str, list[str]]]:
    """Content text as ("p", lines) paragraphs and ("ul", items) lists (see docs/flows.md)."""
    parts: list[tuple[str, list[str]]] = []
    for chunk in re.split(r"\n[ \t]*\n", text.strip()):
        kind = ""
        for line in chunk.splitlines():
            line_kind = "ul" if line.startswith("- ") else "p"
            body = line[2:].strip() if line_kind == "ul" else line.strip()
            if line_kind == kind:
                parts[-1][1].append(body)
            else:
                parts.append((line_kind, [body]))
                kind = line_kind
    return parts


def _card_lines(card: ContactCard, words: CardLabels) -> list[str]:
    lines = [f"{label}: {value}" for label, value in (
        (words.phone, card.phone), (words.web, card.web), (words.email, card.email),
        (words.hours, card.hours)) if value]
    if card.note:
        lines.append(card.note)
    return lines


def _as_of(sheet: Sheet) -> str:
    return labels(sheet.lang)["as_of"].format(date=format_date(sheet.as_of, sheet.lang))


# --- Markdown ----------------------------------------------------------------------------


def _md(text: str) -> str:
    """Keep a Markdown viewer from reading content as HTML; everything else stays readable."""
    return text.replace("<", "&lt;")


def to_markdown(sheet: Sheet) -> str:
    out = [f"# {_md(sheet.title)}", "", f"*{_as_of(sheet)}*", ""]
    for block in sheet.blocks:
        if isinstance(block, Paragraph):
            for kind, lines in structure(block.text):
                if kind == "ul":
                    out.extend(f"- {_md(line)}" for line in lines)
                else:
                    out.append("  \n".join(_md(line) for line in lines))
                out.append("")
        elif isinstance(block, TickList):
            out.extend([f"## {_md(block.title)}", ""])
            out.extend(f"- [{'x' if done else ' '}] {_md(' '.join(text.split()))}"
                       for text, done in block.items)
            out.append("")
            if block.progress:
                out.extend([f"*{_md(block.progress)}*", ""])
        else:
            out.extend([f"**{_md(block.text)}**", ""])
    if sheet.contacts is not None:
        words = sheet.contacts.labels
        out.extend([f"## {labels(sheet.lang)['contacts']}", ""])
        for card in sheet.contacts.cards:
            lines = [f"**{_md(card.name)}**", *(_md(line) for line in _card_lines(card, words))]
            if card.checked:
                lines.append(f"*{_md(words.checked)} {card.checked}*")
            out.extend(["  \n".join(lines), ""])
    return "\n".join(out).rstrip() + "\n"


# --- HTML --------------------------------------------------------------------------------

_CSS = """
@page { size: A4; margin: 16mm 16mm 18mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; font-size: 10.5pt;
       line-height: 1.4; color: #141414; max-width: 48em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 17pt; margin: 0 0 .1em; }
h2 { font-size: 12.5pt; margin: 1.2em 0 .4em; }
.as-of, .progress, .checked { color: #5f5f5f; font-size: 9pt; }
p, ul { margin: .35em 0; }
ul.ticks { list-style: none; padding: 0; }
ul.ticks li { display: flex; gap: .6em; margin: .35em 0; break-inside: avoid; }
.box { flex: none; width: 1.05em; height: 1.05em; border: 1.4px solid #333; margin-top: .15em;
       text-align: center; line-height: .95em; font-weight: bold; }
.fill { font-weight: bold; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: .6em 1.4em; }
.card { break-inside: avoid; font-size: 9.5pt; }
.card strong { display: block; }
@media print { body { margin: 0; max-width: none; padding: 0; } }
"""


def _html_text(text: str) -> str:
    parts = []
    for kind, lines in structure(text):
        if kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines)
                         + "</ul>")
        else:
            parts.append("<p>" + "<br>".join(html.escape(line) for line in lines) + "</p>")
    return "\n".join(parts)


def to_html(sheet: Sheet) -> str:
    """One self-contained page: styles inline, no scripts, no external assets, all escaped."""
    esc = html.escape
    out = ["<!DOCTYPE html>", f'<html lang="{esc(sheet.lang)}">', "<head>",
           '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(sheet.title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{esc(sheet.title)}</h1>", f'<p class="as-of">{esc(_as_of(sheet))}</p>']
    for block in sheet.blocks:
        if isinstance(block, Paragraph):
            out.append(_html_text(block.text))
        elif isinstance(block, TickList):
            out.append(f"<h2>{esc(block.title)}</h2>")
            out.append('<ul class="ticks">')
            for text, done in block.items:
                state = esc(labels(sheet.lang)["done" if done else "not_done"])
                out.append(f'<li><span class="box" role="img" aria-label="{state}">'
                           f'{"✓" if done else ""}</span><span>{esc(text)}</span></li>')
            out.append("</ul>")
            if block.progress:
                out.append(f'<p class="progress">{esc(block.progress)}</p>')
        else:
            out.append(f'<p class="fill">{esc(block.text)}</p>')
    if sheet.contacts is not None:
        words = sheet.contacts.labels
        out.append(f"<h2>{esc(labels(sheet.lang)['contacts'])}</h2>")
        out.append('<div class="cards">')
        for card in sheet.contacts.cards:
            lines = "".join(f"<br>{esc(line)}" for line in _card_lines(card, words))
            checked = (f'<br><span class="checked">{esc(words.checked)} '
                       f"{esc(card.checked)}</span>" if card.checked else "")
            out.append(f'<div class="card"><strong>{esc(card.name)}</strong>'
                       f"{lines.removeprefix('<br>')}{checked}</div>")
        out.append("</div>")
    out.extend(["</body>", "</html>"])
    return "\n".join(out) + "\n"


# --- PDF ---------------------------------------------------------------------------------

SCALES = (1.0, 0.93, 0.86)
"""Type sizes tried in turn: the largest that needs the fewest pages wins."""


def to_pdf(sheet: Sheet, created: dt.datetime | None = None) -> bytes:
    """A compact A4 sheet: the lists first, the contacts in two columns after them. Smaller
    type is tried when it saves a page (`SCALES`), so a list that just spills over fits one."""
    made = created or dt.datetime.combine(sheet.as_of, dt.time(12), dt.UTC)
    best: tuple[int, bytes] | None = None
    for scale in SCALES:
        pages, data = _PdfSheet(sheet, made, scale).write()
        if best is None or pages < best[0]:
            best = (pages, data)
        if pages == 1:
            break
    assert best is not None
    return best[1]


class _PdfSheet:
    """One rendering of a sheet at one type scale."""

    def __init__(self, sheet: Sheet, created: dt.datetime, scale: float) -> None:
        self.sheet = sheet
        self.k = scale
        self.pdf = Pages(sheet.title, sheet.lang, created)
        self.pdf.set_auto_page_break(auto=True, margin=18)

    def font(self, size: float, bold: bool = False,
             color: tuple[int, int, int] = INK) -> None:
        self.pdf.font(size * self.k, bold, color)

    def write(self) -> tuple[int, bytes]:
        pdf, k, sheet = self.pdf, self.k, self.sheet
        pdf.add_page()
        self.font(16, bold=True)
        pdf.paragraph(sheet.title, 7.5 * k)
        self.font(9, color=MUTED)
        pdf.paragraph(_as_of(sheet), 5 * k)
        pdf.ln(2 * k)
        pdf.rule()
        pdf.ln(3 * k)
        for block in sheet.blocks:
            if isinstance(block, Paragraph):
                self.text(block.text)
            elif isinstance(block, TickList):
                self.ticks(block)
            else:
                self.font(10, bold=True)
                pdf.keep(6 * k)
                pdf.paragraph(block.text, 5 * k)
                pdf.ln(2 * k)
        if sheet.contacts is not None:
            self.contacts(sheet.contacts, labels(sheet.lang)["contacts"])
        return pdf.page_no(), pdf.finish()

    def text(self, text: str) -> None:
        pdf, k = self.pdf, self.k
        line = 4.6 * k
        self.font(9.5)
        for kind, lines in structure(text):
            if kind == "ul":
                for item in lines:
                    pdf.keep(line)
                    top = pdf.get_y()
                    pdf.set_xy(pdf.l_margin + 1.5, top)
                    pdf.cell(3, line, "•")
                    pdf.set_xy(pdf.l_margin, top)
                    pdf.paragraph(item, line, indent=5)
            else:
                pdf.paragraph("\n".join(lines), line)
            pdf.ln(1.6 * k)

    def ticks(self, block: TickList) -> None:
        pdf, k = self.pdf, self.k
        line, box, indent = 5 * k, 3.6 * k, 7.0
        self.font(10)
        first = pdf.height_of(block.items[0][0], line, indent) if block.items else 0
        pdf.keep(9 * k + first)  # a heading never stays alone at the foot of a page
        pdf.ln(1.5 * k)
        self.font(12, bold=True)
        pdf.paragraph(block.title, 6.5 * k)
        pdf.ln(1.5 * k)
        for text, done in block.items:
            self.font(10)
            pdf.keep(pdf.height_of(text, line, indent))
            top = pdf.get_y()
            pdf.set_line_width(0.3)
            pdf.set_draw_color(60, 60, 60)
            pdf.rect(pdf.l_margin + 0.5, top + (line - box) / 2, box, box)
            if done:
                self.font(9, bold=True)
                pdf.set_xy(pdf.l_margin + 0.5, top)
                pdf.cell(box, line, "✓", align="C")
                self.font(10)
            pdf.set_xy(pdf.l_margin, top)
            pdf.paragraph(text, line, indent=indent)
            pdf.ln(1.6 * k)
        if block.progress:
            self.font(9, color=MUTED)
            pdf.paragraph(block.progress, line)
        pdf.ln(1.5 * k)

    def contacts(self, contacts: Contacts, heading: str) -> None:
        pdf, k = self.pdf, self.k
        gap = 6.0
        width = (pdf.epw - gap) / 2
        words = contacts.labels

        def parts(card: ContactCard) -> list[tuple[str, float, bool, tuple[int, int, int]]]:
            found = [(card.name, 9.5, True, INK)]
            found.extend((line, 8.5, False, INK) for line in _card_lines(card, words))
            if card.checked:
                found.append((f"{words.checked} {card.checked}", 7.5, False, MUTED))
            return found

        def height(card: ContactCard) -> float:
            total = 0.0
            for text, size, bold, _ in parts(card):
                self.font(size, bold)
                lines = pdf.multi_cell(width, size * 0.46 * k, printable(text), dry_run=True,
                                       output="LINES")
                assert isinstance(lines, list)
                total += len(lines) * size * 0.46 * k
            return total

        spacing = 3 * k
        heights = [height(card) + spacing for card in contacts.cards]
        pdf.keep(11 * k + (heights[0] if heights else 0.0))
        pdf.ln(2 * k)
        self.font(12, bold=True)
        pdf.paragraph(heading, 6.5 * k)
        pdf.ln(1.5 * k)
        cards = list(zip(contacts.cards, heights, strict=True))
        while cards:
            left, right = _columns([h for _, h in cards], pdf.page_break_trigger - pdf.get_y())
            if right[1] == 0:  # not even one card fits here
                if pdf.get_y() > pdf.t_margin + 1:
                    pdf.add_page()
                    continue
                left, right = (0, 1), (1, 1)  # taller than a page: let it run over
            top = pdf.get_y()
            bottom = top
            for column, (start, stop) in enumerate((left, right)):
                pdf.set_y(top)
                x = pdf.l_margin + column * (width + gap)
                for card, _ in cards[start:stop]:
                    for text, size, bold, color in parts(card):
                        self.font(size, bold, color)
                        pdf.set_x(x)
                        pdf.multi_cell(width, size * 0.46 * k, printable(text), align="L",
                                       new_x="LEFT", new_y="NEXT")
                    pdf.ln(spacing)
                bottom = max(bottom, pdf.get_y())
            cards = cards[right[1]:]
            if cards:
                pdf.add_page()
            else:
                pdf.set_y(bottom)


def _columns(heights: list[float], room: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """Newspaper columns: the most cards, in order, that fit into two columns of height `room`,
    split where the two columns come out most even. Returns (start, stop) index pairs."""
    best = ((0, 0), (0, 0))
    for count in range(1, len(heights) + 1):
        fits = None
        for split in range(count, -1, -1):  # on a tie, the left column takes more
            tall = max(sum(heights[:split]), sum(heights[split:count]))
            if tall <= room and (fits is None or tall < fits[0]):
                fits = (tall, split)
        if fits is None:
            break
        best = ((0, fits[1]), (fits[1], count))
    return best


def render(sheet: Sheet, fmt: str) -> bytes:
    """The sheet in `fmt` (md, html or pdf), as the bytes of the file."""
    writers = {"md": lambda: to_markdown(sheet).encode("utf-8"),
               "html": lambda: to_html(sheet).encode("utf-8"), "pdf": lambda: to_pdf(sheet)}
    if fmt not in writers:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return writers[fmt]()

