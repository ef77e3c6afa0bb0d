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
            key = self.loader.construct_object(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problem(key_node, "merge keys (<<) are not allowed", "write the keys out")
                continue
            if isinstance(key, bool):
                self.problem(key_node, f"the key {key_node.value!r} reads as {key} in YAML",
                             f"put it in quotes: \"{key_node.value}\"")
                continue
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
        problems.append(Problem(display, line, 1, "file is not UTF-8 text",
                                "save it as UTF-8"))
        return None
    return parse_yaml(text, display, problems)


def parse_yaml(text: str, display: str, problems: list[Problem]) -> Y | None:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            problems.append(Problem(display, 1, 1, "file is empty", "add content or delete it"))
            return None
        return _Converter(loader, display, problems).convert(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = err.problem or err.context or "invalid YAML"
        problems.append(Problem(display, line, col, f"YAML syntax: {what}", _yaml_hint(what)))
        return None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        problems.append(Problem(display, 1, 1, f"YAML cannot be read: {err}"))
        return None
    finally:
        loader.dispose()


def _yaml_hint(what: str) -> str:
    if "\\t" in what or "tab" in what:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in what:
        return "put text that contains ': ' in quotes"
    if "but found another document" in what:
        return "one file holds one document: remove the extra '---'"
    return "check indentation, quotes and colons around this place"
