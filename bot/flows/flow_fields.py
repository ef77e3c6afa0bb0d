"""The parts many kinds of node share: texts, links, conditions, choices, slots and flags.
`FieldReader` reads them for one flow file and notes every reference (a target, a slot, a value,
a language) for the checks across all files (`bot.flows.reference_checks`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from bot.flows.model import (
    AllOf,
    AnyOf,
    Choice,
    Condition,
    Link,
    Not,
    SlotAnswered,
    SlotIs,
    Text,
)
from bot.flows.problems import Problem, did_you_mean
from bot.flows.yaml_source import Y

ID = re.compile(r"[a-z][a-z0-9_]*\Z")
CHOICE_ID = re.compile(r"[a-z0-9][a-z0-9_]*\Z")
CHOICE_KEYS = ("id", "label", "synonyms", "cues", "next")


class Ref(NamedTuple):
    """Where something in a flow points to something else, kept for the cross-file checks."""

    kind: str
    """What is named: "target" (a node), "flow", "open" (a flow or flow.node), "slot",
    "date_slot", "choice_slot", "remind_slot", "value", "contact", "topic" or "language"."""
    name: str
    line: int
    col: int
    context: str = ""  # the node, or for values the slot


TextResolver = Callable[[Y, str, str], Text | None]
"""(node, file, what) -> the text in every language, or None after adding a problem."""


class FieldReader:
    """Reads the shared parts of one flow file's nodes, noting references, texts and words."""

    def __init__(self, file: str, resolve: TextResolver, problems: list[Problem]) -> None:
        self.file = file
        self.resolve = resolve
        self.problems = problems
        self.refs: list[Ref] = []
        self.texts: list[tuple[Text, int, int, str]] = []
        self.synonyms: list[tuple[str, str, str, int, int]] = []
        self.cue_lists: list[tuple[int, int, str, tuple[str, ...]]] = []
        """(line, col, whose, languages with words) of each `cues:` list, for the language
        check across files (bot.flows.understand_cues)."""
        self.cue_owners: dict[tuple[str, tuple[tuple[str, ...], ...]], tuple[str, int]] = {}
        """(question or slot, a cue's parts) -> the answer it points to and its line."""

    def error(self, line: int, col: int, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.file, line, col, message, hint))

    def at(self, node: Y, message: str, hint: str = "") -> None:
        self.error(node.line, node.col, message, hint)

    def ref(self, kind: str, node: Y, context: str) -> None:
        """Note that `node`'s value names a `kind` of thing, at `node`'s place."""
        self.refs.append(Ref(kind, str(node.value), node.line, node.col, context))

    def unknown_keys(self, node: Y, allowed: tuple[str, ...], where: str) -> bool:
        ok = True
        for key in node.value:
            if key not in allowed:
                line, col = node.key_pos(key)
                self.error(line, col, f"unknown key '{key}' in {where}",
                           did_you_mean(key, allowed) or f"allowed here: {', '.join(allowed)}")
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
                self.texts.append(({lang: words}, at.line, at.col, ""))
        else:
            self.texts.append((text, node.line, node.col, value))
        return text

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

    # --- links and conditions --------------------------------------------------------------

    def links(self, raw: Y, node_id: str) -> tuple[Link, ...]:
        target = raw.value
        if isinstance(target, str):
            self.ref("target", raw, node_id)
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
                    self.ref("target", target, node_id)
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
            self.ref("target", then, node_id)
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
        self.ref("slot", slot, node_id)
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
            self.ref("value", v, slot.value)
        return SlotIs(slot.value, frozenset(names))

    # --- choices and labelled slots --------------------------------------------------------

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
                self.synonyms.append((node_id, choice_id, shown, label_node.line,
                                      label_node.col))
        synonyms: dict[str, tuple[str, ...]] = {}
        raw = fields.get("synonyms")
        if raw is not None:
            if not isinstance(raw.value, dict):
                self.at(raw, "'synonyms' must give a list per language",
                        "write synonyms: {de: [wort], en: [word]}")
            else:
                for lang, listed in raw.value.items():
                    if not listed.is_list or not all(word.is_str for word in listed.value):
                        self.at(listed, f"synonyms for '{lang}' must be a list of words",
                                f"write {lang}: [word, other word]")
                        continue
                    synonyms[lang] = tuple(word.value for word in listed.value)
                    line, col = raw.key_pos(lang)
                    self.refs.append(Ref("language", lang, line, col, ""))
                    for word in listed.value:
                        self.synonyms.append((node_id, choice_id, word.value, word.line,
                                              word.col))
        links = self.links(fields["next"], node_id) if "next" in fields else ()
        if label is None:
            return None
        return Choice(id=choice_id, label=label, synonyms=synonyms, next=links)

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
            self.ref(ref_kind, slot, node_id)
            label = self.text(item.value["label"], f"a {what} field label")
            if label is not None:
                fields.append((label, str(slot.value)))
        return fields if len(fields) == len(raw.value) else None
