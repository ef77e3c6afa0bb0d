"""What the fuzzers send, and what must hold after every turn.

Actions are abstract ("answer the current question with its 2nd choice", "press a button of
another node") and are turned into engine events against the state of the moment, so that
hypothesis walks deep into the flows instead of being told "not understood" a thousand times,
and shrinks a failure to a short, readable list.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from hypothesis import strategies as st

from bot.engine.commands import COMMAND_WORDS, DONE_WORDS, LANGUAGE_WORDS, PRINT_WORDS, SKIP_WORDS
from bot.engine.conversation import (
    HISTORY_LIMIT,
    ChecklistView,
    Contacts,
    Document,
    Ended,
    Event,
    Output,
    Picked,
    Question,
    Reopen,
    Report,
    Resume,
    Said,
    Say,
    Start,
    State,
    state_from_json,
    state_to_json,
)
from bot.engine.turn import MAX_CALL_DEPTH, MAX_TEXT, Turn
from bot.flows import checker as loader
from bot.flows.model import (
    WAITING,
    Ask,
    Bundle,
    Call,
    Checklist,
    Input,
    ReportStep,
)

SHIPPED = loader.load_bundle()
"""The shipped flows and content, which every robustness test runs on."""

# --- what a person (or a broken client) might send ----------------------------------------

_WORDS = sorted({
    *COMMAND_WORDS, *(f"/{w}" for w in COMMAND_WORDS), *(w.upper() for w in COMMAND_WORDS),
    *LANGUAGE_WORDS, *DONE_WORDS, *PRINT_WORDS, *SKIP_WORDS,
    "/language en", "/language de", "sprache fr", "language klingon", "/start report",
    "/start employee", "Zurück!", "  hilfe  ", "ja", "nein", "yes", "no", "1", "2", "3", "0",
    "99", "-1", "1, 3", "1 2 3 4 5 6 7 8", "1,1,1", "(2)", "2.", "١", "٣", "heute", "gestern",
    "vorgestern", "24.11.2026", "29.02.2026", "31.04.", "2026-13-01", "2030-01-01",
    "0000-01-01", "1/1/1", "9999-12-31", "", " ", "\n", "\t", "\x00", "\u200b", "\ufeff",
    "\U0001f600", "<script>alert(1)</script>", "'; DROP TABLE conversations; --",
    "../../etc/passwd", "{slot}", "{{", "}", "%s%s%n", "${jndi:ldap://x}",
})
"""Commands, words with a meaning, dates, and classics of broken or hostile input."""

any_char = st.characters(exclude_categories=())
"""Every code point, lone surrogates and control characters included: JSON from a platform
can carry "\\ud800", so a channel can hand one over."""

_control = st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"])


def _big(size: int, char: str) -> str:
    return char * size


texts = st.one_of(
    st.sampled_from(_WORDS),
    st.text(any_char, max_size=40),
    st.text(_control, max_size=20),
    st.builds(lambda a, b: f"{a} {b}", st.sampled_from(_WORDS), st.text(any_char, max_size=8)),
    st.builds(_big, st.sampled_from([MAX_TEXT, MAX_TEXT + 1, 10_000, 100_000]),
              st.sampled_from(["a", "ä", " ", "1", "\U0001f600", "\x00", "\ud800", "ja "])),
)
lang_hints = st.one_of(st.none(), st.sampled_from(["de", "en", "de-AT", "EN_us", "fr", "", "x"]),
                       st.text(any_char, max_size=6))


@dataclass(frozen=True)
class Act:
    """One abstract user action; `resolve` makes an event of it against the current state."""

    kind: str  # say, answer, press, stale, start, resume, reopen
    text: str = ""
    number: int = 0
    lang: str | None = None
    flow: str | None = None
    node: str = ""


def actions(bundle: Bundle) -> st.SearchStrategy[Act]:
    flows = sorted(bundle.flows)
    nodes = sorted({n for f in bundle.flows.values() for n in f.nodes})
    some_id = st.one_of(st.sampled_from(flows + nodes + ["yes", "no"]),
                        st.text(any_char, max_size=8))
    answer = st.builds(Act, st.just("answer"), number=st.integers(0, 20), text=texts)
    press = st.builds(Act, st.just("press"), number=st.integers(0, 20), lang=lang_hints)
    return st.one_of(
        *[answer] * 12, press, press,  # mostly go on: deep into the flows, to the reports
        st.builds(Act, st.just("say"), text=texts, lang=lang_hints),
        st.builds(Act, st.just("stale"), flow=some_id, node=some_id, text=some_id,
                  lang=lang_hints),
        st.builds(Act, st.just("start"), lang=lang_hints,
                  flow=st.one_of(st.none(), st.sampled_from(flows), st.text(any_char,
                                                                            max_size=8))),
        st.builds(Act, st.just("resume"), lang=lang_hints),
        st.builds(Act, st.just("reopen"), flow=some_id, node=some_id,
                  text=st.sampled_from(["checkin", "deadline", "talk", "gone"]),
                  number=st.integers(0, 20), lang=lang_hints),
    )


def resolve(bundle: Bundle, state: State | None, act: Act) -> Event:
    if act.kind == "say":
        return Said(act.text, act.lang)
    if act.kind == "start":
        return Start(act.lang, act.flow)
    if act.kind == "resume":
        return Resume(act.lang)
    if act.kind == "stale":
        return Picked(act.flow or "", act.node, act.text, act.lang)
    if act.kind == "reopen":  # a reminder fell due (or one of a content version long gone)
        date = None if act.number % 2 else f"20{26 + act.number % 3}-0{1 + act.number % 9}-15"
        return Reopen(act.flow or "", act.node or None, act.text, date, act.lang)
    flow = bundle.flows.get(state.here.flow) if state else None
    here = flow.nodes.get(state.here.node) if flow and state else None
    if act.kind == "press":
        if isinstance(here, Ask):
            choice = here.choices[act.number % len(here.choices)].id
        elif isinstance(here, ReportStep):
            choice = ("yes", "no")[act.number % 2]
        else:
            choice = str(act.number)
        return Picked(state.here.flow if state else "", state.here.node if state else "",
                      choice, act.lang)
    # A damaged stored state may name a language the flows lack: the engine goes on in the
    # default language, and so does the person typing.
    return Said(_answer(here, bundle.pick_language(state.lang if state else None), act),
                act.lang)


def _answer(here: object, lang: str, act: Act) -> str:
    """What a cooperative person would type here; sometimes the fuzzed text instead."""
    n = act.number
    if isinstance(here, Ask):
        choice = here.choices[n % len(here.choices)]
        if here.multiple and n % 3 == 0:
            return ", ".join(str(i + 1) for i in range(0, len(here.choices), 1 + n % 3))
        return (str(n % len(here.choices) + 1), choice.label[lang], choice.id,
                str(n % len(here.choices) + 1), choice.label[lang], act.text)[n % 6]
    if isinstance(here, Input):
        if here.kind == "date":
            return ("gestern", "24.11.2026", "1.1.", act.text, "überspringen")[n % 5]
        return (act.text or "x", f"Antwort {n}", "überspringen")[n % 3]
    if isinstance(here, ReportStep):
        return ("ja", "nein", act.text)[n % 3]
    if isinstance(here, Checklist):
        return (str(n % (len(here.items) + 2)), "fertig", "drucken", act.text)[n % 4]
    return act.text


# --- what must hold after every turn -----------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MONTH = re.compile(r"\d{4}-\d{2}\Z")
_ENUM = re.compile(r"[a-z0-9][a-z0-9_]*\Z")


def check_state(bundle: Bundle, state: State) -> None:
    """The checker's rules for a conversation that waits for the user."""
    assert state.lang in bundle.languages, state.lang
    assert 1 <= len(state.frames) <= MAX_CALL_DEPTH
    for index, frame in enumerate(state.frames):
        assert frame.flow in bundle.flows, frame
        node = bundle.flows[frame.flow].nodes.get(frame.node)
        assert node is not None, frame
        if index == len(state.frames) - 1:
            assert isinstance(node, WAITING), frame
        else:
            assert isinstance(node, Call) and node.flow == state.frames[index + 1].flow, frame
    known = bundle.slot_values  # the reminder slot: any id
    for slot, value in state.slots.items():
        assert slot in known, slot
        allowed = known[slot]
        values = value if isinstance(value, tuple) else (value,) if value is not None else ()
        for v in values:
            assert isinstance(v, str)
            if allowed is not None:
                assert v in allowed, (slot, v)
            elif slot in bundle.date_slots:
                assert _ISO_DATE.match(v), (slot, v)
            else:
                assert 0 < len(v) <= MAX_TEXT, (slot, len(v))
                v.encode("utf-8")  # storable: no lone surrogates
    assert len(state.history) <= HISTORY_LIMIT
    for undo in state.history:
        assert undo.frames and undo.slot in known
    assert state_from_json(state_to_json(state)) == state


def check_turn(bundle: Bundle, event: Event, turn: Turn, now: dt.datetime) -> None:
    outputs = turn.outputs
    assert outputs, f"no answer to {event!r}"
    ended = [o for o in outputs if isinstance(o, Ended)]
    assert (turn.state is None) == bool(ended), (turn.state, outputs)
    for output in outputs:
        check_output(bundle, output, now)
    if turn.state is not None:
        check_state(bundle, turn.state)
        prompts = [o for o in outputs if isinstance(o, (Question, ChecklistView))]
        assert prompts, f"the user is not told what to answer: {outputs}"
        last = prompts[-1]
        assert (last.flow, last.node) == (turn.state.here.flow, turn.state.here.node)


def check_output(bundle: Bundle, output: Output, now: dt.datetime) -> None:
    if isinstance(output, Say):
        assert output.text.strip()
    elif isinstance(output, Question):
        assert output.text.strip()
        assert [o.number for o in output.options] == list(range(1, len(output.options) + 1))
    elif isinstance(output, Contacts):
        assert output.cards
    elif isinstance(output, Document):
        assert output.title and output.file
    elif isinstance(output, Report):
        check_report(bundle, output, now)


def check_report(bundle: Bundle, report: Report, now: dt.datetime) -> None:
    """A report holds the enumerated answers its report step lists, and months: nothing else."""
    flow = bundle.flows[report.flow]
    steps = [n for n in flow.nodes.values() if isinstance(n, ReportStep)]
    assert steps
    fields = {f.slot for s in steps for f in s.fields}
    known = bundle.slot_values  # the reminder slot: any id
    for field, value in report.answers:
        assert field in fields, field
        allowed = known[field]
        assert allowed is not None and value in allowed, (field, value)
        assert _ENUM.match(value)
    assert report.report_month == now.strftime("%Y-%m")
    assert report.incident_month is None or _MONTH.match(report.incident_month)


def noisy_walk(bundle: Bundle, rng: random.Random, noise: float) -> Iterator[Act]:
    """An endless cooperative conversation: mostly answers, a fraction `noise` of anything else.

    Hypothesis's own choices lean towards the first branch and small numbers; a seeded walk
    reaches the end of the flows (and their reports) far more often.
    """
    kinds = ("say", "stale", "start", "resume", "press", "reopen")
    while True:
        number = rng.randrange(100)
        if rng.random() >= noise:
            yield Act("answer", number=number, text=_random_text(rng))
            continue
        kind = rng.choice(kinds)
        lang = rng.choice([None, "de", "en", "fr", _random_text(rng)[:5]])
        if kind == "start":
            yield Act(kind, lang=lang, flow=rng.choice([None, *bundle.flows, "nix"]))
        elif kind == "reopen":
            flow = rng.choice([*bundle.flows, "nix"])
            nodes = list(bundle.flows[flow].nodes) if flow in bundle.flows else ["x"]
            yield Act(kind, flow=flow, node=rng.choice([*nodes, ""]), number=number,
                      text=rng.choice(["checkin", "deadline", "x"]), lang=lang)
        elif kind == "stale":
            flow = rng.choice([*bundle.flows, "nix"])
            nodes = list(bundle.flows[flow].nodes) if flow in bundle.flows else ["x"]
            yield Act(kind, flow=flow, node=rng.choice(nodes), text=rng.choice(["yes", "1", ""]),
                      lang=lang)
        else:
            yield Act(kind, number=number, text=_random_text(rng), lang=lang)


def _random_text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(_WORDS)
    if pick < 0.9:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x110000)]))
                       for _ in range(rng.randrange(12)))
    return rng.choice(["a", "ä", " ", "\x00", "\ud800"]) * rng.choice([MAX_TEXT + 1, 100_000])
