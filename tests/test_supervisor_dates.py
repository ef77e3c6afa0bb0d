"""The companion's due dates (issue 25, item 2), each a date with its weekday: counted from the
day the supervisor learned of the incident (and from the incident for the staff member's own
Strafantrag), with Hessen's public holidays where a day must be a working day."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.engine.conversation import Document, Question
from bot.flows.model import Bundle

from .helpers import Talk

WED_25_NOV = dt.datetime(2026, 11, 25, 10, 30, tzinfo=dt.UTC)


def case(bundle: Bundle, learned: str, kinds: str, incident: str | None = None,
         unfit: str = "1", now: dt.datetime = WED_25_NOV) -> Talk:
    """Nobody in danger; learned on `learned`; the incident that day or on `incident`;
    what happened (numbers of the kind question); unfit for more than three days or not."""
    talk = Talk(bundle, flow="supervisor", now=now)
    for answer in ("nein", learned, *(("2", incident) if incident else ("1",)), kinds, unfit):
        talk.send(answer)
    assert talk.node == "checklist", talk.outputs
    return talk


def dates(talk: Talk) -> dict[str, str | None]:
    assert talk.state is not None
    slots = talk.state.slots
    names = ("first_care_by", "accident_by", "superior_deadline", "staff_deadline", "talk_1_on",
             "talk_4_on")
    return {name: slots.get(name) for name in names}  # type: ignore[misc]


def screen(talk: Talk, number: int) -> str:
    talk.send(f"Punkt {number}")
    question = talk.question
    assert isinstance(question, Question)
    return question.text


def test_learned_on_a_friday(shipped: Bundle) -> None:
    talk = case(shipped, "20.11.2026", "1")  # a Friday; an insult
    assert dates(talk) == {
        "first_care_by": "2026-11-22",  # Sunday: 48 hours do not wait for Monday
        "accident_by": "2026-11-23",  # three days
        "superior_deadline": "2027-02-22",  # 20 Feb 2027 is a Saturday: the Monday after
        "staff_deadline": "2027-02-22",
        "talk_1_on": "2026-11-27",  # one week, a Friday
        "talk_4_on": "2026-12-18"}
    assert "Fällig: So 22.11.2026" in screen(talk, 1)
    assert "Fällig: Mo 22.02.2027" in screen(talk, 7)


def test_a_public_holiday_in_hesse_moves_a_deadline_and_a_talk(shipped: Bundle) -> None:
    later = dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.UTC)
    talk = case(shipped, "27.02.2027", "3", now=later)  # bodily harm
    # Three months end on Thu 27 May 2027, Corpus Christi, a holiday in Hesse (not everywhere).
    assert dates(talk)["superior_deadline"] == "2027-05-28"
    assert dates(talk)["talk_1_on"] == "2027-03-08"  # Sat 6 March: the Monday
    christmas = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
    talk = case(shipped, "18.12.2026", "2", now=christmas)  # a threat
    assert dates(talk)["talk_1_on"] == "2026-12-28"  # 25, 26 Dec holidays, 27 a Sunday
    talk = case(shipped, "18.12.2026", "2", now=christmas, unfit="2")
    assert "Fällig: Mo 28.12.2026" in screen(talk, 10)  # no Strafantrag items for a threat


def test_the_incident_months_before_the_supervisor_learned_of_it(shipped: Bundle) -> None:
    talk = case(shipped, "heute", "1", incident="3. August")
    # The person's own period runs from the incident, the superior's from learning of it.
    assert dates(talk)["staff_deadline"] == "2026-11-03"
    assert dates(talk)["superior_deadline"] == "2027-02-25"
    assert "Fällig: Di 03.11.2026" in screen(talk, 8)


def test_sexual_harassment_has_no_superiors_strafantrag(shipped: Bundle) -> None:
    talk = case(shipped, "heute", "4")
    assert dates(talk)["superior_deadline"] is None
    assert dates(talk)["staff_deadline"] == "2027-02-25"  # the person's own, § 184i Abs. 3
    talk.send("drucken")
    sheet = next(o for o in talk.outputs if isinstance(o, Document))
    lines = [line for line, _ in sheet.fields]
    assert "Ihr eigener Strafantrag" not in " ".join(lines)
    assert "Fristen der Person · Do 25.02.2027" in lines
    talk.send("was ist offen")
    # 14 open items (BEM too: unfit): one phone screen offers the five due first, then
    # "Drucken" and "Liste abschließen"; the others are reached by their number.
    titles = [o.label for o in talk.question.options]
    assert len(titles) == 5 + 2 and "Punkt" in talk.question.text
    assert titles[0] == "Erste Betreuung · Fr 27.11.2026"


@pytest.mark.parametrize("kinds", ["2", "5", "8"])  # a threat, stalking, damage to property
def test_no_strafantrag_dates_where_the_brief_gives_none(shipped: Bundle, kinds: str) -> None:
    talk = case(shipped, "heute", kinds, unfit="2")
    assert dates(talk)["superior_deadline"] is None and dates(talk)["staff_deadline"] is None
    assert dates(talk)["accident_by"] is None  # not unfit for more than three days
    talk.send("was ist offen")
    assert len(talk.question.options) == 5 + 2  # the five due first, print, finish


def test_bem_is_due_six_weeks_after_the_incident_only_for_someone_unfit(shipped: Bundle) -> None:
    talk = case(shipped, "20.11.2026", "3")  # bodily harm, unfit for more than three days
    assert talk.state is not None and talk.state.slots["bem_from"] == "2027-01-01"
    heading = "Betriebliches Eingliederungsmanagement (BEM)"
    shown = next(text for text in (screen(talk, n) for n in range(1, 16))
                 if text.split("\n")[0].endswith(heading))
    assert "Fällig: Fr 01.01.2027" in shown and "§ 167 Abs. 2 SGB IX" in shown
    talk = case(shipped, "20.11.2026", "3", unfit="2")  # not (yet) unfit: no BEM item
    assert talk.state is not None and "bem_from" not in talk.state.slots
    assert not any(screen(talk, n).split("\n")[0].endswith(heading) for n in range(1, 15))


def test_an_item_is_reached_by_its_number_from_the_open_items_too(shipped: Bundle) -> None:
    talk = case(shipped, "heute", "1")
    talk.send("was ist offen")
    assert "Punkt" in talk.question.text  # the screen says to write "Punkt" and a number
    talk.send("Punkt 2")
    assert talk.question.text.startswith("Punkt 2 von ")
