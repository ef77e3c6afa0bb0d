"""Every bug the robustness run found, each pinned by the smallest case that showed it."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from bot.engine.conversation import (
    Ended,
    Frame,
    Question,
    Report,
    Resume,
    Said,
    Start,
    State,
    state_from_json,
    state_to_json,
)
from bot.engine.turn import step
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from storage.report_store import ReportStore

from ..helpers import NOW, SECRET, Talk
from .fuzz import SHIPPED, check_state

pytestmark = pytest.mark.robustness



def test_answers_the_flows_cannot_give_are_dropped_and_the_rest_goes_on() -> None:
    """Found by the service fuzzer: a damaged row (or content changed meanwhile) left 'phone' in
    the incident-kind slot and the conversation went on with it; typed words there would have
    reached a report. Now such answers count as never given, and the others stay."""
    damaged = State("de", (Frame("protocol", "feelings"),), {
        "kind": "phone", "channel": "phone", "motive": ("racist", "Frau Müller"),
        "incident_date": "2026-13-45", "gone_question": "ja", "protocol_after": ""})
    turn = step(SHIPPED, damaged, Said("Ich war erschrocken"), NOW)
    assert turn.state is not None
    check_state(SHIPPED, turn.state)
    assert turn.state.frames != damaged.frames  # went on, did not start afresh
    kept = {slot: turn.state.slots.get(slot) for slot in damaged.slots}
    assert kept == {"kind": None, "channel": "phone", "motive": ("racist",),
                    "incident_date": None, "gone_question": None, "protocol_after": None}


def test_start_with_an_unknown_flow_starts_the_default_flow() -> None:
    """Found by the engine fuzzer: Start(flow='0') raised KeyError (a deep link, a web page)."""
    turn = step(SHIPPED, None, Start(flow="0"), NOW)
    assert turn.state is not None and turn.state.frames[0].flow == SHIPPED.default_flow


def test_a_lone_surrogate_in_typed_text_is_stored_as_a_replacement_character() -> None:
    """Found by the engine fuzzer: '\\ud800' typed into a free-text answer made a state that
    could not be saved (orjson refuses lone surrogates), so the service crashed on every turn."""
    talk = Talk(SHIPPED, flow="protocol")
    talk.send("heute")
    talk.send("Rathaus \ud800 Zimmer 3")
    assert talk.state is not None
    assert "Rathaus \ufffd Zimmer 3" in talk.state.slots.values()
    assert state_from_json(state_to_json(talk.state)) == talk.state


async def test_a_lone_surrogate_in_a_user_or_event_id_is_hashed_not_fatal() -> None:
    """Found by the service fuzzer: ids from a platform's JSON may hold '\\ud800'."""
    svc = ConversationService(SHIPPED, StateStore(None), KeyHasher(SECRET), lambda: NOW)
    key = ConversationKey("matrix", "@\ud800:city.example")
    assert await svc.handle(key, Start(), "\udc00-event")
    assert await svc.handle(key, Said("nein"), "\udc00-event") == ()  # still a duplicate
    assert KeyHasher(SECRET)(key) != KeyHasher(SECRET)(ConversationKey("matrix", "@?:city.example"))


@pytest.mark.parametrize("stored", [
    {"l": "de", "f": "employee:danger", "s": []},
    {"l": "de", "f": 5},
    {"l": "de", "f": "employee:danger", "s": "x"},
])
async def test_a_stored_state_of_the_wrong_shape_starts_afresh(stored: object) -> None:
    """Found by the service fuzzer: AttributeError from state_from_json was not caught."""
    svc = ConversationService(SHIPPED, StateStore(None), KeyHasher(SECRET), lambda: NOW)
    key = ConversationKey("test", "damaged")
    svc.store.save(svc.hasher(key), orjson.dumps(stored).decode(), "[]", int(NOW.timestamp()),
                   int(NOW.timestamp()) + 3600)
    outputs = await svc.handle(key, Said("hallo"))
    assert any(isinstance(o, Question) for o in outputs)


async def test_a_report_never_holds_values_that_are_not_choices_of_the_flows_now() -> None:
    """Found while fuzzing damaged and older states: a conversation kept across a content
    update reached the preview with a renamed choice and typed text in report slots; the text
    was shown as 'would be stored' and the report store refused it with ValueError, crashing
    the turn at the very last step. Now neither is shown nor stored."""
    reports = ReportStore(None)
    svc = ConversationService(SHIPPED, StateStore(None), KeyHasher(SECRET), lambda: NOW,
                              reports=reports)
    key = ConversationKey("test", "older-version")
    older = State("de", (Frame("report", "preview"),), {
        "kind": "Frau Müller sagte", "channel": "phone_old", "motive": ("racist", "Frau X"),
        "area": "leadership"})
    svc.store.save(svc.hasher(key), state_to_json(older), "[]", int(NOW.timestamp()),
                   int(NOW.timestamp()) + 3600)
    preview = await svc.handle(key, Resume())
    text = "\n".join(getattr(o, "text", "") for o in preview)
    assert "Müller" not in text and "phone_old" not in text and "Frau X" not in text
    assert "Rassistisch" in text
    outputs = await svc.handle(key, Said("ja"))
    assert Ended() in outputs
    stored = reports.reports()
    assert [r.answers for r in stored] == [(("area", "leadership"), ("motive", "racist"))]
    engine = step(SHIPPED, older, Said("ja"), NOW).outputs
    assert next(o for o in engine if isinstance(o, Report)).answers == (
        ("motive", "racist"), ("area", "leadership"))


def test_the_service_survives_all_of_it_in_one_loop() -> None:
    """The regressions above, run together through one service, as a channel would."""
    async def run() -> None:
        svc = ConversationService(SHIPPED, StateStore(None), KeyHasher(SECRET), lambda: NOW)
        key = ConversationKey("web", "\ud800")
        opened = await svc.handle(key, Start(flow="no-such-flow"), "\ud800")
        asked = opened[-1]
        assert isinstance(asked, Question) and asked.node == "safety"  # the default flow
        again = await svc.handle(key, Said("\ud800" * 10))
        assert again[-1] == asked  # not understood: the question again
        assert await svc.handle(key, Start(), "\ud800") == ()  # its event id was kept
        assert svc.store.count() == 1
    asyncio.run(run())


class _FailingOnce(StateStore):
    """A state database whose next commit fails, as on a full disk or a kill at that moment."""

    fail = False

    def commit(self) -> None:
        if self.fail:
            self.fail = False
            raise OSError("disk full")
        super().commit()


async def test_a_report_is_stored_once_when_the_state_commit_fails_and_the_message_comes_again(
        ) -> None:
    """Found by reading the crash test's window: the report was inserted before the turn's state
    was committed, so a failed commit (or a kill between the two) and the platform's redelivery
    of the same "ja" stored the report twice. Now the state is committed first."""
    reports = ReportStore(None)
    store = _FailingOnce(None)
    svc = ConversationService(SHIPPED, store, KeyHasher(SECRET), lambda: NOW, reports=reports)
    key = ConversationKey("test", "twice")
    await svc.handle(key, Start(flow="report"))
    for n, text in enumerate(["ja", "1", "1", "1", "1", "1", "1", "1", "1"]):
        await svc.handle(key, Said(text), f"m{n}")
    store.fail = True
    with pytest.raises(OSError):
        await svc.handle(key, Said("ja"), "confirm")
    assert reports.count() == 0  # nothing stored that the user was not told about
    outputs = await svc.handle(key, Said("ja"), "confirm")  # the platform delivers it again
    assert any("anonym gespeichert" in getattr(o, "text", "") for o in outputs)
    assert await svc.handle(key, Said("ja"), "confirm") == ()
    assert reports.count() == 1
