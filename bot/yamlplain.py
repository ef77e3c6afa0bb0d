"""A fast reader for plain block YAML, the kind flows are written in; None for anything else.

Why: libyaml's events (an object and two position objects each) cost 0.4 s of a 10,000-node
flow's check on their own, before a single value is built (bench/check_large.py). Flow files
use only block mappings and sequences of one-line values: plain words, quoted text, and
one-line `{de: …, en: …}` or `[…]` collections. This reader takes exactly those, with one
regular expression over the whole text for the lines and one split per `{…}`, and builds the
same positioned values as `bot.yamlevents`, position for position.

At the first thing outside that subset (a block or multi-line scalar, an anchor, a tag, a tab,
a duplicate key, a key that is not a plain word, a `:` or `#` inside `{…}`, anything libyaml
might read differently or refuse …) it gives up, and the caller reads the file with libyaml,
which also writes every message about it. So this reader never has to explain anything, and
it must never accept what libyaml refuses. tests/test_yamlplain.py holds the two readers to
the same result on every YAML file of the project, on generated ones, and on mutations of
both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import yaml

from bot.yamlevents import SHORT_ONLY, SPECIAL, resolve_plain

_STR = "tag:yaml.org,2002:str"
_OUTSIDE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029"
                      f"{chr(0xD800)}-{chr(0xDFFF)}\ufeff\ufffe\uffff]")
"""Characters left to libyaml: tabs, other line breaks (\\r, NEL, U+2028 …), a byte order mark
inside the text, and what YAML refuses. (The surrogates are written with chr(): mypyc, which
compiles this module for installs, takes no surrogate in a string literal.)"""
_KEY = r"[A-Za-z_][A-Za-z0-9_.\-]{0,200}"
"""A key this reader takes: a plain word, short enough for a YAML simple key."""
_LINE = re.compile(rf"( *)(- +|-(?=\n))?(?:({_KEY})(: +|:(?=\n)))?(.*)\n")
"""One line: (indent, '- ', key, ': ', rest). Every line matches, so match n is line n."""
_QUOTED = r"""(?:'(?:[^']|'')*'|"[^"\\]*")"""
_FLOW_SPLIT = re.compile(rf"( *[\[\]{{}},] *{_QUOTED}?|: +{_QUOTED}?)")
"""`{…}` and `[…]` cut into plain words (even places) and the marks between them (odd places):
a bracket, ',' or ': ', with the spaces around it and the quoted text that follows it. A quote
inside a word (don't) stays in the word."""
_TAIL = re.compile(r" *| +#.*")
"""What may follow a value on its line."""
_BAD_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
"""First characters with which a plain word means something else, or might."""
_FLOW_BAD = re.compile(r"[#:]|\A[-?&*!|>%@`'\"]")
"""Words inside {…} left to libyaml (libyaml versions differ on ':' there)."""
_WORD = r"[^\s{}\[\],:#'\"&*!|>%@`?\-](?:[^{}\[\],:#]*[^\s{}\[\],:#])?"
"""A plain word inside {…}: greedy up to its last non-space, which sre matches fastest."""
_WORDS = rf"\[ *(?:{_WORD}(?: *, *{_WORD})*)? *\]"
_PAIRS = re.compile(rf"\{{( *)({_KEY})(: +)({_WORD}|{_WORDS})( *, *)({_KEY})(: +)({_WORD}|{_WORDS})"
                    r" *\}(?: *| +#.*)")
"""The most common values of all: `{de: …, en: …}` and `{de: […], en: […]}` on one line,
read in one step."""
_ITEM_SPLIT = re.compile(r"( *, *)")
_NOT_PLAIN = SPECIAL | {"["}
"""First characters of a value in _PAIRS that is more than text as it stands."""
_MISSING = object()
MAX_DEPTH, MAX_FLOW_DEPTH = 20, 15
"""Block and {…} nesting this reader takes. Deeper is left to libyaml, which refuses past 40
levels in all: 20 + 15 (+ 2 in _PAIRS) stays below that."""

# What a {…} or […] expects next, in _Reader._flow.
_OPENED, _KEYED, _PLACED, _COMMA = range(4)


class _Unsupported(Exception):
    """Outside the plain subset: libyaml reads this file."""


def read_plain(text: str, make: type[tuple[Any, ...]]) -> Any:
    """The root value as `bot.yamlevents.events_to_values` builds it, or None to use libyaml.

    `make` is the positioned value type, a tuple subclass of (value, line, col, keys).
    """
    if _OUTSIDE.search(text):
        return None
    if not text.endswith("\n"):
        text += "\n"
    try:
        return _Reader(make).read(chain.from_iterable(_line_chunks(text)))
    except (_Unsupported, yaml.YAMLError, ValueError):
        return None  # what libyaml reads, or refuses with a message, differently or at all


CHUNK = 1 << 16
"""Characters cut into lines at a time, so that a file of a million short lines is never a
million tuples at once."""


def _line_chunks(text: str) -> Iterator[list[tuple[str, str, str, str, str]]]:
    start = 0
    while start < len(text):
        end = text.find("\n", start + CHUNK) + 1 or len(text)
        yield _LINE.findall(text, start, end)
        start = end


class _Reader:
    """Turns the lines into positioned values; anything unexpected raises _Unsupported."""

    def __init__(self, make: type[tuple[Any, ...]]) -> None:
        self.make = make
        self.root: Any = None
        self.words: dict[str, Any] = {}
        """A plain word -> its value (the word itself when it is text)."""
        self.flow_words: dict[str, Any] = {}
        """The same for words inside {…} and […], which are checked more strictly."""

    def read(self, lines: Iterable[tuple[str, str, str, str, str]]) -> Any:
        # The open block collections, innermost last, each a list: [indent, is_map, items,
        # keys, line, col, key waiting for the lines below, indentless]. A sequence is
        # indentless when its '-' stand at the indent of the key that holds it.
        stack: list[list[Any]] = []
        top: list[Any] = [-1, False, None, None, 0, 0, None, False]  # none open yet
        text_keys: set[str] = set()  # keys known to be text, not true, 1, null …
        new, make = tuple.__new__, self.make
        special, short_only, bad_start = SPECIAL, SHORT_ONLY, _BAD_START
        pairs_match = _PAIRS.fullmatch
        number = 0
        for indent_text, dash, key, colon, rest in lines:
            number += 1
            indent = len(indent_text)
            # The common line is the next key of the open mapping; anything else goes
            # through _enter, which opens and closes collections.
            if dash or not key or top[0] != indent or top[6] is not None or not top[1]:
                if not dash and not key and (not rest or rest[0] == "#"):
                    continue  # a blank line or a comment
                top = self._enter(stack, indent, dash, number)
                if dash:
                    col = indent + len(dash)
                    if not key:  # "- value"
                        if not rest or rest[0] == "#":
                            raise _Unsupported  # "-" with its item below
                        top[2].append(self._value(rest, number, col))
                        continue
                    if len(stack) >= MAX_DEPTH:
                        raise _Unsupported
                    top = [col, True, {}, {}, number, col + 1, None, False]
                    stack.append(top)  # "- key: value" opens a mapping
                elif not key:
                    raise _Unsupported
                else:
                    col = indent
            else:
                col = indent
            keys = top[3]
            if key not in text_keys:
                if not self._is_text(key):
                    raise _Unsupported  # a key such as 'yes' or '1'
                text_keys.add(key)
            if key in keys:
                raise _Unsupported  # a duplicate: libyaml's reader names it
            keys[key] = (number, col + 1)
            if not rest:
                top[6] = key  # its value is on the lines below
                continue
            first = rest[0]
            at = col + len(key) + len(colon)
            if first == "{":
                pairs = pairs_match(rest)
                if pairs is not None:
                    top[2][key] = self._pairs(pairs.groups(), number, at, text_keys)
                else:
                    top[2][key] = self._value(rest, number, at)
            elif first in bad_start or rest[-1] == " " or " #" in rest or ": " in rest \
                    or rest[-1] == ":":
                if first == "#":
                    top[6] = key
                    continue
                top[2][key] = self._value(rest, number, at)
            elif first in special and (first not in short_only or len(rest) <= 6):
                # _plain's own test, written out: most values are text and need no call
                top[2][key] = new(make, (self._plain(rest), number, at + 1, None))
            else:
                top[2][key] = new(make, (rest, number, at + 1, None))
        while stack:
            self._close(stack)
        return self.root

    def _enter(self, stack: list[list[Any]], indent: int, dash: str, number: int
               ) -> list[Any]:
        """Close and open block collections for a line at `indent`; the one it goes into."""
        while stack and stack[-1][0] > indent:
            self._close(stack)
        if stack and not stack[-1][1] and stack[-1][0] == indent and not dash:
            if not stack[-1][7]:
                raise _Unsupported  # a sequence's item without its '-'
            self._close(stack)  # the indentless sequence ends here
        if not stack:
            if self.root is not None:
                raise _Unsupported  # a second root
            stack.append(_block(indent, dash, number, False))
            return stack[-1]
        if len(stack) >= MAX_DEPTH:
            raise _Unsupported
        top = stack[-1]
        if top[0] < indent:
            if not top[1] or top[6] is None:
                raise _Unsupported  # a scalar going on over lines, or an error
            stack.append(_block(indent, dash, number, False))
        elif top[1]:
            if dash:
                if top[6] is None:
                    raise _Unsupported
                stack.append(_block(indent, dash, number, True))
            elif top[6] is not None:
                raise _Unsupported  # "key:" with nothing below
        return stack[-1]

    def _close(self, stack: list[list[Any]]) -> None:
        """Close the innermost block collection: into its parent, or as the root."""
        done = stack.pop()
        if done[6] is not None:
            raise _Unsupported  # "key:" with nothing below
        value = tuple.__new__(self.make, (done[2], done[4], done[5], done[3]))
        if stack:
            parent = stack[-1]
            if parent[1]:
                parent[2][parent[6]] = value
                parent[6] = None
            else:
                parent[2].append(value)
        else:
            self.root = value

    def _plain(self, raw: str) -> Any:
        """A plain word's value: as in bot.yamlevents, only a word that starts like a number,
        true or null is looked at more closely (and then once per distinct word)."""
        first = raw[0]
        if first not in SPECIAL or (first in SHORT_ONLY and len(raw) > 6):
            return raw
        word = self.words.get(raw, _MISSING)
        return self._word(raw) if word is _MISSING else word

    def _pairs(self, parts: tuple[str, ...], number: int, col: int, text_keys: set[str]
               ) -> Any:
        """`{key: word, key: word}` at 0-based column `col`, matched by _PAIRS."""
        space, key1, colon1, word1, comma, key2, colon2, word2 = parts
        if key1 == key2:
            raise _Unsupported
        for key in (key1, key2):
            if key not in text_keys:
                if not self._is_text(key):
                    raise _Unsupported
                text_keys.add(key)  # 'de' and 'en' are asked once, not 20,000 times
        make = self.make
        at_key1 = col + 2 + len(space)
        at_word1 = at_key1 + len(key1) + len(colon1)
        at_key2 = at_word1 + len(word1) + len(comma)
        at_word2 = at_key2 + len(key2) + len(colon2)
        new = tuple.__new__
        first1, first2 = word1[0], word2[0]
        return new(make, (
            {key1: new(make, (word1, number, at_word1, None)) if first1 not in _NOT_PLAIN
             else self._pair_value(word1, number, at_word1),
             key2: new(make, (word2, number, at_word2, None)) if first2 not in _NOT_PLAIN
             else self._pair_value(word2, number, at_word2)},
            number, col + 1, {key1: (number, at_key1), key2: (number, at_key2)}))

    def _pair_value(self, text: str, number: int, col: int) -> Any:
        """A word, or a `[…]` of words, at 1-based column `col`: a value matched in _PAIRS."""
        new, make = tuple.__new__, self.make
        if text[0] != "[":
            return new(make, (self._plain(text), number, col, None))
        items: list[Any] = []
        body = text[1:-1].lstrip(" ")
        if body:
            at = col + len(text) - 1 - len(body)  # the 1-based column of the first word
            parts = _ITEM_SPLIT.split(body.rstrip(" "))
            for index in range(0, len(parts), 2):
                word = parts[index]
                items.append(new(make, (self._plain(word), number, at, None)))
                at += len(word) + (len(parts[index + 1]) if index + 1 < len(parts) else 0)
        return new(make, (items, number, col, {}))

    def _is_text(self, word: str) -> bool:
        """Whether a plain word reads as text (not as true, 1, null or the merge key <<)."""
        if word[0] not in SPECIAL:
            return True
        return resolve_plain(word)[0] == _STR

    def _word(self, raw: str) -> Any:
        tag, value = resolve_plain(raw)
        found = self.words[raw] = raw if tag == _STR else value
        return found

    def _value(self, rest: str, number: int, col: int) -> Any:
        """The value that fills `rest`, the end of a line from 0-based column `col`."""
        first = rest[0]
        if first == "{" or first == "[":
            value, end = self._flow(rest, number, col)
        elif first == "'" or first == '"':
            text, end = _quoted(rest)
            value = tuple.__new__(self.make, (text, number, col + 1, None))
        elif first in _BAD_START:
            raise _Unsupported
        else:
            cut = rest.find(" #")
            raw = (rest if cut < 0 else rest[:cut]).rstrip(" ")
            if ": " in raw or raw[-1] == ":":
                raise _Unsupported
            return tuple.__new__(self.make, (self._plain(raw), number, col + 1, None))
        if _TAIL.fullmatch(rest, end) is None:
            raise _Unsupported
        return value

    def _flow(self, rest: str, number: int, col: int) -> tuple[Any, int]:
        """The `{…}` or `[…]` that starts `rest` and closes on its line; (value, end in rest).

        `rest` is cut into words and marks; each open collection is a list [is_map, items,
        keys, line, col, key waiting for its value].
        """
        new, make, flow_words = tuple.__new__, self.make, self.flow_words
        parts = _FLOW_SPLIT.split(rest)
        opened: list[list[Any]] = []
        state = _COMMA
        pos = col  # the 0-based column of the part at hand
        for index in range(0, len(parts) - 1, 2):
            word, mark = parts[index], parts[index + 1]
            if word:
                if not opened:
                    raise _Unsupported
                top = opened[-1]
                value = flow_words.get(word, _MISSING)
                if value is _MISSING:
                    value = self._flow_word(word)
                if top[0] and state != _KEYED:  # a key
                    if state == _PLACED or mark[0] != ":" or not isinstance(value, str) \
                            or value in top[2] or len(word) > 200 or not self._is_text(value):
                        raise _Unsupported
                    top[2][value] = (number, pos + 1)
                    top[5] = value
                    state = _KEYED
                elif state == _PLACED or word[-1] == " " or mark[0] == ":":
                    raise _Unsupported
                else:
                    _put(top, new(make, (value, number, pos + 1, None)))
                    state = _PLACED
                pos += len(word)
            body = mark.lstrip(" ")
            sign = body[0]
            if sign == ",":
                if state != _PLACED:
                    raise _Unsupported  # an empty entry
                state = _COMMA
            elif sign == "]" or sign == "}":
                if not opened or (state != _PLACED and state != _OPENED) \
                        or opened[-1][0] != (sign == "}"):
                    raise _Unsupported  # a trailing comma, or the wrong bracket
                done = opened.pop()
                value = new(make, (done[1], done[3], done[4], done[2]))
                if not opened:
                    if len(body) > 1 and body[1:].lstrip(" ")[:1] in ("'", '"'):
                        raise _Unsupported  # a quote after the end
                    return value, pos - col + len(mark) - len(body) + 1
                _put(opened[-1], value)
                state = _PLACED
            elif sign == ":":
                if state != _KEYED or word == "":
                    raise _Unsupported  # ': ' where no key is
            elif word or (opened and (state == _PLACED or (opened[-1][0] and state != _KEYED))) \
                    or (not opened and index) or len(opened) >= MAX_FLOW_DEPTH:
                raise _Unsupported  # a bracket where no value may start
            else:
                opened.append([sign == "{", {} if sign == "{" else [], {}, number,
                               pos + len(mark) - len(body) + 1, None])
                state = _OPENED
            quoted = body[1:].lstrip(" ")
            if quoted:  # a quoted text follows the mark
                top = opened[-1]
                if state == _PLACED or (top[0] and state != _KEYED):
                    raise _Unsupported  # a quoted key, or a quote where no value may start
                _put(top, new(make, (_quoted(quoted)[0], number,
                                     pos + len(mark) - len(quoted) + 1, None)))
                state = _PLACED
            pos += len(mark)
        raise _Unsupported  # not closed on this line

    def _flow_word(self, word: str) -> Any:
        """A word inside {…} (spaces before a ':' included) as _plain reads it, remembered."""
        if _FLOW_BAD.search(word):
            raise _Unsupported
        found = self.flow_words[word] = self._plain(word.rstrip(" "))
        return found


def _block(indent: int, dash: str, number: int, indentless: bool) -> list[Any]:
    """A block mapping, or a sequence when its first line starts with '-'."""
    return [indent, not dash, [] if dash else {}, {}, number, indent + 1, None, indentless]


def _put(into: list[Any], value: Any) -> None:
    """Add `value` to an open {…} (under its waiting key) or […]."""
    if into[0]:
        into[1][into[5]] = value
        into[5] = None
    else:
        into[1].append(value)


def _quoted(rest: str) -> tuple[str, int]:
    """The text of the quoted scalar that starts `rest` and closes on its line, and the index
    after it. Backslash escapes are left to libyaml."""
    quote = rest[0]
    if quote == '"':
        end = rest.find('"', 1)
        if end < 0 or "\\" in rest[1:end]:
            raise _Unsupported
        return rest[1:end], end + 1
    parts = []
    begin = 1
    end = rest.find("'", begin)
    while end >= 0 and rest.startswith("''", end):
        parts.append(rest[begin:end + 1])
        begin = end + 2
        end = rest.find("'", begin)
    if end < 0:
        raise _Unsupported
    parts.append(rest[begin:end])
    return "".join(parts), end + 1
