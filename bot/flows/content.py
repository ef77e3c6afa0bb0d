"""Texts per language and the contact directory, read from `content/` with every problem named.

A municipality edits these files without a programmer, so each rule here has its own message:
where the problem is, and what to write instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.flows.model import Contact, Text
from bot.flows.problems import Problem, Severity, did_you_mean
from bot.flows.texts import placeholders
from bot.flows.yaml_source import Y, load_yaml

LANGUAGE_DIR = re.compile(r"[a-z]{2}\Z")
CONTACT_ID = re.compile(r"[a-z][a-z0-9_]*\Z")
REGIONS = ("federal", "hessen", "kassel", "local")
"""Where a contact helps; "local": a city's own contacts (`lotse init`)."""
STALE_AFTER = dt.timedelta(days=365)

SYSTEM_TEXTS: dict[str, frozenset[str]] = {
    key: frozenset(params)
    for key, params in {
        "not_understood": (),
        "choose_hint": (),
        "choose_hint_typed": (),
        "choose_multiple_hint": (),
        "skip_hint": (),
        "invalid_date": (),
        "future_date": (),
        "empty_answer": (),
        "too_long": (),
        "rate_limited": (),
        "help": (),
        "back_done": (),
        "back_nothing": (),
        "restarted": (),
        "emergency": (),
        "continue_after_emergency": (),
        "language_switched": (),
        "language_name": (),
        "stopped": (),
        "forgotten": (),
        "resume": (),
        "flow_changed": (),
        "internal_error": (),
        "checklist_hint": (),
        "checklist_progress": ("done", "total"),
        "checklist_item_done": (),
        "checklist_item_open": (),
        "document_ready": ("title",),
        "stale_button": (),
        "card.phone": (),
        "card.web": (),
        "card.email": (),
        "card.hours": (),
        "card.checked": (),
        "report_question": (),
        "report_yes": (),
        "report_no": (),
        "report_saved": (),
        "report_not_saved": (),
        "report_incident_month": (),
        "report_report_month": (),
        "stats_refused": (),
        "reminders_set": ("items",),
        "reminders_list": ("items",),
        "reminders_none": (),
        "reminders_stopped": (),
        "reminders_unavailable": (),
        "reminder_intro": (),
        "document.created": ("date", "time", "zone"),
        "document.fingerprint": (),
        "document.keep_safe": (),
        "document.page": ("page", "pages"),
        "document.contacts": (),
        "document.deadline": ("period", "blank"),
        "document.month": ("n",),
        "document.months": ("n",),
        "document.as_of": ("date",),
        "document.not_done": (),
        "document.done": (),
        "telegram.only_private": (),
        "telegram.send_selection": (),
        "telegram.choose_first": (),
        "telegram.menu.start": (),
        "telegram.menu.help": (),
        "telegram.menu.emergency": (),
        "telegram.menu.back": (),
        "telegram.menu.restart": (),
        "telegram.menu.language": (),
        "telegram.menu.stop": (),
        "telegram.menu.forget": (),
        "telegram.menu.reminders": (),
        "matrix.only_direct": (),
        "matrix.undecryptable": (),
        "matrix.text_only": (),
        "matrix.erased": (),
        "matrix.upload_failed": (),
        "console.paused": (),
        "console.document_saved": ("pdf", "txt"),
    }.items()
}
"""Lotse's own texts, under `system.` in every language, with the parameters each may use.
`document.*` are printed on documents as shipped (`bot.documents.labels`), the others are
said by the engine or a channel."""


@dataclass(frozen=True, slots=True)
class TextSource:
    text: str
    file: str
    line: int
    col: int


@dataclass
class Content:
    """Texts and contacts as read, before the flows are checked against them."""

    languages: tuple[str, ...] = ()
    texts: dict[str, dict[str, TextSource]] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    contact_pos: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    topics: dict[str, Text] = field(default_factory=dict)
    topic_pos: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def system(self) -> dict[str, Text]:
        return {key: {lang: self.texts[lang][f"system.{key}"].text for lang in self.languages}
                for key in SYSTEM_TEXTS}


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def read_content(folders: list[Path], problems: list[Problem], today: dt.date) -> Content:
    """Texts of every language folder and all `contacts*.yaml`; later folders override earlier
    ones: texts key by key, contact files by file name."""
    content = Content()
    languages: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            problems.append(Problem(display(folder), 1, 1, "content folder does not exist",
                                    "give the folder that holds de/, en/ and contacts.yaml"))
            continue
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            if not LANGUAGE_DIR.match(sub.name):
                continue
            if sub.name not in languages:
                languages.append(sub.name)
            texts = content.texts.setdefault(sub.name, {})
            for file in yaml_files(sub):
                _read_texts(file, texts, problems, overriding=folder is not folders[0])
    if not languages:
        where = display(folders[0]) if folders else "content"
        problems.append(Problem(where, 1, 1, "no language folder found",
                                "create content/de/ and content/en/ with the texts"))
    content.languages = tuple(languages)
    roots = [(display(f), root) for f in _contact_files(folders)
             if (root := _contacts_root(f, problems)) is not None]
    for name, root in roots:
        _read_topics(name, root, content, problems)
    for name, root in roots:
        _read_contact_list(name, root, content, problems, today)
    _check_languages_agree(content, problems)
    _check_system_texts(content, problems, folders)
    _check_topics_used(content, problems)
    return content


def _contact_files(folders: list[Path]) -> list[Path]:
    """Every `contacts*.yaml`; a file in a later folder replaces the one of the same name in an
    earlier folder, so a city's own `contacts-local.yaml` takes the place of the shipped one
    (texts, in contrast, are overridden key by key)."""
    chosen: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for file in yaml_files(folder):
                if file.name.startswith("contacts"):
                    chosen.pop(file.name, None)
                    chosen[file.name] = file
    return list(chosen.values())


def _read_texts(file: Path, texts: dict[str, TextSource], problems: list[Problem],
                overriding: bool) -> None:
    name = display(file)
    root = load_yaml(file, name, problems)
    if root is None:
        return
    if not root.is_map:
        problems.append(Problem(name, root.line, root.col, "a text file must be a mapping of "
                                "keys to texts", "write 'key: text' lines, nested by topic"))
        return

    def walk(node: Y, prefix: str) -> None:
        for key, value in node.items():
            line, col = node.key_pos(key)
            full = f"{prefix}{key}"
            if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
                problems.append(Problem(name, line, col, f"text key '{key}' has characters "
                                        "other than a-z, A-Z, digits, _ and -",
                                        "rename the key: write ä as ae, ß as ss, no spaces "
                                        "or dots"))
                continue
            if value.is_map:
                walk(value, f"{full}.")
                continue
            if value.value is None or (value.is_str and not value.value.strip()):
                problems.append(Problem(name, value.line, value.col, f"text '{full}' is empty",
                                        "write the text after the colon"))
                continue
            if value.is_list:
                problems.append(Problem(name, value.line, value.col, f"text '{full}' must be "
                                        "text, not a YAML list", "for a list in the text, write "
                                        "'|-' after the colon and the lines beginning with '- ' "
                                        "below it"))
                continue
            if isinstance(value.value, bool):
                problems.append(Problem(name, value.line, value.col, f"text '{full}' reads as "
                                        f"{str(value.value).lower()} in YAML",
                                        "put the text in quotes"))
                continue
            if full in texts and not overriding:
                first = texts[full]
                problems.append(Problem(name, line, col, f"text '{full}' is defined twice "
                                        f"(also {first.file}:{first.line})",
                                        "keep one of them"))
                continue
            texts[full] = TextSource(str(value.value).strip(), name, line, col)

    walk(root, "")


def _check_languages_agree(content: Content, problems: list[Problem]) -> None:
    every = set().union(*(set(t) for t in content.texts.values())) if content.texts else set()
    for lang in content.languages:
        texts = content.texts[lang]
        for key in sorted(every - set(texts)):
            other = next(content.texts[o][key] for o in content.languages if key in
                         content.texts[o])
            problems.append(Problem(other.file, other.line, other.col,
                                    f"text '{key}' is missing in language '{lang}'",
                                    f"add it to content/{lang}/"))
        for key, source in texts.items():
            found = set(placeholders(source.text))
            for other_lang in content.languages:
                counterpart = content.texts[other_lang].get(key)
                if counterpart is None or other_lang == lang:
                    continue
                missing = found - set(placeholders(counterpart.text))
                for name in sorted(missing):
                    problems.append(Problem(counterpart.file, counterpart.line, counterpart.col,
                                            f"text '{key}' lacks '{{{name}}}' that the "
                                            f"'{lang}' text shows",
                                            "use the same placeholders in every language"))


def _check_system_texts(content: Content, problems: list[Problem], folders: list[Path]) -> None:
    base = display(folders[0]) if folders else "content"
    for lang in content.languages:
        texts = content.texts.get(lang, {})
        for key, allowed in SYSTEM_TEXTS.items():
            source = texts.get(f"system.{key}")
            if source is None:
                problems.append(Problem(f"{base}/{lang}", 1, 1,
                                        f"Lotse's own text 'system.{key}' is missing",
                                        f"add it to {base}/{lang}/system.yaml"))
                continue
            for name in placeholders(source.text):
                if name not in allowed:
                    hint = (f"it may use {', '.join('{' + a + '}' for a in sorted(allowed))}"
                            if allowed else "this text takes no placeholders")
                    problems.append(Problem(source.file, source.line, source.col,
                                            f"unknown placeholder '{{{name}}}' in "
                                            f"'system.{key}'", hint))


# --- contacts ----------------------------------------------------------------------------

CONTACT_KEYS = ("id", "name", "topics", "region", "source", "checked", "phone", "web", "email",
                "hours", "note")


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


def _read_topics(name: str, root: Y, content: Content, problems: list[Problem]) -> None:
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
        text = literal_text(label, content.languages, name, problems,
                            f"topic '{topic}'")
        if text is not None:
            content.topics[topic] = text
            content.topic_pos[topic] = (name, line, col)


def _read_contact_list(name: str, root: Y, content: Content, problems: list[Problem],
                       today: dt.date) -> None:
    contacts = root.get("contacts")
    if contacts is None:
        return
    if not contacts.is_list:
        problems.append(Problem(name, contacts.line, contacts.col, "'contacts' must be a list",
                                "start each contact with '- id: ...'"))
        return
    for entry in contacts.value:
        contact = _contact(entry, content, name, problems, today)
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


def _contact(entry: Y, content: Content, file: str, problems: list[Problem],
             today: dt.date) -> Contact | None:
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
    langs = content.languages
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


def _check_topics_used(content: Content, problems: list[Problem]) -> None:
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
