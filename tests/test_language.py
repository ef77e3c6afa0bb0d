"""Where the platform names no language, the first thing a person types decides it."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.engine.conversation import Output, Question, Said, Say, Start
from bot.engine.language import language_words, written_in
from bot.engine.turn import step
from bot.flows.model import Bundle

from .helpers import NOW, Q_DANGER

CORPUS = Path(__file__).parent / "corpus" / "utterances.yaml"
Q_DANGER_EN = "Are you in danger right now?"


def words(outputs: tuple[Output, ...]) -> str:
    return "\n".join(o.text for o in outputs if isinstance(o, (Say, Question)))


def test_every_first_message_of_the_corpus_is_read_in_its_language_or_left_undecided(
        shipped: Bundle) -> None:
    firsts = [m for m in yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["messages"]
              if "at" not in m]
    read = {m["text"]: written_in(shipped, m["text"]) for m in firsts}
    wrong = [m["text"] for m in firsts if read[m["text"]] not in (m["lang"], None)]
    undecided = [text for text, lang in read.items() if lang is None]
    assert wrong == []
    assert len(undecided) <= len(firsts) // 20, undecided  # at most 5 % stay as they are


def test_a_word_both_languages_list_tells_neither(shipped: Bundle) -> None:
    told = language_words(shipped)
    assert not told["de"] & told["en"]
    assert written_in(shipped, "in") is None  # German and English alike
    assert written_in(shipped, "12.3.") is None


def test_the_german_welcome_offers_english_in_one_word(shipped: Bundle) -> None:
    first = step(shipped, None, Start(), NOW)
    assert Q_DANGER in words(first.outputs)
    assert "english" in words(first.outputs)
    switched = step(shipped, first.state, Said("english"), NOW)
    assert Q_DANGER_EN in words(switched.outputs)


def test_hello_as_the_first_answer_switches_to_english_and_asks_again(shipped: Bundle) -> None:
    greeted = step(shipped, None, Start(), NOW)  # Matrix: no language from the platform
    hello = step(shipped, greeted.state, Said("Hello"), NOW)
    assert hello.state is not None and hello.state.lang == "en"
    assert shipped.text("language_switched", "en") in words(hello.outputs)
    assert Q_DANGER_EN in words(hello.outputs)


def test_a_first_message_without_a_conversation_is_answered_in_its_language(
        shipped: Bundle) -> None:
    turn = step(shipped, None, Said("Hi, I was insulted at the counter"), NOW)
    assert turn.state is not None and turn.state.lang == "en"
    assert Q_DANGER_EN in words(turn.outputs)


def test_german_stays_german_and_a_language_once_answered_in_stays(shipped: Bundle) -> None:
    greeted = step(shipped, None, Start(), NOW)
    german = step(shipped, greeted.state, Said("Hallo, ich wurde am Telefon bedroht"), NOW)
    assert german.state is not None and german.state.lang == "de"
    answered = step(shipped, greeted.state, Said("nein"), NOW)
    later = step(shipped, answered.state, Said("hello"), NOW)
    assert later.state is not None and later.state.lang == "de"  # only the first answer tells


def test_danger_written_in_english_is_answered_in_english(shipped: Bundle) -> None:
    greeted = step(shipped, None, Start(), NOW)
    turn = step(shipped, greeted.state, Said("He is still here and has a knife"), NOW)
    assert turn.state is not None and turn.state.lang == "en"
    assert "110" in words(turn.outputs) or any("110" in str(o) for o in turn.outputs)
    assert Q_DANGER not in words(turn.outputs)
