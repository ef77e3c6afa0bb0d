"""Dates as people write them (issue 23, item 6), read against a fixed today, and over the corpus
of what people write (tests/corpus/utterances.yaml)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from bot.dates import LOCAL
from bot.engine.answers import DateError, find_date, parse_date
from bot.engine.conversation import Output, Said, Say, Start
from bot.engine.turn import step

from .helpers import bundle_of

TODAY = dt.date(2026, 12, 7)  # a Monday
D = dt.date

SAID = {
    # German
    "heute": D(2026, 12, 7),
    "heute morgen": D(2026, 12, 7),
    "Heute früh": D(2026, 12, 7),
    "gestern Abend": D(2026, 12, 6),
    "gestern morgen": D(2026, 12, 6),
    "vorgestern": D(2026, 12, 5),
    "letzten Dienstag": D(2026, 12, 1),
    "am Dienstag": D(2026, 12, 1),
    "Freitagabend": D(2026, 12, 4),
    "am Montag": D(2026, 11, 30),  # on a Monday, "Montag" is last week's: today is "heute"
    "vorletzten Freitag": D(2026, 11, 27),
    "letzte Woche Donnerstag": D(2026, 12, 3),
    "Donnerstag letzter Woche": D(2026, 12, 3),
    "vor zwei Wochen": D(2026, 11, 23),
    "vor 3 Tagen": D(2026, 12, 4),
    "vor einer Woche": D(2026, 11, 30),
    "vor einem Monat": D(2026, 11, 7),
    "am 3. Dezember": D(2026, 12, 3),
    "3. Dez": D(2026, 12, 3),
    "3.12.": D(2026, 12, 3),
    "3.12": D(2026, 12, 3),
    "3.12.26": D(2026, 12, 3),
    "03.12.2026": D(2026, 12, 3),
    "3. 12. 2026": D(2026, 12, 3),
    "am 28.11. gegen 14 Uhr": D(2026, 11, 28),
    "24.12.": D(2025, 12, 24),  # no year: the last 24 December, not the coming one
    "2026-12-03": D(2026, 12, 3),
    "24/11/2026": D(2026, 11, 24),  # 24 can only be the day
    "vorhin": D(2026, 12, 7),
    "eben gerade": D(2026, 12, 7),
    # without umlauts
    "Heute frueh": D(2026, 12, 7),
    "am 3. Maerz": D(2026, 3, 3),
    "am 3. Marz": D(2026, 3, 3),
    "vor fuenf Tagen": D(2026, 12, 2),
    # English
    "today": D(2026, 12, 7),
    "this morning": D(2026, 12, 7),
    "yesterday": D(2026, 12, 6),
    "yesterday evening": D(2026, 12, 6),
    "last night": D(2026, 12, 6),
    "the day before yesterday": D(2026, 12, 5),
    "last Tuesday": D(2026, 12, 1),
    "on Friday": D(2026, 12, 4),
    "Thursday last week": D(2026, 12, 3),
    "3 December": D(2026, 12, 3),
    "3rd of December 2026": D(2026, 12, 3),
    "December 3": D(2026, 12, 3),
    "Dec 3rd": D(2026, 12, 3),
    "two weeks ago": D(2026, 11, 23),
    "3 days ago": D(2026, 12, 4),
    "an hour ago": D(2026, 12, 7),
    # inside a sentence
    "es war gestern abend am schalter": D(2026, 12, 6),
    "das war letzten Dienstag beim Hausbesuch": D(2026, 12, 1),
    "it happened on 3 December at the counter": D(2026, 12, 3),
    # a named day beats "heute", and "heute" beats "gerade"
    "ich habe heute morgen erfahren, dass sie am 3. Dezember geschubst wurde": D(2026, 12, 3),
    "sie hat mir gerade erzählt, dass sie vorgestern bedroht wurde": D(2026, 12, 5),
    # a day compared with is not the day
    "heute schon wieder, wie letzten Dienstag": D(2026, 12, 7),
    # the day named beside a future one
    "gestern hat er gesagt, er kommt morgen wieder": D(2026, 12, 6),
}


@pytest.mark.parametrize(("text", "day"), SAID.items(), ids=list(SAID))
def test_a_date_as_people_write_it(text: str, day: dt.date) -> None:
    assert parse_date(text, TODAY) == day


@pytest.mark.parametrize("text", ["morgen", "übermorgen", "uebermorgen", "tomorrow",
                                  "nächsten Dienstag", "next Friday", "08.12.2026",
                                  "24.12.2026", "in 2027 am 3.1.2027"])
def test_a_day_after_today_is_refused(text: str) -> None:
    with pytest.raises(DateError) as refused:
        parse_date(text, TODAY)
    assert refused.value.reason == "future" and refused.value.text_key == "future_date"


@pytest.mark.parametrize("text", ["12/3", "3/12", "am 12/3 am Empfang", "on 3/12/2026"])
def test_day_and_month_that_could_be_either_are_asked_back(text: str) -> None:
    with pytest.raises(DateError) as asked:
        parse_date(text, TODAY)
    assert asked.value.reason == "ambiguous" and asked.value.text_key == "ambiguous_date"


@pytest.mark.parametrize("text", ["weiß ich nicht mehr", "letzte Woche", "seit Wochen",
                                  "Guten Morgen", "um 9.30 Uhr", "1.5 Stunden", "31.02.",
                                  "Aktenzeichen 12.3.4", "vor ein paar Tagen", "montags",
                                  "24/7 erreichbar", "I'm safe now", "jetzt ist alles ruhig",
                                  "bei 30 Grad im Außendienst"])
def test_no_day_named_is_no_date(text: str) -> None:
    assert find_date(text, TODAY) is None
    with pytest.raises(DateError) as refused:
        parse_date(text, TODAY)
    assert refused.value.reason == "invalid" and refused.value.text_key == "invalid_date"


def test_today_is_the_german_day_of_the_conversations_now() -> None:
    late = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)  # already 7 December in Berlin
    assert find_date("heute", late) == D(2026, 12, 7)
    assert find_date("gestern", late.astimezone(LOCAL)) == D(2026, 12, 6)


CORPUS = Path(__file__).parent / "corpus" / "utterances.yaml"


def test_the_day_read_from_what_people_write() -> None:
    """Every corpus message with `when` gives that day (at least 95 %), every `when: ask` is
    asked back, and a message that names no day gives none (a `learned` day is a day too: which
    slot it fills is the understanding's business, not the date reader's)."""
    corpus = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    now = corpus["now"]
    with_day: list[tuple[str, object, object]] = []
    without: list[tuple[str, object, object]] = []
    for message in corpus["messages"]:
        expect = message.get("expect", {})
        wanted = expect.get("when", expect.get("learned"))
        try:
            read: object = find_date(message["text"], now)
        except DateError as err:
            read = "ask" if err.reason == "ambiguous" else err.reason
        (with_day if "when" in expect else without).append((message["text"], wanted, read))
    misses = [m for m in with_day if m[1] != m[2]]
    extras = [m for m in without if m[1] != m[2]]
    for text, wanted, read in misses + extras:
        print(f"wanted {wanted}, read {read}: {text}")
    assert len(with_day) >= 100
    assert len(misses) <= 0.05 * len(with_day), f"{len(misses)} of {len(with_day)} missed"
    assert all(read == "ask" for _, wanted, read in with_day if wanted == "ask")
    assert len(extras) <= 0.05 * len(without), f"{len(extras)} of {len(without)} read wrongly"


DATE_FLOW = """
flow: when
version: 1
title: {de: Wann, en: When}
start: when
nodes:
  when:
    input: {de: Wann war das?, en: When was it?}
    type: date
    slot: when
    next: done
  done:
    say: {de: "Am {when}.", en: "On {when}."}
    end: true
"""


def said(outputs: tuple[Output, ...]) -> str:
    return "\n".join(o.text for o in outputs if isinstance(o, Say))


def test_the_date_question_asks_back_an_ambiguous_date_and_takes_today_in_german_time(
        tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, DATE_FLOW)
    late = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)  # already 7 December in Kassel
    turn = step(bundle, None, Start("de"), late)
    asked = step(bundle, turn.state, Said("12/3"), late)
    assert bundle.text("ambiguous_date", "de") in said(asked.outputs)
    answered = step(bundle, asked.state, Said("heute"), late)
    assert "Am 07.12.2026." in said(answered.outputs)
