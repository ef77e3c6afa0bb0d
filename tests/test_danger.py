"""Danger first, always (issue 23, item 3): any typed message that reads as danger right now,
at any node of any flow and as the very first message, is answered with the emergency numbers
and then the question whether the person is safe now. The cues are the shipped flow's content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.engine.conversation import Contacts, Frame, Output, Question, Said, Say, State
from bot.engine.danger import reads_danger
from bot.engine.turn import step
from bot.flows.model import CAN_REMIND_SLOT, DANGER_SLOT, UNDERSTOOD_SLOT, Bundle

from .helpers import NOW, Talk, check_flows

CORPUS = Path(__file__).parent / "corpus" / "utterances.yaml"


def _corpus() -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text("utf-8"))["messages"]
    return messages


def _danger_shown(bundle: Bundle, outputs: tuple[Output, ...], lang: str) -> bool:
    """The reply begins with the danger node's text and the 110 card, and then asks whether
    the person is safe now."""
    danger = bundle.danger
    assert danger is not None
    node = bundle.flows[danger.flow].nodes[danger.go]
    assert node.say is not None
    if not outputs or outputs[0] != Say(node.say[lang]):
        return False
    assert isinstance(outputs[1], Contacts)
    assert {"110", "112"} <= {card.phone for card in outputs[1].cards}
    assert isinstance(outputs[-1], Question) and outputs[-1].node == "safe_now"
    return True


def _reply(bundle: Bundle, message: dict[str, Any]) -> tuple[Output, ...]:
    """The engine's reply to a corpus message: a first message, or an answer at `at`."""
    lang = message["lang"]
    state = None
    if message.get("at"):
        flow, node = message["at"].split(".")
        state = State(lang, (Frame(flow, node),))
    return step(bundle, state, Said(message["text"], lang=lang), NOW).outputs


def test_the_corpus_danger_is_always_shown_and_never_after_an_explicit_no(
        shipped: Bundle) -> None:
    missed, alarmed, false_alarms, unlabeled = [], [], [], 0
    for message in _corpus():
        shown = _danger_shown(shipped, _reply(shipped, message), message["lang"])
        expected = message["expect"].get("danger")
        if expected is True and not shown:
            missed.append(message["text"])
        elif expected is False and shown:
            alarmed.append(message["text"])
        elif expected is None:
            unlabeled += 1
            if shown:
                false_alarms.append(message["text"])
    assert not missed, "danger not shown for:\n" + "\n".join(missed)
    assert not alarmed, "danger shown after an explicit no:\n" + "\n".join(alarmed)
    # Messages without a danger label say nothing about now: an alarm there is a false one.
    print(f"danger: false alarms on {unlabeled} unlabeled corpus messages: {len(false_alarms)}")
    assert len(false_alarms) <= unlabeled // 50, "\n".join(false_alarms)


@pytest.mark.parametrize(("text", "danger"), [
    ("nicht geschlagen, aber er steht noch im Flur", True),
    ("nicht geschlagen, aber beleidigt", False),
    ("ich bin nicht in Gefahr", False),
    ("Ich bin nicht mehr in Gefahr", False),
    ("keine akute Gefahr", False),
    ("Er hat kein Messer", False),
    ("er hat ein Küchenmesser", True),  # a compound: '*messer'
    ("Er hatte ein Messer, aber er ist weg", False),  # the explicit no comes last
    ("Er ist weg, aber ich habe Angst, dass er zurückkommt", True),  # the danger comes last
    ("ich habe keine Angst mehr", False),
    ("ich bin nicht in sicherheit", True),
    ("Ich wurde gerade am Schalter bedroht", True),  # gerade + a threat, in one clause
    ("Eine Kollegin hat mir gerade erzählt, dass sie bedroht wurde", False),  # two clauses
    ("Das Verfahren läuft noch", False),
    ("Die Antwort der Polizei steht noch aus", False),
    ("Er sagte: Ich weiß, wo Ihr Auto steht.", False),
    ("I'm not in danger", False),
    ("no he's here", True),  # "no" is an answer as often as a negation
    ("he doesn't have a knife", False),
    ("I don't feel safe", True),
    ("I'm afraid I don't know the date", False),
    ("Can you help me with the report?", False),
    ("He's still outside the building waiting for me", True),
    # Fear told of in the past (the memory protocol asks how it felt) is no danger now ...
    ("Ich hatte Angst und habe gezittert", False),
    ("ich habe richtig Angst gehabt", False),
    ("I was scared he would hit me", False),
    # ... fear now, or a cue after it, is.
    ("Ich habe Angst", True),
    ("Ich hatte Angst, und er steht noch vor der Tür", True),
    ("I was scared and he is still outside", True),
])
def test_negation_clauses_and_the_last_word_about_now(shipped: Bundle, text: str,
                                                      danger: bool) -> None:
    assert reads_danger(shipped.danger, text) is danger


def test_without_a_danger_block_nothing_reads_as_danger() -> None:
    assert reads_danger(None, "Er hat ein Messer") is False


# --- conversations through the engine, with the shipped flows ----------------------------

FIRST = {"de": "Der Mann von vorhin ist wieder im Flur und brüllt herum",
         "en": "The man from this morning is back and shouting in the hallway"}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_danger_as_the_first_message_shows_110_before_anything_else(shipped: Bundle,
                                                                    lang: str) -> None:
    turn = step(shipped, None, Said(FIRST[lang], lang=lang), NOW, can_remind=True)
    assert _danger_shown(shipped, turn.outputs, lang)
    assert "110" in turn.outputs[0].text  # type: ignore[union-attr]
    assert turn.state is not None and turn.state.here == Frame("employee", "safe_now")
    # What else the message says waits unconfirmed (its line comes once the person is safe).
    assert turn.state.slots.keys() == {CAN_REMIND_SLOT, DANGER_SLOT, UNDERSTOOD_SLOT}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_danger_in_the_middle_of_the_flow_does_the_same_and_back_returns(shipped: Bundle,
                                                                         lang: str) -> None:
    talk = Talk(shipped, lang=lang)
    for answer in ("2", "1", "2"):  # not in danger, it happened to me, not injured
        talk.send(answer)
    assert talk.node == "kind"
    at_kind = talk.state
    assert _danger_shown(shipped, talk.send(FIRST[lang]), lang)
    assert talk.node == "safe_now"
    talk.send("zurück" if lang == "de" else "back")
    assert talk.node == "kind" and talk.state is not None and at_kind is not None
    assert talk.state.slots == at_kind.slots
    talk.send(FIRST[lang])
    talk.send("1")  # I am safe now: on as after "yes, I am in danger"
    assert talk.node == "role"
    assert talk.state is not None and talk.state.slots["injured"] == "no"  # answers stay


@pytest.mark.parametrize(("lang", "text"), [("de", "ich bin nicht in Gefahr"),
                                            ("en", "I'm not in danger")])
def test_not_in_danger_at_the_first_question_goes_on_as_no(shipped: Bundle, lang: str,
                                                           text: str) -> None:
    talk = Talk(shipped, lang=lang)
    outputs = talk.send(text)
    assert not _danger_shown(shipped, outputs, lang)
    assert talk.node == "role"
    assert talk.state is not None and talk.state.slots.get("safety") == "no"


def test_not_hit_but_insulted_is_no_danger(shipped: Bundle) -> None:
    talk = Talk(shipped)
    for answer in ("nein", "1", "nein"):
        talk.send(answer)
    outputs = talk.send("nicht geschlagen, aber beleidigt")
    assert not _danger_shown(shipped, outputs, "de")
    assert talk.node != "safe_now"


def test_danger_in_another_flow_goes_to_the_employee_flows_emergency(shipped: Bundle) -> None:
    talk = Talk(shipped, flow="supervisor")
    talk.send("nein")  # nobody in danger: on to the date the supervisor learned of it
    assert talk.node == "learned"
    assert _danger_shown(shipped, talk.send("er steht wieder vor der Tür"), "de")
    assert talk.state is not None and talk.state.frames == (Frame("employee", "safe_now"),)


def test_a_command_is_still_a_command(shipped: Bundle) -> None:
    talk = Talk(shipped)
    outputs = talk.send("notfall")
    assert not _danger_shown(shipped, outputs, "de")
    assert talk.node == "safety"


# --- the check of the danger block across flows --------------------------------------------

_FLOW = """
flow: {id}
version: 1
title: {{de: T, en: T}}
start: ask
danger:
  go: help
  cues: {{de: [noch da], en: [still here]}}
nodes:
  ask:
    ask: {{de: Gefahr?, en: Danger?}}
    choices:
      - {{id: "yes", label: {{de: Ja, en: "Yes"}}, next: help}}
      - {{id: "no", label: {{de: Nein, en: "No"}}, next: done}}
  help:
    say: {{de: Rufen Sie 110 an., en: Call 110.}}
    next: done
  done:
    end: true
"""


def test_only_one_flow_may_say_where_danger_leads(tmp_path: Path) -> None:
    result = check_flows(tmp_path, _FLOW.format(id="one"), _FLOW.format(id="two"))
    assert result.bundle is None
    assert [str(p) for p in result.errors] == [
        f"{tmp_path / 'flows' / 'flow1.yaml'}:5:1: only one flow may have a 'danger' block "
        f"(also in {tmp_path / 'flows' / 'flow0.yaml'}) — keep the one of the flow that shows "
        "the emergency numbers"]


def test_a_danger_node_reached_only_by_danger_is_reachable(tmp_path: Path) -> None:
    flow = _FLOW.format(id="one").replace("next: help}", "next: done}")  # no choice leads there
    result = check_flows(tmp_path, flow)
    assert result.bundle is not None, "\n".join(str(p) for p in result.errors)
    assert result.bundle.danger is not None and result.bundle.danger.go == "help"
