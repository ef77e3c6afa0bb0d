"""`lotse check`: flows and content checked together, every problem in every file at once. The
bundle is built only when nothing is wrong, and the same check feeds `lotse chat`, so a flow
that fails it never runs."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from bot.flows.content import Content, read_content
from bot.flows.danger_cues import check_danger
from bot.flows.flow_fields import TextResolver
from bot.flows.flow_file import FlowFile, FlowReader
from bot.flows.graph_checks import check_call_cycles, check_graph
from bot.flows.markup import check_markup
from bot.flows.model import (
    CAN_REMIND_SLOT,
    CONFIRMED_SLOT,
    DANGER_SLOT,
    MISSED_SLOT,
    OPENED_BY_REMINDER_SLOT,
    REMINDER_DATE_SLOT,
    REMINDER_SLOT,
    UNDERSTOOD_SLOT,
    WALK_OPEN,
    Ask,
    Bundle,
    Checklist,
    ContactList,
    Deadline,
    Flow,
    Input,
    Remind,
    Step,
    Text,
)
from bot.flows.problems import ContentError, Problem, Severity, did_you_mean
from bot.flows.reference_checks import check_placeholders, check_references, check_words
from bot.flows.shipped import shipped_content, shipped_flows
from bot.flows.understand_cues import check_cue_languages, slot_cues
from bot.flows.yaml_source import Y, display, load_yaml, yaml_files

MAX_PROBLEMS_PER_FILE = 100
"""Shown per file; then one line says how many more there are."""


@dataclass(frozen=True)
class Sources:
    """Which files make up a Lotse: flow files, and content folders layered in order."""

    flow_files: tuple[Path, ...]
    content_dirs: tuple[Path, ...]
    complete: bool = True
    """All flows of a Lotse, so that texts no flow uses are worth a warning."""

    @classmethod
    def shipped(cls) -> Sources:
        return cls(tuple(yaml_files(shipped_flows())), (shipped_content(),))

    @classmethod
    def from_paths(cls, paths: Iterable[Path], content: Iterable[Path] = ()) -> Sources:
        """Files are flows; a folder with flows/ or content/ is a whole Lotse; others hold flows.
        Content folders given explicitly are layered over the shipped content."""
        flows: list[Path] = []
        dirs: list[Path] = []
        complete = False
        for path in paths:
            if path.is_dir() and ((path / "flows").is_dir() or (path / "content").is_dir()):
                complete = True
                if (path / "flows").is_dir():
                    flows.extend(yaml_files(path / "flows"))
                if (path / "content").is_dir():
                    dirs.append(path / "content")
            elif path.is_dir():
                flows.extend(yaml_files(path))
            else:
                flows.append(path)
        extra = list(content)
        if not dirs:
            dirs = [shipped_content()]
        return cls(tuple(flows), (*dirs, *extra), complete)


@dataclass(frozen=True)
class CheckResult:
    bundle: Bundle | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)


def load_bundle(sources: Sources | None = None, today: dt.date | None = None) -> Bundle:
    """The checked bundle, or ContentError carrying every error."""
    result = check(sources, today)
    if result.bundle is None:
        raise ContentError(result.errors)
    return result.bundle


def check(sources: Sources | None = None, today: dt.date | None = None) -> CheckResult:
    """Every problem of every file (the first hundred per file), and the bundle if none is
    an error."""
    sources = sources or Sources.shipped()
    problems: list[Problem] = []
    content = read_content(list(sources.content_dirs), problems, today or dt.date.today())
    used_keys: set[str] = set()
    files: list[FlowFile] = []
    seen_flows: dict[str, str] = {}
    if not sources.flow_files:
        problems.append(Problem("flows", 1, 1, "no flow files found",
                                "put at least one flow in flows/*.yaml"))
    for path in sources.flow_files:
        name = display(path)
        root = load_yaml(path, name, problems)
        if root is None:
            continue
        reader = FlowReader(name, text_resolver(content, problems, used_keys), problems)
        flow_file = reader.read(root)
        if flow_file is None:
            continue
        flow_id = flow_file.flow.id
        if flow_id in seen_flows:
            problems.append(Problem(name, root.line, root.col, f"flow id '{flow_id}' is used "
                                    f"twice (also {seen_flows[flow_id]})", "rename one flow"))
            continue
        seen_flows[flow_id] = name
        files.append(flow_file)
    check_markup(content, files, problems)
    bundle = cross_check(content, files, problems)
    if sources.complete:
        _warn_unused(content, used_keys, problems)
    if any(p.severity is Severity.ERROR for p in problems):
        bundle = None
    ordered = sorted(set(problems), key=lambda p: (p.file, p.line, p.col, p.message))
    return CheckResult(bundle, _at_most(ordered, MAX_PROBLEMS_PER_FILE))


def _at_most(problems: list[Problem], limit: int) -> tuple[Problem, ...]:
    """The first `limit` problems of each file, then one line saying how many more there are."""
    kept: list[Problem] = []
    per_file: dict[str, int] = defaultdict(int)
    for problem in problems:
        per_file[problem.file] += 1
        if per_file[problem.file] <= limit:
            kept.append(problem)
    for file, count in per_file.items():
        if count > limit:
            kept.append(Problem(file, 1, 1, f"… and {count - limit} more problems in this file",
                                "fix the ones above first: many may follow from them"))
    return tuple(kept)


def text_resolver(content: Content, problems: list[Problem], used: set[str]) -> TextResolver:
    """How a flow file's texts become per-language text: a content key looked up in `content`
    (and noted in `used`), or inline text checked for its languages."""
    languages = content.languages
    language_set = frozenset(languages)

    def resolve(node: Y, file: str, what: str) -> Text | None:
        raw = node.value
        if isinstance(raw, str):
            key = raw
            missing = [lang for lang in languages if key not in content.texts.get(lang, {})]
            if len(missing) == len(languages):
                keys = set().union(*(content.texts[lang] for lang in languages))
                hint = did_you_mean(key, keys) or (
                    f"add '{key}' to content/<lang>/, or write the text inline as "
                    "{de: ..., en: ...}")
                problems.append(Problem(file, node.line, node.col,
                                        f"unknown text key '{key}' for {what}", hint))
                return None
            if missing:  # reported once, at the content file, by read_content
                return None
            used.add(key)
            return {lang: content.texts[lang][key].text for lang in languages}
        if isinstance(raw, dict):
            result: dict[str, str] = {}
            for lang, value in raw.items():
                if lang not in language_set:
                    line, col = node.key_pos(lang)
                    problems.append(Problem(file, line, col, f"unknown language '{lang}' in "
                                            f"{what}", did_you_mean(lang, languages)
                                            or f"languages are {', '.join(languages)}"))
                elif not isinstance(value.value, (str, int, float)):
                    problems.append(Problem(file, value.line, value.col,
                                            f"the '{lang}' text of {what} must be text"))
                else:
                    result[lang] = str(value.value).strip()
            if len(result) == len(language_set):  # only known languages went in: all are there
                return result
            for lang in languages:
                if lang not in result and lang not in node.value:
                    problems.append(Problem(file, node.line, node.col,
                                            f"{what} has no '{lang}' text", f"add '{lang}: ...'"))
            return None
        problems.append(Problem(file, node.line, node.col, f"{what} must be a text key or "
                                "{de: ..., en: ...}", "write a content key such as "
                                "'incident.question', or the text per language"))
        return None

    return resolve


# --- checks across all flows and the content ---------------------------------------------


def cross_check(content: Content, files: list[FlowFile], problems: list[Problem]
                ) -> Bundle | None:
    """What no single file can tell: jumps, reachability, loops, words, placeholders and
    contacts across all flows and the content; the bundle, or None without flows or content."""
    flows = {f.flow.id: f for f in files}
    values = slot_values(f.flow for f in files)
    for f in files:  # what a message may say about a slot no question asks, once confirmed
        for slot, read in f.understand.items():
            known = values.setdefault(slot, set())
            if known is not None:
                known.update(value for value, _ in read)
    dates = _date_slots(files)
    for flow_file in files:
        check_references(flow_file, flows, content, values, dates, problems)
        check_graph(flow_file, flows, problems)
        check_words(flow_file, problems)
        check_placeholders(flow_file, content, values, problems)
    check_call_cycles(files, problems)
    blocks = [(f.file, f.danger) for f in files if f.danger is not None]
    check_danger(blocks, content.languages, problems)
    for f in files:
        check_cue_languages(f.file, f.cue_lists, content.languages, problems)
    if not content.languages or not files:
        return None
    try:
        system = content.system()
    except KeyError:
        return None
    resolved = {fid: _resolve_contacts(f, content, problems) for fid, f in flows.items()}
    labels: dict[str, dict[str, Text]] = defaultdict(dict)
    reminding: list[tuple[str, Remind]] = []
    for f in files:
        for step in f.flow.nodes.values():
            if isinstance(step, Ask):
                for choice in step.choices:
                    labels[step.slot][choice.id] = choice.label
            elif isinstance(step, Checklist):
                for item in step.items:
                    labels[step.slot][item.id] = item.text
            elif isinstance(step, Remind):
                reminding.append((f.flow.id, step))
    reminders = {f"{flow_id}.{item.id}": item for flow_id, step in reminding
                 for item in step.items}
    # A reminder named after an answer takes that answer's label (known once all are read).
    reminder_labels = {f"{flow_id}.{item.id}": labels[step.slot][item.id]
                       for flow_id, step in reminding if step.slot is not None
                       for item in step.items if item.id in labels.get(step.slot, {})}
    default_lang = "de" if "de" in content.languages else content.languages[0]
    default_flow = "employee" if "employee" in flows else sorted(flows)[0]
    return Bundle(flows=resolved, system=system, contacts=dict(content.contacts),
                  topics=dict(content.topics), languages=content.languages,
                  default_language=default_lang, default_flow=default_flow,
                  slot_values=_answers(values), choice_labels=dict(labels),
                  date_slots=frozenset(dates),
                  multiple_slots=frozenset(s.slot for f in files for s in f.flow.nodes.values()
                                           if isinstance(s, Ask) and s.multiple),
                  free_text_slots=frozenset(s for s, v in values.items()
                                            if v is None and s not in dates),
                  reminders=reminders, reminder_labels=reminder_labels,
                  danger=blocks[0][1].danger if blocks else None,
                  cues=slot_cues((f.flow for f in files), (f.understand for f in files)))


def _answers(values: Mapping[str, set[str] | None]) -> dict[str, frozenset[str] | None]:
    """slot_values for the bundle. The reminder slot takes any id: a reminder set before the
    content changed still opens its flow."""
    answers = {slot: None if v is None else frozenset(v) for slot, v in values.items()}
    answers[REMINDER_SLOT] = None
    answers[MISSED_SLOT] = None  # a node's key: node ids change with the content
    return answers


def slot_values(flows: Iterable[Flow]) -> dict[str, set[str] | None]:
    """Every slot any flow fills, with its possible values (None: free text or a date)."""
    values: dict[str, set[str] | None] = {}
    for flow in flows:
        for step in flow.nodes.values():
            if isinstance(step, Ask):
                known = values.setdefault(step.slot, set())
                if known is not None:
                    known.update(c.id for c in step.choices)
            elif isinstance(step, Checklist):
                slots = (step.slot, step.na_slot, step.at_slot) if step.walk else (step.slot,)
                for slot in slots:
                    known = values.setdefault(slot, set())
                    if known is not None:
                        known.update(i.id for i in step.items)
                        known.update((WALK_OPEN,) if slot == step.at_slot else ())
            elif isinstance(step, (Input, Deadline)):
                values[step.slot] = None
            elif isinstance(step, Remind):
                known = values.setdefault(REMINDER_SLOT, set())
                if known is not None:
                    known.update(item.id for item in step.items)
    # Filled by the engine: whether a channel can send on its own, what reminder opened it, and
    # whether a message read as danger.
    values[CAN_REMIND_SLOT] = {"yes"}
    values[OPENED_BY_REMINDER_SLOT] = {"yes"}
    values[DANGER_SLOT] = {"yes"}
    values[UNDERSTOOD_SLOT] = None  # "slot=value" pairs a reading proposes (bot.engine.confirm)
    values[CONFIRMED_SLOT] = None
    values.setdefault(REMINDER_SLOT, set())
    values[REMINDER_DATE_SLOT] = None
    return values


def _date_slots(files: list[FlowFile]) -> set[str]:
    return {REMINDER_DATE_SLOT} | {
        n.slot for f in files for n in f.flow.nodes.values()
        if (isinstance(n, Input) and n.kind == "date") or isinstance(n, Deadline)}


def _resolve_contacts(f: FlowFile, content: Content, problems: list[Problem]) -> Flow:
    nodes: dict[str, Step] = {}
    for node_id, step in f.flow.nodes.items():
        if isinstance(step, ContactList):
            ids: list[str] = []
            unknown = False  # an unknown topic or id is reported already, by check_references
            for name in step.contacts:
                kind, _, value = name.partition(":")
                if kind == "contact":
                    ids.append(value)
                    unknown = unknown or value not in content.contacts
                else:
                    ids.extend(c.id for c in content.contacts.values() if value in c.topics)
                    unknown = unknown or value not in content.topics
            unique = tuple(dict.fromkeys(i for i in ids if i in content.contacts))
            if not unique and not unknown:
                line, col = f.node_pos[node_id]
                problems.append(Problem(f.file, line, col, f"node '{node_id}' would show no "
                                        "contact", "add contacts with these topics"))
            step = replace(step, contacts=unique)
        nodes[node_id] = step
    return replace(f.flow, nodes=nodes)


def _warn_unused(content: Content, used: set[str], problems: list[Problem]) -> None:
    if not content.languages:
        return
    lang = content.languages[0]
    for key, source in content.texts[lang].items():
        if key not in used and not key.startswith("system."):
            problems.append(Problem(source.file, source.line, source.col,
                                    f"text '{key}' is not used by any flow",
                                    "use it, or delete it", Severity.WARNING))


__all__ = ["CheckResult", "Sources", "check", "load_bundle"]
