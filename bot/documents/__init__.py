"""Documents a user keeps — a memory protocol above all — as plain text and as PDF.

Lotse keeps no copy. A protocol may end up in a criminal complaint months later, so each file
says when it was made and carries a fingerprint that shows whether its text was changed since:
the SHA-256, in hex, of this canonical text as UTF-8 (`protocol_text`):

    <title>
    <"Erstellt am …" / "Created on …" with date, time and UTC offset>
    <empty line>
    <field label>:            (no colon added when the label ends in : ? ! .)
      <answer, each line indented by two spaces>
    <empty line between fields>

in NFC, with LF line breaks, tabs expanded, control characters, trailing spaces and outer empty
lines dropped (`canonical`); skipped questions are not in it. The .txt file is that text, an
empty line, 64 hyphens, the fingerprint and a note on keeping it safe: anyone can check it
without Lotse, and an editor's BOM, CRLF or trailing spaces do not break the check.

The PDF shows the same words and carries the .txt file as an attachment. `lotse verify` checks
the attachment, then that the pages' text equals it, compared without whitespace (PDF text
extraction breaks lines its own way) and page footers, with characters the font lacks as
U+FFFD (`pdf.printable`). Only whitespace edits on a PDF's pages go unnoticed.

A fingerprint shows a change, not who made the document: it is worth as much as a copy of it
kept elsewhere, which is what the note in every document asks for.
"""

from __future__ import annotations

from bot.documents.pdf import document_pdf
from bot.documents.text import canonical, document_text, fingerprint, protocol_text
from bot.documents.verify import Unreadable, Verdict, verify_bytes, verify_file

__all__ = [
    "Unreadable",
    "Verdict",
    "canonical",
    "document_pdf",
    "document_text",
    "fingerprint",
    "protocol_text",
    "verify_bytes",
    "verify_file",
]
