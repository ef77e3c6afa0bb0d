"""Which language a message is written in, for conversations whose platform gave no language.

Matrix, the console without `--lang` and a browser that prefers neither language start in the
default language; the first thing a person types then tells whether they write German or
English. The words that tell are content (`system.language_words`, per language), so an office
can add what its people write. A word listed for two languages counts for neither, and a message
that holds as many words of one language as of another is left in the language it has.
"""

from __future__ import annotations

from bot.flows.model import Bundle
from bot.flows.words import normalize


def language_words(bundle: Bundle) -> dict[str, frozenset[str]]:
    """Each language's telling words, without the words another language lists too."""
    listed = {lang: frozenset(normalize(bundle.text("language_words", lang)).split())
              for lang in bundle.languages}
    return {lang: words.difference(*(other for code, other in listed.items() if code != lang))
            for lang, words in listed.items()}


def written_in(bundle: Bundle, text: str) -> str | None:
    """The language most of the message's telling words belong to; None when none stands out."""
    tokens = normalize(text).split()
    counts = sorted(((sum(t in words for t in tokens), lang)
                     for lang, words in language_words(bundle).items()), reverse=True)
    if not counts or counts[0][0] == 0 or (len(counts) > 1 and counts[1][0] == counts[0][0]):
        return None
    return counts[0][1]
