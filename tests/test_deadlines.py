"""The § 77b StGB deadline, checked by hand against the calendar and Hessen's holidays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import dates
from bot.engine.deadlines import add_months, is_working_day, period_end
from bot.service.conversations import ConversationService
from bot.service.keys import KeyHasher
from storage import StateStore

from .helpers import Talk, bundle_of

D = dt.date


@pytest.mark.parametrize(("known", "deadline", "why"), [
    (D(2026, 11, 24), D(2027, 2, 24), "plain: same day number three months later (a Wednesday)"),
    (D(2026, 11, 30), D(2027, 3, 1), "February has no 30th: 28 Feb 2027, a Sunday, so Monday"),
    (D(2025, 11, 30), D(2026, 3, 2), "28 Feb 2026 is a Saturday: Monday 2 March"),
    (D(2026, 1, 3), D(2026, 4, 7), "3 April 2026 is Good Friday, 6 April Easter Monday"),
    (D(2026, 3, 4), D(2026, 6, 5), "4 June 2026 is Corpus Christi, a holiday in Hessen"),
    (D(2026, 7, 3), D(2026, 10, 5), "3 October 2026 (German Unity Day) is a Saturday"),
    (D(2027, 7, 3), D(2027, 10, 4), "3 October 2027 is a Sunday and the holiday"),
    (D(2026, 12, 31), D(2027, 3, 31), "a year boundary; 31 March 2027 is a Wednesday"),
])
def test_strafantrag_deadline(known: dt.date, deadline: dt.date, why: str) -> None:
    assert period_end(known, 3) == deadline, why


def test_saturday_end_moves_to_monday() -> None:
    assert D(2026, 2, 28).weekday() == 5
    assert period_end(D(2025, 11, 30), 3) == D(2026, 3, 2)


def test_month_arithmetic_and_working_days() -> None:
    assert add_months(D(2026, 11, 30), 3) == D(2027, 2, 28)
    assert add_months(D(2024, 11, 30), 3) == D(2025, 2, 28)
    assert add_months(D(2023, 11, 29), 3) == D(2024, 2, 29)  # a leap year
    assert not is_working_day(D(2026, 6, 4))  # Corpus Christi in Hessen
    assert is_working_day(D(2026, 6, 4), "DE-BE")  # … but not in Berlin
    assert not is_working_day(D(2026, 10, 31), "DE-HE")  # a Saturday


DEADLINE_FLOW = """
flow: police
version: 1
title: {de: Polizei, en: Police}
start: when
nodes:
  when:
    input: {de: Wann?, en: When?}
    type: date
    slot: known
    optional: true
    next: compute
  compute:
    deadline: {from: known, months: 3}
    slot: strafantrag_until
    next: tell
  tell:
    next:
      - if: {slot: strafantrag_until, answered: true}
        then: with_date
      - else: without_date
  with_date:
    say: {de: "Strafantrag bis zum {strafantrag_until}.", en: "File by {strafantrag_until}."}
    end: true
  without_date:
    say: {de: Drei Monate ab Kenntnis., en: Three months from knowing.}
    end: true
"""


def test_the_deadline_node_shows_the_computed_date_in_each_language(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, DEADLINE_FLOW)
    talk = Talk(bundle)
    talk.send("30.11.2025")
    assert "Strafantrag bis zum 02.03.2026." in talk.said
    talk = Talk(bundle, lang="en")
    talk.send("24.11.2026")
    assert "File by 24 February 2027." in talk.said


def test_without_a_date_the_flow_says_the_rule_instead(tmp_path: Path) -> None:
    talk = Talk(bundle_of(tmp_path, DEADLINE_FLOW))
    talk.send("überspringen")
    assert "Drei Monate ab Kenntnis." in talk.said


def test_a_new_service_has_looked_up_the_holidays_its_deadlines_will_need(tmp_path: Path
                                                                          ) -> None:
    """The first look imports `holidays`, a quarter of a second in which the event loop and
    every conversation on it would wait: the service does it before the first turn."""
    flow = DEADLINE_FLOW.replace("months: 3}", "months: 3, holidays: DE-BY}")
    bundle = bundle_of(tmp_path, flow)
    dates.holidays_of.cache_clear()
    store = StateStore(None)
    ConversationService(bundle, store, KeyHasher(b"k" * 32),
                        clock=lambda: dt.datetime(2031, 5, 6, 12, tzinfo=dt.UTC))
    store.close()
    before = dates.holidays_of.cache_info()
    assert is_working_day(D(2031, 8, 8), "DE-BY")
    assert not is_working_day(D(2032, 11, 1), "DE-BY")  # All Saints, a Monday, in Bavaria
    assert dates.holidays_of.cache_info().misses == before.misses
    assert is_working_day(D(2033, 8, 8), "DE-BY")  # a year no deadline from 2031 reaches
    assert dates.holidays_of.cache_info().misses == before.misses + 1
