"""Build positioned YAML values straight from libyaml's parser events.

Composing a node tree and constructing it through PyYAML's resolver and constructor costs
several microseconds per scalar in Python; a 10,000-node flow took seconds. Here each event is
touched once, plain scalars are resolved by a first-character test before any pattern is tried,
and anchors, aliases, duplicate keys and deep nesting are refused as they stream past, so a YAML
bomb never grows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.resolver import Resolver

from bot.problems import Problem

try:
    _Parser: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_IMPLICIT = Resolver.yaml_implicit_resolvers
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_SPECIAL = frozenset(c for c in _IMPLICIT if c)
"""First characters with which a plain scalar may be more than text (a number, true, null …)."""


def resolve_plain(value: str) -> tuple[str, Any]:
    """(tag, value) of an unquoted scalar, exactly as PyYAML's SafeLoader would read it."""
    candidates = _IMPLICIT.get(value[0] if value else "", ())
    for tag, pattern in candidates:
        if pattern.match(value):
            if tag == _MERGE:
                return tag, value
            node = yaml.ScalarNode(tag, value)
            return tag, _CONSTRUCTOR.construct_object(node)
    return _STR, value


class _Collection:
    __slots__ = ("col", "items", "key", "keys", "line", "skip_value")

    def __init__(self, line: int, col: int, mapping: bool) -> None:
        self.line = line
        self.col = col
        self.items: Any = {} if mapping else []
        self.keys: dict[str, tuple[int, int]] = {}
        self.key: str | None = None
        self.skip_value = False


def events_to_values(text: str, display: str, problems: list[Problem], max_depth: int,
                     make: Any, anchors: dict[str, Any], aliases: list[tuple[str, Any]]) -> Any:
    """Parse `text` and return make(value, line, col, keys) for the root, or None.

    `make` builds the caller's positioned value type. Anchors and aliases met are recorded in
    `anchors` and `aliases` (name -> mark) for the caller to refuse; nothing is ever expanded.
    Raises yaml.MarkedYAMLError on a syntax error.
    """
    stack: list[_Collection] = []
    root: Any = None
    skipping = 0  # depth inside a part we refuse (a complex key, too deep a nesting)
    skipped_key = False  # what was skipped was a key: its value must be dropped too
    documents = 0

    def problem(mark: Any, message: str, hint: str = "") -> None:
        problems.append(Problem(display, mark.line + 1, mark.column + 1, message, hint))

    def attach(value: Any) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        parent = stack[-1]
        if isinstance(parent.items, list):
            parent.items.append(value)
            return
        key, parent.key = parent.key, None
        if parent.skip_value:
            parent.skip_value = False
        elif key is not None:
            parent.items[key] = value

    scalar_event = yaml.ScalarEvent
    events: Iterator[Any] = yaml.parse(text, Loader=_Parser)
    for event in events:
        kind = type(event)
        # Fast path for the common case: a plain word or quoted text inside a collection.
        if kind is scalar_event and stack and not skipping and event.anchor is None \
                and event.tag is None:
            raw = event.value
            plain = not event.style
            if (raw and (not plain or raw[0] not in _SPECIAL or resolve_plain(raw)[0] == _STR)) \
                    or not plain:
                top = stack[-1]
                items = top.items
                mark = event.start_mark
                if type(items) is list:
                    items.append(make(raw, mark.line + 1, mark.column + 1, None))
                    continue
                key = top.key
                if key is not None:
                    top.key = None
                    if top.skip_value:
                        top.skip_value = False
                    else:
                        items[key] = make(raw, mark.line + 1, mark.column + 1, None)
                    continue
                if raw not in top.keys:
                    top.keys[raw] = (mark.line + 1, mark.column + 1)
                    top.key = raw
                    continue
        if kind is yaml.StreamStartEvent or kind is yaml.StreamEndEvent:
            continue
        if kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                problem(event.start_mark, "YAML syntax: but found another document",
                        "one file holds one document: remove the extra '---'")
                return None
            continue
        if kind is yaml.DocumentEndEvent:
            continue
        if kind is yaml.AliasEvent:
            aliases.append((event.anchor, event.start_mark))
            if not skipping and stack and isinstance(stack[-1].items, dict) \
                    and stack[-1].key is None:
                stack[-1].key, stack[-1].skip_value = "", True  # an alias as a key
            elif not skipping:
                attach(make(None, event.start_mark.line + 1, event.start_mark.column + 1, None))
            continue
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            anchors.setdefault(anchor, event.start_mark)
        if skipping:
            if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                skipping += 1
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                skipping -= 1
                if skipping == 0 and stack and isinstance(stack[-1].items, dict):
                    if skipped_key:  # the value that follows belongs to no key: drop it
                        stack[-1].key, stack[-1].skip_value = "", True
                    else:
                        stack[-1].key, stack[-1].skip_value = None, False
            continue
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        parent: Any = stack[-1] if stack else None
        in_key = parent is not None and isinstance(parent.items, dict) and parent.key is None
        if kind is yaml.ScalarEvent:
            if event.tag not in (None, "!") and event.tag != _STR and not event.tag.startswith(
                    "tag:yaml.org,2002:"):
                problem(mark, f"unsupported YAML tag '{event.tag}'", "remove the tag")
                value: Any = event.value
                tag = _STR
            elif event.implicit[0] and not event.style:
                tag, value = resolve_plain(event.value)
            else:
                tag, value = _STR, event.value
            if in_key:
                assert parent is not None
                if tag == _MERGE:
                    problem(mark, "merge keys (<<) are not allowed", "write the keys out")
                    parent.key, parent.skip_value = "<<", True
                    continue
                if isinstance(value, bool):
                    problem(mark, f"the key {event.value!r} reads as {str(value).lower()} in "
                            "YAML", f"put it in quotes: \"{event.value}\"")
                    value = event.value
                key = str(value)
                if key in parent.keys:
                    problem(mark, f"duplicate key '{key}' (first on line {parent.keys[key][0]})",
                            "remove or rename one of them")
                    parent.key, parent.skip_value = key, True
                    continue
                parent.keys[key] = (line, col)
                parent.key = key
                continue
            attach(make(value, line, col, None))
            continue
        if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if in_key:
                assert parent is not None
                problem(mark, "a key must be a plain word, not a list or mapping")
                skipping, skipped_key = 1, True
                continue
            if len(stack) >= max_depth:
                problem(mark, f"nesting deeper than {max_depth} levels", "flatten the structure")
                skipping, skipped_key = 1, False
                continue
            stack.append(_Collection(line, col, kind is yaml.MappingStartEvent))
            continue
        if kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            done = stack.pop()
            attach(make(done.items, done.line, done.col, done.keys))
            continue
    if documents == 0 or root is None:
        return None
    return root
