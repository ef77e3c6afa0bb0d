"""Build positioned YAML values straight from libyaml's parser events.

Composing a node tree and constructing it through PyYAML's resolver and constructor costs
several microseconds per scalar in Python; a 10,000-node flow took seconds. Here each event is
touched once, plain scalars are resolved by a first-character test (and then once per distinct
word) before any pattern is tried, and anchors, aliases, duplicate keys and deep nesting are
refused as they stream past, so a YAML bomb never grows.

The loop is the hot spot of `lotse check` on a large flow (hundreds of thousands of events), so
the open collection lives in local variables rather than in an object, events come from the
parser's `get_event` without a generator in between, and values are built with
`tuple.__new__` rather than through the named tuple's Python-level constructor.
"""

from __future__ import annotations

from collections.abc import Callable
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
SPECIAL = frozenset(c for c in _IMPLICIT if c)
"""First characters with which a plain scalar may be more than text (a number, true, null …)."""
SHORT_ONLY = frozenset(c for c, found in _IMPLICIT.items() if c.isalpha() and all(
    tag in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:null") for tag, _ in found))
"""First letters with which only true/false and null words are more than text: 'yes', 'Off',
'NULL' … have five letters at most, so a longer word such as a node id 'n1234' is text
without a pattern tried (six allows for the newline that a pattern's `$` lets through)."""


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


MAX_ALIASES = 1_000
"""Aliases are refused; past this many the rest of the file is not read (a YAML bomb)."""
MAX_READ_PROBLEMS = 1_000
"""Past this many problems in one file the rest is not read: nobody reads them, and a file of
50,000 duplicate keys must not take seconds to refuse."""


def events_to_values(text: str, display: str, problems: list[Problem], max_depth: int,
                     make: type[tuple[Any, ...]], anchors: dict[str, Any],
                     aliases: list[tuple[str, Any]]) -> Any:
    """Parse `text` and return make((value, line, col, keys)) for the root, or None.

    `make` is the caller's positioned value type, a tuple subclass of (value, line, col, keys);
    `keys` maps each key of a mapping to its (line, col). Anchors and aliases met are recorded
    in `anchors` and `aliases` (name -> mark) for the caller to refuse; nothing is ever
    expanded. Raises yaml.MarkedYAMLError on a syntax error.
    """
    parser = _Parser(text)
    try:
        return _build(parser.get_event, display, problems, max_depth, make, anchors, aliases)
    finally:
        parser.dispose()


def _problem(problems: list[Problem], display: str, mark: Any, message: str,
             hint: str = "") -> None:
    problems.append(Problem(display, mark.line + 1, mark.column + 1, message, hint))


def _build(get_event: Callable[[], Any], display: str, problems: list[Problem],
           max_depth: int, make: type[tuple[Any, ...]], anchors: dict[str, Any],
           aliases: list[tuple[str, Any]]) -> Any:
    new = tuple.__new__
    scalar_event = yaml.ScalarEvent
    mapping_start = yaml.MappingStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    special, short_only = SPECIAL, SHORT_ONLY
    plain_is_text: dict[str, bool] = {}  # a plain word starting like a number or true: text?
    # The open collection, unpacked into locals; its parents are saved on `stack`.
    items: Any = None  # dict or list; None before the root collection opened
    is_map = False
    keys: dict[str, tuple[int, int]] = {}
    key: str | None = None  # a mapping's key waiting for its value
    skip = False  # the value that comes next belongs to a refused key: drop it
    cline = ccol = 0
    stack: list[tuple[Any, bool, dict[str, tuple[int, int]], str | None, bool, int, int]] = []
    root: Any = None
    skipping = 0  # depth inside a part we refuse (a complex key, too deep a nesting)
    skipped_key = False  # what was skipped was a key: its value must be dropped too
    documents = 0
    first_problem = len(problems)
    while True:
        event = get_event()
        if event is None:
            break
        kind = type(event)
        # Fast path for the common case: a plain word or quoted text inside a collection.
        if kind is scalar_event and items is not None and not skipping \
                and event.anchor is None and event.tag is None:
            raw = event.value
            fast = True
            if not event.style and (not raw or (raw[0] in special and (
                    len(raw) <= 6 or raw[0] not in short_only))):
                known = plain_is_text.get(raw)
                if known is None:
                    known = plain_is_text[raw] = bool(raw) and resolve_plain(raw)[0] == _STR
                fast = known
            if fast:
                mark = event.start_mark
                if not is_map:
                    items.append(new(make, (raw, mark.line + 1, mark.column + 1, None)))
                    continue
                if key is not None:
                    if skip:
                        skip = False
                    else:
                        items[key] = new(make, (raw, mark.line + 1, mark.column + 1, None))
                    key = None
                    continue
                if raw not in keys:
                    keys[raw] = (mark.line + 1, mark.column + 1)
                    key = raw
                    continue
        if kind is mapping_end or kind is sequence_end:
            if skipping:
                skipping -= 1
                if skipping == 0 and items is not None and is_map:
                    if skipped_key:  # the value that follows belongs to no key: drop it
                        key, skip = "", True
                    else:
                        key, skip = None, False
                continue
            value: Any = new(make, (items, cline, ccol, keys))
            items, is_map, keys, key, skip, cline, ccol = stack.pop()
        elif kind is yaml.StreamStartEvent or kind is yaml.StreamEndEvent \
                or kind is yaml.DocumentEndEvent:
            continue
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                _problem(problems, display, event.start_mark,
                         "YAML syntax: but found another document",
                         "one file holds one document: remove the extra '---'")
                return None
            continue
        elif kind is yaml.AliasEvent:
            aliases.append((event.anchor, event.start_mark))
            if len(aliases) > MAX_ALIASES:
                return None  # refused anyway (the caller names the first ones): stop reading
            if skipping:
                continue
            if items is not None and is_map and key is None:
                key, skip = "", True  # an alias as a key
                continue
            mark = event.start_mark
            value = new(make, (None, mark.line + 1, mark.column + 1, None))
        else:
            anchor = event.anchor  # a scalar or the start of a collection
            if anchor is not None:
                anchors.setdefault(anchor, event.start_mark)
            if skipping:
                if kind is not scalar_event:
                    skipping += 1
                continue
            mark = event.start_mark
            line, col = mark.line + 1, mark.column + 1
            in_key = items is not None and is_map and key is None
            if kind is scalar_event:
                tag = event.tag
                if tag not in (None, "!") and tag != _STR \
                        and not tag.startswith("tag:yaml.org,2002:"):
                    _problem(problems, display, mark, f"unsupported YAML tag '{tag}'",
                             "remove the tag")
                    value, tag = event.value, _STR
                elif event.implicit[0] and not event.style:
                    tag, value = resolve_plain(event.value)
                else:
                    tag, value = _STR, event.value
                if in_key:
                    if tag == _MERGE:
                        _problem(problems, display, mark, "merge keys (<<) are not allowed",
                                 "write the keys out")
                        key, skip = "<<", True
                        continue
                    if isinstance(value, bool):
                        _problem(problems, display, mark,
                                 f"the key {event.value!r} reads as {str(value).lower()} in "
                                 "YAML", f"put it in quotes: \"{event.value}\"")
                        value = event.value
                    name = str(value)
                    if name in keys:
                        _problem(problems, display, mark,
                                 f"duplicate key '{name}' (first on line {keys[name][0]})",
                                 "remove or rename one of them")
                        if len(problems) - first_problem >= MAX_READ_PROBLEMS:
                            _problem(problems, display, mark, "stopped reading: too many "
                                     "problems in this file", "fix the ones above first")
                            return None
                        key, skip = name, True
                        continue
                    keys[name] = (line, col)
                    key = name
                    continue
                value = new(make, (value, line, col, None))
            else:  # the start of a mapping or a sequence
                if in_key:
                    _problem(problems, display, mark,
                             "a key must be a plain word, not a list or mapping")
                    skipping, skipped_key = 1, True
                    continue
                if len(stack) >= max_depth:
                    _problem(problems, display, mark, f"nesting deeper than {max_depth} levels",
                             "flatten the structure")
                    skipping, skipped_key = 1, False
                    continue
                stack.append((items, is_map, keys, key, skip, cline, ccol))
                is_map = kind is mapping_start
                items = {} if is_map else []
                keys, key, skip, cline, ccol = {}, None, False, line, col
                continue
        # Attach `value` to the open collection, or make it the root.
        if items is None:
            root = value
        elif not is_map:
            items.append(value)
        else:
            if skip:
                skip = False
            elif key is not None:
                items[key] = value
            key = None
    if documents == 0 or root is None:
        return None
    return root
