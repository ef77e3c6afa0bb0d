"""The readers of each kind of node, and ACTIONS, the table that maps a node's action key
(`ask:`, `input:` …) to the keys that belong with it and its reader. A reader returns None after
adding a problem."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import NamedTuple

from bot.dates import valid_region
from bot.flows.flow_fields import CHOICE_ID, FieldReader, Ref
from bot.flows.model import (
    Ask,
    Call,
    Checklist,
    ChecklistItem,
    Choice,
    ContactList,
    Deadline,
    DocumentStep,
    End,
    Field,
    Input,
    Link,
    Remind,
    ReminderItem,
    ReportStep,
    Step,
    Text,
)
from bot.flows.problems import did_you_mean
from bot.flows.understand_cues import read_cues
from bot.flows.yaml_source import Y

FILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
INPUT_TYPES = ("text", "date")


def read_end(r: FieldReader, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
             line: int) -> End:
    end = body.value["end"]
    if end.value is not True:
        r.at(end, f"'end' in node '{node_id}' must be 'true'", "write 'end: true'")
    if "next" in body.value:
        r.error(*body.key_pos("next"), f"node '{node_id}' ends the flow but has 'next'",
                "remove 'next', or remove 'end'")
    return End(id=node_id, say=say, line=line)


def read_ask(r: FieldReader, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
             line: int) -> Ask | None:
    question = r.text(body.value["ask"], f"the question of node '{node_id}'")
    slot = r.slot(body, node_id)
    multiple = r.flag(body, "multiple")
    unmatched_node = body.value.get("unmatched")
    unmatched = None if unmatched_node is None else r.text(
        unmatched_node, f"'unmatched' of node '{node_id}'")
    raw = body.value.get("choices")
    if raw is None or not isinstance(raw.value, list) or not raw.value:
        r.at(raw or body, f"node '{node_id}' asks a question but has no 'choices'",
             "add 'choices:' with a list of '- id: ... label: ...'")
        return None
    choices: list[Choice] = []
    seen: dict[str, int] = {}
    for item in raw.value:
        choice = r.choice(item, node_id, seen)
        if choice is not None:
            # What points to this choice in a whole message (bot.flows.understand_cues).
            cues = read_cues(r, item.get("cues"), f"choice '{choice.id}'", f"question '{node_id}'")
            choice = dataclasses.replace(choice, cues=cues)
            if not choice.next and not links:
                r.at(item, f"choice '{choice.id}' of node '{node_id}' leads nowhere",
                     "give the choice or the node a 'next'")
            choices.append(choice)
    on_miss = body.get("on_miss")
    if on_miss is not None and on_miss.value not in seen:
        r.at(on_miss, f"'on_miss' of node '{node_id}' names no choice of it",
             did_you_mean(str(on_miss.value), seen) or "name one of its choices' ids")
        return None
    if question is None or len(choices) != len(raw.value) or (
            unmatched_node is not None and unmatched is None):
        return None
    return Ask(id=node_id, say=say, next=links, line=line, question=question, slot=slot,
               choices=tuple(choices), multiple=multiple, unmatched=unmatched,
               on_miss=None if on_miss is None else str(on_miss.value))


def read_input(r: FieldReader, node_id: str, body: Y, say: Text | None,
               links: tuple[Link, ...], line: int) -> Input | None:
    question = r.text(body.value["input"], f"the question of node '{node_id}'")
    kind = body.get("type")
    if kind is not None and kind.value not in INPUT_TYPES:
        r.at(kind, f"unknown input type {kind.value!r}",
             did_you_mean(str(kind.value), INPUT_TYPES) or "use 'text' or 'date'")
        return None
    if question is None:
        return None
    return Input(id=node_id, say=say, next=links, line=line, question=question,
                 slot=r.slot(body, node_id), kind=kind.value if kind else "text",
                 optional=r.flag(body, "optional"))


def read_contacts(r: FieldReader, node_id: str, body: Y, say: Text | None,
                  links: tuple[Link, ...], line: int) -> ContactList | None:
    spec = body.value["contacts"]
    if not spec.is_map or not spec.value:
        r.at(spec, f"'contacts' of node '{node_id}' must name topics or ids",
             "write contacts: {topics: [counselling]} or {ids: [hateaid]}")
        return None
    r.unknown_keys(spec, ("topics", "ids"), f"'contacts' of node '{node_id}'")
    names: list[str] = []
    for key, kind in (("topics", "topic"), ("ids", "contact")):
        raw = spec.get(key)
        if raw is None:
            continue
        if not raw.is_list or not all(v.is_str for v in raw.value):
            r.at(raw, f"'{key}' must be a list", f"write {key}: [a, b]")
            return None
        for value in raw.value:
            r.ref(kind, value, node_id)
            names.append(f"{kind}:{value.value}")
    # Topics are turned into contact ids once the directory is known (bot.flows.checker).
    return ContactList(id=node_id, say=say, next=links, line=line, contacts=tuple(names))


def read_checklist(r: FieldReader, node_id: str, body: Y, say: Text | None,
                   links: tuple[Link, ...], line: int) -> Checklist | None:
    title = r.text(body.value["checklist"], f"the title of checklist '{node_id}'")
    raw = body.get("items")
    if raw is None or not raw.is_list or not raw.value:
        r.at(raw or body, f"checklist '{node_id}' has no 'items'",
             "add 'items:' with '- id: ... text: ...'")
        return None
    items: list[ChecklistItem] = []
    seen: set[str] = set()
    for item in raw.value:
        if not item.is_map:
            r.at(item, "a checklist item must be a mapping", "write '- id: ... text: ...'")
            continue
        r.unknown_keys(item, ("id", "text", *ITEM_KEYS), f"an item of checklist '{node_id}'")
        iid, text_node = item.get("id"), item.get("text")
        if iid is None or text_node is None or not iid.is_str \
                or not CHOICE_ID.match(iid.value):
            r.at(item, "a checklist item needs a valid 'id' and a 'text'",
                 "write '- id: safety' and 'text: <text>'")
            continue
        if iid.value in seen:
            r.at(iid, f"item id '{iid.value}' is used twice", "rename one of them")
            continue
        seen.add(iid.value)
        text = r.text(text_node, f"item '{iid.value}'")
        if text is not None:
            items.append(_walked_item(r, node_id, item, ChecklistItem(iid.value, text)))
    if title is None or len(items) != len(raw.value):
        return None
    return Checklist(id=node_id, say=say, next=links, line=line, title=title,
                     slot=r.slot(body, node_id), items=tuple(items),
                     walk=r.flag(body, "walk"))


ITEM_KEYS = ("do", "why", "more", "due", "if")
"""What an item of a walked checklist may say beyond its line (bot.engine.walk)."""


def _walked_item(r: FieldReader, node_id: str, item: Y, read: ChecklistItem) -> ChecklistItem:
    """The item with its texts for one screen, its due date's slot and its condition."""
    texts = {key: r.text(item.value[key], f"'{key}' of item '{read.id}'")
             for key in ("do", "why", "more") if key in item.value}
    due = item.get("due")
    if due is not None:
        if due.is_str:
            r.ref("date_slot", due, node_id)
        else:
            r.at(due, "'due' must name a date slot", "write 'due: accident_report_by'")
    when = item.get("if")
    return dataclasses.replace(
        read, do=texts.get("do"), why=texts.get("why"), more=texts.get("more"),
        due=due.value if due is not None and due.is_str else None,
        when=r.condition(when, node_id) if when is not None else None)


def read_document(r: FieldReader, node_id: str, body: Y, say: Text | None,
                  links: tuple[Link, ...], line: int) -> DocumentStep | None:
    title = r.text(body.value["document"], f"the title of document '{node_id}'")
    file = body.get("file")
    if file is not None and not (file.is_str and FILE_NAME.match(file.value)):
        r.at(file, f"file name {file.value!r} is not valid",
             "use lower case letters, digits, _ and -, without an ending")
        return None
    fields = r.labelled_slots(body, node_id, "document", "slot")
    if title is None or fields is None:
        return None
    return DocumentStep(id=node_id, say=say, next=links, line=line, title=title,
                        file=file.value if file else node_id,
                        fields=tuple(Field(label, slot) for label, slot in fields),
                        erase=r.flag(body, "erase"))


def read_deadline(r: FieldReader, node_id: str, body: Y, say: Text | None,
                  links: tuple[Link, ...], line: int) -> Deadline | None:
    spec = body.value["deadline"]
    where = f"'deadline' of node '{node_id}'"
    if not spec.is_map:
        r.at(spec, f"{where} must say from which date and how many months",
             "write deadline: {from: incident_date, months: 3}")
        return None
    r.unknown_keys(spec, ("from", "months", "days", "holidays", "working_day"), where)
    start, months, days = spec.get("from"), spec.get("months"), spec.get("days")
    if start is None or not start.is_str or (months is None) == (days is None):
        r.at(spec, f"{where} needs 'from: <date slot>' and either 'months: <number>' or "
             "'days: <number>'", "write deadline: {from: incident_date, months: 3}")
        return None
    length = months or days
    assert length is not None
    least, most = (1, 120) if months is not None else (0, 366)  # days: 0 is the day itself
    if isinstance(length.value, bool) or not isinstance(length.value, int) \
            or not least <= length.value <= most:
        r.at(length, f"'{'months' if months is not None else 'days'}' must be a whole number "
             f"from {least} to {most}")
        return None
    working_day = spec.get("working_day")
    if working_day is not None and not isinstance(working_day.value, bool):
        r.at(working_day, "'working_day' must be true or false",
             "false: the end stays on a weekend or holiday")
        return None
    region = spec.get("holidays")
    if region is not None and not (region.is_str and valid_region(region.value)):
        r.at(region, f"unknown holiday region {region.value!r}",
             "write a country and state code such as DE-HE")
        return None
    r.ref("date_slot", start, node_id)
    return Deadline(id=node_id, say=say, next=links, line=line, start=start.value,
                    months=months.value if months is not None else 0,
                    days=days.value if days is not None else 0, slot=r.slot(body, node_id),
                    region=region.value if region else "DE-HE",
                    working_day=working_day is None or working_day.value)


def read_report(r: FieldReader, node_id: str, body: Y, say: Text | None,
                links: tuple[Link, ...], line: int) -> ReportStep | None:
    intro = r.text(body.value["report"], f"the text of report '{node_id}'")
    fields = r.labelled_slots(body, node_id, "report", "choice_slot")
    month = body.get("month")
    if month is not None:
        if not month.is_str:
            r.at(month, "'month' must name a date slot", "write 'month: incident_date'")
            return None
        r.ref("date_slot", month, node_id)
    if intro is None or fields is None:
        return None
    return ReportStep(id=node_id, say=say, next=links, line=line, intro=intro,
                      fields=tuple(Field(label, slot) for label, slot in fields),
                      month=month.value if month else None)


def read_call(r: FieldReader, node_id: str, body: Y, say: Text | None, links: tuple[Link, ...],
              line: int) -> Call | None:
    target = body.value["call"]
    if not target.is_str:
        r.at(target, "'call' must name a flow id", "write 'call: <flow id>'")
        return None
    r.ref("flow", target, node_id)
    return Call(id=node_id, say=say, next=links, line=line, flow=target.value)


def read_remind(r: FieldReader, node_id: str, body: Y, say: Text | None,
                links: tuple[Link, ...], line: int) -> Remind | None:
    spec = body.value["remind"]
    example = ("write remind: {checkin: {after: 3, open: followup}} with the ids of the "
               "chosen answers, or 'remind: stop'")
    if spec.value == "stop":
        if body.get("slot") is not None:
            r.error(*body.key_pos("slot"), "'remind: stop' ends every reminder and reads no "
                    "answer", "remove 'slot'")
            return None
        return Remind(id=node_id, say=say, next=links, line=line, stop=True)
    if not spec.is_map or not spec.value:
        r.at(spec, f"'remind' of node '{node_id}' must list the reminders", example)
        return None
    items: list[ReminderItem] = []
    for item_id, raw in spec.items():
        item = _reminder_item(r, node_id, item_id, raw, *spec.key_pos(item_id))
        if item is not None:
            items.append(item)
    slot = None
    if body.get("slot") is not None:
        slot = r.slot(body, node_id)
        raw_slot = body.value["slot"]
        r.refs.append(Ref("remind_slot", slot, raw_slot.line, raw_slot.col, node_id))
        for item in items:
            item_line, item_col = spec.key_pos(item.id)
            r.refs.append(Ref("value", item.id, item_line, item_col, slot))
    if len(items) != len(spec.value):
        return None
    return Remind(id=node_id, say=say, next=links, line=line, items=tuple(items), slot=slot)


def _reminder_item(r: FieldReader, node_id: str, item_id: str, raw: Y, line: int,
                   col: int) -> ReminderItem | None:
    where = f"reminder '{item_id}' of node '{node_id}'"
    if not CHOICE_ID.match(item_id):
        r.error(line, col, f"reminder id '{item_id}' is not valid",
                "use lower case letters, digits and _")
        return None
    if not raw.is_map:
        r.at(raw, f"{where} must say when it is due and what it opens",
             "write {after: 3, open: followup} or {before: <date slot>, days: 17, "
             "open: followup}")
        return None
    errors = len(r.problems)
    r.unknown_keys(raw, ("after", "before", "days", "open"), where)
    after, before, days, target = (raw.get(k) for k in ("after", "before", "days", "open"))
    if (after is None) == (before is None):
        r.at(raw, f"{where} needs either 'after: <days>' or 'before: <date slot>'",
             "after: days from now; before: days before a date such as a deadline")
    for number in (after, days):
        if number is not None and (isinstance(number.value, bool)
                                   or not isinstance(number.value, int)
                                   or not 0 <= number.value <= 366):
            r.at(number, "the number of days must be a whole number from 0 to 366")
    if days is not None and before is None:
        r.at(days, f"'days' in {where} counts back from 'before'",
             "add 'before: <date slot>', or use 'after'")
    if before is not None:
        if before.is_str:
            r.ref("date_slot", before, node_id)
        else:
            r.at(before, "'before' must name a date slot")
    if target is None or not target.is_str or not re.fullmatch(
            r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?", target.value):
        r.at(target or raw, f"{where} needs 'open: <flow>' or 'open: <flow>.<node>'",
             "the flow (and node) the reminder message opens")
    if len(r.problems) != errors:
        return None
    assert target is not None
    flow, _, node = str(target.value).partition(".")
    r.ref("open", target, node_id)
    return ReminderItem(id=item_id, open_flow=flow, open_node=node or None,
                        after_days=after.value if after is not None else None,
                        before_slot=before.value if before is not None else None,
                        before_days=days.value if days is not None else 0)


StepReader = Callable[[FieldReader, str, Y, Text | None, tuple[Link, ...], int], Step | None]
"""(reader, node id, node, its 'say', its links, line) -> the step, or None after a problem."""


class Action(NamedTuple):
    keys: tuple[str, ...]
    """The keys a node may have only together with this action."""
    read: StepReader


ACTIONS: dict[str, Action] = {
    "ask": Action(("choices", "multiple", "slot", "unmatched", "on_miss"), read_ask),
    "input": Action(("type", "optional", "slot"), read_input),
    "contacts": Action((), read_contacts),
    "checklist": Action(("items", "slot", "walk"), read_checklist),
    "document": Action(("file", "fields", "erase"), read_document),
    "call": Action((), read_call),
    "deadline": Action(("slot",), read_deadline),
    "report": Action(("fields", "month"), read_report),
    "remind": Action(("slot",), read_remind),
    "end": Action((), read_end),
}
"""A node without an action is a Message or a Branch (bot.flows.flow_file). The order is the
order of messages about a node with two actions."""
