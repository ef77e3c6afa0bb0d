"""YAML files read into values that remember their line and column (built from libyaml's
events by `bot.flows.yaml_events`). Whatever goes wrong on the way (too big, not UTF-8, broken
YAML, anchors) becomes a problem naming file, line and column, never a traceback."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from bot.flows.problems import Problem
from bot.flows.yaml_events import read_events

MAX_FILE_BYTES = 5_000_000


class Y(NamedTuple):
    """A YAML value with its position (1-based). Mappings hold Y values and key positions."""

    value: Any
    line: int
    col: int
    keys: dict[str, tuple[int, int]] | None = None

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
        return self.keys.get(key, (self.line, self.col)) if self.keys else (self.line, self.col)

    def plain(self) -> Any:
        """The value without positions, for data that needs no more messages."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def display(path: Path) -> str:
    """`path` as messages show it: relative to the current folder where it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


class _NotAFile(OSError):
    pass


class _TooLarge(OSError):
    pass


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, at most MAX_FILE_BYTES. Opened without blocking and checked on the
    open descriptor: a FIFO, a device (/dev/zero) or a folder is refused at once instead of
    hanging or reading without end, and a file that grows while read is cut at the bound."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _NotAFile("this is a folder, not a file" if stat.S_ISDIR(info.st_mode) else
                            "this is not a regular file (a device, a pipe or a socket)")
        if info.st_size > MAX_FILE_BYTES:
            raise _TooLarge(f"file is {info.st_size:,} bytes, more than the "
                            f"{MAX_FILE_BYTES:,} allowed")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_FILE_BYTES:
        raise _TooLarge(f"file is more than the {MAX_FILE_BYTES:,} bytes allowed")
    return raw


def load_yaml(path: Path, display: str, problems: list[Problem]) -> Y | None:
    """Read one YAML file; problems go to `problems`, and None means nothing usable."""
    try:
        raw = _read_bounded(path)
    except _NotAFile as err:
        problems.append(Problem(display, 1, 1, str(err),
                                "name a YAML file (a regular file) instead"))
        return None
    except _TooLarge as err:
        problems.append(Problem(display, 1, 1, str(err), "split it into smaller files"))
        return None
    except OSError as err:
        problems.append(Problem(display, 1, 1, f"cannot read file: {err.strerror or err}"))
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
    """`text` as positioned values; problems go to `problems`, and None means nothing usable."""
    before = len(problems)
    try:
        read = read_events(text, display, problems, Y)
    except yaml.MarkedYAMLError as err:
        problems.append(_syntax_problem(err, text, display))
        return None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow: say where
        ahead = text[:err.position]
        if not text[err.position:].startswith(chr(err.character or 0)):
            # libyaml counts bytes of UTF-8, PyYAML's own reader characters
            ahead = text.encode()[:err.position].decode("utf-8", "replace")
        line = ahead.count("\n") + 1
        col = len(ahead) - (ahead.rfind("\n") + 1) + 1
        code = f"U+{err.character:04X}" if isinstance(err.character, int) else "a character"
        problems.append(Problem(display, line, col, f"{code} is not allowed in YAML "
                                f"({err.reason})", "delete it: it is invisible in most "
                                "editors, often pasted in from elsewhere"))
        return None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        problems.append(Problem(display, 1, 1, f"YAML cannot be read: {err}"))
        return None
    if read.anchors or read.aliases:
        _anchor_problems(read.anchors, read.aliases, display, problems)
        return None
    root: Y | None = read.root
    if root is None and len(problems) == before:
        problems.append(Problem(display, 1, 1, "file is empty", "add content or delete it"))
    return root


MAX_ALIAS_PROBLEMS = 10

_UNCLOSED = {
    "while scanning a quoted scalar": ("the quoted text that starts here is never closed",
                                       "end it with the same quote mark"),
    "while parsing a flow mapping": ("the '{' here is never closed",
                                     "add the missing '}', and check the commas inside"),
    "while parsing a flow sequence": ("the '[' here is never closed",
                                      "add the missing ']', and check the commas inside"),
}


def _anchor_problems(anchors: dict[str, Any], aliases: list[tuple[str, Any]], display: str,
                     problems: list[Problem]) -> None:
    """Name every alias (*name) and unused anchor (&name): a file with any is refused whole."""
    message = "anchors and aliases (& and *) are not allowed"
    for name, mark in aliases[:MAX_ALIAS_PROBLEMS]:
        source = anchors.get(name)
        if source is None:  # most likely a word meant to begin with '*', such as a cue
            problems.append(Problem(display, mark.line + 1, mark.column + 1,
                                    f"{message}: '*{name}' names no '&{name}'",
                                    f"a text that begins with '*' needs quotes: '*{name}'"))
            continue
        problems.append(Problem(display, mark.line + 1, mark.column + 1,
                                f"{message}: '*{name}' repeats '&{name}' on line "
                                f"{source.line + 1}",
                                "write the value out here, and remove the '&' name"))
    if len(aliases) > MAX_ALIAS_PROBLEMS:
        mark = aliases[MAX_ALIAS_PROBLEMS][1]
        problems.append(Problem(display, mark.line + 1, mark.column + 1,
                                f"{message}: {len(aliases) - MAX_ALIAS_PROBLEMS} more aliases "
                                "from here on", "write every value out"))
    used = {name for name, _ in aliases}
    for name, mark in anchors.items():
        if name not in used:
            problems.append(Problem(display, mark.line + 1, mark.column + 1,
                                    f"{message}: '&{name}'", f"remove '&{name}'"))


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
