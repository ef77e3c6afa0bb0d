"""Cues: the words that point to an answer anywhere in a free-text message, written beside the
choices (`cues:` per language) and, for the slots no question asks yet, in a flow's
`understand:` block (docs/flows.md, "Reading a whole message"). Read here with every problem at
its place; a cue is written and matched like a danger cue (bot.flows.danger_cues.read_cue).
The checks that need the languages are `check_cue_languages`; how a message is read with the
cues: bot.engine.understanding."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.flows.danger_cues import checked_cue, language_gaps
from bot.flows.flow_fields import CHOICE_ID, ID, FieldReader, Ref
from bot.flows.model import Ask, Cue, Flow, SlotCues
from bot.flows.problems import Problem
from bot.flows.yaml_source import Y

EXAMPLE = "write cues: {de: [droh*, '*drohung'], en: [threat*]}"


CueBlock = dict[str, tuple[tuple[str, tuple[Cue, ...]], ...]]
"""A flow's `understand:` block as read: slot -> (value, its cues), in file order."""


def read_cues(r: FieldReader, raw: Y | None, what: str, group: str) -> tuple[Cue, ...]:
    """The cues at `raw` ({de: [...], en: [...]}), each problem added at its place. `group`
    names the question (or the slot) whose answers must not share a cue."""
    if raw is None:
        return ()
    if not raw.is_map:
        r.at(raw, f"the cues of {what} must give a list per language", EXAMPLE)
        return ()
    cues: list[Cue] = []
    languages: list[str] = []
    for lang, listed in raw.items():
        line, col = raw.key_pos(lang)
        r.refs.append(Ref("language", lang, line, col, ""))
        if not listed.is_list or not all(word.is_str for word in listed.value):
            r.at(listed, f"the cues of {what} for '{lang}' must be a list of words",
                 f"write {lang}: [word, other words] (quote a word that begins with *)")
            continue
        if listed.value:
            languages.append(lang)
        for word in listed.value:
            cue = checked_cue(r, word, f"cue '{word.value}' of {what}", "'droh*', '*kommentar*'")
            if cue is not None:
                cues.append(cue)
                _seen(r, word, cue, what, group)
    r.cue_lists.append((raw.line, raw.col, what, tuple(languages)))
    return tuple(cues)


def _seen(r: FieldReader, word: Y, cue: Cue, what: str, group: str) -> None:
    """A cue is noted with its answer; the same cue for another answer of the group is a
    problem: a message holding it would point to both."""
    answer = what.split(" of ")[0]  # "choice 'threat'", or "'yes'" of a slot
    first = r.cue_owners.setdefault((group, cue.parts), (answer, word.line))
    if first[0] != answer:
        r.at(word, f"cue '{cue.text}' points to two answers of {group}: {first[0]} (line "
             f"{first[1]}) and {answer}", "keep it with one of them")


def read_understand(r: FieldReader, raw: Y) -> CueBlock:
    """A flow's `understand:` block: slot -> value -> cues per language, for the slots that no
    question asks yet (`platform: {facebook: {de: [...], en: [...]}}`)."""
    if not raw.is_map:
        r.at(raw, "'understand' must map slots to their values and cues",
             "write understand: {platform: {facebook: {de: [facebook*], en: [facebook*]}}}")
        return {}
    block: CueBlock = {}
    for slot, values in raw.items():
        if not ID.match(slot):
            r.error(*raw.key_pos(slot), f"slot name '{slot}' is not valid",
                    "use lower case letters, digits and _, starting with a letter")
            continue
        if not values.is_map:
            r.at(values, f"'{slot}' of 'understand' must map its values to cues",
                 f"write {slot}: {{<value>: {{de: [...], en: [...]}}}}")
            continue
        read: list[tuple[str, tuple[Cue, ...]]] = []
        for value, spec in values.items():
            if not CHOICE_ID.match(value):
                r.error(*values.key_pos(value), f"value '{value}' of '{slot}' is not valid",
                        "use lower case letters, digits and _ (quote \"yes\" and \"no\")")
                continue
            read.append((value, read_cues(r, spec, f"'{value}' of slot '{slot}'",
                                          f"slot '{slot}'")))
        block[slot] = tuple(read)
    return block


def check_cue_languages(file: str, lists: Sequence[tuple[int, int, str, tuple[str, ...]]],
                        languages: Sequence[str], problems: list[Problem]) -> None:
    """A cue list with words in one language has words in every language: a message in the
    other language is read for the same answers."""
    for line, col, what, present in lists:
        language_gaps(file, line, col, f"the cues of {what}", present, languages, "them",
                      problems)


def slot_cues(flows: Iterable[Flow], blocks: Iterable[CueBlock]) -> tuple[SlotCues, ...]:
    """Every slot a message can be read for: the cues of the choices of each question that
    fills it (merged across questions of one slot), then the `understand:` blocks."""
    found: dict[str, dict[str, list[Cue]]] = {}
    for flow in flows:
        for step in flow.nodes.values():
            if isinstance(step, Ask):
                for choice in step.choices:
                    if choice.cues:
                        found.setdefault(step.slot, {}).setdefault(choice.id, []).extend(
                            choice.cues)
    for block in blocks:
        for slot, values in block.items():
            for value, cues in values:
                found.setdefault(slot, {}).setdefault(value, []).extend(cues)
    return tuple(SlotCues(slot, tuple((v, tuple(c)) for v, c in values.items()))
                 for slot, values in found.items())
