"""Positioned YAML values built from libyaml's parser events, because PyYAML's constructor
drops positions, lets a repeated key silently win and expands aliases. Here every value and key
keeps its place; duplicate and merge keys, keys that are not plain words, unknown tags and too
deep nesting each get a message; anchors and aliases are noted, never expanded, so a YAML bomb
never grows. Plain scalars go through PyYAML's resolver: `3`, `true`, `2026-01-05` mean what
they mean to every YAML reader.

Theory of operation: a recursive descent, one method per kind of node; every event is taken
through `_next`, which notes anchors and aliases even in parts that are refused and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import yaml

from bot.flows.problems import Problem

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser with PyYAML's resolver and constructor (PyYAML's parser without libyaml)."""

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"

MAX_DEPTH = 40
"""Collections nested deeper are refused (and skipped), so recursion stays shallow."""
MAX_ALIASES = 1_000
"""Aliases are refused; past this many the rest of the file is not read (a YAML bomb)."""
MAX_READ_PROBLEMS = 1_000
"""Past this many problems the rest of the file is not read, so a flood of them stops at once."""

Make = Callable[[Any, int, int, "dict[str, tuple[int, int]] | None"], Any]
"""The caller's positioned value: make(value, line, col, key positions of a mapping)."""


class Read(NamedTuple):
    """What `read_events` found: the root value (None if nothing usable), and every anchor
    (name -> its first mark) and alias (name, mark) met, for the caller to refuse."""

    root: Any
    anchors: dict[str, Any]
    aliases: list[tuple[str, Any]]


def read_events(text: str, display: str, problems: list[Problem], make: Make) -> Read:
    """Parse `text` into make(...) values; problems go to `problems`. Raises
    yaml.MarkedYAMLError (syntax) or yaml.reader.ReaderError (a character YAML does not allow)."""
    builder = _Builder(text, display, problems, make)
    try:
        root = builder.document()
    except _Stop:
        root = None
    finally:
        builder.loader.dispose()
    return Read(root, builder.anchors, builder.aliases)


class _Stop(Exception):
    """The rest of the file is not read: it is refused whatever follows."""


class _Builder:
    def __init__(self, text: str, display: str, problems: list[Problem], make: Make) -> None:
        self.loader = _Loader(text)
        self.display = display
        self.problems = problems
        self.first_problem = len(problems)
        self.make = make
        self.anchors: dict[str, Any] = {}
        self.aliases: list[tuple[str, Any]] = []

    def _next(self) -> Any:
        event = self.loader.get_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases.append((str(event.anchor), event.start_mark))
            if len(self.aliases) > MAX_ALIASES:
                raise _Stop
        elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            self.anchors.setdefault(event.anchor, event.start_mark)
        return event

    def _problem(self, mark: Any, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.display, mark.line + 1, mark.column + 1, message, hint))
        if len(self.problems) - self.first_problem >= MAX_READ_PROBLEMS:
            self.problems.append(Problem(self.display, mark.line + 1, mark.column + 1,
                                         "stopped reading: too many problems in this file",
                                         "fix the ones above first"))
            raise _Stop

    def document(self) -> Any:
        """The one document's root value; None for an empty file or a second document."""
        self._next()  # the stream starts
        if isinstance(self._next(), yaml.StreamEndEvent):
            return None
        root = self._node(self._next(), 0)
        self._next()  # the document ends
        event = self._next()
        if isinstance(event, yaml.DocumentStartEvent):
            self._problem(event.start_mark, "YAML syntax: but found another document",
                          "one file holds one document: remove the extra '---'")
            return None
        return root

    def _node(self, event: Any, depth: int) -> Any:
        """The value `event` starts, inside `depth` open collections; None if refused."""
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        if isinstance(event, yaml.AliasEvent):
            return self.make(None, line, col, None)  # noted in _next, refused by the caller
        if isinstance(event, yaml.ScalarEvent):
            return self.make(self._scalar(event)[1], line, col, None)
        if depth >= MAX_DEPTH:
            self._problem(mark, f"nesting deeper than {MAX_DEPTH} levels",
                          "flatten the structure")
            self._skip()
            return None
        if isinstance(event, yaml.MappingStartEvent):
            items: dict[str, Any] = {}
            keys: dict[str, tuple[int, int]] = {}
            while not isinstance(event := self._next(), yaml.MappingEndEvent):
                key = self._key(event, keys)
                value = self._node(self._next(), depth + 1)
                if key is not None and value is not None:
                    items[key] = value
            return self.make(items, line, col, keys)
        values: list[Any] = []
        while not isinstance(event := self._next(), yaml.SequenceEndEvent):
            value = self._node(event, depth + 1)
            if value is not None:
                values.append(value)
        return self.make(values, line, col, None)

    def _key(self, event: Any, keys: dict[str, tuple[int, int]]) -> str | None:
        """The key `event` starts, its place noted in `keys`; None if refused, and then the
        value that follows belongs to no key."""
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            return None  # noted in _next, refused by the caller
        if not isinstance(event, yaml.ScalarEvent):
            self._problem(mark, "a key must be a plain word, not a list or mapping")
            self._skip()
            return None
        tag, value = self._scalar(event)
        if tag == _MERGE:
            self._problem(mark, "merge keys (<<) are not allowed", "write the keys out")
            return None
        if isinstance(value, bool):
            self._problem(mark, f"the key {event.value!r} reads as {str(value).lower()} in YAML",
                          f"put it in quotes: \"{event.value}\"")
            value = event.value
        name = str(value)
        if name in keys:
            self._problem(mark, f"duplicate key '{name}' (first on line {keys[name][0]})",
                          "remove or rename one of them")
            return None
        keys[name] = (mark.line + 1, mark.column + 1)
        return name

    def _scalar(self, event: Any) -> tuple[str, Any]:
        """(tag, value) of a scalar, as PyYAML's SafeLoader reads it; a tag outside YAML's own
        is refused, and the text kept."""
        tag = event.tag
        if tag not in (None, "!") and not tag.startswith("tag:yaml.org,2002:"):
            self._problem(event.start_mark, f"unsupported YAML tag '{tag}'", "remove the tag")
            return _STR, event.value
        if not event.implicit[0] or event.style:  # quoted, or with a tag: text as written
            return _STR, event.value
        tag = self.loader.resolve(yaml.ScalarNode, event.value, (True, False))
        if tag in (_STR, _MERGE):  # text is what was written; '<<' only means something as a key
            return tag, event.value
        return tag, self.loader.construct_object(yaml.ScalarNode(tag, event.value))

    def _skip(self) -> None:
        """Read past the refused collection just opened, however deep it goes."""
        depth = 1
        while depth:
            event = self._next()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
