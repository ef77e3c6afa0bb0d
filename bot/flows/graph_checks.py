"""Checks of a flow's graph: every node reachable, an end reachable from each, no loop that
never waits for the user, no flows calling each other in a circle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from bot.flows.flow_file import FlowFile
from bot.flows.model import WAITING, Call, End, Step, successors
from bot.flows.problems import Problem


def check_graph(f: FlowFile, flows: Mapping[str, FlowFile], problems: list[Problem]) -> None:
    """The checks within one flow; `flows` (all flows by id) tells which called flows wait."""
    after = {node_id: successors(step) for node_id, step in f.flow.nodes.items()}
    _check_reachable(f, after, problems)
    _check_automatic_loops(f, flows, after, problems)


def _check_reachable(f: FlowFile, after: Mapping[str, list[str]],
                     problems: list[Problem]) -> None:
    """Every node reached from the start, and from every reached node an end reached."""
    nodes = f.flow.nodes
    start = f.flow.start
    if start not in nodes:
        return
    # A danger block's node is reached from every node, whenever a message reads as danger.
    entries = [start] + ([f.danger.danger.go] if f.danger and f.danger.danger.go in nodes else [])
    reached = set(entries)
    todo = list(entries)
    while todo:  # the order of the visits does not matter, only the set
        for target in after[todo.pop()]:
            if target not in reached and target in nodes:
                reached.add(target)
                todo.append(target)
    for node_id in nodes:
        if node_id not in reached:
            line, col = f.node_pos[node_id]
            problems.append(Problem(f.file, line, col, f"node '{node_id}' cannot be reached "
                                    f"from the start '{start}'",
                                    "lead to it with 'next' from another node, or delete it"))
    incoming: dict[str, list[str]] = defaultdict(list)
    # A node leading to a missing node (reported already) might well end: no echo of that error.
    can_end: set[str] = set()
    for node_id, targets in after.items():
        ends = isinstance(nodes[node_id], End)
        for target in targets:
            incoming[target].append(node_id)
            if target not in nodes:
                ends = True
        if ends:
            can_end.add(node_id)
    todo = list(can_end)
    while todo:
        for source in incoming[todo.pop()]:
            if source not in can_end:
                can_end.add(source)
                todo.append(source)
    for node_id in nodes:
        if node_id in reached and node_id not in can_end:
            line, col = f.node_pos[node_id]
            problems.append(Problem(f.file, line, col, f"from node '{node_id}' no end can be "
                                    "reached", "make some path lead to a node with 'end: true'"))


def _waits(step: Step, flows: Mapping[str, FlowFile]) -> bool:
    if isinstance(step, WAITING):
        return True
    if isinstance(step, Call) and step.flow in flows:
        return any(isinstance(s, WAITING) for s in flows[step.flow].flow.nodes.values())
    return False


def _check_automatic_loops(f: FlowFile, flows: Mapping[str, FlowFile],
                           after: Mapping[str, list[str]], problems: list[Problem]) -> None:
    """A loop of nodes that never wait for the user would run for ever."""
    nodes = f.flow.nodes
    # A dict, not a set: the search starts at the first such node in the file, every time.
    auto = dict.fromkeys(n for n, s in nodes.items() if not _waits(s, flows))
    state: dict[str, int] = {}
    for root in auto:
        if state.get(root):
            continue
        stack: list[tuple[str, list[str]]] = [(root, [t for t in after[root] if t in auto])]
        path = [root]
        state[root] = 1
        while stack:
            node_id, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[node_id] = 2
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                loop = [*path[path.index(nxt):], nxt]
                line, col = f.node_pos[nxt]
                problems.append(Problem(f.file, line, col, "these nodes loop without asking "
                                        f"anything: {' → '.join(loop)}",
                                        "put a question into the loop, or end it"))
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, [t for t in after[nxt] if t in auto]))


def check_call_cycles(files: list[FlowFile], problems: list[Problem]) -> None:
    """Flows that call each other in a circle would never return."""
    calls = {f.flow.id: [(s.flow, s.id) for s in f.flow.nodes.values() if isinstance(s, Call)]
             for f in files}

    def path_to(current: str, goal: str, path: list[str], seen: set[str]) -> list[str] | None:
        if current == goal:
            return path
        for target, _ in calls.get(current, []):
            if target not in seen:
                seen.add(target)
                found = path_to(target, goal, [*path, target], seen)
                if found:
                    return found
        return None

    for f in files:
        for target, node_id in calls[f.flow.id]:
            circle = path_to(target, f.flow.id, [f.flow.id, target], {target})
            if circle:
                line, col = f.node_pos[node_id]
                problems.append(Problem(f.file, line, col, "flows call each other in a circle: "
                                        + " → ".join(circle),
                                        "a called flow must not call its caller"))
