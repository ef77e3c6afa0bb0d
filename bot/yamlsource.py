"""YAML read into values that remember their line and column.

PyYAML's composer keeps positions but its constructor throws them away, and it silently lets a
duplicate key win. We compose the node tree ourselves so that every later message can name the
exact place, and so that duplicate keys, anchors and aliases (the YAML bomb) are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.problems import Problem

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 2_000_000
MAX_DEPTH = 40


@dataclass(frozen=True, slots=True)
class Y:
    """A YAML value with its position (1-based). Mappings hold Y values and key positions."""

    value: Any
    line: int
    col: int
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    @property
    def is_str(self) -> bool:
        return isinstance(self.value, str)

    def items(self) -> Iterator[tuple[str, Y]]:
        assert isinstance(self.value, dict)
        return iter(self.value.items())

    def get(self, key: str) -> Y | None:
        assert isinstance(self.value, dict)
        found: Y | None = self.value.get(key)
        return found

    def key_pos(self, key: str) -> tuple[int, int]:
        return self.keys.get(key, (self.line, self.col))

    def plain(self) -> Any:
        """The value without positions, for data that needs no more messages."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


class _Converter:
    def __init__(self, loader: Any, file: str, problems: list[Problem]) -> None:
        self.loader = loader
        self.file = file
        self.problems = problems
        self.seen: set[int] = set()

    def problem(self, node: yaml.Node, message: str, hint: str = "") -> None:
        mark = node.start_mark
        self.problems.append(Problem(self.file, mark.line + 1, mark.column + 1, message, hint))

    def convert(self, node: yaml.Node, depth: int = 0) -> Y | None:
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if depth > MAX_DEPTH:
            self.problem(node, f"nesting deeper than {MAX_DEPTH} levels", "flatten the structure")
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _PLAIN_TAGS:
                self.problem(node, f"unsupported YAML tag '{node.tag}'", "remove the tag")
                return None
            return Y(self.loader.construct_object(node), line, col)
        if id(node) in self.seen:
            self.problem(node, "anchors and aliases (& and *) are not allowed",
                         "write the value out where it is needed")
            return None
        self.seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            items = [self.convert(item, depth + 1) for item in node.value]
            return Y([i for i in items if i is not None], line, col)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth, line, col)
        self.problem(node, "unsupported YAML node")  # pragma: no cover
        return None

    def _mapping(self, node: yaml.MappingNode, depth: int, line: int, col: int) -> Y:
        values: dict[str, Y] = {}
        keys: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "a key must be a plain word, not a list or mapping")
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem(key_node, "merge keys (<<) are not allowed", "write the keys out")
                continue
            key = self.loader.construct_object(key_node)
            if isinstance(key, bool):
                self.problem(key_node, f"the key {key_node.value!r} reads as "
                             f"{str(key).lower()} in YAML",
                             f"put it in quotes: \"{key_node.value}\"")
                key = key_node.value  # what was meant, so that no further errors follow
            key = str(key)
            if key in keys:
                first = keys[key][0]
                self.problem(key_node, f"duplicate key '{key}' (first on line {first})",
                             "remove or rename one of them")
                continue
            keys[key] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            converted = self.convert(value_node, depth + 1)
            if converted is not None:
                values[key] = converted
        return Y(values, line, col, keys)


_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:merge",
}


def load_yaml(path: Path, display: str, problems: list[Problem]) -> Y | None:
    """Read one YAML file; problems go to `problems`, and None means nothing usable."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(Problem(display, 1, 1, f"file is {size:,} bytes, more than the "
                                    f"{MAX_FILE_BYTES:,} allowed", "split it into smaller files"))
            return None
        raw = path.read_bytes()
    except OSError as err:
        problems.append(Problem(display, 1, 1, f"cannot read file: {err.strerror}"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        before = raw[raw.rfind(b"\n", 0, err.start) + 1: err.start].decode("utf-8-sig", "replace")
        problems.append(Problem(display, line, len(before) + 1,
                                f"file is not UTF-8 text (byte 0x{raw[err.start]:02x})",
                                "save it as UTF-8"))
        return None
    return parse_yaml(text, display, problems)


def parse_yaml(text: str, display: str, problems: list[Problem]) -> Y | None:
    if ("&" in text or "*" in text) and _refuse_anchors(text, display, problems):
        return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(Problem(display, 1, 1, "file is empty", "add content or delete it"))
            return None
        return _Converter(loader, display, problems).convert(node)
    except yaml.MarkedYAMLError as err:
        problems.append(_syntax_problem(err, text, display))
        return None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        problems.append(Problem(display, 1, 1, f"YAML cannot be read: {err}"))
        return None
    finally:
        loader.dispose()


MAX_ALIAS_PROBLEMS = 10

_UNCLOSED = {
    "while scanning a quoted scalar": ("the quoted text that starts here is never closed",
                                       "end it with the same quote mark"),
    "while parsing a flow mapping": ("the '{' here is never closed",
                                     "add the missing '}', and check the commas inside"),
    "while parsing a flow sequence": ("the '[' here is never closed",
                                      "add the missing ']', and check the commas inside"),
}


def _refuse_anchors(text: str, display: str, problems: list[Problem]) -> bool:
    """Name the aliases (*name) and unused anchors (&name); True when the file has any.

    Runs on the parser's events, before anything is composed, so a YAML bomb never grows; it
    stops after the first few aliases, so that a file full of them is refused fast.
    """
    anchors: dict[str, tuple[int, int]] = {}
    aliases: list[tuple[str, int, int]] = []
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                aliases.append((str(event.anchor), *_position(event.start_mark)))
                if len(aliases) > MAX_ALIAS_PROBLEMS:
                    break
            elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                anchors.setdefault(event.anchor, _position(event.start_mark))
    except yaml.YAMLError:
        return False  # parse_yaml reports the syntax error
    message = "anchors and aliases (& and *) are not allowed"
    for name, line, col in aliases[:MAX_ALIAS_PROBLEMS]:
        where = f" on line {anchors[name][0]}" if name in anchors else ""
        problems.append(Problem(display, line, col,
                                f"{message}: '*{name}' repeats '&{name}'{where}",
                                "write the value out here, and remove the '&' name"))
    if len(aliases) > MAX_ALIAS_PROBLEMS:
        _, line, col = aliases[MAX_ALIAS_PROBLEMS]
        problems.append(Problem(display, line, col, f"{message}: more aliases from here on",
                                "write every value out"))
        return True
    used = {name for name, _, _ in aliases}
    for name, (line, col) in anchors.items():
        if name not in used:
            problems.append(Problem(display, line, col, f"{message}: '&{name}'",
                                    f"remove '&{name}'"))
    return bool(aliases or anchors)


def _position(mark: Any) -> tuple[int, int]:
    """1-based line and column of a PyYAML mark (None: the top of the file)."""
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _syntax_problem(err: yaml.MarkedYAMLError, text: str, display: str) -> Problem:
    mark = err.problem_mark or err.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = err.problem or err.context or "invalid YAML"
    opened = err.context_mark
    unclosed = _UNCLOSED.get(err.context or "")
    if unclosed and opened is not None and (mark is None or mark.line > opened.line):
        # The parser notices an unclosed quote or bracket only lines later: point at the opening.
        message, hint = unclosed
        return Problem(display, opened.line + 1, opened.column + 1, f"YAML syntax: {message}",
                       hint)
    lines = text.splitlines()
    at = lines[line - 1][col - 1:col] if line <= len(lines) else ""
    return Problem(display, line, col, f"YAML syntax: {what}", _yaml_hint(what, at))


def _yaml_hint(what: str, at: str) -> str:
    if at == "\t" or "\\t" in what or "tab" in what:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in what:
        return "put text that contains ': ' in quotes, or indent this line like the one above"
    if "but found another document" in what:
        return "one file holds one document: remove the extra '---'"
    return "check indentation, quotes and colons around this place"
