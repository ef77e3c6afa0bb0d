"""The few fixed words Lotse prints on its documents: `system.document.*` of the shipped content.

Always the shipped words, not a city's version: `lotse verify` must recognise them anywhere,
without a city's configuration.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.flows.shipped import shipped_content

EARLIER = Path(__file__).with_name("earlier_labels.yaml")
"""Page footers of documents made before the present wording: data, kept for `lotse verify`."""


def labels(lang: str) -> Mapping[str, str]:
    """The labels of `lang`, or the English ones for a language Lotse does not print in yet."""
    shipped = _shipped()
    return shipped.get(lang) or shipped["en"]


@functools.cache
def page_labels() -> tuple[str, ...]:
    """Every page label ("Seite {page} von {pages}"), earlier ones too, for `lotse verify`."""
    now = [words["page"] for words in _shipped().values()]
    return tuple(dict.fromkeys([*now, *_read(EARLIER)["page"]]))


@functools.cache
def _shipped() -> dict[str, dict[str, str]]:
    """language -> key -> label, from each shipped `<lang>/system.yaml`."""
    return {file.parent.name: {key: str(text).strip()
                               for key, text in _read(file)["system"]["document"].items()}
            for file in sorted(shipped_content().glob("*/system.yaml"))}


def _read(file: Path) -> Any:
    return yaml.load(file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
