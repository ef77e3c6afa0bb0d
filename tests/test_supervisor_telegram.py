"""The supervisor companion on Telegram (issue 25, item 6): the real channel against the Bot API
stand-in. The three answers and "Mehr dazu" are buttons under each item, the dates can be
reminders (Telegram writes on its own), and "Drucken" sends the list as PDF and text."""

from __future__ import annotations

from pathlib import Path

from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage import StateStore
from storage.reminder_store import ReminderStore

from .botapi_standin import StandIn
from .helpers import Q_DANGER, Q_WHO, SECRET
from .test_telegram import ANNA, answer, running, said_after, tick_and_send, write


async def test_the_companion_by_buttons_with_reminders_and_the_printout(
        shipped: Bundle, tmp_path: Path, standin: StandIn) -> None:
    store = StateStore(tmp_path / "state.db")
    service = ConversationService(shipped, store, KeyHasher(SECRET),
                                  reminders=ReminderStore(store))
    async with running(service, standin):
        await standin.send_text(ANNA, "/start")
        await answer(standin, Q_DANGER, "Nein")
        await answer(standin, Q_WHO, "Ich bin Führungskraft")
        await answer(standin, "Ist die Person gerade in Gefahr?", "Ja")
        await standin.wait_for(said_after(standin, 0, "110"))
        await answer(standin, "Ist die Lage jetzt sicher?", "Ja, die Lage ist sicher")
        await write(standin, "heute", "War der Vorfall an diesem Tag?")
        await answer(standin, "War der Vorfall an diesem Tag?", "Ja, am selben Tag")
        await tick_and_send(standin, "Was ist passiert?", "Beleidigung oder Beschimpfung")
        await answer(standin, "arbeitsunfähig", "Ja")
        offer = await tick_and_send(standin, "an die Termine erinnern",
                                    "An die offenen Punkte, in einer Woche")
        assert "An die Unfallanzeige, am Tag vor der Frist" in str(offer.keyboard)
        await standin.wait_for(said_after(standin, 0, "ich erinnere Sie"))
        first = await answer(standin, "Punkt 1 von 15: Erste Betreuung", "Erledigt")
        labels = [b["text"] for row in first.keyboard or [] for b in row]
        assert labels[:4] == ["1. Erledigt", "2. Später", "3. Trifft nicht zu", "4. Mehr dazu"]
        assert "Fällig: " in first.text  # the date with its weekday
        since = standin.last_id()
        await answer(standin, "Punkt 2 von 15", "Mehr dazu")
        await standin.wait_for(said_after(standin, since, "Ruhiger Ort, genug Zeit"))
        await answer(standin, "Punkt 2 von 15", "Später")
        await answer(standin, "Punkt 3 von 15", "Trifft nicht zu")
        await answer(standin, "Punkt 4 von 15", "Was ist offen?")
        await answer(standin, "Noch offen: 13 von 15", "Drucken")
        documents = await standin.wait_for(
            lambda: len(standin.calls_to("sendDocument")) == 2 and standin.calls_to("sendDocument"))
        kinds = sorted(r.kind for r in service.reminders.of(  # type: ignore[union-attr]
            service.hasher(ConversationKey("telegram", str(ANNA)))))
    assert kinds == ["supervisor.open_items"]
    names = [call.files["document"][0] for call in documents]
    assert names[0].startswith("checkliste-") and names[0].endswith(".pdf")
    pdf, txt = (call.files["document"][1] for call in documents)
    assert pdf.startswith(b"%PDF")
    text = txt.decode("utf-8")
    assert "Erste Betreuung" in text and "erledigt" in text and "trifft nicht zu" in text
    assert "Unfallanzeige · " in text  # with its date
