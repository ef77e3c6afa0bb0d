"""The stored form of a conversation: compact, and a damaged row is refused, not guessed."""

from __future__ import annotations

import orjson
import pytest

from bot.engine.conversation import Frame, State, Undo, state_from_json, state_to_json

DEEP = (Frame("employee", "to_supervisor"), Frame("supervisor", "checklist"))


def _state() -> State:
    history = tuple(Undo(DEEP, "ticks", ("a",) * (i % 2)) for i in range(10))
    return State("de", DEEP, {"ticks": ("a", "b"), "role": "supervisor", "note": None},
                  (Undo((Frame("employee", "role"),), "role"), *history))


def test_a_state_survives_the_round_trip_and_names_each_place_once() -> None:
    state = _state()
    text = state_to_json(state)
    assert state_from_json(text) == state
    assert text.count("supervisor:checklist") == 2  # where it stands, and once in the table


def test_answers_in_a_row_in_one_flow_name_only_the_node() -> None:
    inner = (Frame("employee", "memory_protocol"), Frame("protocol", "time"))
    after = (*inner[:-1], Frame("protocol", "place"))
    state = State("de", after, {"time": "abends", "place": "Flur"},
                  (Undo((Frame("employee", "safety"),), "safety"),
                   Undo((Frame("employee", "role"),), "role"),
                   Undo(inner, "time"), Undo(after, "place")))
    text = state_to_json(state)
    assert orjson.loads(text)["t"] == ["employee:safety", "~role",
                                       "employee:memory_protocol/protocol:time", "~place"]
    assert state_from_json(text) == state


@pytest.mark.parametrize("damaged", [
    {"t": ["employee:role"], "h": [[1, "role"]]},
    {"t": ["employee:role"], "h": [[-1, "role"]]},
    {"t": [7], "h": [[0, "role"]]},
    {"h": [[None, "role"]]},
    {"t": ["~role"], "h": [[0, "role"]]},
])
def test_a_damaged_place_table_is_refused_not_guessed(damaged: dict[str, object]) -> None:
    row = {"l": "de", "f": "employee:role", **damaged}
    with pytest.raises((ValueError, TypeError, IndexError)):
        state_from_json(orjson.dumps(row).decode())
