"""A flow drawn as a Mermaid or Graphviz diagram, so that authors see what they wrote."""

from __future__ import annotations

from bot.flows.model import (
    AllOf,
    AnyOf,
    Ask,
    Branch,
    Call,
    Checklist,
    Condition,
    ContactList,
    DocumentStep,
    End,
    Flow,
    Input,
    Link,
    Not,
    SlotAnswered,
    SlotIs,
    Step,
)

_LABEL_LENGTH = 48


def describe(condition: Condition) -> str:
    if isinstance(condition, SlotIs):
        return f"{condition.slot} = {' | '.join(sorted(condition.values))}"
    if isinstance(condition, SlotAnswered):
        return f"{condition.slot} {'answered' if condition.answered else 'not answered'}"
    if isinstance(condition, AllOf):
        return " and ".join(f"({describe(c)})" for c in condition.conditions)
    if isinstance(condition, AnyOf):
        return " or ".join(f"({describe(c)})" for c in condition.conditions)
    assert isinstance(condition, Not)
    return f"not ({describe(condition.condition)})"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LABEL_LENGTH else text[: _LABEL_LENGTH - 1] + "…"


def _label(step: Step, lang: str) -> str:
    if isinstance(step, (Ask, Input)):
        return _short(step.question[lang])
    if isinstance(step, Checklist):
        return _short("☐ " + step.title[lang])
    if isinstance(step, DocumentStep):
        return _short("📄 " + step.title[lang])
    if isinstance(step, Call):
        return f"→ {step.flow}"
    if isinstance(step, ContactList):
        return _short("☎ " + ", ".join(step.contacts))
    if step.say is not None:
        return _short(step.say[lang])
    return step.id


def edges(step: Step, lang: str) -> list[tuple[str, str]]:
    """(target, edge label) for every way out of a node."""
    result: list[tuple[str, str]] = []

    def add(links: tuple[Link, ...], prefix: str = "") -> None:
        for link in links:
            if link.condition is not None:
                label = describe(link.condition)
            else:
                label = "else" if len(links) > 1 else ""
            result.append((link.target, f"{prefix}: {label}" if prefix and label else
                           prefix or label))

    if isinstance(step, Ask):
        for choice in step.choices:
            add(choice.next or step.next, _short(choice.label[lang]))
    else:
        add(step.next)
    return result


def _escape(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(flow: Flow, lang: str) -> str:
    shapes = {Ask: ('{"', '"}'), Input: ('[/"', '"/]'), End: ('(["', '"])'), Call: ('[["', '"]]'),
              Branch: ('{{"', '"}}'), Checklist: ('[("', '")]'), DocumentStep: ('>"', '"]')}
    lines = ["flowchart TD", f'  start(("{_escape(flow.id)}")) --> {flow.start}']
    for node_id, step in flow.nodes.items():
        open_, close = shapes.get(type(step), ('["', '"]'))
        lines.append(f"  {node_id}{open_}{_escape(_label(step, lang))}{close}")
    for node_id, step in flow.nodes.items():
        for target, label in edges(step, lang):
            arrow = f' -- "{_escape(label)}" --> ' if label else " --> "
            lines.append(f"  {node_id}{arrow}{target}")
    return "\n".join(lines) + "\n"


def dot(flow: Flow, lang: str) -> str:
    shapes = {Ask: "diamond", Input: "parallelogram", End: "doublecircle", Call: "box3d",
              Branch: "hexagon", Checklist: "folder", DocumentStep: "note"}

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {quote(flow.id)} {{", "  node [fontname=sans];",
             f"  __start [shape=point]; __start -> {quote(flow.start)};"]
    for node_id, step in flow.nodes.items():
        shape = shapes.get(type(step), "box")
        lines.append(f"  {quote(node_id)} [shape={shape}, label={quote(_label(step, lang))}];")
    for node_id, step in flow.nodes.items():
        for target, label in edges(step, lang):
            extra = f" [label={quote(label)}]" if label else ""
            lines.append(f"  {quote(node_id)} -> {quote(target)}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"
