"""The contact directory: topics and contacts from every `contacts*.yaml`. A person in trouble
is shown these, so each says where it helps, where its details come from and when they were last
checked; a contact unchecked for a year is a warning."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.flows.model import Contact, Text
from bot.flows.problems import Problem, Severity, did_you_mean
from bot.flows.shipped import shipped_content
from bot.flows.yaml_source import Y, display, load_yaml, yaml_files

CONTACT_ID = re.compile(r"[a-z][a-z0-9_]*\Z")
REGIONS = ("federal", "hessen", "kassel", "local")
"""Where a contact helps; "local": a city's own contacts (`lotse init`)."""
STALE_AFTER = dt.timedelta(days=365)
UNREACHABLE = "no one can reach it from its card"
"""The warning for a card without phone, web or e-mail (`lotse init` lists them to be filled)."""
CONTACT_KEYS = ("id", "name", "topics", "region", "source", "checked", "phone", "web", "email",
                "hours", "note")


@dataclass
class Directory:
    """Contacts and topics as read, each with its place (file, line, column) for messages."""

    contacts: dict[str, Contact] = field(default_factory=dict)
    contact_pos: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    topics: dict[str, Text] = field(default_factory=dict)
    topic_pos: dict[str, tuple[str, int, int]] = field(default_factory=dict)


def read_contacts(folders: list[Path], into: Directory, languages: tuple[str, ...],
                  problems: list[Problem], today: dt.date) -> None:
    """The topics of every contacts file first, then the contacts, which name them."""
    files = _contact_files(folders)
    roots = [(display(f), root) for f in files
             if (root := _contacts_root(f, problems)) is not None]
    for name, root in roots:
        _read_topics(name, root, into, languages, problems)
    for name, root in roots:
        _read_contact_list(name, root, into, languages, problems, today)
    _check_topics_used(into, problems)
    shipped = shipped_content().resolve()
    _check_reachable(into, {display(f) for f in files if f.resolve().is_relative_to(shipped)},
                     problems)


def _check_reachable(content: Directory, shipped: set[str], problems: list[Problem]) -> None:
    """A card without phone, web or e-mail helps no one: a city's placeholder (`lotse init`
    writes them) is a warning until it is filled in. The shipped Kassel placeholders are the
    sample a city's own contacts-local.yaml replaces, so they are not reported."""
    for cid, contact in content.contacts.items():
        file, line, col = content.contact_pos[cid]
        if not (contact.phone or contact.web or contact.email) and file not in shipped:
            problems.append(Problem(file, line, col, f"contact '{cid}' has no phone, web or "
                                    f"e-mail: {UNREACHABLE}", "fill in 'phone', 'email' or "
                                    "'web' from a checked source", Severity.WARNING))


def _contact_files(folders: list[Path]) -> list[Path]:
    """Every `contacts*.yaml`; a later folder's file replaces the earlier one of the same name
    (a city's own `contacts-local.yaml` the shipped one), where texts override key by key."""
    chosen: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for file in yaml_files(folder):
                if file.name.startswith("contacts"):
                    chosen.pop(file.name, None)
                    chosen[file.name] = file
    return list(chosen.values())


def _contacts_root(file: Path, problems: list[Problem]) -> Y | None:
    name = display(file)
    root = load_yaml(file, name, problems)
    if root is None:
        return None
    if not root.is_map:
        problems.append(Problem(name, root.line, root.col, "a contacts file must be a mapping",
                                "start with 'topics:' and 'contacts:'"))
        return None
    for key, _ in root.items():
        if key not in ("topics", "contacts"):
            line, col = root.key_pos(key)
            problems.append(Problem(name, line, col, f"unknown key '{key}' in contacts file",
                                    did_you_mean(key, ("topics", "contacts"))
                                    or "use 'topics:' and 'contacts:'"))
    return root


def _read_topics(name: str, root: Y, content: Directory, languages: tuple[str, ...],
                 problems: list[Problem]) -> None:
    topics = root.get("topics")
    if topics is None:
        return
    if not topics.is_map:
        problems.append(Problem(name, topics.line, topics.col, "'topics' must map topic ids "
                                "to names", "write 'emergency: {de: Notruf, en: Emergency}'"))
        return
    for topic, label in topics.items():
        line, col = topics.key_pos(topic)
        if topic in content.topics:
            first = content.topic_pos[topic]
            problems.append(Problem(name, line, col, f"topic '{topic}' is defined twice "
                                    f"(also {first[0]}:{first[1]})", "keep one of them"))
            continue
        text = literal_text(label, languages, name, problems, f"topic '{topic}'")
        if text is not None:
            content.topics[topic] = text
            content.topic_pos[topic] = (name, line, col)


def _read_contact_list(name: str, root: Y, content: Directory, languages: tuple[str, ...],
                       problems: list[Problem], today: dt.date) -> None:
    contacts = root.get("contacts")
    if contacts is None:
        return
    if not contacts.is_list:
        problems.append(Problem(name, contacts.line, contacts.col, "'contacts' must be a list",
                                "start each contact with '- id: ...'"))
        return
    for entry in contacts.value:
        contact = _contact(entry, content, languages, name, problems, today)
        if contact is not None:
            content.contacts[contact.id] = contact
            content.contact_pos[contact.id] = (name, entry.line, entry.col)


def literal_text(node: Y, languages: tuple[str, ...], file: str, problems: list[Problem],
                 what: str) -> Text | None:
    """A directory text: a plain string for every language, or a mapping per language."""
    if node.is_str or (isinstance(node.value, (int, float)) and not isinstance(node.value, bool)):
        return {lang: str(node.value) for lang in languages}
    if node.is_map:
        result: dict[str, str] = {}
        for lang, value in node.items():
            line, col = node.key_pos(lang)
            if lang not in languages:
                problems.append(Problem(file, line, col, f"{what}: unknown language '{lang}'",
                                        f"languages are {', '.join(languages)}"))
            elif not value.is_str:
                problems.append(Problem(file, value.line, value.col,
                                        f"{what}: the '{lang}' text must be text"))
            else:
                result[lang] = value.value
        for lang in languages:
            if lang not in result:
                problems.append(Problem(file, node.line, node.col,
                                        f"{what}: text for '{lang}' is missing",
                                        f"add '{lang}: ...'"))
        return result if set(result) == set(languages) else None
    problems.append(Problem(file, node.line, node.col, f"{what} must be text",
                            "write a text, or one per language as {de: ..., en: ...}"))
    return None


def _contact(entry: Y, content: Directory, langs: tuple[str, ...], file: str,
             problems: list[Problem], today: dt.date) -> Contact | None:
    if not entry.is_map:
        problems.append(Problem(file, entry.line, entry.col, "a contact must be a mapping",
                                "start it with '- id: ...'"))
        return None
    ok = True
    given_id = entry.get("id")
    who = f"contact '{given_id.value}'" if given_id is not None and given_id.is_str else "contact"
    for key, _ in entry.items():
        if key not in CONTACT_KEYS:
            line, col = entry.key_pos(key)
            problems.append(Problem(file, line, col, f"unknown key '{key}' in {who}",
                                    did_you_mean(key, CONTACT_KEYS)
                                    or f"allowed: {', '.join(CONTACT_KEYS)}"))
            ok = False
    for key in ("id", "name", "topics", "region", "source", "checked"):
        if entry.get(key) is None:
            problems.append(Problem(file, entry.line, entry.col, f"{who} lacks '{key}'",
                                    f"add '{key}: ...'"))
            ok = False
    if not ok:
        return None
    cid = entry.value["id"]
    if not cid.is_str or not CONTACT_ID.match(cid.value):
        problems.append(Problem(file, cid.line, cid.col, f"contact id {cid.value!r} is not "
                                "valid", "use lower case letters, digits and _"))
        return None
    if cid.value in content.contacts:
        first = content.contact_pos[cid.value]
        problems.append(Problem(file, cid.line, cid.col, f"contact id '{cid.value}' is used "
                                f"twice (also {first[0]}:{first[1]})", "rename one of them"))
        return None
    what = f"contact '{cid.value}'"
    name = literal_text(entry.value["name"], langs, file, problems, f"{what} name")
    topics_node = entry.value["topics"]
    topics: list[str] = []
    if not topics_node.is_list or not all(t.is_str for t in topics_node.value):
        problems.append(Problem(file, topics_node.line, topics_node.col,
                                f"{what}: 'topics' must be a list of topic ids",
                                "write [counselling, police]"))
    else:
        for topic in topics_node.value:
            if topic.value not in content.topics:
                problems.append(Problem(file, topic.line, topic.col,
                                        f"{what}: unknown topic '{topic.value}'",
                                        did_you_mean(topic.value, content.topics)
                                        or "declare it under 'topics:'"))
            else:
                topics.append(topic.value)
    region = entry.value["region"]
    if region.value not in REGIONS:
        problems.append(Problem(file, region.line, region.col,
                                f"{what}: unknown region {region.value!r}",
                                f"use one of {', '.join(REGIONS)}"))
    checked = entry.value["checked"]
    checked_date: dt.date | None = None
    if isinstance(checked.value, str):  # "2026-11-25" in quotes is still meant as a date
        with contextlib.suppress(ValueError):
            checked = Y(dt.date.fromisoformat(checked.value), checked.line, checked.col)
    if isinstance(checked.value, dt.date):
        checked_date = checked.value
        if today - checked_date > STALE_AFTER:
            problems.append(Problem(file, checked.line, checked.col,
                                    f"{what} was last checked on {checked_date.isoformat()}, "
                                    "more than a year ago", "check its details and update "
                                    "'checked'", Severity.WARNING))
    else:
        problems.append(Problem(file, checked.line, checked.col,
                                f"{what}: 'checked' must be a date", "write 2026-11-25"))
    strings: dict[str, str | None] = {}
    for key in ("phone", "web", "email", "source"):
        node = entry.get(key)
        if node is None:
            strings[key] = None
        elif isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
            strings[key] = str(node.value)
        else:
            problems.append(Problem(file, node.line, node.col, f"{what}: '{key}' must be text",
                                    "put it in quotes"))
            strings[key] = None
    web = strings["web"]
    if web is not None and not web.startswith("https://"):
        node = entry.value["web"]
        problems.append(Problem(file, node.line, node.col, f"{what}: web address must start "
                                "with https://", f"write https://{web.removeprefix('http://')}"))
    email = strings["email"]
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", email):
        node = entry.value["email"]
        problems.append(Problem(file, node.line, node.col, f"{what}: {email!r} is not an "
                                "e-mail address", "write it as name@example.de"))
    phone = strings["phone"]
    if phone is not None and not re.fullmatch(r"\+?[0-9][0-9 /()-]*", phone):
        node = entry.value["phone"]
        problems.append(Problem(file, node.line, node.col, f"{what}: {phone!r} is not a "
                                "phone number", "write only the number: digits, spaces and "
                                "+ - / ( ); opening hours go under 'hours'"))
    hours = entry.get("hours")
    note = entry.get("note")
    hours_text = literal_text(hours, langs, file, problems, f"{what} hours") if hours else None
    note_text = literal_text(note, langs, file, problems, f"{what} note") if note else None
    if name is None or checked_date is None or (hours and hours_text is None) or (
            note and note_text is None):
        return None
    return Contact(id=cid.value, name=name, topics=tuple(topics), region=str(region.value),
                   source=strings["source"] or "", checked=checked_date, phone=phone, web=web,
                   email=email, hours=hours_text, note=note_text)


def _check_topics_used(content: Directory, problems: list[Problem]) -> None:
    used = {t for c in content.contacts.values() for t in c.topics}
    for topic, (file, line, col) in content.topic_pos.items():
        if topic not in used:
            problems.append(Problem(file, line, col, f"no contact has the topic '{topic}'",
                                    "add it to a contact's topics, or remove it",
                                    Severity.WARNING))
    if content.topic_pos and "emergency" not in used:
        file, line, col = next(iter(content.topic_pos.values()))
        problems.append(Problem(file, line, col, "no contact has the topic 'emergency'",
                                "the emergency command shows these: add the 110/112 contacts"))
