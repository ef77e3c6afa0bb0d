"""One flow file read into a `Flow`, with one message per rule broken.

Only the shape of a single file is checked here; what needs all flows and the content together
(jump targets, reachability, slots, texts in every language) is `bot.flows.checker`.

Theory of operation: FlowReader.read walks the nodes; FlowReader.node checks what every node
shares (its keys, its one action, 'say' and 'next') and hands the rest to the reader of its
action, found in the table READERS at the end of this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.dates import valid_region
from bot.flows.model import (
    AllOf,
    AnyOf,
    Ask,
    Branch,
    Call,
    Checklist,
    ChecklistItem,
    Choice,
    Condition,
    ContactList,
    Deadline,
    DocumentStep,
    End,
    Field,
    Flow,
    Input,
    Link,
    Message,
    Not,
    Remind,
    ReminderItem,
    ReportStep,
    SlotAnswered,
    SlotIs,
    Step,
    Text,
)
from bot.flows.problems import Problem, did_you_mean
from bot.flows.yaml_source import Y

ID = re.compile(r"[a-z][a-z0-9_]*\Z")
CHOICE_ID = re.compile(r"[a-z0-9][a-z0-9_]*\Z")
FILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")

FLOW_KEYS = ("flow", "version", "title", "start", "nodes", "keep_days")
REQUIRED_FLOW_KEYS = ("flow", "version", "title", "start", "nodes")
MAX_KEEP_DAYS = 366
ACTIONS: dict[str, tuple[str, ...]] = {
    "ask": ("choices", "multiple", "slot", "unmatched"),
    "input": ("type", "optional", "slot"),
    "contacts": (),
    "checklist": ("items", "slot"),
    "document": ("file", "fields", "erase"),
    "call": (),
    "deadline": ("slot",),
    "report": ("fields", "month"),
    "remind": ("slot",),
    "end": (),
}
NODE_KEYS = ("say", "next", *ACTIONS, *dict.fromkeys(k for keys in ACTIONS.values() for k in keys))
CHOICE_KEYS = ("id", "label", "synonyms", "next")
_OWNER: dict[str, str] = {}
"""Each key that belongs with an action -> the first action it belongs with."""
for _action, _keys in ACTIONS.items():
    for _key in _keys:
        _OWNER.setdefault(_key, _action)
INPUT_TYPES = ("text", "date")
MAX_PROBLEMS_PER_FILE = 100


def _words(listed: object) -> tuple[str, ...] | None:
    """The words of a synonym list, or None unless it is a list of texts."""
    if not isinstance(listed, list) or not all(word.is_str for word in listed):
        return None
    return tuple(word.value for word in listed)


class Ref(NamedTuple):
    """Where something in a flow points to something else, kept for the cross-file checks."""

    kind: str  # "target", "flow", "slot", "value", "contact", "topic"
    name: str
    line: int
    col: int
    context: str = ""  # the node, or for values the slot


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


TextResolver = Callable[[Y, str, str], Text | None]
"""(node, file, what) -> the text in every language, or None after adding a problem."""


class FlowReader:
    def __init__(self, file: str, resolve: TextResolver, problems: list[Problem]) -> None:
        self.file = file
        self.resolve = resolve
        self.problems = problems
        self._refs: list[Ref] = []
        self._texts: list[tuple[Text, int, int, str]] = []
        self._synonyms: list[tuple[str, str, str, int, int]] = []

    def error(self, line: int, col: int, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.file, line, col, message, hint))

    def at(self, node: Y, message: str, hint: str = "") -> None:
        self.error(node.line, node.col, message, hint)

    def unknown_keys(self, node: Y, allowed: tuple[str, ...], where: str) -> bool:
        ok = True
        for key in node.value:
            if key not in allowed:
                line, col = node.key_pos(key)
                # Past a hundred problems nobody reads hints; don't spend seconds on them.
                hint = "" if len(self.problems) > MAX_PROBLEMS_PER_FILE else (
                    did_you_mean(key, allowed) or f"allowed here: {', '.join(allowed)}")
                self.error(line, col, f"unknown key '{key}' in {where}", hint)
                ok = False
        return ok

    def text(self, node: Y, what: str) -> Text | None:
        text = self.resolve(node, self.file, what)
        if text is None:
            return None
        value = node.value
        if isinstance(value, dict):
            # Inline: each language at its own place, so a message can point at that text.
            for lang, words in text.items():
                at = value[lang]
                self._texts.append(({lang: words}, at.line, at.col, ""))
        else:
            self._texts.append((text, node.line, node.col, value))
        return text

    # --- the file --------------------------------------------------------------------------

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
            self._refs.append(Ref("target", start.value, start.line, start.col, "start"))
        if title is None or not start.is_str or len(steps) != len(nodes.value) or not isinstance(
                version.value, int):
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
        return FlowFile(flow, self.file, node_pos, self._refs, self._texts, self._synonyms)

    # --- nodes ---------------------------------------------------------------------------

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
        belongs = ACTIONS.get(action or "", ())
        for key in fields:
            owner = _OWNER.get(key)
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
            step = READERS[action](self, node_id, body, say, links, line)
        return step if len(self.problems) == errors else None

    def _end(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
             line: int) -> End:
        end = body.value["end"]
        if end.value is not True:
            self.at(end, f"'end' in node '{node_id}' must be 'true'", "write 'end: true'")
        if "next" in body.value:
            self.error(*body.key_pos("next"), f"node '{node_id}' ends the flow but has 'next'",
                       "remove 'next', or remove 'end'")
        return End(id=node_id, say=say, line=line)

    def _ask(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
             line: int) -> Ask | None:
        question = self.text(body.value["ask"], f"the question of node '{node_id}'")
        slot = self.slot(body, node_id)
        multiple = self.flag(body, "multiple")
        unmatched_node = body.value.get("unmatched")
        unmatched = None if unmatched_node is None else self.text(
            unmatched_node, f"'unmatched' of node '{node_id}'")
        raw = body.value.get("choices")
        if raw is None or not isinstance(raw.value, list) or not raw.value:
            self.at(raw or body, f"node '{node_id}' asks a question but has no 'choices'",
                    "add 'choices:' with a list of '- id: ... label: ...'")
            return None
        choices: list[Choice] = []
        seen: dict[str, int] = {}
        for item in raw.value:
            choice = self.choice(item, node_id, seen)
            if choice is not None:
                if not choice.next and not links:
                    self.at(item, f"choice '{choice.id}' of node '{node_id}' leads nowhere",
                            "give the choice or the node a 'next'")
                choices.append(choice)
        if question is None or len(choices) != len(raw.value) or (
                unmatched_node is not None and unmatched is None):
            return None
        return Ask(id=node_id, say=say, next=links, line=line, question=question, slot=slot,
                   choices=tuple(choices), multiple=multiple, unmatched=unmatched)

    def choice(self, item: Y, node_id: str, seen: dict[str, int]) -> Choice | None:
        fields = item.value
        if not isinstance(fields, dict):
            self.at(item, f"a choice of node '{node_id}' must be a mapping",
                    "write '- id: ...' and 'label: ...'")
            return None
        self.unknown_keys(item, CHOICE_KEYS, f"a choice of node '{node_id}'")
        cid = fields.get("id")
        if cid is None:
            self.at(item, f"a choice of node '{node_id}' has no 'id'", "add 'id: <word>'")
            return None
        choice_id = cid.value
        if isinstance(choice_id, bool):
            self.at(cid, f"choice id reads as {str(choice_id).lower()} in YAML",
                    "put it in quotes: id: \"yes\"")
            return None
        if not (isinstance(choice_id, str) and CHOICE_ID.match(choice_id)):
            self.at(cid, f"choice id {choice_id!r} is not valid",
                    "use lower case letters, digits and _")
            return None
        if choice_id in seen:
            self.at(cid, f"choice id '{choice_id}' is used twice in node '{node_id}' (first on "
                         f"line {seen[choice_id]})", "rename one of them")
            return None
        seen[choice_id] = cid.line
        label_node = fields.get("label")
        if label_node is None:
            self.at(item, f"choice '{choice_id}' has no 'label'", "add 'label: <text>'")
            return None
        label = self.text(label_node, f"the label of choice '{choice_id}'")
        if label is not None:
            for shown in label.values():
                self._synonyms.append((node_id, choice_id, shown, label_node.line,
                                       label_node.col))
        synonyms: dict[str, tuple[str, ...]] = {}
        raw = fields.get("synonyms")
        if raw is not None:
            if not isinstance(raw.value, dict):
                self.at(raw, "'synonyms' must give a list per language",
                        "write synonyms: {de: [wort], en: [word]}")
            else:
                for lang, listed in raw.value.items():
                    found = _words(listed.value)
                    if found is None:
                        self.at(listed, f"synonyms for '{lang}' must be a list of words",
                                f"write {lang}: [word, other word]")
                        continue
                    synonyms[lang] = found
                    line, col = raw.key_pos(lang)
                    self._refs.append(Ref("language", lang, line, col, ""))
                    for word in listed.value:
                        self._synonyms.append((node_id, choice_id, word.value, word.line,
                                               word.col))
        links = self.links(fields["next"], node_id) if "next" in fields else ()
        if label is None:
            return None
        return Choice(id=choice_id, label=label, synonyms=synonyms, next=links)

    def _input(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
               line: int) -> Input | None:
        question = self.text(body.value["input"], f"the question of node '{node_id}'")
        kind = body.get("type")
        if kind is not None and kind.value not in INPUT_TYPES:
            self.at(kind, f"unknown input type {kind.value!r}",
                    did_you_mean(str(kind.value), INPUT_TYPES) or "use 'text' or 'date'")
            return None
        if question is None:
            return None
        return Input(id=node_id, say=say, next=links, line=line, question=question,
                     slot=self.slot(body, node_id), kind=kind.value if kind else "text",
                     optional=self.flag(body, "optional"))

    def _contacts(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
                  line: int) -> ContactList | None:
        spec = body.value["contacts"]
        if not spec.is_map or not spec.value:
            self.at(spec, f"'contacts' of node '{node_id}' must name topics or ids",
                    "write contacts: {topics: [counselling]} or {ids: [hateaid]}")
            return None
        self.unknown_keys(spec, ("topics", "ids"), f"'contacts' of node '{node_id}'")
        names: list[str] = []
        for key, kind in (("topics", "topic"), ("ids", "contact")):
            raw = spec.get(key)
            if raw is None:
                continue
            if not raw.is_list or not all(v.is_str for v in raw.value):
                self.at(raw, f"'{key}' must be a list", f"write {key}: [a, b]")
                return None
            for value in raw.value:
                self._refs.append(Ref(kind, value.value, value.line, value.col, node_id))
                names.append(f"{kind}:{value.value}")
        # Topics are turned into contact ids once the directory is known (bot.flows.checker).
        return ContactList(id=node_id, say=say, next=links, line=line, contacts=tuple(names))

    def _checklist(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
                   line: int) -> Checklist | None:
        title = self.text(body.value["checklist"], f"the title of checklist '{node_id}'")
        raw = body.get("items")
        if raw is None or not raw.is_list or not raw.value:
            self.at(raw or body, f"checklist '{node_id}' has no 'items'",
                    "add 'items:' with '- id: ... text: ...'")
            return None
        items: list[ChecklistItem] = []
        seen: set[str] = set()
        for item in raw.value:
            if not item.is_map:
                self.at(item, "a checklist item must be a mapping", "write '- id: ... text: ...'")
                continue
            self.unknown_keys(item, ("id", "text"), f"an item of checklist '{node_id}'")
            iid, text_node = item.get("id"), item.get("text")
            if iid is None or text_node is None or not iid.is_str \
                    or not CHOICE_ID.match(iid.value):
                self.at(item, "a checklist item needs a valid 'id' and a 'text'",
                        "write '- id: safety' and 'text: <text>'")
                continue
            if iid.value in seen:
                self.at(iid, f"item id '{iid.value}' is used twice", "rename one of them")
                continue
            seen.add(iid.value)
            text = self.text(text_node, f"item '{iid.value}'")
            if text is not None:
                items.append(ChecklistItem(iid.value, text))
        if title is None or len(items) != len(raw.value):
            return None
        return Checklist(id=node_id, say=say, next=links, line=line, title=title,
                         slot=self.slot(body, node_id), items=tuple(items))

    def _document(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
                  line: int) -> DocumentStep | None:
        title = self.text(body.value["document"], f"the title of document '{node_id}'")
        file = body.get("file")
        if file is not None and not (file.is_str and FILE_NAME.match(file.value)):
            self.at(file, f"file name {file.value!r} is not valid",
                    "use lower case letters, digits, _ and -, without an ending")
            return None
        fields = self.labelled_slots(body, node_id, "document", "slot")
        if title is None or fields is None:
            return None
        return DocumentStep(id=node_id, say=say, next=links, line=line, title=title,
                            file=file.value if file else node_id,
                            fields=tuple(Field(label, slot) for label, slot in fields),
                            erase=self.flag(body, "erase"))

    def labelled_slots(self, body: Y, node_id: str, what: str,
                       ref_kind: str) -> list[tuple[Text, str]] | None:
        """The `fields:` of a document or report: a label and a slot each, or None if broken."""
        raw = body.get("fields")
        if raw is None or not raw.is_list or not raw.value:
            self.at(raw or body, f"{what} '{node_id}' has no 'fields'",
                    "add 'fields:' with '- label: <text>' and 'slot: <slot>'")
            return None
        fields: list[tuple[Text, str]] = []
        for item in raw.value:
            if not item.is_map or item.get("label") is None or item.get("slot") is None:
                self.at(item, f"a {what} field needs 'label' and 'slot'",
                        "write '- label: <text>' and 'slot: <slot>'")
                continue
            self.unknown_keys(item, ("label", "slot"), f"a field of {what} '{node_id}'")
            slot = item.value["slot"]
            self._refs.append(Ref(ref_kind, str(slot.value), slot.line, slot.col, node_id))
            label = self.text(item.value["label"], f"a {what} field label")
            if label is not None:
                fields.append((label, str(slot.value)))
        return fields if len(fields) == len(raw.value) else None

    def _deadline(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
                  line: int) -> Deadline | None:
        spec = body.value["deadline"]
        where = f"'deadline' of node '{node_id}'"
        if not spec.is_map:
            self.at(spec, f"{where} must say from which date and how many months",
                    "write deadline: {from: incident_date, months: 3}")
            return None
        self.unknown_keys(spec, ("from", "months", "holidays"), where)
        start, months = spec.get("from"), spec.get("months")
        if start is None or not start.is_str or months is None:
            self.at(spec, f"{where} needs 'from: <date slot>' and 'months: <number>'",
                    "write deadline: {from: incident_date, months: 3}")
            return None
        if isinstance(months.value, bool) or not isinstance(months.value, int) \
                or not 1 <= months.value <= 120:
            self.at(months, "'months' must be a whole number from 1 to 120")
            return None
        region = spec.get("holidays")
        if region is not None and not (region.is_str and valid_region(region.value)):
            self.at(region, f"unknown holiday region {region.value!r}",
                    "write a country and state code such as DE-HE")
            return None
        self._refs.append(Ref("date_slot", start.value, start.line, start.col, node_id))
        return Deadline(id=node_id, say=say, next=links, line=line, start=start.value,
                        months=months.value, slot=self.slot(body, node_id),
                        region=region.value if region else "DE-HE")

    def _report(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
                line: int) -> ReportStep | None:
        intro = self.text(body.value["report"], f"the text of report '{node_id}'")
        fields = self.labelled_slots(body, node_id, "report", "choice_slot")
        month = body.get("month")
        if month is not None:
            if not month.is_str:
                self.at(month, "'month' must name a date slot", "write 'month: incident_date'")
                return None
            self._refs.append(Ref("date_slot", month.value, month.line, month.col, node_id))
        if intro is None or fields is None:
            return None
        return ReportStep(id=node_id, say=say, next=links, line=line, intro=intro,
                          fields=tuple(Field(label, slot) for label, slot in fields),
                          month=month.value if month else None)

    def _call(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
              line: int) -> Call | None:
        target = body.value["call"]
        if not target.is_str:
            self.at(target, "'call' must name a flow id", "write 'call: <flow id>'")
            return None
        self._refs.append(Ref("flow", target.value, target.line, target.col, node_id))
        return Call(id=node_id, say=say, next=links, line=line, flow=target.value)

    def _remind(self, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
                line: int) -> Remind | None:
        spec = body.value["remind"]
        example = ("write remind: {checkin: {after: 3, open: followup}} with the ids of the "
                   "chosen answers, or 'remind: stop'")
        if spec.value == "stop":
            if body.get("slot") is not None:
                self.error(*body.key_pos("slot"), "'remind: stop' ends every reminder and "
                           "reads no answer", "remove 'slot'")
                return None
            return Remind(id=node_id, say=say, next=links, line=line, stop=True)
        if not spec.is_map or not spec.value:
            self.at(spec, f"'remind' of node '{node_id}' must list the reminders", example)
            return None
        items: list[ReminderItem] = []
        for item_id, raw in spec.items():
            item = self.reminder_item(node_id, item_id, raw, *spec.key_pos(item_id))
            if item is not None:
                items.append(item)
        slot = None
        if body.get("slot") is not None:
            slot = self.slot(body, node_id)
            raw_slot = body.value["slot"]
            self._refs.append(Ref("remind_slot", slot, raw_slot.line, raw_slot.col, node_id))
            for item in items:
                line, col = spec.key_pos(item.id)
                self._refs.append(Ref("value", item.id, line, col, slot))
        if len(items) != len(spec.value):
            return None
        return Remind(id=node_id, say=say, next=links, line=line, items=tuple(items), slot=slot)

    def reminder_item(self, node_id: str, item_id: str, raw: Y, line: int,
                      col: int) -> ReminderItem | None:
        where = f"reminder '{item_id}' of node '{node_id}'"
        if not CHOICE_ID.match(item_id):
            self.error(line, col, f"reminder id '{item_id}' is not valid",
                       "use lower case letters, digits and _")
            return None
        if not raw.is_map:
            self.at(raw, f"{where} must say when it is due and what it opens",
                    "write {after: 3, open: followup} or {before: <date slot>, days: 17, "
                    "open: followup}")
            return None
        errors = len(self.problems)
        self.unknown_keys(raw, ("after", "before", "days", "open"), where)
        after, before, days, target = (raw.get(k) for k in ("after", "before", "days", "open"))
        if (after is None) == (before is None):
            self.at(raw, f"{where} needs either 'after: <days>' or 'before: <date slot>'",
                    "after: days from now; before: days before a date such as a deadline")
        for number in (after, days):
            if number is not None and (isinstance(number.value, bool)
                                       or not isinstance(number.value, int)
                                       or not 0 <= number.value <= 366):
                self.at(number, "the number of days must be a whole number from 0 to 366")
        if days is not None and before is None:
            self.at(days, f"'days' in {where} counts back from 'before'",
                    "add 'before: <date slot>', or use 'after'")
        if before is not None:
            if before.is_str:
                self._refs.append(Ref("date_slot", before.value, before.line, before.col,
                                      node_id))
            else:
                self.at(before, "'before' must name a date slot")
        if target is None or not target.is_str or not re.fullmatch(
                r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?", target.value):
            self.at(target or raw, f"{where} needs 'open: <flow>' or 'open: <flow>.<node>'",
                    "the flow (and node) the reminder message opens")
        if len(self.problems) != errors:
            return None
        assert target is not None
        flow, _, node = str(target.value).partition(".")
        self._refs.append(Ref("open", str(target.value), target.line, target.col, node_id))
        return ReminderItem(id=item_id, open_flow=flow, open_node=node or None,
                            after_days=after.value if after is not None else None,
                            before_slot=before.value if before is not None else None,
                            before_days=days.value if days is not None else 0)

    # --- small parts ---------------------------------------------------------------------

    def slot(self, body: Y, node_id: str) -> str:
        raw = body.value.get("slot")
        if raw is None:
            return node_id
        if not (raw.is_str and ID.match(raw.value)):
            self.at(raw, f"slot name {raw.value!r} is not valid",
                    "use lower case letters, digits and _, starting with a letter")
            return node_id
        return str(raw.value)

    def flag(self, body: Y, key: str) -> bool:
        raw = body.value.get(key)
        if raw is None:
            return False
        if not isinstance(raw.value, bool):
            self.at(raw, f"'{key}' must be true or false", f"write '{key}: true'")
            return False
        return raw.value

    def links(self, raw: Y, node_id: str) -> tuple[Link, ...]:
        target = raw.value
        if isinstance(target, str):
            self._refs.append(Ref("target", target, raw.line, raw.col, node_id))
            return (Link(target),)
        if not raw.is_list or not raw.value:
            self.at(raw, f"'next' of node '{node_id}' must be a node id or a list of links",
                    "write 'next: <node id>' or a list of '- if: ... then: ...' and '- else: ...'")
            return ()
        links: list[Link] = []
        for index, item in enumerate(raw.value):
            last = index == len(raw.value) - 1
            if not item.is_map:
                self.at(item, "a link must be '- if: ... then: ...' or '- else: ...'")
                continue
            if item.get("else") is not None:
                self.unknown_keys(item, ("else",), "an else link")
                if not last:
                    self.at(item, "'else' must be the last link", "move it to the end")
                target = item.value["else"]
                if target.is_str:
                    self._refs.append(Ref("target", target.value, target.line, target.col,
                                          node_id))
                    links.append(Link(target.value))
                else:
                    self.at(target, "'else' must name a node id")
                continue
            self.unknown_keys(item, ("if", "then"), "a link")
            cond, then = item.get("if"), item.get("then")
            if cond is None or then is None or not then.is_str:
                self.at(item, "a link needs 'if' and 'then: <node id>'",
                        "write '- if: {slot: s, is: v}' and 'then: <node id>'")
                continue
            condition = self.condition(cond, node_id)
            self._refs.append(Ref("target", then.value, then.line, then.col, node_id))
            if condition is not None:
                links.append(Link(then.value, condition))
            if last:
                self.at(item, f"the links of node '{node_id}' end without 'else'",
                        "add '- else: <node id>' for when no condition holds")
        return tuple(links)

    def condition(self, raw: Y, node_id: str) -> Condition | None:
        if not raw.is_map:
            self.at(raw, "a condition must be a mapping",
                    "write {slot: s, is: v}, {all: [...]}, {any: [...]} or {not: ...}")
            return None
        keys = set(raw.value)
        for combinator in ("all", "any"):
            if combinator in keys:
                self.unknown_keys(raw, (combinator,), f"an '{combinator}' condition")
                parts = raw.value[combinator]
                if not parts.is_list or not parts.value:
                    self.at(parts, f"'{combinator}' needs a list of conditions")
                    return None
                inner = [self.condition(p, node_id) for p in parts.value]
                if any(c is None for c in inner):
                    return None
                conds = tuple(c for c in inner if c is not None)
                return AllOf(conds) if combinator == "all" else AnyOf(conds)
        if "not" in keys:
            self.unknown_keys(raw, ("not",), "a 'not' condition")
            inner_cond = self.condition(raw.value["not"], node_id)
            return Not(inner_cond) if inner_cond is not None else None
        self.unknown_keys(raw, ("slot", "is", "in", "answered"), "a condition")
        slot = raw.get("slot")
        tests = [k for k in ("is", "in", "answered") if k in keys]
        if slot is None or not slot.is_str or len(tests) != 1:
            self.at(raw, "a condition needs 'slot' and one of 'is', 'in', 'answered'",
                    "write {slot: channel, is: letter}")
            return None
        self._refs.append(Ref("slot", slot.value, slot.line, slot.col, node_id))
        value = raw.value[tests[0]]
        if tests[0] == "answered":
            if not isinstance(value.value, bool):
                self.at(value, "'answered' must be true or false")
                return None
            return SlotAnswered(slot.value, value.value)
        values = value.value if tests[0] == "in" else [value]
        if tests[0] == "in" and not value.is_list:
            self.at(value, "'in' needs a list of values", "write in: [letter, email]")
            return None
        names: list[str] = []
        for v in values:
            if isinstance(v.value, bool):
                self.at(v, f"the value reads as {str(v.value).lower()} in YAML",
                        "put it in quotes: \"yes\"")
                return None
            names.append(str(v.value))
            self._refs.append(Ref("value", str(v.value), v.line, v.col, slot.value))
        return SlotIs(slot.value, frozenset(names))


ActionReader = Callable[[FlowReader, str, Y, Text | None, tuple[Link, ...], int], Step | None]
"""(reader, node id, node, its 'say', its links, line) -> the step, or None after a problem."""

READERS: dict[str, ActionReader] = {
    "ask": FlowReader._ask,
    "input": FlowReader._input,
    "contacts": FlowReader._contacts,
    "checklist": FlowReader._checklist,
    "document": FlowReader._document,
    "call": FlowReader._call,
    "deadline": FlowReader._deadline,
    "report": FlowReader._report,
    "remind": FlowReader._remind,
    "end": FlowReader._end,
}
"""The reader of each action: a node with `ask:` is read by FlowReader._ask, and so on. A node
without an action is a Message or a Branch (FlowReader.node)."""
assert READERS.keys() == ACTIONS.keys()
