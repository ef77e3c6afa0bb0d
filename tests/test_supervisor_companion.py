"""The supervisor companion (issue 25): from "a staff member was just attacked" to a safe
situation, a list with dates, reminders and a printout, one screen at a time, through the
service, in both languages; kept 30 days, and back after a restart with two lines on where the
list stands."""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap
from pathlib import Path

import pytest

from bot.engine.conversation import (
    Document,
    Ended,
    Output,
    Picked,
    Question,
    Resume,
    Said,
    Say,
    Start,
)
from bot.flows.model import Bundle, Checklist
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from storage.report_store import ReportStore

from .helpers import NOW, SECRET, Clock

pytestmark = pytest.mark.asyncio

KEY = ConversationKey("test", "chefin")
# nobody in danger, learned today, on the same day, an insult, not (yet) unfit for work
TO_THE_LIST = {"de": ("nein", "heute", "1", "1", "2"), "en": ("no", "today", "1", "1", "2")}
WORDS = {"de": {"done": "erledigt", "later": "später", "na": "trifft nicht zu",
                "more": "mehr dazu", "open": "was ist offen"},
         "en": {"done": "done", "later": "later", "na": "does not apply",
                "more": "more on this", "open": "what is still open"}}


class Chat:
    """One conversation through the real service, with its state database."""

    def __init__(self, bundle: Bundle, path: Path, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.path = path
        self.bundle = bundle
        self.svc = ConversationService(bundle, StateStore(path), KeyHasher(SECRET), self.clock)
        self.outputs: tuple[Output, ...] = ()

    async def start(self, lang: str = "de") -> None:
        self.outputs = await self.svc.handle(KEY, Start(lang, "supervisor"))

    async def say(self, text: str) -> tuple[Output, ...]:
        self.outputs = await self.svc.handle(KEY, Said(text))
        return self.outputs

    async def press(self, choice: str) -> tuple[Output, ...]:
        question = self.question
        self.outputs = await self.svc.handle(KEY, Picked(question.flow, question.node, choice))
        return self.outputs

    def restart(self) -> None:
        """Lotse stops and starts again: a new service on the same database."""
        self.svc.store.close()
        self.svc = ConversationService(self.bundle, StateStore(self.path), KeyHasher(SECRET),
                                       self.clock)

    @property
    def question(self) -> Question:
        questions = [o for o in self.outputs if isinstance(o, Question)]
        assert questions, self.outputs
        return questions[-1]

    @property
    def said(self) -> str:
        return "\n".join(o.text for o in self.outputs if isinstance(o, Say))


def phone_lines(text: str) -> int:
    """Lines on a phone about 45 characters wide."""
    return sum(len(textwrap.wrap(line, 45)) or 1 for line in text.split("\n"))


def the_list(bundle: Bundle) -> Checklist:
    node = bundle.flows["supervisor"].nodes["checklist"]
    assert isinstance(node, Checklist)
    return node


async def test_safety_comes_first_and_nothing_else_until_it_is_safe(
        shipped: Bundle, tmp_path: Path) -> None:
    chat = Chat(shipped, tmp_path / "state.db")
    await chat.start()
    assert chat.question.text == "Ist die Person gerade in Gefahr?"
    await chat.say("ja")
    assert "110" in chat.said and "112" in chat.said
    assert chat.question.text == "Ist die Lage jetzt sicher?"
    await chat.say("nein, noch nicht")
    assert "niemand bleibt allein" in chat.said
    assert chat.question.node == "still_unsafe"  # no date, no list, nothing else
    await chat.say("was soll ich tun?")
    assert chat.question.node == "still_unsafe"
    await chat.press("yes")
    assert "Wann haben Sie von dem Vorfall erfahren?" in chat.question.text


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_every_item_one_screen_each_answer_and_the_printout(
        shipped: Bundle, tmp_path: Path, lang: str) -> None:
    chat = Chat(shipped, tmp_path / "state.db")
    await chat.start(lang)
    for answer in TO_THE_LIST[lang]:
        await chat.say(answer)
    items = the_list(shipped).items
    answered: dict[str, str] = {}
    words = WORDS[lang]
    seen = 0
    while chat.question.node == "checklist" and chat.question.options[0].id.startswith("done."):
        question = chat.question
        item_id = question.options[0].id.partition(".")[2]
        item = next(i for i in items if i.id == item_id)
        assert item.text[lang] in question.text and item.do is not None
        assert phone_lines(question.text) <= 9, question.text  # one phone screen
        labels = [o.label for o in question.options]
        assert labels[:3] == [shipped.text(f"walk.{a}", lang) for a in ("done", "later", "na")]
        if item.more is not None:  # "Mehr dazu": this item's note only, then the item again
            await chat.say(words["more"])
            assert chat.said == item.more[lang]
            assert phone_lines(chat.said) <= 9
            assert chat.question.text == question.text
        action = ("done", "later", "na")[seen % 3]
        if seen % 2:
            await chat.say(words[action])  # typed
        else:
            await chat.press(f"{action}.{item_id}")  # a button
        answered[item_id] = action
        seen += 1
    # An insult, not unfit yet: every item is on the list (the accident report waits too), but
    # return-to-work management (BEM), which only comes with six weeks of incapacity.
    shown_items = [i for i in the_list(shipped).items if i.id != "bem"]
    assert seen == len(shown_items) == 14
    # What is still open, with the dates: the items answered "later".
    question = chat.question
    later = [i for i, a in answered.items() if a == "later"]
    ids = [o.id for o in question.options]  # at most five, the soonest due first
    assert len(later) <= 5 and ids[-2:] == ["print", "finish"]
    assert sorted(ids[:-2]) == sorted(f"go.{i}" for i in later)
    printed = await chat.press("print")
    document = next(o for o in printed if isinstance(o, Document))
    marks = [status for _, status in document.fields]
    expected = {"de": {"done": "erledigt", "later": "offen", "na": "trifft nicht zu"},
                "en": {"done": "done", "later": "still open", "na": "does not apply"}}[lang]
    assert marks == [expected[answered[i.id]] for i in shown_items]
    first_care = document.fields[0][0]
    assert first_care.endswith({"de": "Fr 27.11.2026", "en": "Fri 27 November 2026"}[lang])
    # Jump back to an open item, then close the list: the supervisor's support, the report.
    await chat.press(f"go.{later[0]}")
    assert chat.question.options[0].id == f"done.{later[0]}"
    await chat.say(words["open"])
    await chat.press("finish")
    assert any(card for o in chat.outputs for card in getattr(o, "cards", ())
               if card.id == "starke_stelle")
    assert chat.question.node == "report_role"


async def test_the_report_at_the_end_says_it_came_from_a_supervisor(
        shipped: Bundle, tmp_path: Path) -> None:
    chat = Chat(shipped, tmp_path / "state.db")
    reports = ReportStore(tmp_path / "reports.db")
    chat.svc = ConversationService(shipped, StateStore(tmp_path / "s.db"), KeyHasher(SECRET),
                                   chat.clock, reports=reports)
    await chat.start()
    for answer in (*TO_THE_LIST["de"], "fertig", "fertig", "Ich bin Führungskraft", "ja"):
        await chat.say(answer)
    while chat.question.node != "preview":
        await chat.say("1")
    assert "Wer meldet: Ich bin Führungskraft" in chat.question.text
    assert "Führungskraft weiß Bescheid" not in chat.question.text  # not asked of a supervisor
    outputs = await chat.say("ja")
    assert isinstance(outputs[-1], Ended)
    for _ in range(50):  # handed on to reports.db in a batch, just after the turn
        if reports.count():
            break
        await asyncio.sleep(0.01)
    [stored] = reports.reports()
    assert ("role", "supervisor") in stored.answers and stored.flow_version >= 2
    assert stored.incident_month == "2026-11"  # the incident on the day the supervisor learned


async def test_back_after_a_restart_and_29_days_with_two_lines_gone_after_30(
        shipped: Bundle, tmp_path: Path) -> None:
    chat = Chat(shipped, tmp_path / "state.db")
    await chat.start()
    for answer in ("nein", "heute", "1", "1", "1", "erledigt", "später", "trifft nicht zu"):
        await chat.say(answer)
    chat.restart()
    chat.clock.now = NOW + dt.timedelta(days=29)
    assert chat.svc.purge_expired() == 0
    outputs = await chat.svc.handle(KEY, Resume())
    chat.outputs = outputs
    summary = [o.text for o in outputs if isinstance(o, Say)][-1]
    assert summary.split("\n") == [
        "1 von 15 erledigt, 1 trifft nicht zu.",
        "Als Nächstes fällig: Unfallanzeige bis Sa 28.11.2026."]
    assert chat.question.text.startswith("Punkt 4 von 15: Gefährdungsstufe einschätzen")
    assert not any(type(o).__name__ == "ChecklistView" for o in outputs)  # no wall
    chat.clock.now = NOW + dt.timedelta(days=29 + 31)  # 30 days without a word: gone
    assert chat.svc.purge_expired() == 1
    assert not await chat.svc.has_conversation(KEY)


async def test_zurueck_returns_to_the_item_before(shipped: Bundle, tmp_path: Path) -> None:
    chat = Chat(shipped, tmp_path / "state.db")
    await chat.start()
    for answer in (*TO_THE_LIST["de"], "später", "Punkt 9"):
        await chat.say(answer)
    assert chat.question.text.startswith("Punkt 9 von 14: Schutzmaßnahmen")
    await chat.say("zurück")
    assert chat.question.text.startswith("Punkt 2 von 14: Gespräch mit der Person")
    await chat.say("1")  # the first answer: done
    assert chat.question.text.startswith("Punkt 3 von 14")
