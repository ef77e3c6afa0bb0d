"""The supervisor companion on Matrix (issue 25, item 6): against a real Synapse, answers by
number and by words, "Mehr dazu", and "drucken" as two files in the direct message."""

from __future__ import annotations

from pathlib import Path

from bot.flows.model import Bundle

from .helpers import Q_DANGER, Q_WHO
from .synapse import Synapse
from .test_matrix import Seen, bot_settings, employee, new_service, running, synapse

__all__ = ["synapse"]  # the homeserver fixture, shared with tests/test_matrix.py


async def test_the_companion_in_a_direct_message(
        shipped: Bundle, tmp_path: Path, synapse: Synapse) -> None:
    bot = synapse.register()
    async with running(new_service(shipped, tmp_path), bot_settings(synapse, bot), tmp_path), \
            employee(synapse, tmp_path / "anna") as anna:
        await anna.open_dm(bot.user_id, False)
        await anna.answer(Q_DANGER, "Nein")
        await anna.answer(Q_WHO, "2")  # a supervisor, by number
        await anna.answer("Ist die Person gerade in Gefahr?", "nein")
        await anna.write("heute", "War der Vorfall an diesem Tag?")
        await anna.send("1")
        await anna.answer("Was ist passiert?", "1, 3")  # an insult and an attack
        await anna.answer("arbeitsunfähig", "2")
        first = await anna.answer("Punkt 1 von 14: Erste Betreuung", "erledigt")
        assert "1) Erledigt" in first.body and "3) Trifft nicht zu" in first.body
        assert "Fällig: " in first.body
        await anna.answer("Punkt 2 von 14", "mehr dazu")
        await anna.said("Ruhiger Ort, genug Zeit")
        await anna.send("drucken")
        files: list[Seen] = await anna.wait_for(
            lambda: len(f := [s for s in anna.seen if s.file is not None]) >= 2 and f)
    pdf, txt = sorted(files, key=lambda s: s.body)
    assert pdf.body.startswith("checkliste-") and pdf.file is not None
    assert pdf.file.startswith(b"%PDF")
    assert txt.file is not None and "Erste Betreuung" in txt.file.decode()
