"""Ask only what is missing, confirm what was understood (#23, item 4): a first sentence is
confirmed once in one line, and the questions it answered are passed over; "no" leaves the
questions as they are; nothing reaches a report unconfirmed. Engine level, shipped bundle."""

from __future__ import annotations

import pytest

from bot.engine.conversation import Picked, Question, Report, Said, Start
from bot.engine.turn import step
from bot.flows.model import CONFIRMED_SLOT, UNDERSTOOD_SLOT, Bundle

from .helpers import NOW, Talk

# NOW is 25.11.2026, 10:30 UTC.
FIRST = {"de": "Ein Anrufer hat mir heute gedroht",
         "en": "A caller threatened me today"}
LINE = {"de": "So habe ich Sie verstanden: Ihnen selbst passiert · Drohung · Am Telefon · "
              "heute (25.11.2026). Stimmt das?",
        "en": "This is what I understood: it happened to you · A threat · On the phone · "
              "today (25 November 2026). Is that right?"}
NO, YES = {"de": "nein", "en": "no"}, {"de": "ja", "en": "yes"}
ROLE = {"de": "Schreiben Sie über etwas", "en": "Are you writing about"}
INJURED = {"de": "Sind Sie verletzt?", "en": "Are you injured?"}
PHONE = {"de": "die Nummer, von der angerufen wurde", "en": "the number that called you"}
ASKED_AGAIN = {"de": ("Was ist passiert?", "Wie oder wo ist es passiert?",
                      "Wann ist es passiert?"),
               "en": ("What happened?", "How or where did it happen?",
                      "When did it happen?")}


def _first(shipped: Bundle, lang: str) -> Talk:
    """A conversation whose first message is FIRST (no /start before it)."""
    talk = Talk(shipped, lang=lang)
    talk.state = None
    talk.send_event(Said(FIRST[lang], lang))
    return talk


@pytest.mark.parametrize("lang", ["de", "en"])
def test_first_sentence_is_confirmed_once_then_only_what_is_missing_is_asked(
        shipped: Bundle, lang: str) -> None:
    talk = _first(shipped, lang)
    assert talk.node == "safety"  # safety first, always: the question is still asked
    assert UNDERSTOOD_SLOT in talk.state.slots  # type: ignore[union-attr]
    talk.send(NO[lang])  # not in danger
    assert talk.question.text == LINE[lang]
    assert [o.id for o in talk.question.options] == ["understood_yes", "understood_no"]
    assert talk.state is not None and "kind" not in talk.state.slots  # nothing assumed yet
    talk.send(YES[lang])
    assert INJURED[lang] in talk.question.text  # the first question not yet answered
    assert talk.state.slots["kind"] == ("threat",) and talk.state.slots["channel"] == "phone"
    assert talk.state.slots["incident_date"] == "2026-11-25"
    seen = [talk.question.text]
    talk.send(NO[lang])  # not injured
    seen.append(talk.said)
    seen.append(talk.question.text)
    assert PHONE[lang] in talk.said  # the advice for the phone: note the number and the time
    assert not any(q in text for q in ASKED_AGAIN[lang] for text in seen)
    assert talk.node == "protocol_offer"


@pytest.mark.parametrize("lang", ["de", "en"])
def test_no_to_the_line_gives_the_questions_as_today(shipped: Bundle, lang: str) -> None:
    talk = _first(shipped, lang)
    talk.send(NO[lang])
    talk.send(NO[lang])  # "that is not right"
    assert ROLE[lang] in talk.question.text
    assert talk.state is not None
    assert UNDERSTOOD_SLOT not in talk.state.slots and CONFIRMED_SLOT not in talk.state.slots
    for answer, question in (("1", INJURED[lang]), ("2", ASKED_AGAIN[lang][0]),
                             ("2", ASKED_AGAIN[lang][1]), ("3", ASKED_AGAIN[lang][2])):
        talk.send(answer)
        assert question in talk.question.text  # nothing kept from the reading


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_line_takes_buttons_numbers_and_words(shipped: Bundle, lang: str) -> None:
    words = {"de": (("stimmt", True), ("etwas korrigieren", False)),
             "en": (("that's right", True), ("correct something", False))}
    for answer, kept in (("1", True), ("2", False), *words[lang]):
        talk = _first(shipped, lang)
        talk.send(NO[lang])
        talk.send(answer)
        assert talk.state is not None and ("kind" in talk.state.slots) is kept, answer
    talk = _first(shipped, lang)
    talk.send(NO[lang])
    question = talk.question
    talk.send_event(Picked(question.flow, question.node, "understood_yes"))
    assert INJURED[lang] in talk.question.text
    talk = _first(shipped, lang)
    talk.send(NO[lang])
    talk.send("blub")  # neither: the line again
    assert talk.question.text == LINE[lang]


def test_a_message_that_fills_nothing_behaves_as_today(shipped: Bundle) -> None:
    plain = step(shipped, None, Start("de"), NOW)
    for text in ("Hallo", "Guten Tag, ich brauche Hilfe"):
        turn = step(shipped, None, Said(text, "de"), NOW)
        assert turn.outputs == plain.outputs
        assert turn.state == plain.state
    talk = Talk(shipped)
    talk.send("nein")
    assert ROLE["de"] in talk.question.text


def test_a_sentence_at_the_safety_question_is_confirmed_after_it(shipped: Bundle) -> None:
    talk = Talk(shipped)  # after /start, the person writes what happened
    talk.send("Ich wurde gestern am Schalter bedroht")
    assert "Danke, dass Sie mir das schreiben" in talk.said and talk.node == "safety"
    talk.send("nein")
    assert talk.question.text == ("So habe ich Sie verstanden: Ihnen selbst passiert · Drohung · "
                                  "Persönlich, am Schalter oder im Büro · gestern (24.11.2026). "
                                  "Stimmt das?")


def test_back_returns_to_the_line_and_takes_the_reading_back(shipped: Bundle) -> None:
    talk = _first(shipped, "de")
    talk.send("nein")
    talk.send("ja")
    talk.send("zurück")
    assert talk.question.text == LINE["de"]
    assert talk.state is not None
    assert not {"role", "kind", "channel", "incident_date", CONFIRMED_SLOT} & set(talk.state.slots)
    talk.send("nein")
    talk.send("zurück")
    assert talk.question.text == LINE["de"]
    talk.send("zurück")
    assert talk.node == "safety"
    talk.send("nein")
    assert talk.question.text == LINE["de"]  # the reading still waits to be confirmed


def test_danger_comes_first_and_the_reading_waits_until_the_person_is_safe(
        shipped: Bundle) -> None:
    talk = Talk(shipped)
    talk.state = None
    talk.send_event(Said("Der Mann steht wieder im Flur und droht mir", "de"))
    assert "110" in talk.outputs[0].text  # type: ignore[union-attr]
    assert talk.node == "safe_now"  # not the line: whether the person is safe comes first
    assert talk.state is not None and "kind" not in talk.state.slots  # nothing assumed
    talk.send("1")  # safe now
    assert talk.question.text == ("So habe ich Sie verstanden: Ihnen selbst passiert · Drohung · "
                                  "Persönlich, am Schalter oder im Büro. Stimmt das?")
    talk.send("ja")
    assert talk.node == "injured"


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_report_holds_the_confirmed_kind_and_channel(shipped: Bundle, lang: str) -> None:
    talk = _first(shipped, lang)
    for answer in (NO[lang], YES[lang], NO[lang], NO[lang], YES[lang], NO[lang], NO[lang],
                   YES[lang], "1", "1", "1", "1", "1"):
        talk.send(answer)
    preview = talk.question
    assert isinstance(preview, Question) and talk.node == "preview"
    assert ("Drohung" if lang == "de" else "A threat") in preview.text
    assert ("Am Telefon" if lang == "de" else "On the phone") in preview.text
    talk.send(YES[lang])
    report = next(o for o in talk.outputs if isinstance(o, Report))
    assert ("kind", "threat") in report.answers and ("channel", "phone") in report.answers
    assert report.incident_month == "2026-11"


@pytest.mark.parametrize(("said", "kept"), [("Ja, genau", True), ("ja das stimmt so", True),
                                            ("nein, stimmt nicht", False),
                                            ("Das ist nicht richtig", False)])
def test_the_line_takes_a_yes_or_no_in_a_sentence(shipped: Bundle, said: str,
                                                   kept: bool) -> None:
    talk = _first(shipped, "de")
    talk.send(NO["de"])
    talk.send(said)
    assert talk.state is not None and ("kind" in talk.state.slots) is kept, said


def test_yes_but_is_no_confirmation(shipped: Bundle) -> None:
    talk = _first(shipped, "de")
    talk.send(NO["de"])
    talk.send("ja, aber es war vorgestern")  # a correction, not a yes: the line again
    assert talk.question.text == LINE["de"] and "nicht sicher" in talk.said
