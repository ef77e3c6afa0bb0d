"""Outputs as JSON for the web page: plain data, never HTML. The page sets every string with
`textContent`, so nothing typed can become markup; links are built from checked parts only."""

from __future__ import annotations

from typing import Any

from bot.channels.plaintext import tel_uri
from bot.engine.conversation import ChecklistView, Contacts, Ended, Output, Question, Say

MESSAGES: dict[str, dict[str, str]] = {
    "de": {
        "refused": "Diese Anfrage kam nicht von der Lotse-Seite und wurde abgelehnt. "
                   "Bitte laden Sie die Seite neu.",
        "bad_request": "Das konnte ich nicht lesen. Bitte laden Sie die Seite neu.",
        "failed": "Etwas ist schiefgegangen. Bitte versuchen Sie es noch einmal. "
                  "Im Notfall rufen Sie 110 (Polizei) oder 112 (Rettungsdienst).",
        "gone": "Dieser Link gilt nicht mehr: Ein Dokument kann nur einmal und nur kurz nach "
                "dem Erstellen heruntergeladen werden. Schreiben Sie „drucken“ an einer "
                "Checkliste, um sie neu zu erstellen.",
    },
    "en": {
        "refused": "This request did not come from the Lotse page and was refused. "
                   "Please reload the page.",
        "bad_request": "I could not read that. Please reload the page.",
        "failed": "Something went wrong. Please try again. "
                  "In an emergency call 110 (police) or 112 (ambulance).",
        "gone": "This link is no longer valid: a document can be downloaded once, and only "
                "shortly after it was made. At a checklist, write “print” to make it again.",
    },
}
"""The channel's own words, for answers that do not come from the engine."""


def message(key: str, lang: str | None) -> str:
    return MESSAGES.get(lang or "", MESSAGES["de"])[key]


def output_json(output: Output) -> dict[str, Any] | None:
    """One output as plain data; None for what the channel handles itself (documents)."""
    if isinstance(output, Say):
        return {"type": "say", "text": output.text}
    if isinstance(output, Question):
        return {
            "type": "question", "text": output.text, "flow": output.flow, "node": output.node,
            "options": [{"number": o.number, "id": o.id, "label": o.label}
                        for o in output.options],
            "multiple": output.multiple, "kind": output.kind, "hint": output.hint,
            "skip": output.optional,
        }
    if isinstance(output, Contacts):
        return contacts_json(output)
    if isinstance(output, ChecklistView):
        return {
            "type": "checklist", "title": output.title, "progress": output.progress,
            "hint": output.hint,
            "items": [{"number": t.number, "text": t.text, "done": t.done}
                      for t in output.items],
        }
    if isinstance(output, Ended):
        return {"type": "ended", "erased": output.erased}
    return None


def contacts_json(contacts: Contacts) -> dict[str, Any]:
    labels = contacts.labels
    cards = []
    for card in contacts.cards:
        cards.append({
            "name": card.name,
            "phone": card.phone, "tel": tel_uri(card.phone) if card.phone else None,
            # The content loader lets only https:// addresses and plain e-mail addresses in.
            "web": card.web, "href": card.web,
            "email": card.email, "mailto": f"mailto:{card.email}" if card.email else None,
            "hours": card.hours, "note": card.note, "checked": card.checked,
        })
    return {"type": "contacts", "cards": cards,
            "labels": {"phone": labels.phone, "web": labels.web, "email": labels.email,
                       "hours": labels.hours, "checked": labels.checked}}
