"""`lotse checklist`: a checklist flow printed as Markdown, HTML and PDF, in both languages."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from bot.cli import main
from bot.documents.checklist_sheet import (
    BLANK,
    NoChecklist,
    _columns,
    flow_sheet,
    render,
    to_html,
    to_markdown,
    view_sheet,
)
from bot.engine.conversation import ChecklistView
from bot.flows.model import Bundle, Checklist
from bot.flows.texts import fill

from .helpers import Talk, bundle_of

SUPERVISOR = """
flow: lead
version: 1
title: {de: "Checkliste für Führungskräfte", en: "Checklist for supervisors"}
start: intro
keep_days: 30
nodes:
  intro:
    say:
      de: |-
        Diese Liste hilft Ihnen, nichts zu vergessen.

        Zuerst gilt:
        - Sicherheit geht vor.
        - Zuhören, ohne zu bewerten.
      en: |-
        This list helps you not to forget anything.

        First of all:
        - Safety comes first.
        - Listen without judging.
    next: first_hours
  first_hours:
    checklist: {de: "Die ersten Stunden", en: "The first hours"}
    items:
      - id: safety
        text:
          de: "Sicherheit herstellen – im Notfall 110 oder 112"
          en: "Make sure they are safe – in an emergency call 110 or 112"
      - id: listen
        text:
          de: "Zuhören, ernst nehmen, nicht bewerten"
          en: "Listen, take it seriously, do not judge"
      - id: markup  # tags are refused by the checker (bot/flows/markup.py); < > & are escaped
        text:
          de: "1 < 2 > 0 & „Kasse“ prüfen"
          en: "1 < 2 > 0 & check the till"
    next: between
  between:
    say: {de: "Gut. Nun zu den nächsten Tagen.", en: "Good. Now for the next days."}
    next: when
  when:
    input: {de: "Wann haben Sie davon erfahren?", en: "When did you learn of it?"}
    type: date
    slot: learned
    next: deadline
  deadline:
    deadline: {from: learned, months: 3}
    slot: until
    next: deadline_text
  deadline_text:
    say:
      de: "Ihr Strafantrag muss bis {until} gestellt sein."
      en: "File your complaint by {until}."
    next: later
  later:
    checklist: {de: "In den nächsten Tagen", en: "In the next days"}
    items:
      - id: accident
        text:
          de: "Unfallanzeige an die Unfallkasse Hessen"
          en: "Accident report to the Unfallkasse Hessen"
      - id: aftercare
        text: {de: "Nach einer Woche nachfragen", en: "Check in after one week"}
    next: help
  help:
    say: {de: "Hier gibt es Hilfe:", en: "Help is here:"}
    contacts:
      topics: [emergency]
      ids: [weisser_ring]
    next: done
  done:
    say: {de: "Danke, dass Sie sich kümmern.", en: "Thank you for taking care."}
    end: true
"""

NO_LIST = """
flow: plain
version: 1
title: {de: Ohne Liste, en: No list}
start: hello
nodes:
  hello:
    say: {de: Hallo, en: Hello}
    end: true
"""

ITEMS = {
    "de": ["Sicherheit herstellen – im Notfall 110 oder 112",
           "Zuhören, ernst nehmen, nicht bewerten", "Unfallanzeige an die Unfallkasse Hessen",
           "Nach einer Woche nachfragen"],
    "en": ["Make sure they are safe – in an emergency call 110 or 112",
           "Listen, take it seriously, do not judge",
           "Accident report to the Unfallkasse Hessen", "Check in after one week"],
}
TODAY = dt.date(2026, 11, 25)


def as_of(lang: str, day: dt.date) -> str:
    """The sheet's date line as the command prints it on `day` (it prints the day it runs)."""
    return f"Stand: {day:%d.%m.%Y}" if lang == "de" else f"As of {day.day} {day:%B %Y}"


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    path = tmp_path / "lead.yaml"
    path.write_text(SUPERVISOR, encoding="utf-8")
    return path


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    return bundle_of(tmp_path / "bundle", SUPERVISOR, NO_LIST)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("fmt", ["md", "html", "pdf"])
def test_the_checklist_renders_in_every_language_and_format(
        tmp_path: Path, flow_file: Path, lang: str, fmt: str) -> None:
    out = tmp_path / f"sheet.{fmt}"
    result = CliRunner().invoke(main, ["checklist", "lead", "--flows", str(flow_file),
                                       "--lang", lang, "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "pdf":
        pages = pdf_pages(data)
        assert len(pages) == 1  # a short list stays on one sheet
        text = squash(pages[0])
        for item in ITEMS[lang]:
            assert squash(item) in text, item
        assert squash("WEISSER RING") in text and squash("116 006") in text
        assert "Stand:" in pages[0] if lang == "de" else "as of" in pages[0]
    else:
        text = data.decode("utf-8")
        for item in ITEMS[lang]:
            assert item in text, item
        assert "WEISSER RING" in text and "116 006" in text
    assert squash(as_of(lang, dt.date.today())) in squash(text)


def test_markdown_has_tick_boxes_messages_blanks_and_contacts(bundle: Bundle) -> None:
    md = to_markdown(flow_sheet(bundle, "lead", "de", TODAY))
    assert md.startswith("# Checkliste für Führungskräfte\n\n*Stand: 25.11.2026*\n")
    assert "## Die ersten Stunden\n\n- [ ] Sicherheit herstellen – im Notfall 110 oder 112\n" in md
    assert "- Sicherheit geht vor.\n- Zuhören, ohne zu bewerten." in md
    # the messages around the lists, in the order a conversation shows them
    order = ["Diese Liste hilft", "## Die ersten Stunden", "Gut. Nun zu den nächsten Tagen.",
             "Frist: 3 Monate", f"Ihr Strafantrag muss bis {BLANK} gestellt sein.",
             "## In den nächsten Tagen", "## Kontakte", "Polizei – Notruf", "WEISSER RING"]
    positions = [md.index(part) for part in order]
    assert positions == sorted(positions)
    assert "Wann haben Sie davon erfahren?" not in md  # a question is not a message
    assert "Hier gibt es Hilfe:" not in md  # the cards have their own heading
    assert "Danke, dass Sie sich kümmern." not in md  # not next to a list
    assert "Telefon: 116 006" in md and "*Stand: " in md


def test_html_is_self_contained_and_escapes_everything(bundle: Bundle) -> None:
    page = to_html(flow_sheet(bundle, "lead", "de", TODAY))
    assert page.startswith("<!DOCTYPE html>") and '<html lang="de">' in page
    assert "<script>" not in page
    assert "1 &lt; 2 &gt; 0 &amp; „Kasse“ prüfen" in page
    assert not re.search(r"<(link|script|img|iframe|object)\b|\b(src|href)=|@import|url\(",
                         page)
    assert page.count('class="box"') == 5


def test_pdf_shows_the_lists_contacts_and_page_footer(bundle: Bundle) -> None:
    data = render(flow_sheet(bundle, "lead", "de", TODAY), "pdf")
    (text,) = pdf_pages(data)
    assert "Checkliste für Führungskräfte · Seite 1 von 1" in text
    assert "1 < 2 > 0 & „Kasse“ prüfen" in text
    assert "Rettungsdienst und Notarzt" in text and "Stand: 25.11.2026" in text


def test_a_supervisors_own_ticks_print_in_every_format(bundle: Bundle) -> None:
    talk = Talk(bundle, lang="de", flow="lead")
    talk.send("1 3")
    view = [o for o in talk.outputs if isinstance(o, ChecklistView)][-1]
    sheet = view_sheet(view, "de", TODAY)
    md = render(sheet, "md").decode()
    assert "- [x] Sicherheit herstellen" in md and "- [ ] Zuhören" in md
    assert "*2 von 3 erledigt*" in md
    page = render(sheet, "html").decode()
    assert page.count('aria-label="erledigt"') == 2 and page.count('aria-label="offen"') == 1
    (text,) = pdf_pages(render(sheet, "pdf"))
    assert "✓" in text and "2 von 3 erledigt" in text
    assert squash("Zuhören, ernst nehmen, nicht bewerten") in squash(text)


def test_markdown_and_html_go_to_standard_output_without_o(flow_file: Path) -> None:
    result = CliRunner().invoke(main, ["checklist", "lead", "--flows", str(flow_file),
                                       "--lang", "en"])
    assert result.exit_code == 0
    assert result.output.startswith("# Checklist for supervisors\n")


def test_a_flow_without_a_checklist_or_an_unknown_flow_is_a_clear_error(
        tmp_path: Path, bundle: Bundle) -> None:
    with pytest.raises(NoChecklist):
        flow_sheet(bundle, "plain", "de", TODAY)
    path = tmp_path / "plain.yaml"
    path.write_text(NO_LIST, encoding="utf-8")
    for flow in ("plain", "nope"):
        result = CliRunner().invoke(main, ["checklist", flow, "--flows", str(path)])
        assert result.exit_code == 2 and "Traceback" not in result.output
    assert "has no checklist" in CliRunner().invoke(
        main, ["checklist", "plain", "--flows", str(path)]).output


def test_the_shipped_supervisor_checklist_prints_compactly(shipped: Bundle) -> None:
    if "supervisor" not in shipped.flows:
        pytest.skip("no supervisor flow shipped yet")
    for lang in ("de", "en"):
        sheet = flow_sheet(shipped, "supervisor", lang, TODAY)
        pages = pdf_pages(render(sheet, "pdf"))
        assert len(pages) <= 2
        text = squash("".join(pages))
        lists = [n for n in shipped.flows["supervisor"].nodes.values()
                 if isinstance(n, Checklist)]
        assert lists
        for node in lists:
            for item in node.items:
                assert squash(fill(item.text[lang], lambda _: BLANK)) in text, item.id


def test_contact_cards_fill_two_even_newspaper_columns() -> None:
    assert _columns([10, 10, 10, 10], 100) == ((0, 2), (2, 4))
    assert _columns([30, 10, 10, 10], 100) == ((0, 1), (1, 4))
    assert _columns([10, 10, 10, 10], 15) == ((0, 1), (1, 2))  # the rest goes overleaf
    assert _columns([50], 20) == ((0, 0), (0, 0))  # nothing fits: the caller turns the page
    assert _columns([5], 20) == ((0, 1), (1, 1))
