"""The employee guidance's texts and the contact directory (#24): every fact-bearing text names
its brief section, every legal text says that it is information and not legal advice, no shipped
contact lacks a way to reach it (except the city's own placeholders), and the numbers the brief
no longer confirms are gone."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from bot.flows.model import Bundle

from .helpers import ROOT

GUIDANCE = ("employee", "diary")
LANGS = ("de", "en")
FACT = re.compile(r"§|\b\d{3}\b|\d{3,} ?\d")
"""A paragraph sign or a number of three digits or more (a phone number, 110, 112)."""
EXAMPLE_DATE = re.compile(r"\d{1,2}[./]\d{1,2}[./]\d{4}")
"""An example of how to write a date ("24.11.2026"): no fact."""
KEY = re.compile(r"^\s*(\"?[\w]+\"?):")


def _texts(value: object, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, f"{path}.{k}".lstrip("."))]
    return [(path, value)] if isinstance(value, str) else []


def _files() -> list[Path]:
    return [ROOT / "content" / lang / f"{name}.yaml" for lang in LANGS for name in GUIDANCE]


@pytest.mark.parametrize("file", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fact_bearing_text_names_its_brief_source_in_a_comment(file: Path) -> None:
    """The comment stands on the line of the text's key (or in the text's own line)."""
    missing = []
    key_line = ""
    for line in file.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        if KEY.match(line):
            key_line = line
        text = EXAMPLE_DATE.sub("", line.split("#", 1)[0] if KEY.match(line) else line)
        if FACT.search(text) and "BRIEF" not in key_line and "BRIEF" not in line:
            missing.append(line.strip()[:70])
    assert not missing, f"{file.name}: facts without a BRIEF comment: {missing}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_legal_text_says_it_is_information_not_legal_advice(lang: str) -> None:
    line = {"de": "keine Rechtsberatung", "en": "not legal advice"}[lang]
    for name in GUIDANCE:
        data = yaml.safe_load((ROOT / "content" / lang / f"{name}.yaml").read_text("utf-8"))
        without = [key for key, text in _texts(data) if "§" in text and line not in text]
        assert not without, f"{lang}/{name}.yaml: legal texts without '{line}': {without}"


def test_no_shipped_contact_lacks_a_way_to_reach_it_except_the_citys_placeholders(
        shipped: Bundle) -> None:
    unreachable = {c.id for c in shipped.contacts.values()
                   if not (c.phone or c.web or c.email)}
    placeholders = {c.id for c in shipped.contacts.values() if c.region in ("kassel", "local")
                    and not (c.phone or c.web or c.email)}
    assert unreachable == placeholders
    assert {"equality_officer", "social_media_team"} <= placeholders


def test_the_old_hessen_gegen_hetze_number_and_address_are_gone(shipped: Bundle) -> None:
    for file in (ROOT / "content").rglob("*.yaml"):
        text = file.read_text(encoding="utf-8")
        assert "353-9977" not in text and "mail@hessengegenhetze.de" not in text, file
    office = shipped.contacts["beratung_bei_hass"]
    assert office.phone is None and office.email is None
    assert office.web == "https://beratung-bei-hass.hessen.de"
    assert "hessen_gegen_hetze" not in shipped.contacts


PHONE_LINE = 45
"""Characters in a line of a chat bubble on a phone held upright (a generous figure)."""
PHONE_SCREEN = 9
"""About eight lines: what a phone shows of one answer without scrolling past it."""
SLOT = re.compile(r"\{[a-z_]+\}")


def phone_lines(text: str) -> int:
    """Lines the text takes in a chat bubble, a filled-in date counted at its longest."""
    filled = SLOT.sub("25 September 2027", text)
    return sum(max(1, len(textwrap.wrap(line, PHONE_LINE))) for line in filled.split("\n"))


@pytest.mark.parametrize("lang", LANGS)
def test_no_answer_of_the_guidance_is_longer_than_a_phone_screen(lang: str) -> None:
    """Longer information is a short answer plus 'Mehr dazu?' (the accident insurance) or
    shown only to those it concerns (the Auskunftssperre after a known address)."""
    for name in GUIDANCE:
        data = yaml.safe_load((ROOT / "content" / lang / f"{name}.yaml").read_text("utf-8"))
        too_long = {key: n for key, text in _texts(data) if (n := phone_lines(text)) > PHONE_SCREEN}
        assert not too_long, f"{lang}/{name}.yaml: lines on a phone: {too_long}"
