"""The engine on small inline flows: answers, commands, conditions, calls, documents."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.engine.conversation import (
    ChecklistView,
    Contacts,
    Document,
    Ended,
    Picked,
    Question,
    Resume,
    Said,
    Say,
    state_from_json,
    state_to_json,
)
from bot.engine.turn import MAX_TEXT, step
from bot.flows.model import UNDERSTOOD_SLOT, Bundle

from .helpers import NOW, Talk, bundle_of

INCIDENT = """
flow: incident
version: 1
title: {de: Vorfall, en: Incident}
start: danger
nodes:
  danger:
    say: {de: Willkommen., en: Welcome.}
    ask: {de: Sind Sie in Gefahr?, en: Are you in danger?}
    choices:
      - id: "yes"
        label: {de: Ja, en: "Yes"}
        synonyms: {de: [gefahr], en: [danger]}
        next: call_110
      - id: "no"
        label: {de: Nein, en: "No"}
        next: channel
  call_110:
    say: {de: Rufen Sie 110 an., en: Call 110.}
    contacts: {topics: [emergency]}
    next: channel
  channel:
    ask: {de: Wie ist es passiert?, en: How did it happen?}
    choices:
      - id: letter
        label: {de: Per Brief, en: By letter}
        synonyms: {de: [brief], en: [letter]}
      - id: phone
        label: {de: Am Telefon, en: On the phone}
        synonyms: {de: [telefon, anruf], en: [phone, call]}
      - id: counter
        label: {de: Am Schalter, en: At the counter}
        synonyms: {de: [schalter], en: [counter, desk]}
    next: when
  when:
    input: {de: Wann war das?, en: When was it?}
    type: date
    slot: incident_date
    optional: true
    next: route
  route:
    next:
      - if: {slot: channel, is: letter}
        then: keep_letter
      - if: {all: [{slot: channel, in: [phone, counter]}, {slot: incident_date, answered: true}]}
        then: words
      - else: done
  keep_letter:
    say: {de: "Brief vom {incident_date} aufbewahren.", en: "Keep the letter of {incident_date}."}
    next: done
  words:
    input: {de: Was wurde gesagt?, en: What was said?}
    slot: exact_words
    optional: true
    next: protocol
  protocol:
    document: {de: Notiz, en: Note}
    file: notiz
    fields:
      - label: {de: Datum, en: Date}
        slot: incident_date
      - label: {de: Weg, en: Channel}
        slot: channel
      - label: {de: Worte, en: Words}
        slot: exact_words
    erase: true
    next: done
  done:
    say: {de: "Passen Sie auf sich auf ({channel}).", en: "Take care ({channel})."}
    end: true
"""


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    return bundle_of(tmp_path, INCIDENT)


def test_start_shows_message_then_question_with_numbered_options(bundle: Bundle) -> None:
    talk = Talk(bundle)
    assert talk.said == "Willkommen."
    assert talk.question.text == "Sind Sie in Gefahr?"
    assert [(o.number, o.label) for o in talk.question.options] == [(1, "Ja"), (2, "Nein")]


@pytest.mark.parametrize("answer", ["2", "2.", "Nein", "nein!", "  NEIN "])
def test_a_choice_is_taken_by_number_or_label(bundle: Bundle, answer: str) -> None:
    talk = Talk(bundle)
    talk.send(answer)
    assert talk.node == "channel"


@pytest.mark.parametrize(("answer", "node_after"), [
    ("Er hat am Telefon gedroht", "when"),
    ("anruf", "when"),
    ("ein Brief kam", "when"),
])
def test_a_sentence_with_one_choices_synonym_answers(bundle: Bundle, answer: str,
                                                     node_after: str) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    talk.send(answer)
    assert talk.node == node_after


@pytest.mark.parametrize("nonsense", ["vielleicht", "7", "brief oder telefon", "", "🙂"])
def test_nonsense_gets_a_kind_reask_that_offers_to_go_on_then_goes_on(bundle: Bundle,
                                                                       nonsense: str) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    before = talk.state
    assert before is not None
    talk.send(nonsense)
    assert talk.state is not None
    assert (talk.state.frames, talk.state.history) == (before.frames, before.history)
    assert "channel" not in talk.state.slots  # no answer taken
    assert "nicht sicher, welche Antwort passt" in talk.said and "nicht verstanden" not in talk.said
    assert [o.label for o in talk.question.options][-1] == "Weiter ohne Antwort"
    assert len(talk.question.options) == 4
    talk.send(nonsense)  # a second miss: on, without an answer, never a loop
    assert "ohne diese Antwort weiter" in talk.said
    assert talk.node == "when" and talk.state is not None
    assert talk.state.slots.get("channel") is None
    talk.send("zurück")
    assert talk.node == "channel"  # and back to the question at any time


@pytest.mark.parametrize("go_on", ["4", "Weiter ohne Antwort", "weiter"])
def test_the_offer_to_go_on_is_taken_by_number_or_words(bundle: Bundle, go_on: str) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    talk.send("vielleicht")
    talk.send(go_on)
    assert talk.node == "when"


@pytest.mark.parametrize(("lang", "first", "thanks", "general"), [
    # Not "gerade" / "just" threatened: that reads as danger right now (tests/test_danger.py).
    ("de", "Ich wurde heute früh am Schalter bedroht", "Danke, dass Sie mir das schreiben",
     "nicht verstanden"),
    ("en", "Someone threatened me at the counter this morning", "Thank you for telling me",
     "didn't understand")])
def test_what_happened_written_at_the_safety_question_is_thanked_for_not_refused(
        shipped: Bundle, lang: str, first: str, thanks: str, general: str) -> None:
    talk = Talk(shipped, lang=lang)
    before = talk.state
    talk.send(first)
    # Still at the safety question, which comes again, with no answer taken; what the sentence
    # says waits to be confirmed after it (tests/test_first_sentence.py).
    assert talk.state is not None and before is not None
    assert (talk.state.frames, talk.state.history) == (before.frames, before.history)
    assert set(talk.state.slots) - set(before.slots) == {UNDERSTOOD_SLOT}
    assert thanks in talk.said and general not in talk.said
    assert [o.id for o in talk.question.options] == ["yes", "no"]
    talk.send("2" if lang == "de" else "no")
    talk.send("blub")  # any other question has the kind re-ask, not these words
    assert thanks not in talk.said and general not in talk.said


def test_conditions_route_on_earlier_answers_and_texts_show_them(bundle: Bundle) -> None:
    talk = Talk(bundle)
    for answer in ("nein", "brief", "24.11.2026"):
        talk.send(answer)
    assert "Brief vom 24.11.2026 aufbewahren." in talk.said
    assert "Passen Sie auf sich auf (Per Brief)." in talk.said
    assert talk.state is None and isinstance(talk.outputs[-1], Ended)


def test_dates_are_understood_and_future_dates_refused(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    talk.send("telefon")
    talk.send("30.11.2026")
    assert "Zukunft" in talk.said and talk.node == "when"
    talk.send("übermorgen")
    assert talk.node == "when"
    talk.send("gestern")
    assert talk.state is not None and talk.state.slots["incident_date"] == "2026-11-24"


def test_document_carries_answers_and_the_answers_are_erased_after(bundle: Bundle) -> None:
    talk = Talk(bundle, lang="en")
    for answer in ("no", "phone", "today"):
        talk.send(answer)
    talk.send("You will regret this, Ms Öztürk")
    document = next(o for o in talk.outputs if isinstance(o, Document))
    assert document.fields == (("Date", "25 November 2026"), ("Channel", "On the phone"),
                               ("Words", "You will regret this, Ms Öztürk"))
    assert document.created == NOW and document.file == "notiz"
    assert talk.state is None  # the flow ended right after


def test_skipped_fields_are_left_out_of_the_document(bundle: Bundle) -> None:
    talk = Talk(bundle)
    for answer in ("nein", "schalter", "heute", "überspringen"):
        talk.send(answer)
    document = next(o for o in talk.outputs if isinstance(o, Document))
    assert [label for label, _ in document.fields] == ["Datum", "Weg"]


def test_erase_removes_typed_text_from_state_and_undo_history(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, INCIDENT.replace("    next: done\n  done:", "    next: more\n"
                                                  "  more:\n    ask: {de: Mehr?, en: More?}\n"
                                                  "    choices:\n      - id: ok\n"
                                                  "        label: {de: Gut, en: Good}\n"
                                                  "    next: done\n  done:"))
    talk = Talk(bundle)
    for answer in ("nein", "schalter", "heute", "Kanarienvogel-Satz", ):
        talk.send(answer)
    assert talk.node == "more" and talk.state is not None
    assert "Kanarienvogel" not in state_to_json(talk.state)


def test_emergency_works_from_every_node_and_offers_to_go_on(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    before = talk.state
    for word in ("Notfall", "/notfall", "emergency", "SOS"):
        outputs = talk.send(word)
        assert "110" in talk.said
        cards = next(o for o in outputs if isinstance(o, Contacts)).cards
        assert {"110", "112"} <= {c.phone for c in cards}
        assert talk.question.text == "Wie ist es passiert?"
        assert talk.state == before


def test_emergency_is_first_even_before_a_conversation_exists(bundle: Bundle) -> None:
    turn = step(bundle, None, Said("notfall"), NOW)
    assert any(isinstance(o, Contacts) for o in turn.outputs)
    assert turn.state is not None and turn.state.here.node == "danger"


def test_back_undoes_the_last_answer(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    talk.send("brief")
    talk.send("zurück")
    assert talk.node == "channel" and talk.state is not None
    assert "channel" not in talk.state.slots
    talk.send("back")
    assert talk.node == "danger"
    talk.send("zurueck")
    assert "keine Antwort" in talk.said or "noch" in talk.said
    assert talk.node == "danger"


def test_restart_language_and_help(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    talk.send("english")
    assert talk.question.text == "How did it happen?"
    talk.send("/sprache de")
    assert talk.question.text == "Wie ist es passiert?"
    talk.send("sprache")
    assert talk.question.text == "How did it happen?"
    talk.send("help")
    assert "emergency" in talk.said and talk.node == "channel"
    talk.send("restart")
    assert talk.node == "danger" and talk.state is not None and not talk.state.slots


def test_stop_ends_and_forget_erases(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    outputs = talk.send("stopp")
    assert talk.state is None and outputs[-1] == Ended(erased=False)
    talk = Talk(bundle)
    outputs = talk.send("vergessen")
    assert talk.state is None and outputs[-1] == Ended(erased=True)


def test_a_message_after_the_end_starts_a_new_conversation(bundle: Bundle) -> None:
    turn = step(bundle, None, Said("Hallo"), NOW)
    assert turn.state is not None and turn.state.here.node == "danger"


def test_platform_language_hint_picks_the_language_of_a_new_conversation(
        bundle: Bundle) -> None:
    turn = step(bundle, None, Said("hello", lang="en-GB"), NOW)
    question = next(o for o in turn.outputs if isinstance(o, Question))
    assert question.text == "Are you in danger?"


def test_buttons_answer_and_stale_buttons_get_a_note(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send_event(Picked("incident", "danger", "no"))
    assert talk.node == "channel"
    before = talk.state
    talk.send_event(Picked("incident", "danger", "yes"))
    assert talk.state == before and "früheren Frage" in talk.said


def test_resume_says_where_we_were(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    talk.send_event(Resume())
    assert talk.said and talk.question.text == "Wie ist es passiert?"


def test_oversized_messages_are_refused_politely(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    talk.send("telefon")
    talk.send("heute")
    talk.send("x" * (MAX_TEXT + 1))
    assert talk.node == "words" and "lang" in talk.said.lower()


def test_state_survives_json_and_a_changed_flow_restarts_politely(bundle: Bundle) -> None:
    talk = Talk(bundle)
    talk.send("nein")
    assert talk.state is not None
    assert state_from_json(state_to_json(talk.state)) == talk.state
    moved = dataclasses.replace(talk.state, frames=(dataclasses.replace(talk.state.here,
                                                                        node="gone"),))
    turn = step(bundle, moved, Said("brief"), NOW)
    assert turn.state is not None and turn.state.here.node == "danger"


CALLS = """
flow: main
version: 1
title: {de: Haupt, en: Main}
start: first
nodes:
  first:
    call: sub
    next: after
  after:
    ask: {de: Weiter?, en: Go on?}
    choices:
      - id: ok
        label: {de: Gut, en: Good}
    next: done
  done:
    end: true
"""
SUB = """
flow: sub
version: 1
title: {de: Unter, en: Sub}
start: tick
nodes:
  tick:
    checklist: {de: Liste, en: List}
    items:
      - id: a
        text: {de: Erstens, en: First}
      - id: b
        text: {de: Zweitens, en: Second}
    next: bye
  bye:
    say: {de: Zurück zum Hauptablauf., en: Back to the main flow.}
    end: true
"""


def test_called_flow_runs_and_returns_and_checklists_tick(tmp_path: Path) -> None:
    talk = Talk(bundle_of(tmp_path, CALLS, SUB), flow="main")
    view = next(o for o in talk.outputs if isinstance(o, ChecklistView))
    assert [t.done for t in view.items] == [False, False]
    talk.send("1 2")
    talk.send("2")
    view = next(o for o in talk.outputs if isinstance(o, ChecklistView))
    assert [t.done for t in view.items] == [True, False] and "1 von 2" in view.progress
    talk.send("fertig")
    assert "Zurück zum Hauptablauf." in talk.said
    assert talk.node == "after" and talk.state is not None
    assert [f.flow for f in talk.state.frames] == ["main"]


def test_a_tick_kept_from_before_a_content_update_does_not_crash_the_list(
        tmp_path: Path) -> None:
    talk = Talk(bundle_of(tmp_path, CALLS, SUB), flow="main")
    assert talk.state is not None
    talk.state = dataclasses.replace(talk.state, slots={**talk.state.slots,
                                                        "tick": ("removed_item", "a")})
    talk.send("2")  # the item the content no longer has is dropped, the others stay
    view = next(o for o in talk.outputs if isinstance(o, ChecklistView))
    assert [t.done for t in view.items] == [True, True]
    assert talk.state is not None and talk.state.slots["tick"] == ("a", "b")


def test_runaway_guard_stops_instead_of_looping(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, CALLS, SUB)
    flows = dict(bundle.flows)
    sub = flows["sub"]
    nodes = dict(sub.nodes)
    # A content bug the checker would refuse: the flow calls itself for ever.
    from bot.flows.model import Call, Link
    nodes["tick"] = Call(id="tick", flow="sub", next=(Link("bye"),))
    flows["sub"] = dataclasses.replace(sub, nodes=nodes)
    broken = dataclasses.replace(bundle, flows=flows)
    turn = step(broken, None, Said("hallo"), NOW)
    assert turn.state is None and isinstance(turn.outputs[-1], Ended)
    assert "110" in turn.outputs[0].text  # type: ignore[union-attr]


def test_a_checklist_can_be_had_as_a_document_with_its_ticks(tmp_path: Path) -> None:
    talk = Talk(bundle_of(tmp_path, CALLS, SUB), flow="main")
    talk.send("2")
    outputs = talk.send("drucken")
    document = next(o for o in outputs if isinstance(o, Document))
    assert document.title == "Liste" and document.file == "checkliste"
    assert document.fields == (("Erstens", "offen"), ("Zweitens", "erledigt"))
    assert talk.node == "tick"  # and the list goes on


BRACES = """
flow: braces
version: 1
title: {de: Klammern, en: Braces}
start: pick
nodes:
  pick:
    ask: {de: Welche Klammer?, en: Which brace?}
    choices:
      - id: open
        label: {de: Auf, en: Open}
      - id: close
        label: {de: "Zu }}", en: "Close }}"}
    next: done
  done:
    say: {de: "Gewählt: {pick}", en: "Chosen: {pick}"}
    end: true
"""


def test_doubled_braces_show_as_one_in_options_and_answers(tmp_path: Path) -> None:
    """`{{` and `}}` are a literal brace in every text, also in a question asked again and
    in a label shown as the answer (both showed `}}` doubled)."""
    talk = Talk(bundle_of(tmp_path, BRACES))
    for _ in range(2):  # asked, then asked again after "zurück"
        question = talk.question
        assert question.text == "Welche Klammer?"
        assert [o.label for o in question.options] == ["Auf", "Zu }"]
        talk.send("zurück")
    assert talk.send("2")[0] == Say("Gewählt: Zu }")
