"""Documents a user keeps — a memory protocol above all — as plain text and as PDF.

A channel gets a neutral `Document` from the engine and hands the user both files; Lotse keeps
no copy. A protocol may end up in a criminal complaint months later, so each file says when it
was made and carries a fingerprint that shows whether its text was changed since.

What the fingerprint covers
---------------------------
The SHA-256, in hex, of the *canonical text* encoded as UTF-8 (`text.canonical`, `protocol_text`):

    <title>
    <"Erstellt am …" / "Created on …" with date, time and UTC offset>
    <empty line>
    <field label>:            (no colon added when the label ends in : ? ! .)
      <answer, each line indented by two spaces>
    <empty line between fields>

canonicalised: Unicode NFC, LF line breaks, tabs expanded, control characters dropped, trailing
spaces and leading/trailing empty lines removed. Skipped questions are not in it.

The .txt file is exactly that text, an empty line, a line of 64 hyphens, the fingerprint (eight
groups of eight hex digits) and the note on keeping it safe. Anyone can check it without Lotse:
hash the canonical text above the hyphens. Editors that add a BOM, CRLF line ends or trailing
spaces do not break the check; any other change to a character does.

The PDF shows the same words (the hyphen line drawn as a rule) and carries the .txt file inside
as an attachment (`<file>.txt`). `lotse verify` checks the attachment like a .txt file, and then
that the pages' extracted text equals the attachment's text — compared with all whitespace
removed, because PDF text extraction breaks lines and spaces its own way, and with each page's
footer ("title · page n of m") taken off. Characters the embedded font cannot draw are compared
as the replacement character the PDF prints for them (`pdf.printable`). So changing a word on
a page, in the attachment, or the printed fingerprint is each a mismatch; only whitespace
edits on the pages of a PDF go unnoticed.

A fingerprint shows a change, not who made the document: whoever edits the text can print a
new fingerprint too. It is worth as much as a copy of it kept elsewhere (noted down, sent to
a lawyer, handed to the police with the complaint) — which is what the note in every document
asks for.
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
