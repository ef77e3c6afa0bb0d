"""The few fixed words Lotse prints on its documents, in German and English.

They live here, not in content/, only until the content files get a place for them
(`system.document.*`); the keys are named so that they can move there unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

LABELS: Mapping[str, Mapping[str, str]] = {
    "de": {
        "created": "Erstellt am {date} um {time} Uhr ({zone})",
        "fingerprint": "Fingerabdruck (SHA-256) des Textes über der Linie:",
        "keep_safe": (
            "Bewahren Sie diese Datei an einem sicheren Ort auf, zum Beispiel ausgedruckt oder "
            "auf einem USB-Stick, und notieren Sie den Fingerabdruck getrennt davon. Ändern Sie "
            "diese Fassung nicht: Was Ihnen später noch einfällt, schreiben Sie als Nachtrag mit "
            "Datum in ein neues Dokument. So bleibt der Fingerabdruck gültig; prüfen lässt er "
            "sich mit „lotse verify DATEI“."),
        "page": "Seite {page} von {pages}",
        "contacts": "Kontakte",
        "deadline": "Frist: {period} ab dem {blank} – endet am {blank}",
        "month": "{n} Monat",
        "months": "{n} Monate",
        "as_of": "Stand: {date}",
        "not_done": "offen",
        "done": "erledigt",
    },
    "en": {
        "created": "Created on {date} at {time} ({zone})",
        "fingerprint": "SHA-256 fingerprint of the text above the line:",
        "keep_safe": (
            "Keep this file in a safe place, for example printed out or on a USB stick, and note "
            "the fingerprint down somewhere else. Do not change this version: whatever you "
            "remember later, write it as a dated addition in a new document. That way the "
            "fingerprint stays valid; it can be checked with “lotse verify FILE”."),
        "page": "Page {page} of {pages}",
        "contacts": "Contacts",
        "deadline": "Deadline: {period} from {blank} – ends on {blank}",
        "month": "{n} month",
        "months": "{n} months",
        "as_of": "As of {date}",
        "not_done": "open",
        "done": "done",
    },
}


def labels(lang: str) -> Mapping[str, str]:
    """The labels of `lang`, or the English ones for a language Lotse does not print in yet."""
    return LABELS.get(lang, LABELS["en"])
