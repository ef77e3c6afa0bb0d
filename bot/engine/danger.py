"""Danger first, always: every typed message is read for danger right now before anything else,
at any node of any flow, and a message that reads so goes to the node the flows' `danger:`
block names (the emergency numbers, then whether the person is safe now).

Theory of operation. A message is cut into clauses (at , . ; : ! ? and line breaks) and each
clause normalized as choices are (bot.flows.words.normalize). A cue matches whole words, in
order, within one clause; a word written with '*' may be longer at that end; a cue 'a + b'
matches when each part is in the same clause. A match does not count when a negation stands
right before it ("nicht in Gefahr", "kein Messer", "not in danger"; fillers such as "mehr" or
articles are skipped). An explicit non-danger phrase ("er ist weg", "I'm safe now") outweighs
every cue before it, so "ein Messer, aber er ist weg" is no danger and "er ist weg, aber ich
habe Angst" is. Reading errs towards danger: a false alarm costs one question, a missed one can
cost more. The cues of one part are found by one regular expression per list, built once per
flows loaded.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from bot.engine.conversation import Frame, State, remember
from bot.engine.moves import At
from bot.engine.reply import Reply
from bot.flows.model import CAN_REMIND_SLOT, DANGER_SLOT, Cue, Danger
from bot.flows.words import normalize

NEGATIONS = frozenset({
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "nix",
    "nichts", "ohne", "not", "never", "without", "t", "dont", "doesnt", "didnt", "isnt", "wasnt",
    "arent", "cant", "wont", "nobody", "noone",
})
"""A word right before a cue that turns it around. "t" is what normalize leaves of "n't". Not
"no": it is as often an answer ("no he's still here") as a negation ("no danger" is a `not`
phrase of the flows)."""
FILLERS = frozenset({"a", "an", "the", "ein", "eine", "einen", "einem", "einer", "der", "die",
                      "das", "den", "dem", "mehr", "any", "longer", "akute", "akuter"})
"""Words skipped between a negation and its cue: "keine akute Gefahr", "no longer in danger"."""
NEGATION_REACH = 2
"""How many words before a cue (FILLERS not counted) a negation still turns it around."""
_CLAUSE = re.compile(r"[,.;:!?\n\r]+")
_BREAK = ","
"""The token between clauses: normalize leaves no comma in a word, so no cue spans one."""


def reads_danger(danger: Danger | None, text: str) -> bool:
    """Whether `text` reads as danger right now, in any language of the flows."""
    return read_danger(danger, text) is True


def read_danger(danger: Danger | None, text: str) -> bool | None:
    """What `text` says about danger right now: True as `reads_danger`; False when it holds an
    explicit non-danger phrase and no cue after it ("er ist weg"); None when it says neither."""
    if danger is None:
        return None
    tokens = Tokens(text)
    cues, safe = _patterns(danger)
    last_safe = max((end for _, end in safe.spans(tokens)), default=-1)
    if any(start >= last_safe for start, _ in cues.spans(tokens)):
        return True
    return False if last_safe >= 0 else None


def cue_spans(cues: tuple[Cue, ...], tokens: Tokens) -> list[tuple[int, int]]:
    """Where each of `cues` stands in a message, read exactly as danger cues are (whole words,
    '*', 'a + b' in one clause, a negation before turns it around): (first word, word after
    the last) per place. bot.engine.understanding reads the other slots with it."""
    return list(_ready_cached(cues).spans(tokens))


@lru_cache(maxsize=256)
def _ready_cached(cues: tuple[Cue, ...]) -> _Patterns:
    return _ready(cues)


def to_danger(reply: Reply, state: State | None) -> At:
    """The jump: the danger node of the flow that names it, from wherever the conversation
    stood. The answers so far stay, and `back` returns to the question the person was at."""
    danger = reply.bundle.danger
    assert danger is not None
    here = (Frame(danger.flow, danger.go),)
    if state is None:
        slots = {CAN_REMIND_SLOT: "yes"} if reply.can_remind else {}
        return At(State(reply.lang, here, {**slots, DANGER_SLOT: "yes"}))
    return At(dataclasses.replace(remember(state, DANGER_SLOT, "yes"), frames=here))


class Tokens:
    """A message as normalized words, clauses divided by _BREAK, joined by single spaces."""

    def __init__(self, text: str) -> None:
        words: list[str] = []
        for clause in _CLAUSE.split(text):
            normalized = normalize(clause)
            if normalized:
                words.extend(normalized.split(" "))
                words.append(_BREAK)
        self.words = words
        self.line = " ".join(words)
        self.starts: list[int] = []
        offset = 0
        for word in words:
            self.starts.append(offset)
            offset += len(word) + 1

    def index(self, offset: int) -> int:
        """The word that begins at character `offset` of `line`."""
        return bisect_right(self.starts, offset) - 1

    def clause(self, index: int) -> int:
        """A number for the clause of word `index`: its last break before."""
        return self.line.count(_BREAK, 0, self.starts[index])

    def negated(self, index: int) -> bool:
        """A negation stands right before word `index`, in its clause."""
        seen = 0
        for before in range(index - 1, -1, -1):
            word = self.words[before]
            if word in NEGATIONS:
                return True
            if word == _BREAK:
                return False
            if word not in FILLERS:
                seen += 1
                if seen == NEGATION_REACH:
                    return False
        return False


@dataclass(frozen=True, slots=True)
class _Patterns:
    """A list of cues, ready to find: those of one part all at once, the others one by one."""

    simple: re.Pattern[str] | None
    combined: tuple[Cue, ...]

    def spans(self, tokens: Tokens) -> Iterator[tuple[int, int]]:
        """(first word, word after the last) of each place where a cue stands, not negated."""
        if self.simple is not None:
            for match in self.simple.finditer(tokens.line):
                start = tokens.index(match.start())
                if not tokens.negated(start):
                    yield start, start + match.group(1).count(" ") + 1
        for cue in self.combined:
            yield from _combined(cue, tokens)


@lru_cache(maxsize=8)
def _patterns(danger: Danger) -> tuple[_Patterns, _Patterns]:
    return _ready(danger.cues), _ready(danger.safe)


def _ready(cues: tuple[Cue, ...]) -> _Patterns:
    # The longest phrase first: at one place, "keine gefahr mehr" is found, not "keine gefahr".
    simple = sorted((c.parts[0] for c in cues if len(c.parts) == 1), key=len, reverse=True)
    pattern = (re.compile(r"(?<![^ ])(?=((?:" + "|".join(map(_words, simple)) + r"))(?![^ ]))")
               if simple else None)
    return _Patterns(pattern, tuple(c for c in cues if len(c.parts) > 1))


def _combined(cue: Cue, tokens: Tokens) -> Iterator[tuple[int, int]]:
    """The places of a cue of several parts: each clause that holds every part."""
    firsts: list[dict[int, tuple[int, int]]] = []
    for part in cue.parts:
        first: dict[int, tuple[int, int]] = {}
        for match in _pattern(part).finditer(tokens.line):
            start = tokens.index(match.start())
            if not tokens.negated(start):
                first.setdefault(tokens.clause(start), (start, start + len(part)))
        if not first:
            return
        firsts.append(first)
    for clause in sorted(set.intersection(*(set(f) for f in firsts))):
        spans = [f[clause] for f in firsts]
        yield min(s for s, _ in spans), max(e for _, e in spans)


@lru_cache(maxsize=1024)
def _pattern(part: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![^ ])" + _words(part) + r"(?![^ ])")


def _words(part: tuple[str, ...]) -> str:
    """The words of a cue as a pattern over a message's line of words; '*' is any letters."""
    words = []
    for word in part:
        core = re.escape(word.strip("*"))
        words.append(("[^ ]*" if word.startswith("*") else "") + core
                     + ("[^ ]*" if word.endswith("*") else ""))
    return " ".join(words)
