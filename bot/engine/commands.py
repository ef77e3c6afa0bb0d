"""The commands that work from every node, in German and English, with or without a slash;
their words are in `bot.flows.words`, where the checker finds them too."""

from __future__ import annotations

from enum import Enum

from bot.flows.words import COMMAND_WORDS, LANGUAGE_WORDS, normalize


class Command(Enum):
    START = "start"
    HELP = "help"
    BACK = "back"
    RESTART = "restart"
    EMERGENCY = "emergency"
    LANGUAGE = "language"
    STOP = "stop"
    FORGET = "forget"
    STATS = "stats"
    REMINDERS = "reminders"


STOP_ARGS = frozenset({"stop", "stopp", "aus", "off", "beenden", "end", "löschen", "delete",
                       "cancel", "keine", "none"})
"""After "erinnerungen"/"reminders": end them all ("erinnerungen stopp", "reminders off")."""

DONE_WORDS = frozenset({"fertig", "done", "weiter", "continue", "next", "ok"})
PRINT_WORDS = frozenset({"drucken", "ausdrucken", "print", "pdf", "dokument", "document"})
SKIP_WORDS = frozenset({"überspringen", "skip", "-", "keine angabe", "pass"})

_NORMALIZED_COMMANDS = {normalize(w): Command(c) for w, c in COMMAND_WORDS.items()}
_NORMALIZED_LANGUAGES = {normalize(w): lang for w, lang in LANGUAGE_WORDS.items()}
_NORMALIZED_DONE = {normalize(w) for w in DONE_WORDS}
_NORMALIZED_PRINT = {normalize(w) for w in PRINT_WORDS}
_NORMALIZED_STOP = {normalize(w) for w in STOP_ARGS}
_NORMALIZED_SKIP = {normalize(w) for w in SKIP_WORDS}


def parse_command(text: str) -> tuple[Command, str | None] | None:
    """(command, argument) when the whole message is a command, else None. `"/language en"`,
    `"english"` and `"Sprache"` are language commands; digits alone (an option) are none."""
    if text.isdigit():
        return None
    words = normalize(text.strip().lstrip("/")).split(" ")
    if not words or not words[0] or len(words) > 2:
        return None
    head = words[0].lstrip("/")
    if head in _NORMALIZED_LANGUAGES and len(words) == 1:
        return Command.LANGUAGE, _NORMALIZED_LANGUAGES[head]
    command = _NORMALIZED_COMMANDS.get(head)
    if command is None:
        return None
    if len(words) == 2:
        arg = words[1]
        if command is Command.LANGUAGE:
            return Command.LANGUAGE, _NORMALIZED_LANGUAGES.get(arg, arg)
        if command is Command.REMINDERS and arg in _NORMALIZED_STOP:
            return Command.REMINDERS, "stop"
        if command is Command.STOP and _NORMALIZED_COMMANDS.get(arg) is Command.REMINDERS:
            return Command.REMINDERS, "stop"  # "stopp erinnerungen", "stop reminders"
        return None
    return command, None


def is_done(text: str) -> bool:
    return not text.isdigit() and normalize(text) in _NORMALIZED_DONE


def is_print(text: str) -> bool:
    """At a checklist: the user wants it as a document, with their ticks."""
    return not text.isdigit() and normalize(text) in _NORMALIZED_PRINT


def is_skip(text: str) -> bool:
    return normalize(text) in _NORMALIZED_SKIP
