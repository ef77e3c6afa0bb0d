"""Texts per language and the contact directory, read from `content/`. A municipality edits
these files without a programmer, so each rule has its own message: where, and what to write."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.flows.contacts import Directory, read_contacts
from bot.flows.model import Text
from bot.flows.problems import Problem
from bot.flows.texts import placeholders
from bot.flows.yaml_source import Y, display, load_yaml, yaml_files

LANGUAGE_DIR = re.compile(r"[a-z]{2}\Z")

_SYSTEM_KEYS = (
    "not_understood", "choose_hint", "choose_hint_typed", "choose_multiple_hint", "skip_hint",
    "invalid_date", "future_date", "ambiguous_date", "empty_answer", "too_long", "rate_limited",
    "internal_error",
    "help", "back_done", "back_nothing", "restarted", "emergency", "continue_after_emergency",
    "language_switched", "language_name", "language_words", "stopped", "forgotten", "resume",
    "flow_changed",
    "checklist_hint", "checklist_item_done", "checklist_item_open", "stale_button",
    "card.phone", "card.web", "card.email", "card.hours", "card.checked",
    "report_question", "report_yes", "report_no", "report_saved", "report_not_saved",
    "report_incident_month", "report_report_month", "stats_refused",
    "reminders_none", "reminders_stopped", "reminders_unavailable", "reminder_intro",
    "document.fingerprint", "document.keep_safe", "document.contacts", "document.not_done",
    "document.done", "web.documents_busy",
    "telegram.only_private", "telegram.send_selection", "telegram.choose_first",
    "telegram.menu.start", "telegram.menu.help", "telegram.menu.emergency", "telegram.menu.back",
    "telegram.menu.restart", "telegram.menu.language", "telegram.menu.stop",
    "telegram.menu.forget", "telegram.menu.reminders",
    "matrix.only_direct", "matrix.undecryptable", "matrix.text_only", "matrix.erased",
    "matrix.upload_failed", "console.paused", "chart.title", "chart.total", "chart.small",
    "understood.yes", "understood.no", "understood.yes_words", "understood.no_words",
    "understood.role_self", "understood.role_supervisor", "understood.injured_yes",
    "understood.injured_no", "understood.repeated_yes", "understood.repeated_no",
    "understood.address_known_yes", "understood.address_known_no", "reask", "reask_skip",
    "reask_moved_on", "reask_skip_words", "reask_skip_hint",
    "walk.done", "walk.later", "walk.na", "walk.more", "walk.open", "walk.done_words",
    "walk.later_words", "walk.na_words", "walk.more_words", "walk.open_words", "walk.jump_words",
    "walk.nothing_open", "walk.finish", "walk.print", "walk.status_na", "walk.weekdays",
)
SYSTEM_TEXTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(_SYSTEM_KEYS, frozenset()),
    "checklist_progress": frozenset({"done", "total"}),
    "document_ready": frozenset({"title"}),
    "reminders_set": frozenset({"items"}),
    "reminders_list": frozenset({"items"}),
    "document.created": frozenset({"date", "time", "zone"}),
    "document.page": frozenset({"page", "pages"}),
    "document.deadline": frozenset({"period", "blank"}),
    "document.month": frozenset({"n"}),
    "document.months": frozenset({"n"}),
    "document.as_of": frozenset({"date"}),
    "console.document_saved": frozenset({"pdf", "txt"}),
    "chart.note": frozenset({"threshold"}),
    "understood.line": frozenset({"items"}),
    "walk.position": frozenset({"n", "total", "item"}),
    "walk.due": frozenset({"date"}),
    "walk.why": frozenset({"text"}),
    "walk.open_title": frozenset({"open", "total"}),
    "walk.open_more": frozenset({"n"}),
    "walk.summary": frozenset({"done", "total", "na"}),
    "walk.summary_na": frozenset({"n"}),
    "walk.next_due": frozenset({"item", "date"}),
    "walk.next_open": frozenset({"item"}),
    "understood.today": frozenset({"date"}),
    "understood.yesterday": frozenset({"date"}),
}
"""Lotse's own texts, under `system.` in every language, with the parameters each may use;
`document.*` are printed on documents (`bot.documents.labels`), the others said in a chat."""


@dataclass(frozen=True, slots=True)
class TextSource:
    text: str
    file: str
    line: int
    col: int


@dataclass
class Content(Directory):
    """Texts and the contact directory as read, before the flows are checked against them."""

    languages: tuple[str, ...] = ()
    texts: dict[str, dict[str, TextSource]] = field(default_factory=dict)

    def system(self) -> dict[str, Text]:
        return {key: {lang: self.texts[lang][f"system.{key}"].text for lang in self.languages}
                for key in SYSTEM_TEXTS}


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
    read_contacts(folders, content, content.languages, problems, today)
    _check_languages_agree(content, problems)
    _check_system_texts(content, problems, folders)
    return content


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


MISSING_LISTED = 20
"""More texts of one file missing in a language than this are named in one problem."""


def _check_languages_agree(content: Content, problems: list[Problem]) -> None:
    every = set().union(*(set(t) for t in content.texts.values())) if content.texts else set()
    for lang in content.languages:
        texts = content.texts[lang]
        by_file: dict[str, list[tuple[str, TextSource]]] = {}
        for key in sorted(every - set(texts)):
            other = next(content.texts[o][key] for o in content.languages if key in
                         content.texts[o])
            by_file.setdefault(other.file, []).append((key, other))
        for file, absent in by_file.items():
            if len(absent) > MISSING_LISTED:  # a whole file: one line, not hundreds
                key, first = absent[0]
                names = ", ".join(f"'{k}'" for k, _ in absent[:3])
                problems.append(Problem(file, first.line, first.col,
                                        f"{len(absent)} texts of this file are missing in "
                                        f"language '{lang}' ({names}, …)",
                                        f"add them to content/{lang}/, or copy the file there "
                                        "and translate it"))
                continue
            for key, other in absent:
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
