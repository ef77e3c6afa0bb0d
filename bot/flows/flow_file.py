"""One flow file read into a `Flow`, with one message per rule broken; what needs all flows and
the content together (targets, reachability, slots) is `bot.flows.checker`.

Theory of operation: FlowReader.read checks the file's keys and walks the nodes; FlowReader.node
checks what every node shares (keys, one action, 'say', 'next') and hands the rest to its
action's reader in the table `bot.flows.flow_steps.ACTIONS`. Parts many nodes share (texts,
links, conditions, choices) are read by `bot.flows.flow_fields.FieldReader`, its base class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.flows.danger_cues import DangerBlock, read_danger
from bot.flows.flow_fields import ID, FieldReader, Ref
from bot.flows.flow_steps import ACTIONS
from bot.flows.model import Branch, Flow, Message, Step, Text
from bot.flows.understand_cues import CueBlock, read_understand
from bot.flows.yaml_source import Y

FLOW_KEYS = ("flow", "version", "title", "start", "danger", "understand", "nodes",
             "keep_days")
REQUIRED_FLOW_KEYS = ("flow", "version", "title", "start", "nodes")
MAX_KEEP_DAYS = 366
NODE_KEYS = ("say", "next", *ACTIONS, *dict.fromkeys(k for a in ACTIONS.values() for k in a.keys))
OWNER = {key: action for action, spec in reversed(ACTIONS.items()) for key in spec.keys}
"""Each key that belongs with an action -> the first action it belongs with (read in reverse,
so that the first one is written last and stays)."""


@dataclass
class FlowFile:
    """A flow as read, plus every reference the cross-file checks must resolve."""

    flow: Flow
    file: str
    node_pos: dict[str, tuple[int, int]] = field(default_factory=dict)
    refs: list[Ref] = field(default_factory=list)
    texts: list[tuple[Text, int, int, str]] = field(default_factory=list)
    """Every text with its position and content key ('' when inline), for placeholder checks."""
    synonyms: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    """(node, choice, word, line, col) for every choice label and synonym, to find clashes."""
    danger: DangerBlock | None = None
    understand: CueBlock = field(default_factory=dict)
    """The `understand:` block: cues for slots no question asks yet."""
    cue_lists: list[tuple[int, int, str, tuple[str, ...]]] = field(default_factory=list)
    """(line, col, whose, languages with words) of every `cues:` list."""


class FlowReader(FieldReader):
    """Reads one flow file: `FlowReader(file, resolve, problems).read(root)`."""

    def read(self, root: Y) -> FlowFile | None:
        if not root.is_map:
            self.at(root, "a flow file must be a mapping", "start with 'flow: <id>'")
            return None
        self.unknown_keys(root, FLOW_KEYS, "the flow")
        missing = [k for k in REQUIRED_FLOW_KEYS if root.get(k) is None]
        for key in missing:
            self.at(root, f"the flow lacks '{key}'", f"add '{key}:' at the top of the file")
        if missing:
            return None
        flow_id = root.value["flow"]
        if not (flow_id.is_str and ID.match(flow_id.value)):
            self.at(flow_id, f"flow id {flow_id.value!r} is not valid",
                    "use lower case letters, digits and _, starting with a letter")
            return None
        version = root.value["version"]
        if not isinstance(version.value, int) or isinstance(version.value, bool) \
                or version.value < 1:
            self.at(version, "'version' must be a whole number from 1 up", "write 'version: 1'")
        title = self.text(root.value["title"], "the flow title")
        start = root.value["start"]
        if not start.is_str:
            self.at(start, "'start' must be a node id")
        nodes = root.value["nodes"]
        if not nodes.is_map or not nodes.value:
            self.at(nodes, "'nodes' must map node ids to nodes", "see docs/flows.md")
            return None
        steps: dict[str, Step] = {}
        node_pos: dict[str, tuple[int, int]] = {}
        key_pos = nodes.keys or {}
        for node_id, body in nodes.value.items():
            line, col = node_pos[node_id] = key_pos.get(node_id, (nodes.line, nodes.col))
            if not ID.match(node_id):
                self.error(line, col, f"node id '{node_id}' is not valid",
                           "use lower case letters, digits and _, starting with a letter")
                continue
            if not isinstance(body.value, dict):
                hint = (f"'{node_id}' is a key inside a node: indent it like the keys above it"
                        if node_id in NODE_KEYS else "give it 'say:', 'ask:', 'next:' ...")
                self.error(line, col, f"node '{node_id}' must be a mapping", hint)
                continue
            step = self.node(node_id, body, line)
            if step is not None:
                steps[node_id] = step
        if start.is_str:
            self.ref("target", start, "start")
        raw_danger = root.get("danger")
        danger = None if raw_danger is None else read_danger(
            self, raw_danger, flow_id.value, *root.key_pos("danger"))
        raw_understand = root.get("understand")
        understand = {} if raw_understand is None else read_understand(self, raw_understand)
        if title is None or not start.is_str or len(steps) != len(nodes.value) or not isinstance(
                version.value, int) or (raw_danger is not None and danger is None):
            return None
        keep = root.get("keep_days")
        keep_days: int | None = None
        if keep is not None:
            if isinstance(keep.value, bool) or not isinstance(keep.value, int) \
                    or not 1 <= keep.value <= MAX_KEEP_DAYS:
                self.at(keep, f"'keep_days' must be a whole number from 1 to {MAX_KEEP_DAYS}",
                        "write 'keep_days: 30'")
                return None
            keep_days = keep.value
        flow = Flow(id=flow_id.value, version=version.value, title=title, start=start.value,
                    nodes=steps, file=self.file, keep_days=keep_days)
        return FlowFile(flow, self.file, node_pos, self.refs, self.texts, self.synonyms, danger,
                        understand, self.cue_lists)

    def node(self, node_id: str, body: Y, line: int) -> Step | None:
        where = f"node '{node_id}'"
        errors = len(self.problems)
        fields = body.value
        self.unknown_keys(body, NODE_KEYS, where)
        actions = [k for k in ACTIONS if k in fields]
        if len(actions) > 1:
            first, second = actions[:2]
            self.error(*body.key_pos(second), f"{where} has both '{first}' and '{second}'",
                       "a node does one thing: split it into two nodes linked by 'next'")
            return None
        action = actions[0] if actions else None
        belongs = ACTIONS[action].keys if action else ()
        for key in fields:
            owner = OWNER.get(key)
            if owner is not None and key not in belongs:
                self.error(*body.key_pos(key), f"'{key}' in {where} belongs with '{owner}'",
                           f"add '{owner}:' or remove '{key}'")
        say = self.text(fields["say"], f"'say' of {where}") if "say" in fields else None
        has_next = "next" in fields
        links = self.links(fields["next"], node_id) if has_next else ()
        if not has_next and action not in ("ask", "end"):
            self.at(body, f"{where} has no 'next'",
                    "add 'next: <node id>', or 'end: true' to end the flow here")
        if action is None and not has_next and say is None:
            return None
        step: Step | None
        if action is None:
            plain = all(link.condition is None for link in links)
            cls: type[Message] | type[Branch] = Message if say is not None or plain else Branch
            step = cls(id=node_id, say=say, next=links, line=line)
        else:
            step = ACTIONS[action].read(self, node_id, body, say, links, line)
        return step if len(self.problems) == errors else None
