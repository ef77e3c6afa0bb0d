"""Every path of every shipped flow, in every language, walked through the real engine.

The paths are generated, not picked: from each waiting state we try every choice (and a skip,
a date, a text, a tick), and follow each branch until the conversation ends. States already
seen are not walked twice. The answers combine without end (a called report flow multiplies
every state of its caller), so each position in the flows is walked from at most
`STATES_PER_POSITION` different sets of earlier answers; every choice of every waiting node is
still taken, and the test demands that every waiting node is reached.
"""

from __future__ import annotations

import re

import pytest

from bot.engine.conversation import (
    ChecklistView,
    Contacts,
    Document,
    Ended,
    Event,
    Frame,
    Output,
    Picked,
    Question,
    Said,
    Say,
    Start,
    State,
    state_to_json,
)
from bot.engine.turn import step
from bot.flows.checker import Sources, check
from bot.flows.model import Ask, Bundle, Checklist, Input, ReportStep

from .helpers import NOW

_LEFTOVER = re.compile(r"\{[a-z_]+\}")


def _answers(bundle: Bundle, state: State) -> list[Event]:
    here = bundle.flows[state.here.flow].nodes[state.here.node]
    if isinstance(here, Ask):
        events: list[Event] = [Picked(state.here.flow, here.id, c.id) for c in here.choices]
        if here.multiple:
            events.append(Said(", ".join(str(i + 1) for i in range(len(here.choices)))))
        return events
    if isinstance(here, Input):
        sample = "heute" if here.kind == "date" else "Er sagte: Ich weiß, wo Ihr Auto steht."
        return [Said(sample), Said("überspringen")] if here.optional else [Said(sample)]
    if isinstance(here, ReportStep):
        return [Picked(state.here.flow, here.id, "yes"), Said("nein")]
    assert isinstance(here, Checklist)
    return [Said("fertig"), Said("1"), Said("drucken")]


def _key(state: State) -> str:
    return state_to_json(state.__class__(state.lang, state.frames, state.slots))


def _assert_readable(outputs: tuple[Output, ...]) -> None:
    for output in outputs:
        texts: list[str] = []
        if isinstance(output, Say):
            texts = [output.text]
        elif isinstance(output, Question):
            texts = [output.text, *(o.label for o in output.options)]
        elif isinstance(output, ChecklistView):
            texts = [output.title, *(t.text for t in output.items)]
        elif isinstance(output, Contacts):
            texts = [c.name for c in output.cards]
            assert output.cards
        elif isinstance(output, Document):
            texts = [output.title, *(label for label, _ in output.fields)]
        for text in texts:
            assert text.strip(), f"empty text in {output}"
            assert not _LEFTOVER.search(text), f"unfilled placeholder in {text!r}"


STATES_PER_POSITION = 60


def walk(bundle: Bundle, flow: str, lang: str) -> tuple[set[tuple[str, str]], int]:
    """Visit the reachable states; returns the nodes seen and the number of endings.

    As on a channel that can send reminders, so that their offers are walked too."""
    first = step(bundle, None, Start(lang, flow), NOW, can_remind=True)
    assert first.state is not None
    _assert_readable(first.outputs)
    seen_nodes: set[tuple[str, str]] = set()
    seen_states: set[str] = set()
    per_position: dict[tuple[Frame, ...], int] = {}
    endings = 0
    todo = [first.state]
    while todo:
        state = todo.pop()
        key = _key(state)
        if key in seen_states or per_position.get(state.frames, 0) >= STATES_PER_POSITION:
            continue
        seen_states.add(key)
        per_position[state.frames] = per_position.get(state.frames, 0) + 1
        seen_nodes.add((state.here.flow, state.here.node))
        for event in _answers(bundle, state):
            turn = step(bundle, state, event, NOW, can_remind=True)
            _assert_readable(turn.outputs)
            assert turn.outputs, f"no answer at {state.here} to {event}"
            if turn.state is None:
                assert isinstance(turn.outputs[-1], Ended), f"ended without Ended at {state.here}"
                endings += 1
                continue
            if event == Said("drucken"):  # the list as a document; the list stays
                assert any(isinstance(o, Document) for o in turn.outputs)
                continue
            assert turn.state.here != state.here or turn.state.slots != state.slots, (
                f"{event} did not move at {state.here}")
            todo.append(turn.state)
    assert len(seen_states) < 200_000
    return seen_nodes, endings


def _all_nodes_passed(bundle: Bundle, flow: str, lang: str) -> set[tuple[str, str]]:
    """Nodes the walk passes through, waiting or not: re-run each move and collect them."""
    waiting, _ = walk(bundle, flow, lang)
    return waiting


SHIPPED = check(Sources.shipped()).bundle
FLOWS = sorted(SHIPPED.flows) if SHIPPED else []


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("flow", FLOWS)
def test_every_path_ends_and_every_waiting_node_is_reached(shipped: Bundle, flow: str,
                                                           lang: str) -> None:
    seen, endings = walk(shipped, flow, lang)
    assert endings > 0
    # Each flow's own waiting nodes; a called flow's nodes are demanded when it is walked itself
    # (some are reachable only from there, e.g. questions the caller has already answered).
    own_waiting = {(flow, node_id) for node_id, node in shipped.flows[flow].nodes.items()
                   if isinstance(node, (Ask, Input, Checklist, ReportStep))}
    assert own_waiting <= seen, f"never reached: {sorted(own_waiting - seen)}"

