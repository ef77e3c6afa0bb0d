"""Checks of what one flow file names against all flows and the content: jump targets, called
and opened flows, slots and their values, contacts, topics, languages, the placeholders in its
texts, and the words that answer its choices."""

from __future__ import annotations

from collections.abc import Mapping

from bot.flows.content import Content
from bot.flows.danger_cues import GO
from bot.flows.flow_fields import Ref
from bot.flows.flow_file import FlowFile
from bot.flows.problems import Problem, did_you_mean
from bot.flows.texts import placeholders
from bot.flows.words import RESERVED, normalize

PLACES = {"start": "'start'", GO: "'go' of 'danger'"}
"""How a message names a link that is no node's."""


def check_references(f: FlowFile, flows: Mapping[str, FlowFile], content: Content,
                     slot_values: Mapping[str, set[str] | None], dates: set[str],
                     problems: list[Problem]) -> None:
    """Everything `f` names exists: nodes, flows, date slots, slots and their values, contacts,
    topics and languages."""
    nodes = f.flow.nodes
    questions = [s for s, v in slot_values.items() if v]

    def add(ref: Ref, message: str, hint: str) -> None:
        problems.append(Problem(f.file, ref.line, ref.col, message, hint))

    for ref in f.refs:
        if ref.kind == "target" and ref.name not in nodes and ref.name not in f.node_pos:
            where = PLACES.get(ref.context, f"node '{ref.context}'")
            add(ref, f"{where} leads to '{ref.name}', which is not a node of this flow",
                did_you_mean(ref.name, f.node_pos) or "add that node, or fix the id")
        elif ref.kind == "flow" and ref.name not in flows:
            add(ref, f"node '{ref.context}' calls flow '{ref.name}', which does not exist",
                did_you_mean(ref.name, flows) or "add that flow in flows/, or fix the id")
        elif ref.kind == "date_slot" and ref.name not in dates:
            add(ref, f"node '{ref.context}' counts from '{ref.name}', which is not a date slot",
                did_you_mean(ref.name, dates) or "use the slot of an input with 'type: date'")
        elif ref.kind == "choice_slot" and not slot_values.get(ref.name):
            add(ref, f"report '{ref.context}' may only store answers to questions with choices, "
                f"and '{ref.name}' is not one",
                did_you_mean(ref.name, questions) or "name the slot of a question")
        elif ref.kind == "remind_slot" and not slot_values.get(ref.name):
            add(ref, f"node '{ref.context}' sets the reminders chosen in '{ref.name}', which "
                "is not a question with choices",
                did_you_mean(ref.name, questions) or "name the slot of a question")
        elif ref.kind == "open":
            flow_id, _, node_id = ref.name.partition(".")
            if flow_id not in flows:
                add(ref, f"node '{ref.context}' opens flow '{flow_id}', which does not exist",
                    did_you_mean(flow_id, flows) or "add that flow in flows/, or fix the id")
            elif node_id and node_id not in flows[flow_id].flow.nodes:
                add(ref, f"node '{ref.context}' opens '{ref.name}', but flow '{flow_id}' has "
                    f"no node '{node_id}'", did_you_mean(node_id, flows[flow_id].flow.nodes)
                    or "name a node of that flow, or only the flow to open it at its start")
        elif ref.kind == "slot" and ref.name not in slot_values:
            add(ref, f"slot '{ref.name}' is not filled by any question",
                did_you_mean(ref.name, slot_values) or "give a question 'slot: " + ref.name + "'")
        elif ref.kind == "value" and ref.context in slot_values:
            known = slot_values[ref.context]
            if known is None:
                add(ref, f"slot '{ref.context}' holds free text, so it cannot be compared with "
                    f"'{ref.name}'", "use {slot: " + ref.context + ", answered: true}")
            elif ref.name not in known:
                add(ref, f"slot '{ref.context}' never has the value '{ref.name}'",
                    did_you_mean(ref.name, known) or f"its values are {', '.join(sorted(known))}")
        elif ref.kind == "topic" and ref.name not in content.topics:
            add(ref, f"unknown contact topic '{ref.name}'",
                did_you_mean(ref.name, content.topics) or "declare it in content/contacts.yaml")
        elif ref.kind == "contact" and ref.name not in content.contacts:
            add(ref, f"unknown contact '{ref.name}'",
                did_you_mean(ref.name, content.contacts) or "add it to content/contacts.yaml")
        elif ref.kind == "language" and ref.name not in content.languages:
            add(ref, f"unknown language '{ref.name}'",
                f"languages are {', '.join(content.languages)}")


def check_words(f: FlowFile, problems: list[Problem]) -> None:
    """A choice's words are no command word, and no word answers two choices of a question."""
    owner: dict[tuple[str, str], str] = {}
    for node_id, choice_id, word, line, col in f.synonyms:
        norm = normalize(word)
        if norm in RESERVED:
            problems.append(Problem(f.file, line, col, f"'{word}' is a command word and cannot "
                                    f"answer a question (node '{node_id}')",
                                    "use another word; commands work everywhere"))
            continue
        first = owner.setdefault((node_id, norm), choice_id)
        if first != choice_id:
            problems.append(Problem(f.file, line, col, f"'{word}' would answer both '{first}' "
                                    f"and '{choice_id}' in node '{node_id}'",
                                    "give each choice its own words"))


def check_placeholders(f: FlowFile, content: Content,
                       slot_values: Mapping[str, set[str] | None],
                       problems: list[Problem]) -> None:
    """Every {placeholder} in a text `f` shows names a slot some flow fills."""
    for text, line, col, key in f.texts:
        for lang, value in text.items():
            for name in placeholders(value):
                if name in slot_values:
                    continue
                where = (f.file, line, col)
                if key:
                    source = content.texts[lang][key]
                    where = (source.file, source.line, source.col)
                problems.append(Problem(*where, f"placeholder '{{{name}}}' names no slot",
                                        did_you_mean(name, slot_values)
                                        or "use a slot a question fills, or write {{ }}"))
