"""A flow's `danger:` block: which words read as danger right now in any message, which as an
explicit "no danger now", and the node a conversation goes to then (docs/flows.md, "Danger at
any moment"). Read here with every problem at its place; the checks that need all flows and the
languages are `check_danger`. How a message is read with it: bot.engine.danger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.flows.flow_fields import FieldReader, Ref
from bot.flows.model import Cue, Danger
from bot.flows.problems import Problem
from bot.flows.words import RESERVED, normalize
from bot.flows.yaml_source import Y

DANGER_KEYS = ("go", "cues", "not")
GO = "danger.go"
"""The context of the reference to `go`: no node id has a dot, so it is named as no node."""
LISTS = {"cues": "danger cue", "not": "non-danger phrase"}
"""The block's two lists of words, and what one entry of each is called in a message."""
EXAMPLE = "write danger: {go: <node>, cues: {de: [...], en: [...]}, not: {de: [...], en: [...]}}"


@dataclass(frozen=True)
class DangerBlock:
    """A flow's danger block as read, with the places the checks across files name."""

    danger: Danger
    line: int
    col: int
    lists: dict[str, tuple[int, int, tuple[str, ...]]]
    """'cues' / 'not' -> the place of its key and the languages that have words in it."""


def read_cue(text: str) -> Cue | None:
    """A cue as written, read into its parts; None when a part has no word left once
    normalized (punctuation only), so that it could never match."""
    parts: list[tuple[str, ...]] = []
    for raw in text.split("+"):
        words: list[str] = []
        for token in raw.split():
            pieces = normalize(token.strip("*")).split()
            if not pieces:
                continue
            if token.startswith("*"):
                pieces[0] = "*" + pieces[0]
            if token.endswith("*"):
                pieces[-1] += "*"
            words.extend(pieces)
        if not words:
            return None
        parts.append(tuple(words))
    return Cue(text, tuple(parts))


def read_danger(r: FieldReader, raw: Y, flow_id: str, line: int, col: int
                ) -> DangerBlock | None:
    """The block at `raw` (its key at line:col), or None after adding a problem."""
    if not raw.is_map:
        r.at(raw, "'danger' must name a node and list the words that read as danger", EXAMPLE)
        return None
    errors = len(r.problems)
    r.unknown_keys(raw, DANGER_KEYS, "'danger'")
    go = raw.get("go")
    if go is None or not go.is_str:
        r.at(go or raw, "'danger' needs 'go: <node id>'",
             "the node that shows the emergency numbers when a message reads as danger")
    else:
        r.ref("target", go, GO)
    found: dict[str, list[tuple[Cue, Y]]] = {"cues": [], "not": []}
    lists: dict[str, tuple[int, int, tuple[str, ...]]] = {}
    for key in LISTS:
        spec = raw.get(key)
        if spec is None:
            if key == "cues":
                r.error(line, col, "'danger' has no 'cues'", EXAMPLE)
            continue
        if not spec.is_map:
            r.at(spec, f"'{key}' of 'danger' must give a list per language",
                 f"write {key}: {{de: [...], en: [...]}}")
            continue
        languages = [lang for lang, listed in spec.items()
                     if _read_list(r, key, lang, listed, spec, found[key])]
        lists[key] = (*raw.key_pos(key), tuple(languages))
    safe = {cue.parts for cue, _ in found["not"]}
    for cue, at in found["cues"]:
        if cue.parts in safe:
            r.at(at, f"'{cue.text}' is both a danger cue and a non-danger phrase",
                 "keep it in one of the two lists")
    if len(r.problems) != errors or go is None:
        return None
    danger = Danger(flow_id, go.value, tuple(c for c, _ in found["cues"]),
                    tuple(c for c, _ in found["not"]))
    return DangerBlock(danger, line, col, lists)


def _read_list(r: FieldReader, key: str, lang: str, listed: Y, spec: Y,
               found: list[tuple[Cue, Y]]) -> bool:
    """Read one language's list into `found`; True when it has words."""
    line, col = spec.key_pos(lang)
    r.refs.append(Ref("language", lang, line, col, ""))
    what = LISTS[key]
    if not listed.is_list or not all(word.is_str for word in listed.value):
        r.at(listed, f"the {what}s for '{lang}' must be a list of words",
             f"write {lang}: [word, other words] (quote a word such as \"no\")")
        return False
    for word in listed.value:
        cue = checked_cue(r, word, f"{what} '{word.value}'", "'verfolg*', '*messer'")
        if cue is None:
            continue
        if key == "cues" and normalize(word.value) in RESERVED:
            r.at(word, f"'{word.value}' is a command word and cannot be a {what}",
                 "commands work everywhere; 'notfall' already shows the emergency numbers")
        else:
            found.append((cue, word))
    return bool(listed.value)


def checked_cue(r: FieldReader, word: Y, name: str, examples: str) -> Cue | None:
    """The cue `word` holds, or None with its problem at its place (`name` says which cue):
    a '*' inside a word, or nothing left of it once punctuation is dropped."""
    text = word.value
    if any("*" in token.strip("*") for token in text.split()):
        r.at(word, f"{name} has a '*' inside a word",
             f"a '*' stands at the start or the end of a word: {examples}")
        return None
    cue = read_cue(text)
    if cue is None:
        r.at(word, f"{name} can never match: nothing is left of it once punctuation is dropped",
             "write words")
    return cue


def check_danger(blocks: Sequence[tuple[str, DangerBlock]], languages: Sequence[str],
                 problems: list[Problem]) -> None:
    """One flow at most says where danger leads, and each list has words in every language
    once it has words in one: a message in English is read for danger as well as in German."""
    for file, block in blocks[1:]:
        problems.append(Problem(file, block.line, block.col, "only one flow may have a "
                                f"'danger' block (also in {blocks[0][0]})",
                                "keep the one of the flow that shows the emergency numbers"))
    for file, block in blocks:
        for key, (line, col, present) in block.lists.items():
            language_gaps(file, line, col, f"the {LISTS[key]}s", present, languages, "danger",
                          problems)


def language_gaps(file: str, line: int, col: int, subject: str, present: Sequence[str],
                  languages: Sequence[str], read_for: str, problems: list[Problem]) -> None:
    """Words given in some language but not in every one: a message in the missing language
    would not be read for `read_for`. Nothing for a list with words in no language."""
    for lang in languages if present else ():
        if lang not in present:
            problems.append(Problem(
                file, line, col, f"{subject} are given in "
                f"{', '.join(repr(p) for p in present)} but not in '{lang}'",
                f"add '{lang}: [...]': a message in '{lang}' is read for {read_for} too"))
