"""The shortcuts that skip work on plain texts give exactly what the full work gives.

`normalize` returns a plain ASCII word lowered without its patterns, and `find_markup` skips
texts without '<' or ':'; a large flow has tens of thousands of such texts.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.engine.commands import normalize
from bot.flows.markup import MARKUP, find_markup

_TRICKY = st.text(alphabet=st.sampled_from(list("aZ09_ äÄöÜßẞİıK\u212a-/+:<>!?.,\t\n\u00a0"
                                              "javascriptJAVASCRIPT")), max_size=30)
TEXTS = st.one_of(st.text(max_size=30), _TRICKY)


def normalize_in_full(text: str) -> str:
    folded = text.casefold().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"}))
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s/+-]", " ", folded)).strip()


@given(TEXTS)
def test_normalize_gives_what_the_full_folding_gives(text: str) -> None:
    assert normalize(text) == normalize_in_full(text)


def test_normalize_folds_words_and_phrases() -> None:
    assert [normalize(t) for t in ("Ja", "erste12", "Zurück!", "  Nein,  danke ", "K\u212a")] \
        == ["ja", "erste12", "zurueck", "nein danke", "kk"]


@given(TEXTS)
def test_find_markup_finds_what_the_pattern_finds(text: str) -> None:
    match = MARKUP.search(text)
    assert find_markup(text) == (match.group(0)[:30] if match else None)


def test_find_markup_finds_tags_and_script_links() -> None:
    assert [find_markup(t) for t in ("Frage 3?", "<b>fett</b>", "JavaScript :alert(1)", "a:b")] \
        == [None, "<b>", "JavaScript :", None]
