"""The seven situations of issue #24, walked through the shipped employee flow in German and
English: each gets its own guidance (deadline dates, contacts), and no Strafantrag deadline is
computed where the offence needs none. NOW is Wednesday 25.11.2026; "heute" is the day of the
incident, so a Strafantrag (§ 77b StGB) ends on 25.02.2027 and an AGG claim (§ 15 (4)) on
25.01.2027."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.engine.conversation import Contacts, Document, Ended, Picked, Question, Said, Say, Start
from bot.engine.turn import step
from bot.flows.model import Ask, Bundle, Input

from .helpers import NOW

STRAFANTRAG = {"de": "25.02.2027", "en": "25 February 2027"}
AGG_CLAIM = {"de": "25.01.2027", "en": "25 January 2027"}
NOT_LEGAL_ADVICE = {"de": "keine Rechtsberatung", "en": "not legal advice"}

# The answers a person gives unless a situation says otherwise: not in danger, it happened to
# me, not hurt, it happened today, the supervisor knows, no protocol, explain the police.
USUAL = {"safety": "no", "role": "self", "injured": "no", "incident_date": "heute",
         "protocol_offer": "no", "supervisor_knows": "yes", "burden": "no",
         "police_offer": "yes", "online_where": "elsewhere", "offer": "no"}


@dataclass
class Walk:
    """Everything a conversation showed, in order."""

    text: str = ""
    cards: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    slots: dict[str, object] = field(default_factory=dict)


def walk(bundle: Bundle, lang: str, **answers: object) -> Walk:
    """Answer each question as `answers` (by node id, or by slot for free text) or USUAL say,
    a free answer not named there with "überspringen", until the conversation ends."""
    given = {**USUAL, **answers}
    seen = Walk()
    turn = step(bundle, None, Start(lang, "employee"), NOW)
    for _ in range(120):
        for output in turn.outputs:
            if isinstance(output, (Say, Question)):
                seen.text += output.text + "\n"
            elif isinstance(output, Contacts):
                seen.cards += [card.id for card in output.cards]
                seen.text += "".join(f"{c.name} {c.note or ''} {c.phone or ''}\n"
                                     for c in output.cards)
            elif isinstance(output, Document):
                seen.documents.append(output)
        if turn.state is None:
            assert isinstance(turn.outputs[-1], Ended)
            return seen
        state = turn.state
        seen.slots = dict(state.slots)
        here = bundle.flows[state.here.flow].nodes[state.here.node]
        seen.nodes.append(state.here.node)
        if isinstance(here, Ask):
            want = given.get(here.id) or given.get(here.slot)
            ids = [c.id for c in here.choices]
            if here.multiple:
                picks = [str(p) for p in want] if isinstance(want, list) else [ids[-1]]
                event: Said | Picked = Said(", ".join(str(ids.index(p) + 1) for p in picks))
            else:
                pick = want if want in ids else next((i for i in ("no", "none") if i in ids),
                                                     ids[0])
                event = Picked(state.here.flow, here.id, str(pick))
        else:
            assert isinstance(here, Input), here
            answer = given.get(here.slot) or given.get(here.id)
            skip = "überspringen" if lang == "de" else "skip"
            event = Said(str(answer) if answer else skip)
        turn = step(bundle, state, event, NOW)
    raise AssertionError(f"the conversation did not end: {seen.nodes[-5:]}")


LANGS = pytest.mark.parametrize("lang", ["de", "en"])


# ── 1. Sexual harassment ─────────────────────────────────────────────────────────────────

@LANGS
def test_sexual_harassment_by_a_citizen_needs_the_persons_own_strafantrag_in_three_months(
        shipped: Bundle, lang: str) -> None:
    seen = walk(shipped, lang, kind=["sexual_harassment"], channel="in_person")
    assert "§ 184i" in seen.text and STRAFANTRAG[lang] in seen.text
    only_you = {"de": "können nur Sie selbst stellen", "en": "only you can file"}
    assert only_you[lang] in seen.text
    assert "§ 3 Abs. 4 AGG" in seen.text or "§ 3 (4) AGG" in seen.text
    assert "§ 12 AGG" in seen.text and "§ 15 HGlG" in seen.text
    assert "equality_officer" in seen.cards
    assert "§ 194" not in seen.text  # the superior cannot file under § 184i
    assert "response_hessen" not in seen.cards  # the racism contacts are not for this
    assert NOT_LEGAL_ADVICE[lang] in seen.text


@LANGS
def test_sexual_harassment_by_a_colleague_also_gets_the_agg_claim_date(shipped: Bundle,
                                                                      lang: str) -> None:
    seen = walk(shipped, lang, kind=["sexual_harassment"], channel="internal")
    assert AGG_CLAIM[lang] in seen.text and STRAFANTRAG[lang] in seen.text
    assert "equality_officer" in seen.cards


# ── 2. Internal incidents ───────────────────────────────────────────────────────────────

@LANGS
def test_a_racist_joke_by_a_colleague_leads_to_the_complaint_office_and_the_agg_deadline(
        shipped: Bundle, lang: str) -> None:
    seen = walk(shipped, lang, kind=["hostile_remark"], channel="internal")
    assert "§ 13" in seen.text and "§ 16 AGG" in seen.text
    assert AGG_CLAIM[lang] in seen.text and "§ 15 AGG" in seen.text
    assert {"agg_complaints_office", "staff_council", "antidiscrimination_office"} <= set(
        seen.cards)
    assert "burden" in seen.nodes  # how the person is doing is asked here too
    assert "equality_officer" not in seen.cards  # her remit is sex, not racism (§ 17 HGlG)


@LANGS
def test_mobbing_that_weighs_on_someone_is_not_sold_as_a_work_accident(shipped: Bundle,
                                                                       lang: str) -> None:
    seen = walk(shipped, lang, kind=["discrimination"], channel="internal", burden="yes")
    not_an_accident = {"de": "gilt in der Regel nicht als Arbeitsunfall",
                       "en": "does not usually count as an accident at work"}
    assert not_an_accident[lang] in seen.text
    assert "company_doctor" in seen.cards and "unfallkasse_hessen" not in seen.cards
    assert AGG_CLAIM[lang] in seen.text


@LANGS
def test_without_a_date_the_agg_deadline_is_explained_not_computed(shipped: Bundle,
                                                                   lang: str) -> None:
    seen = walk(shipped, lang, kind=["discrimination"], channel="internal", incident_date="")
    general = {"de": "an dem Sie von der Benachteiligung erfahren haben",
               "en": "of the day you learned of the discrimination"}
    assert general[lang] in seen.text and "agg_deadline" not in seen.slots


# ── 3. Repeated incidents: the diary ────────────────────────────────────────────────────

@LANGS
def test_a_diary_entry_is_handed_back_as_a_document_and_not_kept(shipped: Bundle,
                                                                 lang: str) -> None:
    seen = walk(shipped, lang, kind=["insult"], channel="phone", protocol_offer="diary",
                diary_what="Er rief wieder an und nannte mich eine Schlampe.",
                diary_health="Ich schlafe schlecht.")
    entry = {"de": "Vorfallstagebuch – Eintrag", "en": "Incident diary – entry"}
    assert [d.title for d in seen.documents] == [entry[lang]]
    fields = dict(seen.documents[0].fields)
    assert "Er rief wieder an und nannte mich eine Schlampe." in fields.values()
    assert "Ich schlafe schlecht." in fields.values()
    assert "diary_what" not in seen.slots and "diary_health" not in seen.slots
    days_without = {"de": "Tage ohne Vorfall", "en": "days without an incident"}
    assert days_without[lang] in seen.text


@LANGS
def test_something_that_keeps_happening_recommends_the_diary_first(shipped: Bundle,
                                                                   lang: str) -> None:
    first = {"de": "Seit Wochen ruft mich jemand immer wieder anonym an und beschimpft mich",
             "en": "For weeks someone keeps calling me and insulting me"}
    turn = step(shipped, None, Said(first[lang], lang), NOW)
    state = turn.state
    for answer in ({"de": "nein", "en": "no"}[lang], {"de": "ja", "en": "yes"}[lang],
                   {"de": "nein", "en": "no"}[lang], {"de": "heute", "en": "today"}[lang]):
        assert state is not None
        turn = step(shipped, state, Said(answer), NOW)
        state = turn.state
    assert state is not None and state.slots.get("repeated") == "yes"
    said = "\n".join(o.text for o in turn.outputs if isinstance(o, Say))
    diary = {"de": "Vorfallstagebuch", "en": "incident diary"}
    assert diary[lang] in said and state.here.node == "protocol_offer"


# ── 4. Stalking and doxxing ─────────────────────────────────────────────────────────────

@LANGS
def test_stalking_needs_no_strafantrag_and_leads_to_the_auskunftssperre(shipped: Bundle,
                                                                         lang: str) -> None:
    seen = walk(shipped, lang, kind=["stalking"], channel="outdoor")
    assert "§ 238" in seen.text and "§ 126a" in seen.text
    without = {"de": "ohne Strafantrag", "en": "without a Strafantrag"}
    assert without[lang] in seen.text
    assert "strafantrag_deadline" not in seen.slots and STRAFANTRAG[lang] not in seen.text
    assert "§ 51" in seen.text and "2025" in seen.text
    employer = {"de": "Dienststelle bitten", "en": "ask your employer"}
    assert employer[lang] in seen.text


# ── 5. Hate on the city's own channels ──────────────────────────────────────────────────

@LANGS
def test_comments_under_the_citys_posts_go_to_its_social_media_team_under_the_netiquette(
        shipped: Bundle, lang: str) -> None:
    seen = walk(shipped, lang, kind=["insult"], channel="online", online_where="city_account")
    assert "Netiquette" in seen.text or "netiquette" in seen.text
    assert {"social_media_team", "meldestelle_respect", "hateaid", "beratung_bei_hass"} <= set(
        seen.cards)
    assert "Trusted Flagger" in seen.text or "trusted flagger" in seen.text
    assert "0611" not in seen.text and "hessengegenhetze" not in seen.text


@LANGS
def test_the_hessian_office_is_shown_with_its_limits_and_without_its_old_number(
        shipped: Bundle, lang: str) -> None:
    seen = walk(shipped, lang, kind=["threat"], channel="online")
    assert "beratung_bei_hass" in seen.cards and "hessen_gegen_hetze" not in seen.cards
    hessen = {"de": "Bezug zu Hessen", "en": "link to Hessen"}
    assert hessen[lang] in seen.text
    assert "0611" not in seen.text and "mail@hessengegenhetze.de" not in seen.text


# ── 6. Injuries ─────────────────────────────────────────────────────────────────────────

@LANGS
def test_an_injury_leads_to_the_d_arzt_and_a_work_accident_on_every_doctors_file(
        shipped: Bundle, lang: str) -> None:
    seen = walk(shipped, lang, injured="yes", kind=["physical_attack"], channel="in_person",
                accident_more="employee")
    assert "D-Arzt" in seen.text
    work_accident = {"de": "dass es ein Arbeitsunfall war", "en": "it was an accident at work"}
    clothes = {"de": "Kleidung", "en": "clothes"}
    week = {"de": "länger als eine Woche", "en": "more than a week"}
    assert work_accident[lang] in seen.text and clothes[lang] in seen.text
    assert week[lang] in seen.text
    assert "unfallkasse_hessen" in seen.cards and "rescue_112" in seen.cards
    assert STRAFANTRAG[lang] in seen.text and "§ 230" in seen.text  # the superior may file


# ── 7. Swastikas ────────────────────────────────────────────────────────────────────────

@LANGS
def test_a_swastika_alone_is_prosecuted_ex_officio_without_a_deadline(shipped: Bundle,
                                                                      lang: str) -> None:
    seen = walk(shipped, lang, kind=["extremist_symbol"], channel="outdoor")
    assert "§ 86a" in seen.text and "strafantrag_deadline" not in seen.slots
    assert STRAFANTRAG[lang] not in seen.text


@LANGS
def test_a_swastika_sprayed_on_city_property_the_city_files_for_the_damage(shipped: Bundle,
                                                                           lang: str) -> None:
    seen = walk(shipped, lang, kind=["property_damage", "extremist_symbol"], channel="outdoor")
    assert "§ 86a" in seen.text and STRAFANTRAG[lang] in seen.text
    city = {"de": "von der Stadt", "en": "from the city"}
    assert city[lang] in seen.text


# ── The Strafantrag deadline only where an offence may need one ─────────────────────────

@LANGS
def test_a_threat_says_that_the_need_for_a_strafantrag_depends_on_the_case(shipped: Bundle,
                                                                            lang: str) -> None:
    seen = walk(shipped, lang, kind=["threat"], channel="phone")
    depends = {"de": "hängt hier vom Fall ab", "en": "depends on the case here"}
    assert depends[lang] in seen.text and STRAFANTRAG[lang] in seen.text
    murder = {"de": "Mord", "en": "murder"}
    assert murder[lang] in seen.text


@LANGS
def test_an_insult_gets_the_date_and_the_superiors_right(shipped: Bundle, lang: str) -> None:
    seen = walk(shipped, lang, kind=["insult"], channel="in_person")
    assert STRAFANTRAG[lang] in seen.text
    assert "§ 194" in seen.text


@LANGS
@pytest.mark.parametrize("before", [[], ["1"], ["2", "1"]], ids=["safety", "safe_now", "injured"])
def test_an_unmatched_answer_at_a_safety_question_shows_110_first(
        shipped: Bundle, lang: str, before: list[str]) -> None:
    """At "Sind Sie gerade in Gefahr?", "Schreiben Sie mir, wenn Sie in Sicherheit sind" and
    "Sind Sie verletzt?" an answer that fits none of the choices is met with 110 first."""
    turn = step(shipped, None, Start(lang, "employee"), NOW)
    for answer in [*before, "hmm"]:
        assert turn.state is not None
        turn = step(shipped, turn.state, Said(answer), NOW)
    said = "\n".join(o.text for o in turn.outputs if isinstance(o, (Say, Question)))
    assert "110" in said.split("\n")[0]
