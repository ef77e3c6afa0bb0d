"""A first sentence through the conversation service (#23, item 4 and 5): one confirmation,
then straight to the advice that fits what the person wrote; nothing reaches the report
unconfirmed; the reading survives a restart of the service while it waits. Real state and report
files, the shipped flows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.engine.conversation import Output, Question, Said, Say
from bot.flows.model import Bundle
from bot.service.conversations import ConversationService
from bot.service.keys import ConversationKey, KeyHasher
from storage.report_store import ReportStore
from storage.state_store import StateStore

SECRET = b"u" * 32
NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)  # a Monday
ANNA = ConversationKey("matrix", "@anna:example.org")


class Person:
    """One person writing to a service on a data folder, turn by turn."""

    def __init__(self, bundle: Bundle, folder: Path) -> None:
        self.bundle, self.folder = bundle, folder
        self.open()
        self.outputs: tuple[Output, ...] = ()

    def open(self) -> None:
        self.store = StateStore(self.folder / "state.db")
        self.reports = ReportStore(self.folder / "reports.db")
        self.service = ConversationService(self.bundle, self.store, KeyHasher(SECRET),
                                           clock=lambda: NOW, reports=self.reports)

    def close(self) -> None:
        self.store.close()
        self.reports.close()

    async def says(self, text: str, lang: str = "de") -> str:
        self.outputs = await self.service.handle(ANNA, Said(text, lang))
        return "\n".join(o.text for o in self.outputs if isinstance(o, (Say, Question)))

    @property
    def question(self) -> Question:
        return next(o for o in reversed(self.outputs) if isinstance(o, Question))


async def test_a_phone_threat_is_confirmed_once_and_leads_to_noting_the_number(
        shipped: Bundle, tmp_path: Path) -> None:
    anna = Person(shipped, tmp_path)
    first = await anna.says("Ein Anrufer hat mir gestern gedroht, er bringe mich um")
    assert "Sind Sie gerade in Gefahr?" in first
    line = await anna.says("nein")
    assert line.endswith("So habe ich Sie verstanden: Ihnen selbst passiert · Drohung · "
                         "Am Telefon · gestern (06.12.2026). Stimmt das?")
    assert [o.label for o in anna.question.options] == ["Ja, stimmt", "Nein, etwas korrigieren"]
    assert "Sind Sie verletzt?" in await anna.says("ja")
    advice = await anna.says("nein")
    assert "die Nummer, von der angerufen wurde" in advice  # phone: number, time, words
    assert "Was ist passiert?" not in advice and "Wann ist es passiert?" not in advice
    anna.close()


async def test_a_known_home_address_brings_the_auskunftssperre_without_asking_for_it(
        shipped: Bundle, tmp_path: Path) -> None:
    anna = Person(shipped, tmp_path)
    await anna.says("Ein Anrufer hat mir heute gedroht, er wisse, in welcher Straße ich wohne")
    line = await anna.says("nein")
    assert "die Person kennt Ihre Privatadresse" in line
    said = [await anna.says(answer) for answer in ("ja", "nein", "nein", "ja", "nein", "nein")]
    # not injured, no protocol now, supervisor knows, not burdened, no police explanation
    assert "Auskunftssperre" in said[-1]
    assert "Auskunftssperre" not in "\n".join(said[:-1])
    anna.close()


async def test_several_kinds_and_a_racist_motive_reach_the_report_only_as_confirmed(
        shipped: Bundle, tmp_path: Path) -> None:
    anna = Person(shipped, tmp_path)
    for answer in ("Hallo", "nein", "1", "nein"):
        await anna.says(answer)
    line = await anna.says(
        "Am Empfang hat mich ein Besucher angerempelt und rassistisch beleidigt")
    assert line.endswith("So habe ich Sie verstanden: Persönlich, am Schalter oder im Büro · "
                         "Rassistisch. Stimmt das?")
    anna.close()  # Lotse restarts while the line waits: nothing of it is lost
    anna.open()
    assert "Wann ist es passiert?" in await anna.says("ja")
    said = ""
    for answer in ("heute", "nein", "ja", "nein"):  # no protocol, supervisor knows, no police
        said += await anna.says(answer)
    assert "AGG" in said  # the racist motive: protection under the equal treatment act
    said = await anna.says("ja")  # an anonymous report: yes
    for _ in range(10):  # the report's own questions, the confirmed ones passed over
        if anna.question.node == "preview":
            break
        assert anna.question.node not in ("kind", "channel", "motive")
        said = await anna.says("1")
    assert "Körperlicher Angriff" in said and "Beleidigung" in said
    assert "Rassistisch" in said  # the confirmed motive is not asked again
    await anna.says("ja")
    (report,) = anna.reports.reports()
    answers = dict.fromkeys(report.answers)
    assert {("kind", "insult"), ("kind", "hostile_remark"), ("kind", "physical_attack"),
            ("channel", "in_person"), ("motive", "racist")} <= set(answers)
    anna.close()


async def test_no_to_the_line_keeps_nothing_of_the_reading_from_the_report(
        shipped: Bundle, tmp_path: Path) -> None:
    anna = Person(shipped, tmp_path)
    await anna.says("Ich wurde am Schalter rassistisch beleidigt")
    await anna.says("nein")
    assert "Schreiben Sie über etwas" in await anna.says("nein")  # "not right": the questions
    for answer in ("1", "nein"):
        await anna.says(answer)
    assert "Was ist passiert?" in anna.question.text
    anna.close()
