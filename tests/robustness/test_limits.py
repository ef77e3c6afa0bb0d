"""Input limits: oversized messages refused politely, floods limited, no path from what a user
types to the file system, to SQL, or to markup."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bot
import storage
from bot.engine.conversation import Document, Question, Said, Say, Start, State
from bot.engine.turn import MAX_TEXT, step
from bot.flows.flow_steps import FILE_NAME
from bot.flows.model import DocumentStep, Input
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from bot.service.ratelimit import RateLimit, Verdict
from storage import StateStore

from ..helpers import NOW, SECRET, Talk
from . import figures
from .fuzz import SHIPPED, any_char

pytestmark = pytest.mark.robustness



def _at_every_kind_of_node() -> list[tuple[str, list[str], str]]:
    """(flow, answers, the kind of node they lead to): a choice, a free text, a date, a
    checklist and a report."""
    return [("employee", [], "Ask"), ("protocol", ["heute"], "Input text"),
            ("protocol", [], "Input date"),
            ("supervisor", ["2", "heute", "1", "1", "2"], "Checklist"),
            ("report", ["ja", "1", "1", "1", "1", "1", "1", "1", "1"], "ReportStep")]


@pytest.mark.parametrize(("flow", "answers", "kind"), _at_every_kind_of_node())
@pytest.mark.parametrize("size", [MAX_TEXT + 1, 100_000, 5_000_000])
def test_an_oversized_message_is_refused_politely_and_changes_nothing(
        flow: str, answers: list[str], kind: str, size: int) -> None:
    talk = Talk(SHIPPED, flow=flow)
    for answer in answers:
        talk.send(answer)
    before, prompt = talk.state, talk.outputs[-1]  # a question, or the checklist
    assert before is not None
    for text in ("x" * size, "notfall " * (size // 8 + 1), "1" * size):
        outputs = talk.send(text)
        assert talk.state == before
        assert outputs[0] == Say(SHIPPED.text("too_long", "de"))
        assert outputs[-1] == prompt  # the question or checklist again, to answer now
        figures.count("limits: oversized messages refused")
    node = SHIPPED.flows[before.here.flow].nodes[before.here.node]
    assert " ".join([type(node).__name__, *([node.kind] if isinstance(node, Input) else [])]) \
        == kind


def test_an_oversized_first_message_starts_the_conversation_with_the_refusal() -> None:
    turn = step(SHIPPED, None, Said("ä" * (MAX_TEXT + 1), "en"), NOW)
    assert turn.outputs[0] == Say(SHIPPED.text("too_long", "en"))
    assert isinstance(turn.outputs[-1], Question) and turn.state is not None


def test_a_message_of_exactly_the_limit_is_an_answer() -> None:
    talk = Talk(SHIPPED, flow="protocol")
    talk.send("heute")
    node = talk.node
    talk.send("y" * MAX_TEXT)
    assert talk.node != node and talk.state is not None
    assert "y" * MAX_TEXT in talk.state.slots.values()


# --- the rate limit ----------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_a_burst_then_one_notice_then_silence_until_refilled() -> None:
    ticks = Ticks()
    limit = RateLimit(burst=3, per_second=1.0, clock=ticks)
    assert [limit.check("a") for _ in range(6)] == [
        Verdict.ALLOW, Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTICE, Verdict.DROP, Verdict.DROP]
    assert limit.check("b") is Verdict.ALLOW  # others are not affected
    ticks.now = 1.0
    assert limit.check("a") is Verdict.ALLOW
    assert limit.check("a") is Verdict.DROP  # still the same flood: no second notice
    ticks.now = 10.0
    assert [limit.check("a") for _ in range(5)] == [
        Verdict.ALLOW, Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTICE, Verdict.DROP]


def test_the_bucket_memory_is_bounded() -> None:
    limit = RateLimit(burst=1, per_second=0.001, tracked=100, clock=Ticks())
    for i in range(10_000):
        limit.check(f"user-{i}")
    assert len(limit) == 100


async def test_a_flood_gets_one_notice_and_does_not_touch_the_state_or_the_others() -> None:
    svc = ConversationService(SHIPPED, StateStore(None), KeyHasher(SECRET), lambda: NOW)
    ticks = Ticks()
    svc.rate_limit = RateLimit(burst=5, per_second=1.0, clock=ticks)
    flooder, other = ConversationKey("web", "flood"), ConversationKey("web", "calm")
    await svc.handle(flooder, Start("en"))
    answers = await asyncio.gather(*(svc.handle(flooder, Said(f"spam {i}")) for i in range(1000)),
                                   svc.handle(other, Start("de")))
    flood, calm = answers[:-1], answers[-1]
    notices = [a for a in flood if a == (Say(SHIPPED.text("rate_limited", "en")),)]
    handled = [a for a in flood if a and a not in notices]
    assert len(notices) == 1 and len(handled) == 4  # 5 in the burst, one of them the Start
    assert "112" in notices[0][0].text  # no one in danger is left with only "wait"
    assert sum(1 for a in flood if a == ()) == 1000 - 5
    assert any(isinstance(o, Question) for o in calm)
    assert len(svc.locks) == 0
    figures.count("limits: flood messages refused", 1000 - 4)


async def test_forget_passes_the_rate_limit_so_the_quick_exit_always_erases() -> None:
    svc = ConversationService(SHIPPED, StateStore(None), KeyHasher(SECRET), lambda: NOW)
    svc.rate_limit = RateLimit(burst=2, per_second=0.001, clock=Ticks())
    key = ConversationKey("web", "hurried")
    await svc.handle(key, Start("de"))
    await svc.handle(key, Said("nein"))
    assert await svc.handle(key, Said("ja")) != ()  # the notice: over the limit now
    assert await svc.has_conversation(key)
    await svc.handle(key, Said("vergessen"))
    assert not await svc.has_conversation(key)


# --- no path from user input to the file system, to SQL, to markup -----------------------


@figures.fuzz_settings(figures.scaled(30, 300))
@given(typed=st.lists(st.text(any_char, min_size=1, max_size=60), min_size=11, max_size=11))
def test_document_file_names_come_from_the_flows_never_from_what_was_typed(
        typed: list[str]) -> None:
    talk = Talk(SHIPPED, flow="protocol")
    talk.send("heute")
    names = set()
    for text in [*typed, "fertig", "1", "ja", "2"] * 2:
        for output in talk.send(text):
            if isinstance(output, Document):
                names.add(output.file)
    declared = {n.file for f in SHIPPED.flows.values() for n in f.nodes.values()
                if isinstance(n, DocumentStep)} | {"checkliste", "checklist"}
    assert names <= declared
    assert all(FILE_NAME.match(n) for n in names)


_SQL_CALLS = {"execute", "executemany", "executescript", "defer"}
_ALLOWED_IN_SQL = {"mode", "pages", "PAGE_SIZE"}
"""Names an f-string SQL statement may interpolate: checked constants, never a value."""


def test_every_sql_statement_is_a_constant_with_parameters() -> None:
    """A static check: SQL text is written in the code, values only ever go in as parameters.

    It reads the sources of the packages imported, so that the run against the installed wheel
    (.ci/run) checks the sources that wheel was built from."""
    checked = 0
    sources = Path(storage.__file__).parent, Path(bot.__file__).parent
    for path in sorted([*sources[0].glob("*.py"), *sources[1].rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in _SQL_CALLS and node.args):
                continue
            sql = node.args[0]
            checked += 1
            if isinstance(sql, ast.Constant):
                continue
            if (isinstance(sql, ast.Name) and sql.id == "deferred_sql") \
                    or (isinstance(sql, ast.Starred) and node.func.attr == "defer"):
                continue  # a statement given to defer(), whose callers are checked here
            assert isinstance(sql, ast.JoinedStr), f"{path.name}:{node.lineno}: SQL not literal"
            names = {n.id for v in sql.values if isinstance(v, ast.FormattedValue)
                     for n in ast.walk(v.value) if isinstance(n, ast.Name)}
            assert names <= _ALLOWED_IN_SQL, f"{path.name}:{node.lineno}: SQL built from {names}"
    assert checked > 10


async def test_hostile_text_is_stored_and_read_back_as_text(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    svc = ConversationService(SHIPPED, store, KeyHasher(SECRET), lambda: NOW)
    key = ConversationKey("web", "'; DROP TABLE conversations; --")
    await svc.handle(key, Start(flow="protocol"))
    await svc.handle(key, Said("heute"))
    hostile = "'); DROP TABLE conversations; -- <script>alert(1)</script> ../../etc/passwd \x00"
    await svc.handle(key, Said(hostile))
    row = store.load(svc.hasher(key))
    assert row is not None and row.state is not None
    from bot.engine.conversation import state_from_json

    state: State = state_from_json(row.state)
    assert hostile.strip() in state.slots.values()
    assert store.count() == 1
    store.close()
    assert not any(p.name.startswith(("etc", "passwd")) for p in tmp_path.rglob("*"))


def test_engine_outputs_are_plain_text_for_channels_to_escape() -> None:
    """What a user typed comes back (the protocol's review, the document) exactly as typed, so
    each channel must escape it; shipped texts hold no markup a channel could mistake for its
    own (the checker refuses it, see the corpus)."""
    typed = "<b>bold</b> & <script>x</script>"
    talk = Talk(SHIPPED, flow="protocol")
    talk.send("heute")
    for _ in range(10):  # every answer of the protocol, up to its review
        review = talk.send(typed)
    assert f"- Ort: {typed}\n" in review[0].text  # type: ignore[union-attr]
    document = next(o for o in talk.send("1") if isinstance(o, Document))
    assert ("Die genauen Worte", typed) in document.fields
    texts = [t for flow in SHIPPED.flows.values() for node in flow.nodes.values()
             for t in _texts(node)] + [t for text in SHIPPED.system.values()
                                       for t in text.values()]
    assert texts and not [t for t in texts if re.search(r"<\s*/?\s*[a-zA-Z]", t)]


def _texts(node: object) -> list[str]:
    found = []
    for name in ("say", "question", "title", "intro"):
        text = getattr(node, name, None)
        if text:
            found.extend(text.values())
    for choice in getattr(node, "choices", ()):
        found.extend(choice.label.values())
    return found
