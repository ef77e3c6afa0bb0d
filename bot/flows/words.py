"""Words as Lotse compares them, and the command words. Commands are fixed words, not content:
a person in distress must find "Notfall" working in every municipality's Lotse. They live below
the engine that obeys them because the checker refuses them as answers to a choice."""

from __future__ import annotations

import re

_COMMANDS = {
    "start": ("start",),
    "help": ("hilfe", "help"),
    "back": ("zurück", "back", "undo"),
    "restart": ("neustart", "restart"),
    "emergency": ("notfall", "notruf", "emergency", "sos"),
    "language": ("sprache", "language", "lang"),
    "stop": ("stopp", "stop", "ende"),
    "forget": ("vergessen", "forget"),
    "stats": ("statistik", "stats"),
    "reminders": ("erinnerungen", "erinnerung", "reminders", "reminder"),
}
"""Each command, as the value of its `bot.engine.commands.Command`, with its words."""
COMMAND_WORDS = {word: command for command, words in _COMMANDS.items() for word in words}
LANGUAGE_WORDS = {"deutsch": "de", "german": "de", "englisch": "en", "english": "en"}

_PUNCT = re.compile(r"[^\w\s/+-]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def fold(text: str) -> str:
    """Lower case, umlauts folded (zurück = zurueck, ß = ss), spaces collapsed; punctuation
    stays (a date needs its dots)."""
    return " ".join(text.casefold().translate(_UMLAUTS).split())


def normalize(text: str) -> str:
    """As `fold`, with punctuation dropped: how answers, cues and commands are compared."""
    folded = text.casefold().translate(_UMLAUTS)
    return _SPACE.sub(" ", _PUNCT.sub(" ", folded)).strip()


RESERVED = frozenset(normalize(w) for w in (*COMMAND_WORDS, *LANGUAGE_WORDS))
"""Words a choice may not use as label or synonym: they are commands everywhere."""
