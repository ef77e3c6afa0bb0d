"""`lotse verify`: is this protocol, .txt or .pdf, still the text it was made with?

A .txt file must hash to the fingerprint printed below its rule; a PDF's embedded .txt file
must pass that check and its pages must show exactly that file's words (see bot.documents).
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bot.documents.labels import page_labels
from bot.documents.pdf import page_footer, printable
from bot.documents.text import FINGERPRINT, canonical, fingerprint, split_text, without_rule

MAX_BYTES = 50 * 1024 * 1024
_SPACE = re.compile(r"\s+")


class Unreadable(Exception):
    """The file cannot be checked at all: unreadable, or not a document Lotse made."""


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    fingerprint: str
    """The fingerprint printed in the document."""
    reason: str = ""
    """Why the check failed, in words for the person who runs it."""


def verify_file(path: Path) -> Verdict:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as err:
        raise Unreadable(f"cannot read the file: {err.strerror or err}") from err
    if len(data) > MAX_BYTES:
        raise Unreadable("the file is too large to be a Lotse document")
    return verify_bytes(data)


def verify_bytes(data: bytes) -> Verdict:
    if data.lstrip()[:5] == b"%PDF-":
        return verify_pdf(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Unreadable("neither a PDF nor a UTF-8 text file") from err
    return verify_text(text)


def verify_text(text: str) -> Verdict:
    parts = split_text(text)
    if parts is None:
        raise Unreadable("no Lotse fingerprint found in this file")
    if fingerprint(parts.body) != parts.printed:
        return Verdict(False, parts.printed, "the text was changed after the document was made")
    return Verdict(True, parts.printed)


def verify_pdf(data: bytes) -> Verdict:
    pages, attachments = _read_pdf(data)
    embedded = [blob for name, blobs in attachments.items() if name.lower().endswith(".txt")
                for blob in blobs]
    if len(embedded) != 1:
        printed = _printed_in(pages)
        if printed is None:
            raise Unreadable("no Lotse fingerprint found in this PDF")
        return Verdict(False, printed, "the PDF no longer carries exactly one embedded text")
    try:
        text = embedded[0].decode("utf-8")
    except UnicodeDecodeError:
        return Verdict(False, _printed_in(pages) or "", "the embedded text was damaged")
    try:
        inner = verify_text(text)
    except Unreadable:
        return Verdict(False, _printed_in(pages) or "", "the embedded text was damaged")
    if not inner.ok:
        return Verdict(False, inner.fingerprint, "the embedded text was changed")
    title = canonical(text).split("\n", 1)[0]
    shown = _logical(_shown_text(pages, printable(title)))
    if shown != _logical(_squash(printable(without_rule(text)))):
        return Verdict(False, inner.fingerprint,
                       "the text on the pages differs from the text the fingerprint covers")
    return Verdict(True, inner.fingerprint)


def _read_pdf(data: bytes) -> tuple[list[str], dict[str, list[bytes]]]:
    from pypdf import PdfReader  # only a PDF check needs it

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)  # a damaged file gets our one message, not its warnings
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() for page in reader.pages]
        attachments = {name: list(blobs) for name, blobs in reader.attachments.items()}
    except Exception as err:  # a damaged or hostile PDF can fail anywhere inside pypdf
        raise Unreadable(f"cannot read this PDF ({type(err).__name__})") from err
    finally:
        pypdf_log.setLevel(level)
    return pages, attachments


def _shown_text(pages: list[str], title: str) -> str:
    """The pages' text without each page's footer ("title · page n of m")."""
    shown = []
    for number, text in enumerate(pages, start=1):
        squashed = _squash(text)
        for label in page_labels():
            foot = _squash(page_footer(title, label, number, len(pages)))
            if squashed.endswith(foot):
                squashed = squashed[:-len(foot)]
                break
        shown.append(squashed)
    return "".join(shown)


def _printed_in(pages: list[str]) -> str | None:
    found = FINGERPRINT.findall("\n".join(pages))
    return found[-1].replace(" ", "").lower() if found else None


def _logical(text: str) -> str:
    """Right-to-left runs (Arabic, Hebrew) come back from a page in visual order: compare
    them as sorted characters, and everything else exactly."""
    return _NOT_LTR.sub(lambda m: "".join(sorted(m.group(0))) if _has_rtl(m.group(0))
                        else m.group(0), text)


def _has_rtl(run: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in run)


_NOT_LTR = re.compile(r"[^A-Za-z\u00C0-\u024F]+")
"""Runs between Latin letters: where a right-to-left run and its neutrals may be reordered."""


def _squash(text: str) -> str:
    return _SPACE.sub("", text)
