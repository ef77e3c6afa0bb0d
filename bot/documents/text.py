"""A document as plain text: its canonical form, its fingerprint, the delivered .txt file,
whose layout `lotse verify` reads back (see bot.documents)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import textwrap
import unicodedata
from dataclasses import dataclass

from bot.dates import LOCAL, format_date
from bot.documents.labels import labels
from bot.engine.conversation import Document

RULE = "-" * 64
"""Ends the fingerprinted text in a .txt file; the last such line counts."""
WIDTH = 72
FINGERPRINT = re.compile(r"\b((?:[0-9a-f]{8} ?){7}[0-9a-f]{8})\b", re.IGNORECASE)
_END_PUNCTUATION = (":", "?", "!", ".")


def file_stem(document: Document) -> str:
    """The name both files share: file name and local time made ("…-20261125-113000")."""
    return f"{document.file}-{document.created.astimezone(LOCAL).strftime('%Y%m%d-%H%M%S')}"


def canonical(text: str) -> str:
    """The form a text is fingerprinted in, so that harmless copying does not break the check
    (see bot.documents). Idempotent: `canonical(canonical(t)) == canonical(t)`."""
    text = unicodedata.normalize("NFC", text.removeprefix("\ufeff"))
    lines = []
    for line in text.splitlines():
        line = "".join(ch for ch in line.expandtabs(4)
                       if unicodedata.category(ch) != "Cc")
        lines.append(line.rstrip())
    return "\n".join(lines).strip("\n")


def fingerprint(text: str) -> str:
    """SHA-256 of the canonical text as UTF-8, as 64 lower-case hex digits."""
    return hashlib.sha256(canonical(text).encode("utf-8")).hexdigest()


def grouped(digest: str) -> str:
    """Eight groups of eight: easier to compare by eye or read out on the phone."""
    return " ".join(digest[i:i + 8] for i in range(0, len(digest), 8))


def created_line(document: Document) -> str:
    local = document.created.astimezone(LOCAL)
    offset = local.utcoffset() or dt.timedelta()
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    zone = f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return labels(document.lang)["created"].format(
        date=format_date(local.date(), document.lang), time=local.strftime("%H:%M"), zone=zone)


def label_line(label: str) -> str:
    label = label.strip()
    return label if label.endswith(_END_PUNCTUATION) else f"{label}:"


def protocol_text(document: Document) -> str:
    """The canonical text of a document: what the fingerprint covers (see bot.documents)."""
    lines = [document.title, created_line(document), ""]
    for label, value in document.fields:
        lines.append(label_line(label))
        lines.extend(f"  {line}" if line.strip() else "" for line in value.splitlines())
        lines.append("")
    return canonical("\n".join(lines))


def footer_lines(digest: str, lang: str) -> list[str]:
    """What follows the rule: the fingerprint and how to keep the document safe."""
    words = labels(lang)
    return [words["fingerprint"], f"  {grouped(digest)}", "",
            *textwrap.wrap(words["keep_safe"], WIDTH, break_on_hyphens=False)]


def document_text(document: Document) -> str:
    """The delivered .txt file: the canonical text, the rule, the fingerprint and the note."""
    body = protocol_text(document)
    return "\n".join([body, "", RULE, *footer_lines(fingerprint(body), document.lang)]) + "\n"


@dataclass(frozen=True, slots=True)
class Parts:
    """A .txt document taken apart: the fingerprinted body and the fingerprint printed below."""

    body: str
    printed: str


def split_text(text: str) -> Parts | None:
    """The body above the last rule and the fingerprint below it; None when either is missing."""
    lines = text.removeprefix("\ufeff").splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip() == RULE]
    if not rules:
        return None
    found = FINGERPRINT.search("\n".join(lines[rules[-1] + 1:]))
    if found is None:
        return None
    return Parts("\n".join(lines[:rules[-1]]), found.group(1).replace(" ", "").lower())


def without_rule(text: str) -> str:
    """The .txt file as a PDF shows it: the rule is drawn as a line, not written as text."""
    lines = text.removeprefix("\ufeff").splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip() == RULE]
    if rules:
        del lines[rules[-1]]
    return "\n".join(lines)
