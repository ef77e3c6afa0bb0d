"""The fast reader for plain YAML (bot.yamlplain) reads exactly what libyaml reads, or nothing.

Whenever it returns a value, libyaml must read the same text to the same values, lines,
columns and key positions, with no problem at all; when it is unsure it must return None. The
texts: every YAML file of the project, the benchmark's generated flow, mutations of the
shipped flows, and texts put together from the pieces that trip YAML readers up.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import yamlplain
from bot.problems import Problem
from bot.yamlevents import events_to_values
from bot.yamlplain import read_plain
from bot.yamlsource import MAX_DEPTH, Y, parse_yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from check_large import generate  # noqa: E402

YAML_FILES = sorted(p for folder in ("flows", "content", "tests/corpus", "bot/scaffold", "docs")
                    for p in (ROOT / folder).rglob("*.y*ml"))


def libyaml(text: str) -> tuple[Any, list[Problem]]:
    """What the libyaml path reads, with everything it complains about."""
    problems: list[Problem] = []
    anchors: dict[str, Any] = {}
    aliases: list[tuple[str, Any]] = []
    try:
        root = events_to_values(text, "t.yaml", problems, MAX_DEPTH, Y, anchors, aliases)
    except Exception as err:  # any refusal counts as a problem here
        return None, [Problem("t.yaml", 1, 1, f"refused: {err!r}")]
    if anchors or aliases:
        problems.append(Problem("t.yaml", 1, 1, "anchors"))
    return root, problems


def same_or_declined(text: str) -> bool:
    """The fast reader's answer is None or libyaml's exact result; True when it answered."""
    fast = read_plain(text, Y)
    if fast is None:
        return False
    slow, problems = libyaml(text)
    assert not problems, (text, problems)
    # repr, not ==: a NaN must compare equal to itself, and True must not equal 1
    assert repr(fast) == repr(slow), text
    return True


def test_every_yaml_file_of_the_project_reads_the_same() -> None:
    answered = [p for p in YAML_FILES
                if same_or_declined(p.read_bytes().decode("utf-8-sig", "replace"))]
    assert len(YAML_FILES) > 60
    # The shipped flows are what the fast reader is for: it must take every one of them.
    assert {p.name for p in (ROOT / "flows").glob("*.yaml")} <= {p.name for p in answered}


def test_the_benchmarks_generated_flow_reads_the_same() -> None:
    assert same_or_declined(generate(600))  # 115 kB: lines are cut in two chunks


def test_lines_cut_into_chunks_anywhere_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlplain, "CHUNK", 7)
    for path in sorted((ROOT / "flows").glob("*.yaml")):
        assert same_or_declined(path.read_text(encoding="utf-8")), path.name


def test_nesting_as_deep_as_it_takes_reads_the_same() -> None:
    block = "".join(f"{' ' * i}k{i}:\n" for i in range(19)) + " " * 19 + "v: [[[[[[[[a]]]]]]]]\n"
    assert same_or_declined(block)


def test_parse_yaml_gives_the_fast_readers_values_and_libyamls_messages() -> None:
    problems: list[Problem] = []
    good = parse_yaml("flow: x\nnodes:\n  a: {de: A, en: B}\n", "f.yaml", problems)
    assert good is not None and not problems
    assert good.value["nodes"].value["a"].value["en"] == Y("B", 3, 18)
    broken = parse_yaml("flow: x\nflow: y\n", "f.yaml", problems)
    assert broken is not None
    assert [str(p) for p in problems] == [
        "f.yaml:2:1: duplicate key 'flow' (first on line 1) — remove or rename one of them"]


@pytest.mark.parametrize("text", [
    "a: b\na: c\n",                  # duplicate key
    "yes: b\n",                      # a key that reads as true
    "1: b\n",                        # a key that reads as a number
    "a: &x b\nc: *x\n",              # anchor and alias
    "a: !tag b\n",                   # a tag
    "a: |\n  text\n",                # a block scalar
    "a: b\n  c\n",                   # a plain scalar over two lines
    "a: 'b\n  c'\n",                 # a quoted scalar over two lines
    "a: \"b\\n\"\n",                 # an escape
    "a:\tb\n",                       # a tab
    "a: b\r\nc: d\r\n",              # Windows line ends
    "a: {b: c\n",                    # a flow mapping never closed
    "a: {b: c, }\n",                 # a trailing comma
    "a: [b, c] d\n",                 # text after a flow sequence
    "a: {b: http://x}\n",            # ':' inside {…}
    "a:\n",                          # a null value
    "- a\nb: c\n",                   # a sequence, then a key
    "a: b: c\n",                     # ': ' inside a plain scalar
    "---\na: b\n",                   # a document marker
    "a: b\n---\nc: d\n",             # two documents
    "<<: {a: b}\n",                  # a merge key
    "? a\n: b\n",                    # a complex key
    "a: b #c\n  d: e\n",             # deeper after a comment
    "",                              # empty
    "# only a comment\n",
    "".join(f"{' ' * i}k{i}:\n" for i in range(45)) + " " * 45 + "v: 1\n",  # 46 levels
    "a: " + "[" * 45 + "]" * 45 + "\n",                                # 46 levels
    "".join(f"{' ' * i}k{i}:\n" for i in range(25)) + " " * 25 + "v: " + "[" * 17
    + "]" * 17 + "\n",                                                  # 25 + 17 levels
])
def test_declines_what_it_leaves_to_libyaml(text: str) -> None:
    assert read_plain(text, Y) is None


# --- mutations of the shipped flows ---------------------------------------------------------

TRICKY = [":", ": ", " #", "#", "-", "- ", "{", "}", "[", "]", ",", "'", '"', "\t", " ", "  ",
          "\n", "\n  ", "yes", "no", "null", "~", "&a ", "*a", "!x ", "|", ">", "? ", "---",
          "...", "\\", "%", "@", "`", "0x1F", "1:20", "1e3", ".inf", ".nan", "<<", "=",
          "2024-01-02", "\u00a0", "\u2028", "\x85", "\ufeff", "é", "''", '""', "{}", "[]",
          "{a: b}", "[a]", "- a: b", "a:", "x: y"]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(5)
        index = rng.randrange(len(lines))
        line = lines[index]
        at = rng.randint(0, len(line))
        if kind == 0:
            lines[index] = line[:at] + rng.choice(TRICKY) + line[at:]
        elif kind == 1 and line:
            lines[index] = line[:at] + line[at + 1:]
        elif kind == 2:
            lines.insert(index, line)
        elif kind == 3:
            lines[index] = " " * rng.randint(0, 3) + line.lstrip(" ") if rng.random() < 0.5 \
                else line[rng.randint(1, 2):]
        else:
            del lines[index]
    return "\n".join(lines)


def test_mutations_of_the_shipped_flows_read_the_same_or_are_declined() -> None:
    rng = random.Random(20261126)
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "flows").glob("*.yaml"))]
    texts.append(generate(40))
    answered = 0
    for _ in range(3000):
        answered += same_or_declined(mutate(rng.choice(texts), rng))
    # Many mutations leave valid plain YAML behind: the fast reader must still take those.
    assert answered > 600


# --- texts put together from tricky pieces ---------------------------------------------------

_words = st.sampled_from(["a", "b c", "de", "n1", "yes", "No", "null", "~", "1", "-1", "0.5",
                          "1:20", "2024-01-02", "x#y", "é", "a b ", "on", "<<", "=", ".inf",
                          "http://x", "it's", "Ende."])
_keys = st.sampled_from(["a", "b", "de", "en", "id", "n1", "yes", "1", "a b", "_x", "a.b",
                         "x-y", "<<", "'q'"])


def _flow(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return st.one_of(_words, st.sampled_from(["'q'", "'it''s'", '"d"', "''"]))
    inner = _flow(depth - 1)
    return st.one_of(
        inner,
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(_keys, inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"),
        st.tuples(st.sampled_from(["[", "{", "[ ", "{ "]), inner,
                  st.sampled_from(["]", "}", " ]", ",]", ""])).map("".join),
    )


_line = st.tuples(
    st.integers(0, 6).map(lambda n: " " * n),
    st.sampled_from(["", "- ", "-  ", "-"]),
    st.one_of(st.just(""), _keys.map(lambda k: k + ":")),
    st.sampled_from(["", " ", "  "]),
    st.one_of(st.just(""), _flow(2)),
    st.sampled_from(["", " # c", "#c", "  "]),
).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
@given(st.lists(_line, min_size=1, max_size=8).map("\n".join))
def test_texts_from_tricky_pieces_read_the_same_or_are_declined(text: str) -> None:
    same_or_declined(text)


def test_tricky_pieces_do_reach_the_fast_reader() -> None:
    """Without this the property test above could pass by declining everything."""
    accepted = 0
    rng = random.Random(7)
    for _ in range(2000):
        lines = []
        for _ in range(rng.randint(1, 5)):
            lines.append(" " * rng.choice((0, 2)) + rng.choice(("", "- ")) + rng.choice(
                ("a: ", "b: ", "de: ", "n1: ")) + rng.choice(
                ("x", "{de: a, en: b}", "[a, b]", "'q'", "1", "yes", "{a: [b]}", "",
                 "{de: [a, b c], en: [d]}", "{de: [ a ,b ], en: 1}", "{de: [], en: [on]}")))
        accepted += same_or_declined("\n".join(lines))
    assert accepted > 200
